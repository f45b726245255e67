"""The native tier against the step and run tiers: the same machine state, always.

Same programs as tests/test_run_tier.py (random instruction sequences in
loops, array loops walking off their data into faults, misaligned accesses
and the step limit), run by:
  step     Machine.step() until exit/fault/limit (the reference)
  run      Machine.run() with tier="run" (Python only)
  native   Machine.run() with every loop trace compiled at once (native_after=0)
  native1  the same, compiling after the blocks ran once plainly (traces that
           follow the way branches went, side exits)
Everything a program or debugger sees is compared: registers, RFLAGS, xmm,
memory, output, rip, the instruction count, the fault or exit status.
"""

from __future__ import annotations

import math
import random
import struct

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_diff_random import INT_POOL, MIXED_POOL, SSE_POOL
from test_run_tier import LIMIT, Run, array_loop, diff, looped_sequences

from vm import Exit, Machine, assemble, native
from vm.isa import flags as F
from vm.isa import helpers as H

pytestmark = pytest.mark.skipif(
    not native.available(), reason="llvmlite missing or host not x86-64"
)

POOLS = {"int": INT_POOL, "sse": SSE_POOL, "mixed": MIXED_POOL}


def tier(image, name: str) -> Run:
    r = Run(image, hot={"run": None, "native": 0, "native1": 1}[name])
    r.m.tier = "run" if name == "run" else "native"
    r.m.native_after = 0
    return r


def check_native(src: str, what: str, limit: int = LIMIT) -> tuple[tuple, int]:
    """Run src in step, run and native tiers; assert identical results. Returns
    the outcome and the number of instructions the native code ran."""
    image = assemble([("t.asm", src)])
    ref = Run(image)
    expected = ref.steps(limit)
    want = ref.state()
    natively = 0
    for name in ("run", "native", "native1"):
        t = tier(image, name)
        got = t.outcome(lambda t=t: t.m.run(max_steps=limit))
        problems = diff(want, t.state())
        if got != expected:
            problems.insert(0, f"  outcome: step {expected} vs {name} {got}")
        problems += t.m.__dict__.get("native_errors", [])
        if problems:
            ir = "\n".join(n.ir for n in t.m._native.values())
            raise AssertionError(
                f"{what}: step tier and {name} tier differ\n"
                + "\n".join(problems)
                + f"\nprogram:\n{src}\nnative traces:\n{ir[:6000]}"
            )
        natively += sum(n.executed for n in t.m._native.values())
    return expected, natively


# seeds 0 and 1 in the default run, all eight with -m slow (CI runs both)
@pytest.mark.parametrize(
    "seed", [0, 1, *(pytest.param(s, marks=pytest.mark.slow) for s in range(2, 8))]
)
@pytest.mark.parametrize("pool", ["int", "sse", "mixed"])
def test_random_sequences_in_loops_all_tiers_agree(pool, seed):
    check_native(looped_sequences(POOLS[pool], 1000 * seed + len(pool)), f"{pool} seed {seed}")


@pytest.mark.parametrize("seed", range(60))
def test_array_loops_all_tiers_agree(seed):
    check_native(array_loop(seed), f"array loop seed {seed}")


def test_native_code_runs_and_leaves_at_faults_and_limits():
    """The comparisons above are worth something only if native code ran in
    them, including loops that fault part-way and loops stopped by the limit."""
    kinds: dict[tuple, int] = {}
    for seed in range(60):
        outcome, natively = check_native(array_loop(seed), f"array loop seed {seed}")
        if natively:
            kinds[outcome[:2]] = kinds.get(outcome[:2], 0) + 1
    assert kinds.get(("exit", 0), 0) >= 5, kinds
    assert sum(v for k, v in kinds.items() if k[0] == "fault" and k[1] != "step-limit") >= 5, kinds
    assert kinds.get(("fault", "step-limit"), 0) >= 1, kinds


