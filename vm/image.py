"""The assembler's output: a linked program image, ready to load.

The image is plain data: sections with their bytes and addresses, the decoded
instruction list, symbols and a source map. The machine loads it; the debugger,
listing and disassembler read it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from .errors import SourceLoc
from .isa.operands import Operand
from .isa.spec import Form, InsnDef

# Memory layout (see docs/machine.md). Addresses are those of a non-PIE
# `ld` link so that absolute addressing ([label + rdi*8]) is valid natively.
PAGE = 0x1000
TEXT_BASE = 0x401000
INSN_SIZE = 4  # every instruction occupies 4 bytes of text
STACK_SIZE = 8 << 20  # 8 MiB, like Linux's default ulimit -s
HEAP_MAX = 256 << 20  # brk may grow this far past the end of bss
MAX_IMAGE_BYTES = 1 << 30  # all sections, .bss included: the machine maps no more (docs/machine.md)
TEXT_FILL = 0xCC  # what reading an instruction slot as data yields


@dataclass(slots=True)
class Insn:
    addr: int
    mnemonic: str  # as written (an alias stays an alias)
    defn: InsnDef
    form: Form
    operands: tuple[Operand, ...]
    loc: SourceLoc
    host: str | None = None  # for runtime stubs (exp, log ...): the routine name

    def text(self) -> str:
        ops = ", ".join(str(o) for o in self.operands)
        return f"{self.mnemonic} {ops}".strip()


@dataclass
class Section:
    name: str  # .text .rodata .data .bss
    addr: int
    size: int
    data: bytearray  # initial bytes (zeros for .bss)
    perms: str  # 'rx', 'r', 'rw'


@dataclass(slots=True)
class Symbol:
    name: str  # local labels are stored as 'parent.local'
    value: int
    section: str | None  # None for equ constants
    is_global: bool = False
    loc: SourceLoc | None = None
    size: int | None = None  # bytes of data following the label, if known


@dataclass(slots=True)
class Row:
    """One data line's contribution (data, reservation, padding), for listings:
    where it went and how big. An instruction is its own row (Image.insns)."""

    loc: SourceLoc
    addr: int
    size: int
    section: str


@dataclass
class Image:
    sections: dict[str, Section]
    insns: list[Insn]  # in address order
    symbols: dict[str, Symbol]
    entry: int
    sources: dict[str, list[str]] = field(default_factory=dict)  # file -> lines
    defines: dict[str, str] = field(default_factory=dict)
    files: list[str] = field(default_factory=list)  # as given
    warnings: list[str] = field(default_factory=list)
    rows: list[Row] = field(default_factory=list)  # data lines, for listings
    # what each incbin read: (file as found, skip, count or None, the bytes), so
    # that a saved state can carry them (vm/state.py)
    binaries: list[tuple[str, int, int | None, bytes]] = field(default_factory=list)

    def symbol_at(self, addr: int) -> Symbol | None:
        """The non-local code or data symbol with the largest value <= addr."""
        best = None
        for s in self.symbols.values():
            if s.section is None or "." in s.name.lstrip("."):
                continue
            if s.value <= addr and (best is None or s.value > best.value):
                best = s
        return best

    @property
    def end(self) -> int:
        """First address after the last section (start of the heap)."""
        return max(s.addr + s.size for s in self.sections.values())
