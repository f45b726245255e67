"""The native tier: hot traces compiled to machine code with LLVM.

The run tier (vm.cpu, vm.runtier) finds traces and compiles them to Python.
When a trace (a loop, or straight-line code following the way branches
usually go) has run `Machine.native_after` instructions, this package
translates the same generated code (vm.codegen's expansion of the table's
templates) to LLVM IR (translate.py), compiles it (engine.py) and puts it in
the run loop's place: called with the machine's memory, registers and xmm
bytes, it runs until the code leaves, a memory check fails, the trace's
branches go another way or the budget is spent, and returns the next RIP
and the exact instruction count, as the run tier's counted traces do. Where
it leaves at the start of another compiled trace, that one runs next in
native code (chain.py). A trace that cannot be translated from its first
instruction stays in the run tier; one that stops part-way is cut there.

Everything here is optional: without llvmlite, or on a host other than
x86-64, `available()` is False and the run tier runs alone.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ..cpu import Machine
    from ..image import Insn

from ..isa.flags import rflags
from .chain import ENTRY_RFLAGS, ENTRY_RIP

M64 = (1 << 64) - 1
_AVAILABLE: list[bool] = []


def available() -> bool:
    """llvmlite imports and the host is x86-64 (checked once, lazily)."""
    if not _AVAILABLE:
        import importlib.util
        import platform

        host = platform.machine().lower() in ("x86_64", "amd64")
        _AVAILABLE.append(host and importlib.util.find_spec("llvmlite") is not None)
    return _AVAILABLE[0]


class NativeTrace:
    """One compiled trace, callable as a counted run-tier trace."""

    def __init__(
        self, machine: Machine, start: int, length: int, ir_text: str, name: str, flags: bool
    ):
        from .engine import compile_reading

        self.machine, self.start, self.length = machine, start, length
        self.ir, self.name = ir_text, name
        self.address, reads = compile_reading(ir_text, name)
        self.chain = chain_of(machine)
        self.bufs = self.chain.bufs
        self.fallback: Callable | None = None
        self.listing: list[str] = []  # the trace's instructions, for people reading the IR
        self.needs_flags = flags and reads  # the code reads the RFLAGS it was entered with

    @property
    def executed(self) -> int:
        """Instructions run natively from this trace's start (to find the hottest loop)."""
        return self.chain.executed(self)

    def __call__(self, maxit: int) -> tuple[int, int]:
        """Run up to maxit passes' worth of instructions (maxit * length),
        going on natively into every compiled trace the code leaves to
        (vm.native.chain) until it reaches code that is not compiled, a
        breakpoint, a fault or the end of the budget; returns (next rip,
        instructions run) as the run tier's counted traces do."""
        m, ch = self.machine, self.chain
        if ch.breaks != m.breakpoints:
            ch.mark_breakpoints(m.breakpoints)
        bufs = self.bufs
        if m.mem.buf is not bufs.mem_obj:
            ch.memory(m.mem.buf)
        out = bufs.out
        bufs.gprs[:] = m.r
        out[ENTRY_RIP] = self.start
        out[ENTRY_RFLAGS] = rflags(m.fl) if self.needs_flags else 0
        total = ch.run(ch.ctx_addr, maxit * self.length)
        if total == 0:  # its first instruction would fault: the run tier reports it
            assert self.fallback is not None
            return self.fallback(maxit)
        if out[2] < 8:  # a flags record (kind, n, a, b, r); 2**64 - 1: unchanged
            res = out[8] | out[9] << 64
            m.fl = (out[2], out[3], out[4], out[6], res - (1 << 128) if out[9] >> 63 else res)
        m.r[:] = bufs.gprs
        return out[0], total


def chain_of(machine: Machine):
    """The machine's table of compiled traces (made on first use)."""
    from .chain import Chain, install_libm
    from .engine import Buffers

    ch = machine.__dict__.get("_native_chain")
    if ch is None:
        ch = machine.__dict__["_native_chain"] = Chain(machine.insns, Buffers(machine.xb))
        install_libm(ch, machine)
    return ch


def items_for(machine: Machine, insns: list[Insn]):
    from .translate import Item

    out = []
    for k, insn in enumerate(insns):
        lines, _ = machine._lines(insn, k, False)
        expect = insns[k + 1].addr if k + 1 < len(insns) and insn.defn.branch else None
        out.append(Item(insn.addr, lines, expect))
    return out


