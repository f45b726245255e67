"""What every part of a debugging session reads and writes: the program and
its symbol index, the machine, its history, breakpoints and watchpoints, the
views' settings. One typed place for the session's state.

Session (session.py) is built in layers, each a class in its own file that
uses only what the layers below it define:

    SessionCore (here)  the state
    Naming              symbols, locations, expressions, change tracking
    Points              breakpoints and watchpoints
    Frames              the call stack, a routine's return values
    Motion              moving forward and backward, stops
    Session             construction, edits, `call`, states, profile, status
"""

from __future__ import annotations

from typing import TypedDict

from vm import Machine
from vm.history import History, Registers
from vm.image import INSN_SIZE, Image

from .model import Breakpoint, MemView, Output, Picture, Stop, Watchpoint


class PendingCall(TypedDict):
    """A routine called from the debugger (`call`) that has not returned yet."""

    saved: Registers  # the registers before the call, restored when it returns
    sp: int  # rsp once it has returned
    ret: int  # the return address it was given
    name: str


class SessionCore:
    """The state of a debugging session over one program."""

    machine: Machine
    history: History
    stop: Stop

    def __init__(
        self,
        image: Image,
        root: str = ".",
        state_path: str | None = None,
        budget: int | None = None,
        label: str = "",
    ):
        self.image = image
        self.root = root
        self.state_path = state_path
        self.label = label
        self.budget = budget
        self.output = Output(clock=self._icount)
        self.breakpoints: dict[int, Breakpoint] = {}
        self.watchpoints: dict[int, Watchpoint] = {}
        self._next_num = 1
        self.view: MemView | None = None
        self._default_view = MemView("rsp", 0, "hex")
        self.picture: Picture | None = None
        self.panel = "memory"  # the memory panel shows: memory | picture
        self.xmm_mode = "f32"
        self.vec_view = "auto"  # VEC_VIEWS
        self.zoom = "normal"  # which pane fills the large space (the pane command)
        self.dataset: str | None = None  # names the classes in pictures (mnist_vm.data)
        self.last_command = "start"  # the moving command that ran last (status line)
        self.frame_level = 0  # the frame `frame`/`up`/`down` selected (0 at every stop)
        self.displays: list[str] = []  # `display` expressions, printed at every stop
        self._confirm_set: tuple[str, str, int] | None = None  # a set while replaying, said once
        self._in_command = False
        self.code_focus: int | None = None  # an address `list` asked for (else rip)
        self.notes: list[str] = []  # extra lines for the console after a command
        self.pending_call: PendingCall | None = None
        self._profile: tuple[int, int, dict[int, int]] | None = None
        self.prev_regs: tuple[tuple[int, ...], bytes, int, int] = ((), b"", 0, 0)
        self._index_image(image)

    def _icount(self) -> int:
        """The machine's instruction count (the output log's clock)."""
        m = getattr(self, "machine", None)
        return m.icount if m is not None else 0

    def _index_image(self, image: Image) -> None:
        """Routines and data symbols by address, the first instruction of each line."""
        code: list[tuple[int, str]] = []
        data: list[tuple[int, str]] = []
        for name, s in image.symbols.items():
            if s.section is None or "." in name.lstrip("."):
                continue
            (code if s.section == ".text" else data).append((s.value, name))
        self._code = sorted(code)
        self._data = sorted(data)
        self._code_keys = [a for a, _ in self._code]
        self._data_keys = [a for a, _ in self._data]
        self._lines: dict[tuple[str, int], int] = {}
        for insn in image.insns:
            self._lines.setdefault((insn.loc.file, insn.loc.line), insn.addr)
        self._text_end = max((i.addr for i in image.insns), default=0) + INSN_SIZE

    def edited(self) -> str:
        """The state was changed from outside the program: history restarts."""
        h = self.history
        had = h.depth > 0
        h.reset()
        self.code_focus = None
        return (
            "history restarts here (changes made by the debugger cannot be reversed)" if had else ""
        )