@pytest.mark.slow
@settings(
    max_examples=25,
    deadline=None,
    derandomize=True,  # the same examples every run (see the xfail below)
    suppress_health_check=[HealthCheck.too_slow],
)
@given(seed=st.integers(0, 10**9), pool=st.sampled_from(sorted(POOLS)))
def test_fuzz_random_programs_never_differ_between_tiers(seed, pool):
    check_native(looped_sequences(POOLS[pool], seed, count=3), f"{pool} seed {seed}", 8000)


LONG_LOOP = """
global _start
section .data
align 16
v:  times 64 dd 2.0
section .text
_start:
    lea rsi, [rel v]
    xor ebx, ebx
    mov ecx, 5000
    xorps xmm0, xmm0
.loop:
    movss xmm1, [rsi + rbx*4]
    addss xmm0, xmm1
    add dword [rsi + rbx*4], 3
    inc rbx
    and rbx, 63
    dec ecx
    jnz .loop
    mov eax, 60
    xor edi, edi
    syscall
"""


@pytest.mark.parametrize("n", [1, 2, 3, 5, 7, 50, 99, 100, 101, 1001, 5000])
def test_max_steps_inside_a_compiled_loop_stops_after_exactly_n_instructions(n):
    image = assemble([("t.asm", LONG_LOOP)])
    ref = Run(image)
    ref.steps(n)
    t = tier(image, "native")
    t.outcome(lambda: t.m.run(max_steps=n))
    assert t.m.icount == n
    assert not diff(ref.state(), t.state())


def test_repeated_small_budgets_match_stepping():
    image = assemble([("t.asm", LONG_LOOP)])
    ref, t = Run(image), tier(image, "native")
    rng = random.Random(5)
    total = 0
    for _ in range(40):
        k = rng.randint(1, 700)
        total += k
        ref.steps(total)
        out = t.outcome(lambda k=k: t.m.run(max_steps=k))
        assert not diff(ref.state(), t.state()), out
        if out[0] == "exit":
            break
    assert t.m._native, "the loop was never compiled"


