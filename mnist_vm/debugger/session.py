"""The debugger's session core: one machine, its history, breakpoints,
watchpoints, the views' settings, and every action a command can take.

Session is put together from parts, one file each: naming.py (symbols,
locations, the current instruction's annotation), points.py (breakpoints,
watchpoints), motion.py (moving forward and backward, stops), frames.py (the
call stack, `call`); model.py holds the plain data. This file keeps
construction, change tracking, edits, states, profile and status.

No UI here: the Textual app and the line REPL both drive a Session through
the command table (commands.py) and draw what it exposes. Every user error
is a DebugError (or an ExprError from expr.py) with a one-line message.
"""

from __future__ import annotations

import contextlib
import os
import struct
from collections import defaultdict

from vm import Fault
from vm.history import History, HistoryError, Interrupted
from vm.image import INSN_SIZE, Image

from . import expr as E
from .frames import Frames
from .model import (
    M64,
    Breakpoint,
    DebugError,
    Frame,
    MemView,
    Output,
    Picture,
    Stop,
    Watchpoint,
    _signed,
)
from .motion import Motion
from .naming import Naming
from .points import Points

__all__ = [
    "VEC_VIEWS",
    "XMM_MODES",
    "Breakpoint",
    "DebugError",
    "Frame",
    "MemView",
    "Output",
    "Picture",
    "Session",
    "Stop",
    "Watchpoint",
    "format_value",
]

XMM_MODES = ("f32", "f64", "hex", "i32")
VEC_VIEWS = ("auto", "xmm", "ymm", "zmm")  # register view: auto = as wide as the program uses


def vector_use(image: Image) -> tuple[int, tuple[int, ...]]:
    """The widest vector register view the program's instructions name (128,
    256 or 512 bits) and the register numbers named in ymm/zmm operands."""
    widest, nums = 128, set()
    for insn in image.insns:
        for op in insn.operands:
            if getattr(op, "kind", None) == "xmm" and op.size > 128:
                widest = max(widest, op.size)
                nums.add(op.num)
    return widest, tuple(sorted(nums))


