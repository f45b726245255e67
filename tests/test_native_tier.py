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

import random

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
        try:
            ref.m.step()
            while ref.m.rip != where:
                ref.m.step()
            want = ("stopped",)
        except Exit as e:
            want = ("exit", e.status)
        assert got == want
        assert not diff(ref.state(), t.state())


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