def test_breakpoints_set_after_compilation_stop_where_stepping_stops():
    image = assemble([("t.asm", LONG_LOOP)])
    t = tier(image, "native")
    t.outcome(lambda: t.m.run(max_steps=3000))
    assert t.m._native
    body = sorted(t.m.insns)
    ref = Run(image)
    ref.steps(t.m.icount)
    for where in body[len(body) // 3 : len(body) // 3 + 4]:
        t.m.breakpoints = {where}
        t.m.invalidate()
        got = t.outcome(t.m.run)
        assert got == step_to(ref, where)
        assert not diff(ref.state(), t.state())


def step_to(ref: Run, where: int) -> tuple:
    """Step at least once, then on until rip is `where` (a breakpoint's stop)
    or the program exits; the outcome run() reports there."""
    try:
        ref.m.step()
        while ref.m.rip != where:
            ref.m.step()
        return ("stopped",)
    except Exit as e:
        return ("exit", e.status)


@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("pool", ["int", "sse", "mixed"])
def test_native_tier_matches_the_real_cpu(pool, seed, tmp_path):
    """The random sequences in loops, assembled by nasm and run on this CPU,
    print the same register dumps as the VM with every loop compiled."""
    from native import build_native, require_native, run_native

    require_native()
    src = looped_sequences(POOLS[pool], 7000 * seed + len(pool))
    exe = build_native([("t.asm", src)], workdir=tmp_path)
    want = run_native(exe, cwd=tmp_path)
    t = tier(assemble([("t.asm", src)]), "native1")
    status = t.m.run(max_steps=10_000_000)
    assert (t.out.getvalue(), status) == want


def test_the_real_cpu_programs_run_native_code():
    ran = 0
    for pool in POOLS:
        for seed in range(4):
            src = looped_sequences(POOLS[pool], 7000 * seed + len(pool))
            t = tier(assemble([("t.asm", src)]), "native1")
            t.m.run(max_steps=10_000_000)
            ran += any(n.executed for n in t.m._native.values())
    assert ran >= 6, f"native code ran in {ran} of 12 programs"


DIV_LOOP = """
global _start
section .text
_start:
    mov ecx, 50
    mov ebx, 1000
    mov esi, 5
.l:
    xor edx, edx
    mov eax, ebx
    lea r8d, [rcx - 7]
    div r8d                 ; divides by zero when ecx reaches 7
    add ebx, eax
    popcnt r9d, ebx
    rol esi, cl
    bt esi, 3
    adc ebx, r9d
    dec ecx
    jnz .l
    mov eax, 60
    xor edi, edi
    syscall
"""


def test_a_division_by_zero_inside_a_compiled_loop_faults_exactly():
    """div's #DE check leaves native code before the instruction; the step
    tier's fault, registers and count follow."""
    outcome, natively = check_native(DIV_LOOP, "div loop")
    assert outcome[:2] == ("fault", "divide-error")
    assert natively > 100


NESTED = """
global _start
section .data
align 16
v: times 64 dd 1.5
out: times 64 dd 0
section .text
_start:
    lea rdi, [rel v]
    lea rsi, [rel out]
    mov r8d, 300
.outer:
    xorps xmm0, xmm0
    xor ecx, ecx
.inner:
    movss xmm1, [rdi + rcx*4]
    mulss xmm1, [rdi + rcx*4]
    addss xmm0, xmm1
    inc ecx
    cmp ecx, 60
    jl .inner
    mov eax, r8d
    and eax, 63
    movss [rsi + rax*4], xmm0
    dec r8d
    jnz .outer
    mov rax, [rel v + 4096 * 1024]   ; leaves through a fault
"""


@pytest.mark.parametrize("limit", [100, 371, 5555, 20000, 55555, 10**6])
def test_nested_loops_run_as_one_trace_and_stop_exactly(limit):
    """An outer loop whose inner loop exits to the trace's start runs both
    loops natively; step limits inside either and the final fault are exact."""
    outcome, natively = check_native(NESTED, f"nested loops, limit {limit}", limit)
    if limit >= 20000:
        assert natively > min(limit, 200_000) // 2
    if limit == 10**6:
        assert outcome[:2] == ("fault", "segfault")


@pytest.fixture(params=H.UNDEFINED_FLAGS_PROFILES)
def undefined_flags_profile(request):
    before = H.UNDEFINED_FLAGS
    H.set_undefined_flags(request.param)
    yield request.param
    H.set_undefined_flags(before)


def test_helper_sources_match_the_helpers(undefined_flags_profile):
    """The IR versions of the flag helpers are translated from Python over
    their arguments; that Python must equal vm/isa/helpers.py (in every
    undefined-flags profile)."""
    from vm.native.translate import helper_sources, rflags_source

    HELPER_SOURCES = helper_sources()

    rng = random.Random(1)
    env = {"parity": F.parity}
    for _ in range(3000):
        bits = rng.choice((8, 16, 32, 64))
        a = rng.choice((0, 1, (1 << bits) - 1, 1 << (bits - 1), rng.getrandbits(bits)))
        n = rng.randint(1, 63 if bits == 64 else 31)
        for name, fn in (("shl_flags", H.shl_flags), ("shr_flags", H.shr_flags)):
            r = ((a << n) & ((1 << bits) - 1)) if name == "shl_flags" else a >> n
            args = dict(zip(HELPER_SOURCES[name][0], (a, n, bits, r)))
            assert eval(HELPER_SOURCES[name][1], env, args) == fn(a, n, bits, r), (name, a, n, bits)
        r = (H.signed(a, bits) >> n) & ((1 << bits) - 1)
        args = dict(zip(HELPER_SOURCES["sar_flags"][0], (a, n, bits, r)))
        assert eval(HELPER_SOURCES["sar_flags"][1], env, args) == H.sar_flags(a, n, bits, r)
        o = rng.random() < 0.5
        args = dict(zip(HELPER_SOURCES["mul_flags"][0], (o, a, bits)))
        assert eval(HELPER_SOURCES["mul_flags"][1], env, args) == H.mul_flags(o, a, bits)
        b = rng.getrandbits(bits)
        for kind, r in (
            (F.ADD, a + b),
            (F.ADC, a + b + 1),
            (F.SUB, a - b),
            (F.SBB, a - b - 1),
            (F.LOGIC, a & b),
            (F.INC, (a + 1) & ((1 << bits) - 1)),
            (F.DEC, (a - 1) & ((1 << bits) - 1)),
        ):
            bb = b & 1 if kind in (F.INC, F.DEC) else b
            fl = (kind, bits, a, bb, r)
            assert eval(rflags_source(kind, bits), env, {"a": a, "b": bb, "r": r}) == F.rflags(fl)


def _finite_or_same(f):
    return lambda x: float(f(x)) if math.isfinite(x) else x


# what the names the helper sources call mean (the LLVM intrinsics they become)
SOURCE_ENV = {
    "parity": F.parity,
    "cvtt": H.cvtt,
    "roundeven": _finite_or_same(round),
    "floor": _finite_or_same(math.floor),
    "ceil": _finite_or_same(math.ceil),
    "trunc": _finite_or_same(math.trunc),
    "copysign": math.copysign,
}


def _source_function(name: str):
    """A helper's translated source as a Python function."""
    from vm.native.translate import helper_sources

    params, src = helper_sources()[name]
    body = src if "return " in src else f"return {src}"
    code = f"def {name}({', '.join(params)}):\n    " + body.replace("\n", "\n    ")
    scope = dict(SOURCE_ENV)
    exec(code, scope)
    return scope[name]


def _bits(x) -> bytes:
    return struct.pack("<d", x) if isinstance(x, float) else repr(x).encode()


FLOATS = [0.0, -0.0, 0.5, -0.5, 1.5, 2.5, -2.5, 3.7, -3.7, 1e300, -1e-300, 2.0**52 + 0.5]
FLOATS += [2.0**63, -(2.0**63), 2.0**31 - 0.5, -(2.0**31) - 0.5, math.inf, -math.inf, math.nan]
FLOATS.append(struct.unpack("<d", struct.pack("<Q", 0xFFF4000000000001))[0])  # a signalling NaN


def test_helper_sources_for_rotates_bits_compares_and_rounding_match_the_helpers():
    """rol/ror/shld/shrd/with_cf/bswap/fcmpp/fround/cvtr are translated from
    Python over their arguments; it must equal vm/isa/helpers.py (an RFLAGS
    value stands for the flags record the helpers take)."""
    rng = random.Random(2)
    fns = {n: _source_function(n) for n in ("with_cf", "rol", "ror", "shld", "shrd", "bswap")}
    for _ in range(3000):
        bits = rng.choice((8, 16, 32, 64))
        a, b = rng.getrandbits(bits), rng.getrandbits(bits)
        rec = (F.RAW, 0, 0, 0, rng.getrandbits(12) & 0xED5 | F.FIXED)
        n = rng.randint(1, 31)
        fl = F.rflags(rec)
        assert fns["with_cf"](fl, n & 1) == H.with_cf(rec, n & 1)
        for name in ("rol", "ror"):
            assert fns[name](a, n, bits, fl) == getattr(H, name)(a, n, bits, rec), (name, a, n)
        if bits > 8:
            k = rng.randint(1, bits - 1)
            for name in ("shld", "shrd"):
                assert fns[name](a, b, k, bits) == getattr(H, name)(a, b, k, bits), (name, a, b, k)
            assert fns["bswap"](a, bits) == H.bswap(a, bits)
    fcmpp, fround, cvtr = (_source_function(n) for n in ("fcmpp", "fround", "cvtr"))
    for x in FLOATS:
        for bits in (32, 64):
            assert cvtr(x, bits) == H.cvtr(x, bits), (x, bits)
        for imm in range(16):
            assert _bits(fround(x, imm)) == _bits(H.fround(x, imm)), (x, imm)
        for y in FLOATS:
            for pred in range(16):
                assert fcmpp(x, y, pred) == H.fcmpp(x, y, pred), (x, y, pred)


def test_float_loops_are_compiled_without_fma_contraction():
    """A multiply feeding an add stays two IEEE operations (no vfmadd)."""
    from vm.native import engine

    src = """
global _start
section .data
align 16
a: dd 1.5, 2.25, -3.0, 0.1
section .text
_start:
    mov ecx, 1000
    xorps xmm0, xmm0
.l:
    movss xmm1, [rel a]
    mulss xmm1, [rel a + 4]
    addss xmm0, xmm1
    dec ecx
    jnz .l
    mov eax, 60
    xor edi, edi
    syscall
"""
    image = assemble([("t.asm", src)])
    m = Machine(image)
    m.native_after = 0
    assert m.run() == 0
    (trace,) = m._native.values()
    asm = engine.assembly(trace.ir)
    assert "mulss" in asm and "addss" in asm
    assert "fmadd" not in asm
    check_native(src, "mulss/addss loop")


def test_a_short_program_never_loads_llvm():
    import subprocess
    import sys

    code = (
        "import io, sys\n"
        "from vm import Machine, assemble\n"
        "src = 'global _start\\n_start:\\n mov ecx, 5\\n.l: dec ecx\\n jnz .l\\n"
        " mov eax, 60\\n xor edi, edi\\n syscall\\n'\n"
        "m = Machine(assemble([('t.asm', src)]))\n"
        "assert m.run() == 0\n"
        "print('llvmlite.binding' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


# ---- vector code (AVX / AVX2 / FMA / AVX-512) ------------------------------------------


def vector_loops(seed: int, count: int = 6) -> str:
    """A tests/native_vec.py batch whose cases run random vector sequences
    (every AVX/FMA/AVX-512 form the host CPU has, NaN/inf/denormal lanes
    included) as the body of a loop of a few iterations, then dump zmm0-31
    and the scratch memory."""
    from native_vec import _program, random_sequence
    from test_diff_random import VECTOR_POOL

    if not VECTOR_POOL:
        pytest.skip("the host CPU has no AVX: no vector forms to run natively")
    rng = random.Random(seed)
    cases = []
    for k in range(count):
        case = random_sequence(VECTOR_POOL, rng, f"vloop {seed}.{k}", rng.randint(3, 12))
        iters = rng.choice((2, 3, 5, 9))
        case.body = [f"mov r14d, {iters}", f".l{k}:", *case.body, "dec r14d", f"jnz .l{k}"]
        cases.append(case)
    return _program(cases)


@pytest.mark.parametrize("seed", range(6))
def test_vector_loops_all_tiers_agree_and_run_natively(seed):
    """ymm/zmm registers (the 32 x 512-bit file), VEX zeroing, FMA: step ==
    run == native, and the loops ran as native code."""
    _, natively = check_native(vector_loops(seed), f"vector loops seed {seed}")
    assert natively > 0, "no vector loop ran as native code"


@pytest.mark.parametrize("seed", range(3))
def test_vector_loops_in_the_native_tier_match_the_real_cpu(seed, tmp_path):
    from native import build_native, require_native, run_native

    require_native()
    src = vector_loops(100 + seed)
    want = run_native(build_native([("v.asm", src)], workdir=tmp_path), cwd=tmp_path)
    t = tier(assemble([("v.asm", src)]), "native1")
    status = t.m.run(max_steps=10_000_000)
    assert (t.out.getvalue(), status) == want
    assert any(n.executed for n in t.m._native.values())


FMA_TRAPS = 64  # float32 triples where x*y + z rounded twice differs from once


def fma_trap_loop(seed: int) -> str:
    """A loop of vfmadd231ps/vfmadd231ss over double-rounding traps
    (tests/test_diff_avx.py midpoint_triple) and mulps+addps beside it,
    writing every result to memory and printing it."""
    from test_diff_avx import midpoint_triple

    rng = random.Random(seed)
    triples = [midpoint_triple(rng) for _ in range(FMA_TRAPS)]
    rows = ["x", "y", "z"]
    data = [f"{name}: dd {', '.join(hex(t[i]) for t in triples)}" for i, name in enumerate(rows)]
    return f"""
global _start
section .data
align 64
{chr(10).join(data)}
fused: times {FMA_TRAPS} dd 0
twice: times {FMA_TRAPS} dd 0
single: times {FMA_TRAPS} dd 0
section .text
_start:
    lea r8, [rel x]
    lea r9, [rel y]
    lea r10, [rel z]
    lea r11, [rel fused]
    lea r12, [rel twice]
    lea r13, [rel single]
    xor ecx, ecx
.l:
    vmovups ymm0, [r10 + rcx*4]
    vmovups ymm1, [r8 + rcx*4]
    vfmadd231ps ymm0, ymm1, [r9 + rcx*4]
    vmovups [r11 + rcx*4], ymm0
    vmulps ymm2, ymm1, [r9 + rcx*4]
    vaddps ymm2, ymm2, [r10 + rcx*4]
    vmovups [r12 + rcx*4], ymm2
    vmovss xmm3, [r10 + rcx*4 + 4]
    vmovss xmm4, [r8 + rcx*4 + 4]
    vfmadd231ss xmm3, xmm4, [r9 + rcx*4 + 4]
    vmovss [r13 + rcx*4], xmm3
    add ecx, 8
    cmp ecx, {FMA_TRAPS}
    jb .l
    mov eax, 1
    mov edi, 1
    lea rsi, [rel fused]
    mov edx, {3 * 4 * FMA_TRAPS}
    syscall
    mov eax, 60
    xor edi, edi
    syscall
"""


def test_fma_rounds_once_in_native_code_and_mul_add_twice(tmp_path):
    """vfmadd becomes llvm.fma (one rounding) and mulps/addps two roundings,
    never contracted: native tier == step tier == the real CPU, on inputs
    where the two differ."""
    from native import build_native, require_native, run_native
    from native_vec import missing_feature

    from vm.native import engine

    src = fma_trap_loop(3)
    check_native(src, "fma traps")
    t = tier(assemble([("f.asm", src)]), "native")
    assert t.m.run() == 0
    out = t.out.getvalue()
    fused, twice = out[: 4 * FMA_TRAPS], out[4 * FMA_TRAPS : 8 * FMA_TRAPS]
    assert fused != twice, "the traps did not separate one rounding from two"
    (trace,) = [n for n in t.m._native.values() if n.executed]
    assert "vfmadd" in engine.assembly(trace.ir)
    unfused = "\n".join(x for x in src.splitlines() if "vfmadd" not in x)
    u = tier(assemble([("u.asm", unfused)]), "native")
    assert u.m.run() == 0
    (trace,) = [n for n in u.m._native.values() if n.executed]
    asm = engine.assembly(trace.ir)
    assert "vmul" in asm and "vadd" in asm and "fmadd" not in asm  # no contraction
    require_native()
    why = missing_feature("avx", "fma")
    if why:
        pytest.skip(why)
    want = run_native(build_native([("f.asm", src)], workdir=tmp_path), cwd=tmp_path)
    assert (out, 0) == want


def test_the_dense_avx512_layer_runs_natively_as_on_the_real_cpu(tmp_path):
    """tests/asm/dense_avx512.asm (zmm broadcast + FMA, 64 inputs): its
    outputs from the native tier equal the real CPU's, byte for byte, and
    its loops ran as native code."""
    from pathlib import Path

    from native import build_native, require_native, run_native
    from native_vec import missing_feature

    path = Path(__file__).parent / "asm" / "dense_avx512.asm"
    src = "%define INPUTS 64\n" + path.read_text()
    t = tier(assemble([("d.asm", src)]), "native1")
    status = t.m.run(max_steps=10_000_000)
    assert status == 0
    ran = sum(n.executed for n in t.m._native.values())
    assert ran > t.m.icount // 2, (ran, t.m.icount)
    fma = [n for n in t.m._native.values() if any("vfmadd" in x for x in n.listing)]
    assert fma and fma[0].executed, "the FMA loop did not run as native code"
    require_native()
    why = missing_feature("avx512f", "avx512dq")
    if why:
        pytest.skip(why)
    exe = build_native([("d.asm", src)], workdir=tmp_path)
    assert (t.out.getvalue(), status) == run_native(exe, cwd=tmp_path)


@pytest.mark.parametrize("which", ["vector loop", "dense layer, 16 inputs"])
def test_the_avx_programs_of_test_diff_avx_agree_in_every_tier(which):
    """tests/test_diff_avx.py's mixed VEX/EVEX/legacy-SSE loop and its dense
    layer, step == run == native, with native code running."""
    from pathlib import Path

    from test_diff_avx import VECTOR_LOOP

    if which == "vector loop":
        src = VECTOR_LOOP
    else:
        path = Path(__file__).parent / "asm" / "dense_avx512.asm"
        src = "%define INPUTS 16\n" + path.read_text()
    outcome, natively = check_native(src, which, limit=60_000)
    assert outcome[:2] == ("exit", 0)
    assert natively > 0


HANDOVER = """
global _start
section .data
align 16
x: times 48 dd 0.0, 0.0, 1.5, 0.0, -2.0, 0.0, 0.0, 0.25
w: times 64 dd 0.5
y: times 64 dd 0.0
section .text
_start:
    mov r9d, 40                 ; passes over x
    lea rsi, [rel w]
    lea rdx, [rel y]
.pass:
    lea rdi, [rel x]
    xor r13d, r13d
.input:                         ; zero inputs are skipped (a trace of their own)
    movss xmm0, [rdi + r13*4]
    ucomiss xmm0, xmm7
    jp .use
    je .next
.use:
    shufps xmm0, xmm0, 0
    xor eax, eax
.packed:
    movups xmm1, [rsi + rax*4]
    mulps xmm1, xmm0
    movups xmm2, [rdx + rax*4]
    addps xmm2, xmm1
    movups [rdx + rax*4], xmm2
    add rax, 4
    cmp rax, 64
    jb .packed
.next:
    inc r13
    cmp r13, 384
    jb .input
    dec r9d
    jnz .pass
    mov rax, [rel y + 4096 * 1024]   ; leaves through a fault
"""


@pytest.mark.parametrize("limit", [777, 5000, 33333, 100_000, 10**6])
def test_traces_that_hand_over_to_each_other_stop_exactly(limit):
    """Like dense_forward: the inner loop's trace leaves where the zero-skipping
    trace starts and back; compiled traces run each other directly (chained),
    with the step limit and the final fault exact."""
    outcome, natively = check_native(HANDOVER, f"hand-over, limit {limit}", limit)
    if limit >= 100_000:
        assert natively > limit // 2
    if limit == 10**6:
        assert outcome[:2] == ("fault", "segfault")


def test_a_breakpoint_at_a_chained_trace_start_stops_there():
    image = assemble([("t.asm", HANDOVER)])
    t = tier(image, "native1")  # traces after the blocks ran: .use+.packed, .next+.input
    t.outcome(lambda: t.m.run(max_steps=50_000))
    hot = sorted((n.executed, a) for a, n in t.m._native.items())
    assert len(hot) >= 2 and hot[-2][0] > 1000, "the hand-over did not make two hot traces"
    ref = Run(image)
    ref.steps(t.m.icount)
    where = hot[-2][1]
    t.m.breakpoints = {where}  # kept compiled: only the run loop and chaining check it
    assert t.outcome(lambda: t.m.run(max_steps=50_000)) == ("stopped",)
    ref.m.step()
    while ref.m.rip != where:
        ref.m.step()
    assert not diff(ref.state(), t.state())