# ---- the session --------------------------------------------------------------------------
class Session(Naming, Points, Motion, Frames):
    """A debugging session over one program (or one saved machine state)."""

    def __init__(
        self,
        image: Image,
        root: str = ".",
        state_path: str | None = None,
        machine=None,
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
        self.vec_use = vector_use(image)
        self.zoom = "normal"  # which pane fills the large space (the pane command)
        self.dataset: str | None = None  # names the classes in pictures (mnist_vm.data)
        self.last_command = "start"  # the moving command that ran last (status line)
        self.frame_level = 0  # the frame `frame`/`up`/`down` selected (0 at every stop)
        self.displays: list[str] = []  # `display` expressions, printed at every stop
        self._confirm_set: tuple | None = None  # a set while replaying, said once
        self._in_command = False
        self.code_focus: int | None = None  # an address `list` asked for (else rip)
        self.notes: list[str] = []  # extra lines for the console after a command
        self.pending_call: dict | None = None
        self._profile: tuple[int, int, dict] | None = None
        self._index_image(image)
        self._install(machine if machine is not None else self._new_machine())
        self.stop = Stop("start", self._start_text())

    # -- construction ----------------------------------------------------------------
    @classmethod
    def from_files(
        cls,
        files: list[str],
        defines: dict[str, str] | None = None,
        root: str = ".",
        label: str = "",
        budget: int | None = None,
    ) -> Session:
        from vm import assemble

        image = assemble(files, defines=defines or {})
        return cls(image, root=root, label=label, budget=budget)

    @classmethod
    def from_state(cls, path: str, root: str = ".", budget: int | None = None) -> Session:
        from vm.state import load_state

        st = load_state(path)
        out = Output()
        m = st.machine(root=root, stdout=out, stderr=out)
        s = cls(
            st.image,
            root=root,
            state_path=path,
            machine=m,
            budget=budget,
            label=os.path.basename(path),
        )
        s.output = out
        out.clock = s._icount
        s.stop = Stop("start", s._start_text())
        return s

    def _new_machine(self):
        from vm import Machine

        return Machine(
            self.image,
            root=self.root,
            stdout=self.output,
            stderr=self.output,
            argv0=self.label or "prog",
        )

    def _install(self, machine) -> None:
        self.machine = machine
        kw = {} if self.budget is None else {"budget": self.budget}
        self.history = History(machine, **kw)
        self._sync_breakpoints()
        self.mark()

    def _start_text(self) -> str:
        m = self.machine
        if m.exit_status is not None:
            return (
                f"loaded a machine that has exited (status {m.exit_status}) after "
                f"{m.icount:,} instructions; `call ROUTINE` runs a routine of it "
                "(e.g. call evaluate), `restart` starts the program over"
            )
        if self.state_path:
            return f"loaded state {self.state_path} at instruction {m.icount:,}"
        return f"ready at {self.describe(m.rip)} ({self.loc_text(m.rip)})"

    def _index_image(self, image: Image) -> None:
        code, data = [], []
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

    # -- change tracking ---------------------------------------------------------------------
    @contextlib.contextmanager
    def command_scope(self, name: str):
        """One user command: the state is remembered once at its start (so the
        views highlight everything it changed, over all the steps of `next 5`
        or `until`), and the status line names it."""
        if self._in_command:
            yield
            return
        self.mark()
        self._in_command = True
        self.last_command = name
        try:
            yield
        finally:
            self._in_command = False

    def mark(self) -> None:
        """Remember the current state: what the views compare with at the next stop."""
        if self._in_command:
            return
        m = self.machine
        self.prev_regs = (tuple(m.r), bytes(m.xb), m.rflags, m.rip)
        v = self.current_view()
        v.prev, v.prev_addr = self._view_bytes(v), v.addr

    def _view_bytes(self, v: MemView) -> bytes | None:
        mem = self.machine.mem
        n = v.nbytes
        while n > 0 and not mem.mapped(v.addr, n):
            n //= 2
        return mem.read(v.addr, n) if n else None

    def current_view(self) -> MemView:
        """The memory panel's view, its address expression evaluated now."""
        v = self.view or self._default_view
        try:
            v.addr = E.address(v.expr, self.ctx())
        except E.ExprError:
            pass
        return v

    # -- edits, calls, states -------------------------------------------------------------------------------
    def edited(self) -> str:
        """The state was changed from outside the program: history restarts."""
        h = self.history
        had = h.depth > 0
        h.reset()
        self.code_focus = None
        return (
            "history restarts here (changes made by the debugger cannot be reversed)" if had else ""
        )

    def set_value(self, target: str, value_text: str) -> str:
        """An edit. While replaying, the history ahead would be lost: the first
        such `set` only says so; the same `set` again confirms it."""
        ctx = self.ctx()
        place = E.place_of(target, ctx)
        value = E.evaluate(value_text, ctx).v
        m, h = self.machine, self.history
        ahead = h.frontier - m.icount
        request = (target.strip(), value_text.strip(), m.icount)
        if ahead > 0 and self._confirm_set != request:
            self._confirm_set = request
            raise DebugError(
                f"you are {ahead:,} instructions behind the newest point; an edit here "
                f"discards them. Repeat the same set to edit anyway, or goto {h.frontier} first"
            )
        self._confirm_set = None
        self.mark()
        E.assign(place, value, ctx)
        if place.kind == "mem" or place.kind == "rip":
            self.machine.invalidate()
        note = self.edited()
        shown = E.evaluate(target, self.ctx())
        return f"{target.strip()} = {format_value(shown)}" + (f"  ({note})" if note else "")

    def save(self, path: str) -> str:
        from vm.state import save_state

        if not path.strip():
            raise DebugError("save needs a file name, e.g. save /tmp/here.state")
        path = os.path.expanduser(path.strip())
        meta = {
            "saved_by": "mnist-vm debug",
            "breakpoints": [bp.where for bp in self.breakpoints.values()],
        }
        try:
            save_state(self.machine, path, meta)
        except OSError as e:
            raise DebugError(f"cannot save to {path}: {e.strerror or e}") from None
        return f"saved the machine at instruction {self.machine.icount:,} to {path}"

    def load(self, path: str) -> str:
        from vm.state import StateError, load_state

        path = os.path.expanduser(path.strip())
        if not path:
            raise DebugError("load needs a state file, e.g. load /tmp/here.state")
        try:
            st = load_state(path)
        except StateError as e:
            raise DebugError(str(e).splitlines()[0]) from None
        self.output = Output(clock=self._icount)
        m = st.machine(root=self.root, stdout=self.output, stderr=self.output)
        self._replace(st.image, m, state_path=path)
        return self._start_text()

    def restart(self) -> str:
        if self.state_path:
            return self.load(self.state_path)
        self.output = Output(clock=self._icount)
        self._replace(self.image, self._new_machine(), None)
        return "restarted: " + self._start_text()

    def _replace(self, image: Image, machine, state_path) -> None:
        old_bps = list(self.breakpoints.values())
        self.image = image
        self.state_path = state_path
        self.pending_call = None
        self._profile = None
        self._index_image(image)
        self.breakpoints = {}
        lost = []
        for bp in old_bps:
            try:
                addr, _ = self.resolve_location(bp.where) if machine else (bp.addr, "")
            except (DebugError, E.ExprError):
                lost.append(bp.where)
                continue
            bp.addr = addr
            self.breakpoints[bp.num] = bp
        self.machine = machine
        self._install(machine)
        self.stop = Stop("start", self._start_text())
        if lost:
            self.notes.append("breakpoints not found in the loaded program: " + ", ".join(lost))

    # -- profile ---------------------------------------------------------------------------------------------
    def profile(self) -> tuple[int, int, list[tuple[str, int]]]:
        """Instructions per routine over the recorded history, by re-executing
        it with a counting hook (nothing is counted while running)."""
        m, h = self.machine, self.history
        here = m.icount
        start = h.start
        cached = self._profile
        counts: dict[int, int] = defaultdict(int)
        begin = start
        if cached and cached[0] == start and cached[1] <= here:
            begin = cached[1]
            counts.update(cached[2])
        if begin < here:
            try:
                h.goto(begin)
                prev = [m.rip, m.icount]

                def hook(machine, rip, icount):
                    counts[prev[0]] += icount - prev[1]
                    prev[0], prev[1] = rip, icount

                why = h.run(until=here, block_hook=hook, breakpoints=False)
                counts[prev[0]] += m.icount - prev[1]
                if why not in ("limit", "exit"):
                    raise Interrupted(f"interrupted at instruction {m.icount:,}")
            except Interrupted as e:
                try:
                    h.goto(here)
                except (Interrupted, HistoryError):
                    pass
                raise DebugError(f"profile {e}") from None
            except Fault as f:
                raise DebugError(f"profile: the replay faulted ({f.kind})") from None
        self._profile = (start, here, dict(counts))
        per: dict[str, int] = defaultdict(int)
        for rip, n in counts.items():
            r = self.routine_at(rip)
            per[r[1] if r else f"{rip:#x}"] += n
        ranked = sorted(per.items(), key=lambda kv: -kv[1])
        return start, here, ranked

    # -- status ---------------------------------------------------------------------------------------------------
    def mode_text(self) -> str:
        m, h = self.machine, self.history
        if m.exit_status is not None:
            return "exited"
        if self.stop.kind == "fault":
            return "faulted"
        if m.icount < h.frontier:
            return f"replaying ({h.frontier - m.icount:,} behind)"
        return "live"

    def is_quick(self, command: str, args: str) -> bool:
        """Will this movement finish at once (one instruction, or one undo
        record)? The full-screen UI runs quick ones without a worker thread."""
        m, h = self.machine, self.history
        if args.strip():
            return False
        if command == "step":
            return True
        if command == "next":
            insn = m.insns.get(m.rip)
            return insn is None or insn.defn.mnemonic != "call"
        if command == "reverse-step":
            return bool(h.undo) and h.undo[-1].icount == m.icount - 1
        return False

    def interrupt(self) -> None:
        self.machine.stop_requested = True


def format_value(v: E.Value, fmt: str | None = None) -> str:
    """A value as print shows it: hex and decimal for integers, the shortest
    round-trip text for floats (with the f32 rounding made explicit)."""
    x = v.v
    if fmt == "x":
        if isinstance(x, float):
            bits = (
                struct.unpack("<I", struct.pack("<f", x))[0]
                if v.type == "f32"
                else struct.unpack("<Q", struct.pack("<d", x))[0]
            )
            return f"{bits:#x}"
        return f"{x & M64:#x}" if x < 0 else f"{x:#x}"
    if fmt == "d":
        if isinstance(x, float):
            return str(int(x))
        bits = {"u8": 8, "u16": 16, "u32": 32, "qword": 64}.get(v.type or "", 0)
        if not bits and 0 <= x <= M64:
            bits = 64  # as gdb: p/d 0xffffffffffffffff is -1
        return str(_signed(x, bits) if bits else x)
    if fmt == "t":
        return bin(x & M64 if isinstance(x, int) and x < 0 else int(x))
    if fmt == "c" and isinstance(x, int):
        return repr(chr(x & 0xFF))
    if isinstance(x, float):
        if v.type == "f32":
            return f"{x:.9g} (f32)"
        return repr(x)
    if v.type in ("xmm", "ymm", "zmm"):
        n = {"xmm": 16, "ymm": 32, "zmm": 64}[v.type]
        b = x.to_bytes(n, "little")
        f = struct.unpack(f"<{n // 4}f", b)
        d = struct.unpack(f"<{n // 8}d", b)
        return (
            f"{{f32 = [{', '.join(f'{t:.7g}' for t in f)}], "
            f"f64 = [{', '.join(f'{t:.10g}' for t in d)}], hex = {x:#0{2 * n + 2}x}}}"
        )
    if v.type in ("i8", "i16", "i32", "i64"):
        bits = int(v.type[1:])
        return f"{x} ({x & ((1 << bits) - 1):#x})"
    if x < 0:
        return f"{x} ({x & M64:#x})"
    bits = {"u8": 8, "u16": 16, "u32": 32, "qword": 64, "byte": 8, "word": 16, "dword": 32}.get(
        v.type or "", 0
    )
    s = _signed(x, bits) if bits else x
    return f"{x:#x} ({x}" + (f", signed {s}" if s != x else "") + ")"
