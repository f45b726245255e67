"""Compile translated traces with LLVM (llvmlite) and call them.

LLVM is initialised on first use (a program that never gets hot never pays
for it). Every trace is optimised at -O2 for this host's CPU; the IR has no
fast-math flags, so LLVM keeps each float operation a single IEEE operation
in program order and never contracts a multiply and an add into an FMA.
Compiled code is cached per process by the trace's IR text, so a machine
that forgets its compiled code (breakpoints changed) or a second machine on
the same program does not compile the same trace again.
"""

from __future__ import annotations

import ctypes
import threading
import time

from llvmlite import binding as llvm

from .chain import OUT_WORDS

_lock = threading.Lock()
_state: dict[str, object] = {}
# IR text -> (address, module in the engine, whether it reads its entry flags)
_cache: dict[str, tuple[int, object, bool]] = {}
compile_seconds = [0.0]  # time spent optimising and compiling, this process (benchmarks)

TRACE_FN = ctypes.CFUNCTYPE(
    None, ctypes.c_void_p, ctypes.c_void_p, ctypes.c_void_p, ctypes.c_void_p, ctypes.c_int64
)


def _new_target_machine():
    target = llvm.Target.from_default_triple()
    return target.create_target_machine(
        cpu=llvm.get_host_cpu_name(), features=llvm.get_host_cpu_features().flatten(), opt=2
    )


def _target_machine():
    """The target machine for optimising and printing (the JIT owns its own)."""
    tm = _state.get("tm")
    if tm is None:
        llvm.initialize_native_target()
        llvm.initialize_native_asmprinter()
        tm = _state["tm"] = _new_target_machine()
    return tm


def _engine():
    """One MCJIT engine per process; each trace is a module added to it (an
    engine owns its target machine, so engines never share one)."""
    engine = _state.get("engine")
    if engine is None:
        _target_machine()
        empty = llvm.parse_assembly("")
        engine = _state["engine"] = llvm.create_mcjit_compiler(empty, _new_target_machine())
    return engine


def optimise(ir_text: str):
    """Parse and optimise a module (the IR of one trace); returns it."""
    tm = _target_machine()
    mod = llvm.parse_assembly(ir_text)
    mod.triple = tm.triple
    mod.data_layout = str(tm.target_data)
    mod.verify()
    pto = llvm.PipelineTuningOptions(speed_level=2)
    pto.slp_vectorization = True  # stores and loads of lanes kept apart become vector ones
    pb = llvm.create_pass_builder(tm, pto)
    pb.getModulePassManager().run(mod, pb)
    return mod


def compile_trace(ir_text: str, name: str) -> int:
    """The address of the compiled trace function (compiled once per IR text)."""
    return compile_reading(ir_text, name)[0]


def compile_reading(ir_text: str, name: str) -> tuple[int, bool]:
    """(address of the compiled function, whether its optimised code still
    reads its fourth argument's memory: for a trace, the RFLAGS value it is
    entered with; a record that only looked read, such as the CF an `inc`
    keeps, is gone once LLVM has seen that nothing observes it)."""
    with _lock:
        hit = _cache.get(ir_text)
        if hit is not None:
            return hit[0], hit[2]
        t0 = time.perf_counter()
        unique = f"{name}_{len(_cache)}"  # one engine: every function named apart
        mod = optimise(ir_text.replace(f'@"{name}"', f'@"{unique}"'))
        reads = _reads_arg(mod.get_function(unique), 3)
        engine = _engine()
        engine.add_module(mod)
        engine.finalize_object()
        addr = engine.get_function_address(unique)
        _cache[ir_text] = (addr, mod, reads)
        compile_seconds[0] += time.perf_counter() - t0
        return addr, reads


def _reads_arg(fn, i: int) -> bool:
    """Whether a load in fn reads through its argument i (directly or
    through address arithmetic on it)."""
    args = list(fn.arguments)
    if len(args) <= i:
        return False
    arg = args[i].name

    def based(v, depth: int = 0) -> bool:
        if v.name == arg and not v.is_instruction:
            return True
        if depth < 8 and v.is_instruction and v.opcode in ("getelementptr", "bitcast"):
            return based(next(iter(v.operands)), depth + 1)
        return False

    return any(
        ins.opcode == "load" and based(next(iter(ins.operands)))
        for blk in fn.blocks
        for ins in blk.instructions
    )


def assembly(ir_text: str) -> str:
    """The host machine code of a trace, as assembly text."""
    with _lock:
        return _target_machine().emit_assembly(optimise(ir_text))


class Buffers:
    """The per-machine memory a compiled trace reads and writes: the GPRs and
    DF as 17 int64 (machine.r, copied in and out around a call), the xmm
    bytes in place, and the result words."""

    def __init__(self, xmm: bytearray):
        self.gprs = (ctypes.c_uint64 * 17)()  # rax..r15, DF (vm.isa.flags.DF)
        self.out = (ctypes.c_uint64 * OUT_WORDS)()
        self.xmm_addr = ctypes.addressof((ctypes.c_char * len(xmm)).from_buffer(xmm))
        self.gprs_addr = ctypes.addressof(self.gprs)
        self.out_addr = ctypes.addressof(self.out)
        self.mem_obj: object = None
        self.mem_addr = 0

    def memory(self, buf) -> int:
        if buf is not self.mem_obj:
            self.mem_addr = ctypes.addressof((ctypes.c_char * len(buf)).from_buffer(buf))
            self.mem_obj = buf
        return self.mem_addr
