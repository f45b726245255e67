"""Let a host function stand in for a routine (the mechanism behind fast mode).

A Twin names a routine, the System V argument registers it reads and the
return registers it sets. When a `call` targets a routine that has a twin
attached, the machine runs the twin instead of the routine's instructions and
continues after the call; nothing is pushed. The twin contract: memory, RSP,
RBX, RBP, R12-R15 and the return registers end up exactly as interpreting the
routine would leave them. Every other caller-saved register (and RFLAGS) gets
a fixed poison value, so a program that wrongly relies on one fails loudly.

The machine knows nothing about what twins compute: vm/ only offers this
hook; the numpy twins of programs/ live in mnist_vm/kernels/.

A twin stands in for a routine only while the routine is exactly the code
the twin was written for. `attach` compares the routine's fingerprint
(`fingerprint`: its instructions, the routines it calls and the read-only
data they read, with addresses named by symbol) with the fingerprint of the
known routine (`Twin.known`, given the program: its -D defines) and refuses the
twin on any difference: the routine then runs as written.
"""

from __future__ import annotations

import bisect
import hashlib
import struct
from collections.abc import Callable
from dataclasses import dataclass, field

from .image import TEXT_BASE as TEXT_START
from .image import Image
from .isa import flags as F
from .isa.operands import GPR_NUM, VEC_BYTES, Imm, Mem
from .runtime import CALLER_SAVED_GPRS, POISON32, POISON64

INT_ARGS = ("rdi", "rsi", "rdx", "rcx", "r8", "r9")


class CallingConvention:
    """System V AMD64: integer arguments in rdi, rsi, rdx, rcx, r8, r9, then
    the stack; float arguments in xmm0-7."""

    @staticmethod
    def int_arg(machine, i: int) -> int:
        if i < 6:
            return machine.r[GPR_NUM[INT_ARGS[i]]]
        # stack arguments: [rsp] is the return address at routine entry; a
        # twin runs at the call instruction, so argument 7 is at [rsp].
        sp = machine.r[4]
        return int.from_bytes(machine.mem.buf[sp + 8 * (i - 6) : sp + 8 * (i - 5)], "little")

    @staticmethod
    def float_arg(machine, i: int) -> float:
        return machine.xf[4 * i]

    @staticmethod
    def double_arg(machine, i: int) -> float:
        return machine.xd[2 * i]


SYSV = CallingConvention()


@dataclass
class Twin:
    """A host stand-in for routine `name`. fn(machine, *args) receives the
    integer arguments named in args (e.g. ("rdi", "rsi")) and returns nothing;
    returns lists the registers it sets: 'rax', 'xmm0' (all lanes),
    'xmm0.s' (lane 0 only, a float), 'xmm0.lo' (low 64 bits, a double).

    known(image) gives the fingerprint of the routine the twin was written
    for, in a program assembled with image's -D defines (None: no known
    routine, and the twin is never attached); reads names the read-only data
    symbols the twin reads beyond the routine's own (their bytes are part of
    the fingerprint)."""

    name: str
    fn: Callable
    args: tuple[str, ...] = ()
    returns: tuple[str, ...] = ()
    known: Callable[[Image], str | None] | None = field(default=None, compare=False)
    reads: tuple[str, ...] = ()
    calls: int = 0
    # derived once: argument register numbers, and what the return registers keep
    arg_regs: tuple[int, ...] = field(init=False, repr=False, compare=False)
    keep_rax: bool = field(init=False, repr=False, compare=False)
    keep_xmm0: int = field(init=False, repr=False, compare=False)  # bytes of xmm0

    def __post_init__(self) -> None:
        self.arg_regs = tuple(GPR_NUM[a] for a in self.args)
        self.keep_rax = "rax" in self.returns
        self.keep_xmm0 = (
            16
            if "xmm0" in self.returns
            else 8
            if "xmm0.lo" in self.returns
            else 4
            if "xmm0.s" in self.returns
            else 0
        )


