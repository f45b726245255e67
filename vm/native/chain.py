"""Compiled traces handing over to each other in native code.

Every compiled trace leaves with the next RIP in its result record. Where
that RIP starts another compiled trace, going back to Python only to look it
up and call it again costs more than most traces run (a dense layer's inner
loop over 128 outputs is ~200 instructions: a few hundred nanoseconds
native, over a microsecond per hand-over through ctypes). So the machine's
compiled traces sit in a table indexed by instruction address, and one small
native function, the dispatcher (compiled once per process), runs them one
after another:

    rip = the entry trace's start
    loop:
        slot = table[(rip - text start) / 4]      (none: leave)
        a breakpoint there and not the first trace: leave
        it = (budget - instructions run) // slot's length   (< 1: leave)
        the trace reads the RFLAGS value it was entered with: it gets the
            machine's RFLAGS if no trace before it in this call changed the
            flags, or the value of a RAW record one wrote (else leave:
            Python computes RFLAGS from the record)
        call it; it ran 0 instructions (its first would fault): leave
        add its count to the total and to the slot's counter; keep its flags
        record if it wrote one; rip = where it left

The state moves between traces through the same buffers Python fills: the
general registers (written back by a trace at its exit, read by the next at
its entry), the vector registers in place, the flags record in the result
words. A `ret` is no special case: the trace that ends in it leaves with the
address it popped, and the table decides whether compiled code is there.

Where the dispatcher leaves, the run loop (vm.cpu.Machine.run) takes over at
that RIP with the exact instruction count, as after one trace: faults are
reported by the run tier running the instruction again, a step budget ends
no later than the last whole trace (the run loop runs the rest), breakpoints
stop it before a trace that starts there (a breakpoint inside a compiled
trace makes the machine forget its compiled code, vm.cpu.Machine.invalidate,
as for the run tier). A stop request is seen when the dispatcher returns,
after at most one slice of the run loop's budget.
"""

from __future__ import annotations

import ctypes
from typing import TYPE_CHECKING

from ..image import INSN_SIZE
from ..isa.flags import FIXED, RAW

if TYPE_CHECKING:
    from . import NativeTrace

# result words (vm.native.translate writes 0-9): 0 next rip (RFLAGS on entry to a
# trace), 1 count, 2-9 the flags record; the dispatcher keeps the last record
# written in 10-17, reads the machine's RFLAGS from 18 (0: not given) and the
# entry RIP from 19
SAVED, ENTRY_RFLAGS, ENTRY_RIP = 10, 18, 19
OUT_WORDS = 20
RECORD = 8  # words of a flags record (kind, n, a lo, a hi, b lo, b hi, r lo, r hi)
# a slot is three words: function address, meta (length | NEEDS_FLAGS | BREAK), instructions run
SLOT = 3
NEEDS_FLAGS = 1 << 32
BREAK = 1 << 33
LENGTH = (1 << 32) - 1
# the context: addresses of memory, gprs, xmm, out, table; text start; slots
CTX_WORDS = 7
NAME = "chain_dispatch"


