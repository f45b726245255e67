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
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from dataclasses import dataclass, field

from .isa import flags as F
from .isa.operands import VEC_BYTES
from .runtime import CALLER_SAVED_GPRS, POISON32, POISON64

INT_ARGS = ("rdi", "rsi", "rdx", "rcx", "r8", "r9")
_GPR_NUM = {
    "rax": 0,
    "rcx": 1,
    "rdx": 2,
    "rbx": 3,
    "rsp": 4,
    "rbp": 5,
    "rsi": 6,
    "rdi": 7,
    **{f"r{i}": i for i in range(8, 16)},
}


class CallingConvention:
    """System V AMD64: integer arguments in rdi, rsi, rdx, rcx, r8, r9, then
    the stack; float arguments in xmm0-7."""

    @staticmethod
    def int_arg(machine, i: int) -> int:
        if i < 6:
            return machine.r[_GPR_NUM[INT_ARGS[i]]]
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
    'xmm0.s' (lane 0 only, a float), 'xmm0.lo' (low 64 bits, a double)."""

    name: str
    fn: Callable
    args: tuple[str, ...] = ()
    returns: tuple[str, ...] = ()
    calls: int = 0
    # derived once: argument register numbers, and what the return registers keep
    arg_regs: tuple[int, ...] = field(init=False, repr=False, compare=False)
    keep_rax: bool = field(init=False, repr=False, compare=False)
    keep_xmm0: int = field(init=False, repr=False, compare=False)  # bytes of xmm0

    def __post_init__(self) -> None:
        self.arg_regs = tuple(_GPR_NUM[a] for a in self.args)
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


def attach(machine, twins: dict[str, Twin]) -> list[str]:
    """Attach twins to the routines of machine's program by symbol name.
    Returns the names attached (routines missing from the program are skipped)."""
    attached = []
    for name, twin in twins.items():
        sym = machine.image.symbols.get(name)
        if sym is None or sym.section != ".text":
            continue
        machine.accel[sym.value] = twin
        attached.append(name)
    machine.invalidate()
    return attached


def detach_all(machine) -> None:
    """The one switch: every routine runs interpreted again."""
    machine.accel.clear()
    machine.invalidate()
