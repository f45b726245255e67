"""The debugger's plain data: stops, breakpoints, watchpoints, frames,
memory views, pictures and the program output log."""

from __future__ import annotations

import bisect
from dataclasses import dataclass, field

from vm import Fault
from vm.image import INSN_SIZE

from . import expr as E

M64 = (1 << 64) - 1


class DebugError(Exception):
    """A command that cannot be done; str() is the one-line reason."""


# ---- small records ---------------------------------------------------------------------
@dataclass
class Breakpoint:
    num: int
    addr: int
    where: str  # as the user gave it (re-resolved after `load`)
    cond: str | None = None
    enabled: bool = True
    hits: int = 0
    temporary: bool = False


@dataclass
class Watchpoint:
    num: int
    addr: int
    length: int
    what: str
    enabled: bool = True
    hits: int = 0


@dataclass
class Stop:
    """Why the machine last stopped. kind: start step breakpoint watchpoint
    exit fault interrupt finish history-start returned edit."""

    kind: str
    text: str = ""
    fault: Fault | None = None
    detail: list[str] = field(default_factory=list)


@dataclass
class Frame:
    level: int
    routine: str
    pc: int  # rip (frame 0) or the call instruction (callers)
    slot: int | None = None  # where the return address into this frame's caller lives
    resume: int | None = None  # where this frame goes on when the one below returns

    @property
    def returns_to(self) -> int:
        return self.pc + INSN_SIZE if self.resume is None else self.resume

    @property
    def sp_after_return(self) -> int:
        """rsp once this frame has returned to its caller."""
        if self.slot is None:
            raise DebugError(f"{self.routine} has no caller on the stack")
        return self.slot + 8


@dataclass
class MemView:
    """What the memory panel shows: `view EXPR [as TYPE[RxC]]`."""

    expr: str
    addr: int
    type: str = "hex"  # hex, i8, u8, i16, i32, u32, i64, u64, f32, f64
    rows: int | None = None  # a shaped view has rows x cols elements
    cols: int | None = None
    top: int = 0  # first row / column shown (scrolling)
    left: int = 0
    prev: bytes | None = None  # the bytes at the previous stop (change highlighting)
    prev_addr: int | None = None

    @property
    def elem(self) -> int:
        return 1 if self.type == "hex" else E.TYPES[self.type][0]

    @property
    def shape(self) -> tuple[int, int] | None:
        """(rows, cols) of a shaped view, None for a linear one."""
        if self.rows is None or self.cols is None:
            return None
        return self.rows, self.cols

    @property
    def nbytes(self) -> int:
        shape = self.shape
        if shape is None:
            return 4096
        return shape[0] * shape[1] * self.elem


@dataclass
class Picture:
    """`show digit` / `heatmap`: a matrix of numbers drawn as an image."""

    title: str
    values: list[float]
    rows: int
    cols: int
    kind: str = "heatmap"  # 'digit' (0..1 or 0..255, grey) or 'heatmap' (diverging)
    caption: str = ""
    bars: list[tuple[str, float, str]] = field(default_factory=list)  # label, value, style


class Output:
    """The program's stdout and stderr, kept for the output panel, in step
    with time: each write is stamped with the instruction count of the
    syscall that made it, so after going back the panel shows only what had
    been printed by then, and a write re-executed on the way forward again
    is not kept twice."""

    def __init__(self, limit: int = 1 << 20, clock=None):
        self.data = bytearray()
        self.limit = limit
        self.seen = 0  # for line mode: how much was already printed
        self.clock = clock or (lambda: 0)
        self.marks: list[tuple[int, int]] = []  # (icount, end offset + dropped)
        self.dropped = 0  # bytes cut from the front (limit)

    def write(self, data) -> int:
        now = self.clock()
        if self.marks and now <= self.marks[-1][0]:
            return len(data)  # already recorded when the program first ran here
        self.data += bytes(data)
        if len(self.data) > self.limit:
            cut = len(self.data) - self.limit // 2
            del self.data[:cut]
            self.dropped += cut
            self.seen = max(0, self.seen - cut)
        self.marks.append((now, self.dropped + len(self.data)))
        return len(data)

    def flush(self) -> None:
        pass

    def _visible(self) -> int:
        """Bytes of data written before the current instruction count."""
        now = self.clock()
        i = bisect.bisect_left(self.marks, (now, -1))
        end = self.marks[i - 1][1] if i else 0
        return max(0, end - self.dropped)

    def text(self) -> str:
        return self.data[: self._visible()].decode(errors="replace")

    def take_new(self) -> str:
        upto = self._visible()
        new = self.data[self.seen : upto] if upto > self.seen else b""
        self.seen = max(self.seen, upto)
        return bytes(new).decode(errors="replace")


def _signed(v: int, bits: int) -> int:
    v &= (1 << bits) - 1
    return v - (1 << bits) if v >> (bits - 1) else v