def dispatcher_ir() -> str:
    """The dispatcher: i64 chain_dispatch(i64* ctx, i64 budget) -> instructions run."""
    from llvmlite import ir

    I1, I32, I64 = ir.IntType(1), ir.IntType(32), ir.IntType(64)
    mod = ir.Module(name=NAME)
    mod.triple = ""
    i8p, i32p, i64p = ir.PointerType(ir.IntType(8)), ir.PointerType(I32), ir.PointerType(I64)
    trace_ty = ir.FunctionType(ir.VoidType(), [i8p, i64p, i32p, i64p, I64])
    fn = ir.Function(mod, ir.FunctionType(I64, [i64p, I64]), name=NAME)
    ctx, budget = fn.args
    blocks = {
        n: fn.append_basic_block(n)
        for n in ("entry", "loop", "look", "slot", "flags", "given", "call", "ran", "keep")
        + ("next", "done", "restore", "clean")
    }
    b = ir.IRBuilder(blocks["entry"])

    def k(x: int):
        return ir.Constant(I64, x)

    def word(p, i):
        return b.gep(p, [i if isinstance(i, ir.Value) else k(i)])

    mem, gprs, xmm, out, table = (b.load(word(ctx, i)) for i in range(5))
    mem, gprs, xmm = b.inttoptr(mem, i8p), b.inttoptr(gprs, i64p), b.inttoptr(xmm, i32p)
    out, table = b.inttoptr(out, i64p), b.inttoptr(table, i64p)
    base, nslots = b.load(word(ctx, 5)), b.load(word(ctx, 6))
    rip0 = b.load(word(out, ENTRY_RIP))
    entry_fl = b.load(word(out, ENTRY_RFLAGS))
    b.branch(blocks["loop"])

    b.position_at_end(blocks["loop"])
    rip, total, dirty = b.phi(I64, "rip"), b.phi(I64, "total"), b.phi(I1, "dirty")
    rip.add_incoming(rip0, blocks["entry"])
    total.add_incoming(k(0), blocks["entry"])
    dirty.add_incoming(ir.Constant(I1, 0), blocks["entry"])
    off = b.sub(rip, base)
    idx = b.udiv(off, k(INSN_SIZE))
    found = b.and_(
        b.icmp_unsigned("<", idx, nslots),
        b.icmp_unsigned("==", b.urem(off, k(INSN_SIZE)), k(0)),
    )
    b.cbranch(found, blocks["look"], blocks["done"])

    b.position_at_end(blocks["look"])
    at = b.mul(idx, k(SLOT))
    addr = b.load(word(table, at))
    meta = b.load(word(table, b.add(at, k(1))))
    stop = b.and_(
        b.icmp_unsigned("!=", b.and_(meta, k(BREAK)), k(0)), b.icmp_unsigned("!=", total, k(0))
    )
    b.cbranch(b.or_(b.icmp_unsigned("==", addr, k(0)), stop), blocks["done"], blocks["slot"])

    b.position_at_end(blocks["slot"])
    it = b.udiv(b.sub(budget, total), b.and_(meta, k(LENGTH)))
    b.cbranch(b.icmp_unsigned("==", it, k(0)), blocks["done"], blocks["flags"])

    b.position_at_end(blocks["flags"])
    needs = b.icmp_unsigned("!=", b.and_(meta, k(NEEDS_FLAGS)), k(0))
    b.cbranch(needs, blocks["given"], blocks["call"])

    b.position_at_end(blocks["given"])
    # the machine's RFLAGS, or those of a RAW record (a complete value) written in the chain
    raw = b.icmp_unsigned("==", b.load(word(out, SAVED)), k(RAW))
    usable = b.select(dirty, raw, b.icmp_unsigned("!=", entry_fl, k(0)))
    raw_fl = b.or_(b.load(word(out, SAVED + 6)), k(FIXED))
    b.store(b.select(dirty, raw_fl, entry_fl), word(out, 0))
    b.cbranch(usable, blocks["call"], blocks["done"])

    b.position_at_end(blocks["call"])
    b.call(b.inttoptr(addr, ir.PointerType(trace_ty)), [mem, gprs, xmm, out, it])
    count = b.load(word(out, 1))
    b.cbranch(b.icmp_unsigned("==", count, k(0)), blocks["done"], blocks["ran"])

    b.position_at_end(blocks["ran"])
    total1 = b.add(total, count)
    runs = word(table, b.add(at, k(2)))
    b.store(b.add(b.load(runs), count), runs)
    b.cbranch(b.icmp_unsigned("<", b.load(word(out, 2)), k(8)), blocks["keep"], blocks["next"])

    b.position_at_end(blocks["keep"])
    for j in range(RECORD):
        b.store(b.load(word(out, 2 + j)), word(out, SAVED + j))
    b.branch(blocks["next"])

    b.position_at_end(blocks["next"])
    dirty1 = b.phi(I1, "dirty1")
    dirty1.add_incoming(dirty, blocks["ran"])
    dirty1.add_incoming(ir.Constant(I1, 1), blocks["keep"])
    rip.add_incoming(b.load(word(out, 0)), blocks["next"])
    total.add_incoming(total1, blocks["next"])
    dirty.add_incoming(dirty1, blocks["next"])
    b.branch(blocks["loop"])

    b.position_at_end(blocks["done"])
    b.store(rip, word(out, 0))
    b.store(total, word(out, 1))
    b.cbranch(dirty, blocks["restore"], blocks["clean"])
    b.position_at_end(blocks["restore"])
    for j in range(RECORD):
        b.store(b.load(word(out, SAVED + j)), word(out, 2 + j))
    b.ret(total)
    b.position_at_end(blocks["clean"])
    b.store(k(-1), word(out, 2))
    b.ret(total)
    return str(mod)