# every vector lane poisoned (all of zmm0-31 is caller-saved in the System V
# ABI); the low 4/8/16 bytes of xmm0 come first in machine.xb (vec_offset)
_POISON_XMM = struct.pack("<I", POISON32) * (VEC_BYTES // 4)
_POISON_GPRS = tuple(i for i in CALLER_SAVED_GPRS if i != 0)


def run_twin(machine, twin: Twin) -> None:
    """Run a twin, then poison the caller-saved registers it does not return
    (the same state as runtime.poison_caller_saved, written in bulk: this runs
    once per accelerated call)."""
    r = machine.r
    twin.calls += 1
    twin.fn(machine, *[r[i] for i in twin.arg_regs])
    for i in _POISON_GPRS:
        r[i] = POISON64
    if not twin.keep_rax:
        r[0] = POISON64
    n = twin.keep_xmm0
    xb = machine.xb
    xb[n:] = _POISON_XMM[n:]
    machine.fl = F.INITIAL


# ---- the guard: what a routine's code is --------------------------------------------
DIFFERS = "code differs from the known routine"
UNKNOWN = "no known routine to compare with"


def _is_routine(sym) -> bool:
    return sym.section == ".text" and "." not in sym.name.lstrip(".")


class _Code:
    """Index of one image's code and data, for canonical instruction forms."""

    def __init__(self, image):
        self.image = image
        self.addrs = [i.addr for i in image.insns]
        starts: dict[int, str] = {}
        for s in image.symbols.values():
            if _is_routine(s):
                starts.setdefault(s.value, s.name)
        self.starts = sorted(starts)
        self.start_names = starts
        text = image.sections.get(".text")
        self.text_end = text.addr + text.size if text else 0
        data = [s for s in image.symbols.values() if s.section is not None and s.section != ".text"]
        data = [s for s in data if "." not in s.name.lstrip(".")]
        data.sort(key=lambda s: s.value)
        self.data = data
        self.data_addrs = [s.value for s in data]

    def extent(self, start: int) -> tuple[int, int]:
        """The routine at start: up to the next routine label (or the end of text)."""
        i = bisect.bisect_right(self.starts, start)
        return start, self.starts[i] if i < len(self.starts) else self.text_end

    def routine_at(self, addr: int) -> str | None:
        i = bisect.bisect_right(self.starts, addr) - 1
        return self.start_names[self.starts[i]] if i >= 0 else None

    def data_at(self, addr: int):
        i = bisect.bisect_right(self.data_addrs, addr) - 1
        if i < 0:
            return None
        s = self.data[i]
        sec = self.image.sections[s.section]
        return s if addr < sec.addr + sec.size else None

    def data_bytes(self, sym) -> bytes:
        """The initial bytes of a read-only data symbol (its size, or up to the
        next symbol or the end of its section)."""
        sec = self.image.sections[sym.section]
        end = sec.addr + sec.size
        if sym.size is not None:
            end = min(end, sym.value + sym.size)
        else:
            i = bisect.bisect_right(self.data_addrs, sym.value)
            if i < len(self.data) and self.data[i].section == sym.section:
                end = min(end, self.data_addrs[i])
        return bytes(sec.data[sym.value - sec.addr : end - sec.addr])


def fingerprint(image, name: str, reads: tuple[str, ...] = ()) -> str | None:
    """A digest of what routine `name` of image does, or None if the image has
    no such routine. It covers every instruction from the routine's label to
    the next routine label (mnemonic, operand form, operands), then the same
    for each routine it calls or jumps to (by name, recursively), the initial
    bytes of the read-only data they address, and of the data symbols in
    reads. Addresses are named: a local label by its distance from the
    routine's start, anything else by symbol and offset, so where the linker
    put a routine or a buffer does not matter, while what the code does does."""
    sym = image.symbols.get(name)
    if sym is None or not _is_routine(sym):
        return None
    code = _Code(image)
    todo = [name]
    seen = {name}
    routines = []
    ro: dict[str, bytes] = {}

    def address(v: int, lo: int, hi: int) -> tuple:
        if lo <= v < hi:
            return ("here", v - lo)
        if TEXT_START <= v < code.text_end:
            r = code.routine_at(v)
            if r is not None:
                if r not in seen:
                    seen.add(r)
                    todo.append(r)
                return ("code", r, v - image.symbols[r].value)
        d = code.data_at(v)
        if d is None:
            return ("value", v)
        if image.sections[d.section].perms == "r":
            ro.setdefault(d.name, code.data_bytes(d))
        return ("data", d.name, v - d.value)

    while todo:
        r = todo.pop(0)
        lo, hi = code.extent(image.symbols[r].value)
        body = []
        for insn in image.insns[
            bisect.bisect_left(code.addrs, lo) : bisect.bisect_left(code.addrs, hi)
        ]:
            ops: list[object] = []
            for o in insn.operands:
                if isinstance(o, Imm):
                    ops.append(address(o.value, lo, hi) if o.label is not None else o.value)
                elif isinstance(o, Mem):
                    disp = address(o.disp, lo, hi) if o.disp >= TEXT_START else o.disp
                    ops.append(
                        (
                            "mem",
                            o.base and o.base.name,
                            o.index and o.index.name,
                            o.scale,
                            disp,
                            o.size,
                        )
                    )
                else:
                    ops.append(str(o))
            body.append((insn.defn.mnemonic, str(insn.form), tuple(ops), insn.host))
        routines.append((r, tuple(body)))
    for n in reads:
        d = image.symbols.get(n)
        if d is not None and d.section is not None and d.section != ".text":
            ro.setdefault(n, code.data_bytes(d))
    text = repr((routines, sorted(ro.items())))
    return hashlib.sha256(text.encode()).hexdigest()


@dataclass
class Attachment:
    """What attach did: the twins attached, and those refused with the reason."""

    attached: list[str] = field(default_factory=list)
    refused: dict[str, str] = field(default_factory=dict)

    def messages(self) -> list[str]:
        """One plain line per refused twin."""
        return [f"{n}: {why}, running it as written" for n, why in self.refused.items()]


def attach(machine, twins: dict[str, Twin]) -> Attachment:
    """Attach twins to the routines of machine's program: each only if the
    routine's fingerprint equals the known routine's (Twin.known, given the
    program's defines). Routines missing from the program are skipped."""
    result = Attachment()
    image = machine.image
    for name, twin in twins.items():
        sym = image.symbols.get(name)
        if sym is None or not _is_routine(sym):
            continue
        want = twin.known(image) if twin.known is not None else None
        if want is None:
            result.refused[name] = UNKNOWN
            continue
        if fingerprint(image, name, twin.reads) != want:
            result.refused[name] = DIFFERS
            continue
        machine.accel[sym.value] = twin
        result.attached.append(name)
    machine.invalidate()
    return result


def detach_all(machine) -> None:
    """The one switch: every routine runs interpreted again."""
    machine.accel.clear()
    machine.invalidate()