def loop_head(machine: Machine, insns: list[Insn]) -> int | None:
    """The index of the instruction a trace's last branch goes back to (0: a
    loop; more: a loop after a prefix, such as an outer loop's step before an
    inner loop), or None."""
    from ..isa.operands import Imm

    last = insns[-1]
    d = last.defn
    if not d.branch or d.mnemonic in ("call", "ret") or not last.operands:
        return None
    target = last.operands[0]
    if not isinstance(target, Imm) or any(i.addr in machine.breakpoints for i in insns):
        return None
    where = {i.addr: j for j, i in enumerate(insns)}
    j = where.get(target.value & M64)
    if j is None and d.cond is not None:
        j = where.get(last.addr + 4)
    return j


def compile_loop(machine: Machine, insns: list[Insn]) -> NativeTrace | None:
    """Translate and compile a trace: a loop when it branches back into
    itself, else straight-line code (with side exits) that leaves where its
    last instruction goes. None when its first instruction cannot be
    translated, or a loop trace is no longer a loop once cut."""
    from .translate import Untranslatable, translate

    name = f"trace_{insns[0].addr:x}"
    head = loop_head(machine, insns)
    if head is None and any(i.addr in machine.breakpoints for i in insns[1:]):
        return None
    try:
        module, n, loop = translate(name, items_for(machine, insns), machine.mem.layout(), head)
    except Untranslatable:
        return None
    if head is not None and not loop:
        return None
    flags = getattr(module, "needs_flags", True)  # (the compiled code tells for sure)
    nt = NativeTrace(machine, insns[0].addr, n, str(module), name, flags)
    nt.listing = [f"{i.addr:#x}: {i.text()}" for i in insns[:n]]
    return nt


def _try_compile(machine: Machine, insns: list[Insn]) -> NativeTrace | None:
    """compile_loop, but a failure inside the translator or LLVM (a bug) only
    costs speed: it is recorded in machine.native_errors and the run tier
    keeps the trace (tests assert the list stays empty)."""
    try:
        return compile_loop(machine, insns)
    except Exception as e:  # noqa: BLE001 - the run tier is always a correct fallback
        machine.__dict__.setdefault("native_errors", []).append(f"{insns[0].addr:#x}: {e!r}")
        return None


def warm(machine: Machine, addr: int, insns: list[Insn], entry: tuple, cache: dict) -> tuple:
    """Wrap a hot trace of the run tier (entry = (fn, length, counted))
    so that it counts the instructions it runs; past machine.native_after it
    is compiled, and the cache entry becomes the native trace (or the plain
    run-tier trace if it cannot be compiled)."""
    pyfn, ln, counted = entry

    def call(maxit: int) -> tuple[int, int]:
        if counted:
            return pyfn(maxit)
        return pyfn(), ln

    state = {"run": 0}

    def counting(maxit: int) -> tuple[int, int]:
        rip, n = call(maxit)
        state["run"] += n
        if state["run"] >= machine.native_after and cache.get(addr) is b:
            nt = _try_compile(machine, insns)
            if nt is None:
                cache[addr] = entry
            else:
                nt.fallback = call
                cache[addr] = (nt, ln, True)
                machine._native[addr] = nt
                nt.chain.install(nt)
        return rip, n

    counting.__dict__.update(pyfn.__dict__)  # the run tier's source stays inspectable
    b = (counting, ln, True)
    if machine.native_after <= 0:
        nt = _try_compile(machine, insns)
        if nt is None:
            return entry
        nt.fallback = call
        machine._native[addr] = nt
        nt.chain.install(nt)
        return (nt, ln, True)
    return b


def describe(trace: NativeTrace) -> str:
    """The trace's instructions and its LLVM IR after optimisation."""
    from .engine import optimise

    head = "\n".join("; " + line for line in trace.listing)
    return f"{head}\n{optimise(trace.ir)}"


def hottest(machine: Machine) -> NativeTrace | None:
    """The compiled trace that ran the most instructions."""
    traces = [t for t in machine._native.values() if isinstance(t, NativeTrace)]
    return max(traces, key=lambda t: t.executed) if traces else None