DISPATCH_FN = ctypes.CFUNCTYPE(ctypes.c_int64, ctypes.c_void_p, ctypes.c_int64)


class Chain:
    """One machine's table of compiled traces and the dispatcher over it."""

    def __init__(self, addrs, bufs):
        from .engine import compile_trace

        self.base = min(addrs)
        self.nslots = (max(addrs) - self.base) // INSN_SIZE + 1
        self.table = (ctypes.c_uint64 * (SLOT * self.nslots))()
        self.traces: dict[int, NativeTrace] = {}
        self.breaks: set[int] = set()  # the breakpoints marked in the table
        self.bufs = bufs
        self.ctx = (ctypes.c_uint64 * CTX_WORDS)(
            0,
            bufs.gprs_addr,
            bufs.xmm_addr,
            bufs.out_addr,
            ctypes.addressof(self.table),
            self.base,
            self.nslots,
        )
        self.ctx_addr = ctypes.addressof(self.ctx)
        self.run = DISPATCH_FN(compile_trace(dispatcher_ir(), NAME))

    def _slot(self, addr: int) -> int:
        return (addr - self.base) // INSN_SIZE * SLOT

    def install(self, trace: NativeTrace) -> None:
        """Put a compiled trace in the table (its start address's slot)."""
        self.traces[trace.start] = trace
        s = self._slot(trace.start)
        self.table[s] = trace.address
        self.table[s + 1] = (
            trace.length
            | (NEEDS_FLAGS if trace.needs_flags else 0)
            | (BREAK if trace.start in self.breaks else 0)
        )

    def executed(self, trace: NativeTrace) -> int:
        """Instructions the trace ran (counted by the dispatcher)."""
        return self.table[self._slot(trace.start) + 2]

    def mark_breakpoints(self, breakpoints: set[int]) -> None:
        """Dispatch stops before a trace at a breakpoint (the run loop stops there)."""
        for a in self.breaks ^ breakpoints:
            if self.base <= a < self.base + self.nslots * INSN_SIZE and not a % INSN_SIZE:
                s = self._slot(a) + 1
                self.table[s] = (self.table[s] & ~BREAK) | (BREAK if a in breakpoints else 0)
        self.breaks = set(breakpoints)

    def memory(self, buf) -> None:
        self.ctx[0] = self.bufs.memory(buf)


def libm_ir(
    name: str, fn_addr: int, ip: int, single: bool, stack: tuple[tuple[int, int], ...]
) -> str:
    """A trace-shaped function for a host libm call (`exp`, `log`, `expf`,
    `logf` reached by `call`): the same glibc function the run tier calls
    (by its address, so the bits are glibc's), then what vm.runtime's
    hostcall does around it: caller-saved registers poisoned, the result in
    xmm0, the flags record reset, and the return as a `ret` (the address
    popped from the stack; leaves before the call, count 0, when the stack
    pointer is outside the readable ranges)."""
    from llvmlite import ir

    from ..isa import flags as F
    from ..runtime import CALLER_SAVED_GPRS, POISON32, POISON64

    I8, I32, I64 = ir.IntType(8), ir.IntType(32), ir.IntType(64)
    fty = ir.FloatType() if single else ir.DoubleType()
    mod = ir.Module(name=f"libm_{name}")
    mod.triple = ""
    i64p = ir.PointerType(I64)
    fnty = ir.FunctionType(
        ir.VoidType(), [ir.PointerType(I8), i64p, ir.PointerType(I32), i64p, I64]
    )
    fn = ir.Function(mod, fnty, name=f"libm_{name}")
    mem, gprs, xmm, out, _ = fn.args
    entry, go, bad = (fn.append_basic_block(n) for n in ("entry", "go", "bad"))
    b = ir.IRBuilder(entry)

    def k(x: int, ty=I64):
        return ir.Constant(ty, x)

    def at(p, i):
        return b.gep(p, [k(i, I32)])

    rsp = b.load(at(gprs, 4))
    ok = None
    for lo, hi in stack:
        inr = b.and_(b.icmp_unsigned(">=", rsp, k(lo)), b.icmp_unsigned("<=", rsp, k(hi)))
        ok = inr if ok is None else b.or_(ok, inr)
    b.cbranch(ok if ok is not None else ir.Constant(ir.IntType(1), 0), go, bad)
    b.position_at_end(bad)
    b.store(k(ip), at(out, 0))
    b.store(k(0), at(out, 1))
    b.store(k(-1), at(out, 2))
    b.ret_void()
    b.position_at_end(go)
    ret = b.load(b.bitcast(b.gep(mem, [rsp]), i64p), align=1)
    if single:
        x = b.bitcast(b.load(at(xmm, 0)), fty)
    else:
        x = b.bitcast(b.load(b.bitcast(xmm, i64p)), fty)
    callee = b.inttoptr(k(fn_addr), ir.PointerType(ir.FunctionType(fty, [fty])))
    y = b.call(callee, [x])
    for i in CALLER_SAVED_GPRS:
        b.store(k(POISON64 - (1 << 64)), at(gprs, i))
    for lane in range(64):
        b.store(k(POISON32, I32), at(xmm, lane))
    if single:
        b.store(b.bitcast(y, I32), at(xmm, 0))
    else:
        b.store(b.bitcast(y, I64), b.bitcast(xmm, i64p))
    b.store(b.add(rsp, k(8)), at(gprs, 4))
    record = (ret, k(1), k(F.INITIAL[0]), k(F.INITIAL[1]), k(0), k(0), k(0), k(0), k(F.FIXED), k(0))
    assert F.INITIAL == (F.RAW, 0, 0, 0, F.FIXED)
    for i, v in enumerate(record):
        b.store(v, at(out, i))
    b.ret_void()
    return str(mod)


def install_libm(chain: Chain, machine) -> None:
    """Compile a libm trampoline (libm_ir) for each host libm routine of the
    program and put it in the table, so calls to it stay in native code."""
    from .. import runtime
    from ..environment import ranges
    from .engine import compile_trace

    if not runtime._LIBM:
        return  # the math-module fallback has no address to call
    stack = ranges(machine.mem.layout(), 8, False)
    for addr, insn in machine.insns.items():
        name = insn.host
        if name not in runtime._LIBM or addr in machine.observers or addr in machine.accel:
            continue
        fn_addr = ctypes.cast(runtime._LIBM[name], ctypes.c_void_p).value
        assert fn_addr is not None
        ir_text = libm_ir(name, fn_addr, addr, name.endswith("f"), stack)
        s = chain._slot(addr)
        chain.table[s] = compile_trace(ir_text, f"libm_{name}")
        chain.table[s + 1] = 1 | (BREAK if addr in chain.breaks else 0)
