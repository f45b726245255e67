"""The run tier against the step tier: the same machine state, always.

The step tier runs each instruction's generated code alone; test_diff_*.py
check it against the real CPU. The run tier compiles whole basic blocks and
optimises them (vm/runtier/: registers, xmm lanes and flags in locals,
loops with hoisted memory checks). These tests run random programs in both
and compare everything a program or a debugger can see: registers, RFLAGS,
xmm registers, memory, stdout, rip, the instruction count, and the fault
(kind, address, message with registers) or exit status.

Programs are random instruction sequences from test_diff_random.py's
generator (wrapped in loops), and random array loops whose index or pointer
register walks through memory and sometimes off its end, into a misaligned
address, or past the step limit. Each program runs in:
  step    Machine.step() until exit/fault/limit (the reference)
  run     Machine.run() as shipped (blocks optimised once hot)
  opt     Machine.run() with every block optimised from its first run
  trace   Machine.run() optimising after one plain run, so that traces follow
          the way branches went (loops across several blocks, side exits)
  traced  Machine.run(block_hook=...) with every block optimised: the debugger's
          variant; the sequence of wlog(addr, n) calls must equal step(trace=True)'s
Also: run(max_steps=N) stops after exactly N instructions for N inside loop
blocks, and breakpoints stop run() exactly where stepping would.
"""

from __future__ import annotations

import io
import random
from pathlib import Path

import pytest
from native import batch_program
from test_diff_random import BASE, INT_POOL, MIXED_POOL, SSE_POOL, SeqGen, edge_state

from vm import Exit, Fault, Machine, assemble, native, runtier
from vm.isa import flags as F
from vm.memory import page_up

LIMIT = 30_000  # instructions per program (the step tier is slow)


@pytest.fixture(autouse=True)
def _run_tier_only(monkeypatch):
    """These tests look at the run tier's compiled Python (its source, its
    caches): keep hot loops out of the native tier, which test_native_tier.py
    checks against this one."""
    monkeypatch.setattr(Machine, "tier", "run")


# ---------------------------------------------------------------------------
# running and comparing


class Run:
    """A machine for one tier, with its output and write log."""

    def __init__(self, image, hot: int | None = None):
        self.out = io.BytesIO()
        self.m = Machine(image, stdout=self.out, stderr=io.BytesIO())
        if hot is not None:
            self.m.hot_loop = self.m.hot_block = hot
        self.writes: list[tuple[int, int]] = []
        self.m.wlog = lambda addr, n: self.writes.append((addr, n))

    def outcome(self, fn) -> tuple:
        try:
            status = fn()
        except Fault as f:
            return ("fault", f.kind, f.rip, str(f))
        if status is None:
            return ("stopped",)
        return ("exit", status)

    def steps(self, limit: int, trace: bool = False) -> tuple:
        """Step until exit, fault or `limit` instructions (then a step-limit
        fault, as run(max_steps=...) reports it)."""
        m = self.m

        def go():
            try:
                while m.icount < limit:
                    m.step(trace)
            except Exit as e:
                return e.status
            f = Fault(
                "step-limit",
                f"step limit reached after {m.icount} instructions (raise it with --max-steps)",
                m.rip,
            )
            raise m._decorate(f)

        return self.outcome(go)

    def state(self) -> dict:
        m, mem = self.m, self.m.mem
        return {
            "rip": m.rip,
            "icount": m.icount,
            "r": list(m.r),
            "rflags": F.rflags(m.fl),
            "xmm": bytes(m.xb),
            "out": self.out.getvalue(),
            "data": bytes(mem.buf[mem.data : page_up(mem.brk)]),
            "stack": bytes(mem.buf[mem.top - (1 << 16) : mem.top]),
        }


def diff(a: dict, b: dict) -> list[str]:
    out = []
    for k in a:
        if a[k] == b[k]:
            continue
        if k == "r":
            out += [
                f"  r{i}: {x:#x} vs {y:#x}" for i, (x, y) in enumerate(zip(a[k], b[k])) if x != y
            ]
        elif isinstance(a[k], bytes):
            i = (
                next(j for j in range(min(len(a[k]), len(b[k]))) if a[k][j] != b[k][j])
                if len(a[k]) == len(b[k])
                else 0
            )
            out.append(
                f"  {k}: first difference at byte {i}: "
                f"{a[k][i : i + 16].hex(' ')} vs {b[k][i : i + 16].hex(' ')}"
            )
        else:
            out.append(f"  {k}: {a[k]!r} vs {b[k]!r}")
    return out


def hot_source(run: Run) -> str:
    """The optimised loop blocks (for failure messages)."""
    fns = [fn for fn, _, loop in run.m._blocks.values() if loop]
    return "\n\n".join(runtier.source(fn) for fn in fns[:2])


def check_tiers(src: str, what: str, limit: int = LIMIT) -> tuple:
    """Run `src` in every tier and assert identical results; return the outcome."""
    image = assemble([("t.asm", src)])
    ref = Run(image)
    expected = ref.steps(limit)
    want = ref.state()
    tref = Run(image)
    tref.steps(limit, trace=True)
    tiers = {
        "run": Run(image),
        "opt": Run(image, hot=0),
        "trace": Run(image, hot=1),
        "traced": Run(image, hot=0),
    }
    for name, t in tiers.items():
        if name == "traced":
            got = t.outcome(lambda t=t: t.m.run(max_steps=limit, block_hook=lambda *a: None))
        else:
            got = t.outcome(lambda t=t: t.m.run(max_steps=limit))
        problems = diff(want, t.state())
        if got != expected:
            problems.insert(
                0,
                f"  outcome: step {expected[:3]} vs {name} {got[:3]}\n"
                f"{expected[-1]}\n--- vs ---\n{got[-1]}",
            )
        if name == "traced" and t.writes != tref.writes:
            problems.append(
                f"  wlog calls differ: {len(tref.writes)} in the step tier, "
                f"{len(t.writes)} traced; first: {tref.writes[:4]} vs {t.writes[:4]}"
            )
        if problems:
            raise AssertionError(
                f"{what}: step tier and {name} tier differ\n"
                + "\n".join(problems)
                + f"\nprogram:\n{src}\n"
                + ("optimised loops:\n" + hot_source(t) if name != "run" else "")
            )
    return expected


# ---------------------------------------------------------------------------
# random sequences (test_diff_random's generator) inside loops


class LoopSeqGen(SeqGen):
    """The random-sequence generator, keeping its hands off the registers
    our loop uses (rbx: iteration counter)."""

    def builder(self, reserved=()):
        return super().builder(reserved=tuple(reserved) + (3,))


def looped_sequences(pool, seed: int, count: int = 6) -> str:
    """A batch_program of `count` random sequences, each run as the body of
    a loop of a few iterations (its last block jumps back to the first)."""
    from native import Case

    rng = random.Random(seed)
    cases = []
    for k in range(count):
        state = edge_state(rng)
        gen = LoopSeqGen(rng, state, f"s{seed}.{k}")
        for _ in range(rng.randint(3, 14)):
            mn, toks = rng.choice(pool)
            gen.add(mn, toks)
        units = gen.finish()
        body = [u.text for u in units]
        iters = rng.choice((1, 2, 3, 5, 9))
        setup = [f"lea {BASE}, [rel scratch]", f"mov ebx, {iters}", "{L}top:"]
        cases.append(Case(f"s{seed}.{k}", body + ["dec rbx", "jnz {L}top"], state, setup=setup))
    return batch_program(cases)


# seeds 0 and 1 in the default run, all eight with -m slow (CI runs both)
@pytest.mark.parametrize(
    "seed", [0, 1, *(pytest.param(s, marks=pytest.mark.slow) for s in range(2, 8))]
)
@pytest.mark.parametrize("pool", ["int", "sse", "mixed"])
def test_random_sequences_in_loops_step_and_run_tiers_agree(pool, seed):
    p = {"int": INT_POOL, "sse": SSE_POOL, "mixed": MIXED_POOL}[pool]
    check_tiers(looped_sequences(p, 1000 * seed + len(pool)), f"{pool} seed {seed}")


# sequences that once broke the optimiser (seed, pool)
REGRESSIONS = [
    # a lane load forwarded into its use although the loop still read the lane
    # (dead-code removal had not settled when forwarding looked at liveness)
    (777054, "sse"),
]


@pytest.mark.parametrize("seed,pool", REGRESSIONS)
def test_sequences_that_once_differed(seed, pool):
    p = {"int": INT_POOL, "sse": SSE_POOL, "mixed": MIXED_POOL}[pool]
    check_tiers(looped_sequences(p, seed), f"{pool} seed {seed}")


STEADY_STATE = Path(__file__).parent / "asm" / "run_tier_steady_state.asm"


def test_saved_fuzz_program_whose_loop_had_no_steady_state():
    """Found by the native tier's fuzz (sse pool, seed 8142014, three loops;
    the pools have changed since, so the program is saved): compiling its
    second loop raised "a loop's steady state does not hold (_xi9)"."""
    src = STEADY_STATE.read_text()
    assert check_tiers(src, "run_tier_steady_state.asm", 8000) == ("exit", 0)
    if native.available():
        from test_native_tier import check_native  # imports this module: not at the top

        check_native(src, "run_tier_steady_state.asm", 8000)


def test_a_wider_lane_write_ends_the_narrow_lanes_constant():
    """`movss xmm2, [m]` writes lane 0 and the constant 0 to lanes 1-3 (cached
    as _xi9.._xi11 = 0); `movupd xmm2, [m]` then writes all 16 bytes, which
    evicts those lanes from the cache. The loop's steady state (taken from a
    checked iteration) kept `_xi9 == 0` although xi9 was no longer cached,
    while the fast iteration (memoryview reads: movupd's value arrives as
    four 32-bit lanes from memory) ends without that constant, so the two
    states could not be reconciled at the back edge."""
    src = """
global _start
section .data
align 16
buf: times 32 dd 1.25
section .text
_start:
    lea r15, [rel buf]
    mov ebx, 9
top:
    movss xmm2, dword [r15+88]
    movupd xmm2, [r15+24]
    dec rbx
    jnz top
    mov eax, 60
    xor edi, edi
    syscall
"""
    assert check_tiers(src, "movss then movupd in a loop") == ("exit", 0)


# ---------------------------------------------------------------------------
# array loops: an index (rbx) or a pointer (rdi) walks through memory

PAGE = 4096
ARRAY = 512  # bytes at each end of one data page


def _data(rng: random.Random) -> str:
    words = [
        rng.choice((0, 1, 0x3F800000, 0x7F800001, 0xFFC00000, 0x80000000, rng.getrandbits(32)))
        for _ in range(ARRAY // 4)
    ]
    lines = [
        f"    dd {', '.join(hex(w) for w in words[i : i + 8])}" for i in range(0, len(words), 8)
    ]
    return "\n".join(lines)


def _mem_ops(rng: random.Random) -> list[str]:
    """Instructions with memory operands addressed by the loop's registers."""
    x = lambda: f"xmm{rng.randrange(8)}"  # noqa: E731
    s = rng.choice((1, 2, 4, 8))
    d = rng.choice((0, 0, 4, 8, 16, -8, 12, 3))
    ix = f"[rsi + rbx*{s}{d:+d}]" if d else f"[rsi + rbx*{s}]"
    pd = rng.choice((0, 0, 16, -16, 8, 4))
    p = f"[rdi{pd:+d}]" if pd else "[rdi]"
    r64 = rng.choice(("rax", "rcx", "rdx", "r8", "r9", "r10"))  # not r11: a step
    r32 = {"rax": "eax", "rcx": "ecx", "rdx": "edx", "r8": "r8d", "r9": "r9d", "r10": "r10d"}[r64]
    r8 = {"rax": "al", "rcx": "cl", "rdx": "dl", "r8": "r8b", "r9": "r9b", "r10": "r10b"}[r64]
    m = rng.choice((ix, p))
    return rng.choice(
        [
            [f"mov {r32}, dword {m}"],
            [f"mov {r64}, qword {m}"],
            [f"mov dword {m}, {r32}"],
            [f"add qword {m}, {rng.choice((1, -1, 77))}"],
            [f"add {r64}, qword {m}"],
            [f"movzx {r32}, byte {m}"],
            [f"mov byte {m}, {r8}"],
            [f"movss {x()}, dword {m}"],
            [f"mulss {x()}, dword {m}"],
            [f"addss {x()}, dword {m}"],
            [f"movss dword {m}, {x()}"],
            [f"movups {x()}, oword {m}"],
            [f"movups oword {m}, {x()}"],
            [f"movaps {x()}, oword {m}"],
            [f"addps {x()}, oword {m}"],
            [f"mulps {x()}, {x()}"],
            [f"movsd {x()}, qword {m}"],
            [f"addsd {x()}, qword {m}"],
            [f"movsd qword {m}, {x()}"],
            [f"movss {x()}, dword {m}", f"mulss {x()}, dword {ix}", f"addss {x()}, {x()}"],
            [
                f"movups {x()}, oword {m}",
                f"mulps {x()}, {x()}",
                f"addps {x()}, {x()}",
                f"movups oword {m}, {x()}",
            ],
            [f"cmp {r32}, dword {m}", f"cmovl {r64}, qword {m}"],
            [f"inc dword {m}"],
            [f"xor {r64}, {r64}"],
            [f"imul {r64}, {r64}, 3"],
            [f"shl {r64}, {rng.randrange(64)}"],
            [f"adc {r64}, 1"],
            [f"ucomiss {x()}, dword {m}"],
            [f"cvttss2si {r32}, dword {m}"],
        ]
    )


def array_loop(seed: int) -> str:
    rng = random.Random(seed)
    body: list[str] = []
    for _ in range(rng.randint(1, 5)):
        body += _mem_ops(rng)
    step = rng.choice((1, 1, 2, 4, -1, -4, 3))
    pstep = rng.choice((4, 8, 16, -4, -16, 0, 12))
    update = rng.choice(
        [
            f"add rbx, {step}",
            f"sub rbx, {-step}",
            "inc rbx" if step == 1 else "dec rbx",
            "add rbx, r11",  # a step held in a register the loop does not change
            "inc ebx" if step == 1 else f"add ebx, {step}",  # a 32-bit index (zero-extends)
        ]
    )
    updates = [update]
    forever = rng.random() < 0.1  # only the step limit ends it
    if pstep and not forever:
        updates.append(f"add rdi, {pstep}")
    rng.shuffle(updates)
    if forever or rng.random() < 0.15:  # an index that wraps (not affine)
        updates.append("and rbx, 63")
    where = rng.randrange(len(body) + 1)  # the update may come before the accesses
    body = body[:where] + updates + body[where:]
    if rng.random() < 0.15:  # a "base" register the loop changes
        body.insert(rng.randrange(len(body) + 1), "add rsi, 4")
    start = rng.choice((0, 3, 17, ARRAY // 2, ARRAY - 40, -40))
    limit = start + step * rng.choice((1, 2, 7, 40, 200))
    cc = "mp" if forever else rng.choice(("ne", "l", "b", "g", "a", "ne", "mp"))  # jmp: no exit
    ptr = rng.choice(("hi", "lo", "lo+16", "hi+" + str(ARRAY - 64), "hi+4"))
    return f"""
global _start
section .data
align 4096
lo: {_data(rng)}
    times {PAGE - 2 * ARRAY} db 0
hi: {_data(rng)}
section .text
_start:
    lea rsi, [rel hi]
    lea rdi, [rel {ptr}]
    mov r11, {step}
    mov rbx, {start}
    mov rbp, {limit}
    xorps xmm1, xmm1
    mov eax, 1
.top:
    {chr(10).join("    " + ln for ln in body).strip()}
    cmp rbx, rbp
    j{cc} .top
    mov eax, 60
    xor edi, edi
    syscall
"""


def test_array_loop_layout_ends_at_unmapped_memory():
    image = assemble([("t.asm", array_loop(0))])
    m = Machine(image)
    hi = image.symbols["hi"].value
    assert m.mem.region(hi + ARRAY - 1) == "data"
    assert m.mem.region(hi + ARRAY) == "unmapped"  # walking up faults here
    assert m.mem.region(image.symbols["lo"].value - 1) != "data"


@pytest.mark.parametrize("seed", range(60))
def test_array_loops_step_and_run_tiers_agree(seed):
    check_tiers(array_loop(seed), f"array loop seed {seed}")


def test_array_loops_cover_faults_and_long_loops():
    """The array loops above are only worth something if they include loops
    that fault mid-way, loops that exit normally and loops that hit the limit."""
    kinds: dict[tuple, int] = {}
    for seed in range(60):
        out = _outcome_only(array_loop(seed))[:2]
        kinds[out] = kinds.get(out, 0) + 1
    assert kinds.get(("exit", 0), 0) >= 10, kinds
    assert sum(v for k, v in kinds.items() if k[0] == "fault" and k[1] != "step-limit") >= 10, kinds
    assert kinds.get(("fault", "step-limit"), 0) >= 1, kinds


def _outcome_only(src: str) -> tuple:
    r = Run(assemble([("t.asm", src)]), hot=0)
    return r.outcome(lambda: r.m.run(max_steps=LIMIT))


def test_loop_fast_path_is_taken_and_bails_out_on_a_fault():
    """A dot-product loop runs its hoisted-check loop (memoryview reads), and
    the same loop walking off the end of memory faults at the exact
    instruction and count."""
    src = """
global _start
section .data
align 4096
a:  times 1024 dd 1.5
section .text
_start:
    lea rdi, [rel a]
    xor eax, eax
    mov edx, N
    xorps xmm0, xmm0
.loop:
    movss xmm1, [rdi + rax*4]
    mulss xmm1, [rdi + rax*4 + 4]
    addss xmm0, xmm1
    inc rax
    cmp rax, rdx
    jb .loop
    mov eax, 60
    xor edi, edi
    syscall
"""
    out = check_tiers(src.replace("N", "1000"), "dot product")
    assert out == ("exit", 0)
    r = Run(assemble([("t.asm", src.replace("N", "1000"))]))
    r.m.run()
    fns = [fn for fn, _, loop in r.m._blocks.values() if loop]
    assert fns and "mf[" in runtier.source(fns[0])  # the hoisted, view-based loop
    out = check_tiers(src.replace("N", "5000"), "dot product off the end")
    assert out[:2] == ("fault", "segfault")


def test_a_loop_across_blocks_becomes_one_trace_with_side_exits():
    """The input loop of dense_forward (skip zero inputs) spans three basic
    blocks; once hot it runs as one loop trace that exits where a branch goes
    the unusual way, with the step tier's results."""
    src = """
global _start
section .data
align 16
x:  dd 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 2.0, 0.0, 0.0, 0.0, 0.0, 0.0, 3.0, 0.0, 0.0, 0.0
    times 240 dd 0.0
section .text
_start:
    lea rdi, [rel x]
    xorps xmm7, xmm7
    xorps xmm1, xmm1
    xor r13d, r13d
    mov r9, 256
.input:
    movss xmm0, [rdi + r13*4]
    ucomiss xmm0, xmm7
    jp .use
    je .next
.use:
    addss xmm1, xmm0
.next:
    inc r13
    cmp r13, r9
    jb .input
    mov eax, 60
    xor edi, edi
    syscall
"""
    assert check_tiers(src, "input loop") == ("exit", 0)
    r = Run(assemble([("t.asm", src)]))
    r.m.run()
    loops = [(fn, ln) for fn, ln, counted in r.m._blocks.values() if counted and ln >= 7]
    assert loops, "no trace spans the loop's blocks"
    assert "return (" in runtier.source(loops[0][0])


# ---------------------------------------------------------------------------
# exact stops: max_steps and breakpoints inside loop blocks

LOOP = """
global _start
section .data
align 16
v:  times 64 dd 2.0
section .text
_start:
    lea rsi, [rel v]
    xor ebx, ebx
    xorps xmm0, xmm0
.loop:
    movss xmm1, [rsi + rbx*4]
    addss xmm0, xmm1
    add dword [rsi + rbx*4], 3
    inc rbx
    cmp rbx, 64
    jb .loop
    mov eax, 60
    xor edi, edi
    syscall
"""


@pytest.mark.parametrize("hot", [None, 0])
def test_max_steps_inside_a_loop_block_stops_after_exactly_n_instructions(hot):
    image = assemble([("t.asm", LOOP)])
    ref = Run(image)
    total = ref.steps(10_000)
    assert total == ("exit", 0)
    count = ref.m.icount
    rng = random.Random(5)
    marks = sorted(
        {1, 2, 3, 4, 5, 6, 7, 9, 10, 11, 17, count - 1, count}
        | {rng.randrange(1, count) for _ in range(25)}
    )
    snaps = {}
    step = Run(image)
    for n in marks:
        try:
            while step.m.icount < n:
                step.m.step()
        except Exit:
            pass
        snaps[n] = step.state()
    for n in marks:
        t = Run(image, hot=hot)
        got = t.outcome(lambda t=t, n=n: t.m.run(max_steps=n))
        assert t.m.icount == n
        if n < count:
            assert got[:2] == ("fault", "step-limit"), (n, got)
        problems = diff(snaps[n], t.state())
        assert not problems, f"max_steps={n}\n" + "\n".join(problems)


@pytest.mark.parametrize("hot", [None, 0])
def test_repeated_runs_with_small_step_budgets_match_stepping(hot):
    """run(max_steps=k) again and again (as a debugger's `continue N` does)
    ends where stepping ends."""
    image = assemble([("t.asm", LOOP)])
    ref = Run(image)
    ref.steps(10_000)
    t = Run(image, hot=hot)
    rng = random.Random(7)
    while True:
        got = t.outcome(lambda: t.m.run(max_steps=rng.choice((1, 2, 5, 6, 7, 13, 50))))
        if got[0] == "exit":
            break
        assert got[1] == "step-limit"
    assert not diff(ref.state(), t.state())


@pytest.mark.parametrize("hot", [None, 0])
def test_breakpoints_stop_run_where_stepping_stops(hot):
    image = assemble([("t.asm", LOOP)])
    loop = (
        image.symbols["_start.loop"].value
        if "_start.loop" in image.symbols
        else next(v.value for k, v in image.symbols.items() if k.endswith(".loop"))
    )
    for bps in ({loop}, {loop + 8}, {loop + 4, loop + 16}, {loop + 20}):
        ref = Run(image)
        t = Run(image, hot=hot)
        t.m.breakpoints = set(bps)
        stops = 0
        while True:
            # the step tier: at least one instruction, then up to the next breakpoint
            try:
                ref.m.step()
                while ref.m.rip not in bps:
                    ref.m.step()
                ref_out = ("stopped",)
            except Exit as e:
                ref_out = ("exit", e.status)
            got = t.outcome(t.m.run)
            assert got == ref_out, (bps, stops)
            assert not diff(ref.state(), t.state()), (bps, stops, diff(ref.state(), t.state()))
            if got[0] == "exit":
                break
            stops += 1
        assert stops >= 64


INPUT_LOOP = """
global _start
section .data
align 16
x:  dd 0.0, 1.0, 0.0, 0.0, 2.0, 0.0, 0.0, 0.0
section .text
_start:
    mov ebx, 40
.again:
    lea rdi, [rel x]
    xor r13d, r13d
.input:
    movss xmm0, [rdi + r13*4]
    ucomiss xmm0, xmm7
    jp .use
    je .next
.use:
    addss xmm1, xmm0
.next:
    inc r13
    cmp r13, 8
    jb .input
    dec ebx
    jnz .again
    mov eax, 60
    xor edi, edi
    syscall
"""


@pytest.mark.parametrize("hot", [None, 1])
def test_breakpoints_added_later_stop_traces_where_stepping_stops(hot):
    """Traces span several blocks; a breakpoint set after they are compiled
    (with invalidate(), as the debugger does) still stops run() exactly."""
    image = assemble([("t.asm", INPUT_LOOP)])
    label = {k.rsplit(".", 1)[-1]: v.value for k, v in image.symbols.items()}
    for where in ("next", "use", "input", "again"):
        ref, t = Run(image), Run(image, hot=hot)
        assert t.outcome(lambda t=t: t.m.run(max_steps=300))[1] == "step-limit"  # warm up
        ref.steps(300)
        assert not diff(ref.state(), t.state())
        bps = {label[where]}
        t.m.breakpoints = set(bps)
        t.m.invalidate()
        for _ in range(30):
            try:
                ref.m.step()
                while ref.m.rip not in bps:
                    ref.m.step()
                ref_out = ("stopped",)
            except Exit as e:
                ref_out = ("exit", e.status)
            got = t.outcome(t.m.run)
            assert got == ref_out, where
            assert not diff(ref.state(), t.state()), (where, diff(ref.state(), t.state()))
            if got[0] == "exit":
                break


def test_stop_requested_is_seen_by_a_long_running_loop():
    """A loop block runs in slices, so a stop request from another thread (the
    debugger's Ctrl-C) stops run() while the loop spins."""
    import threading

    from debugger_programs import SPIN

    m = Machine(assemble([("t.asm", SPIN)]))
    timer = threading.Timer(0.3, lambda: setattr(m, "stop_requested", True))
    timer.start()
    try:
        assert m.run(max_steps=1 << 40) is None
    finally:
        timer.cancel()
    assert m.rip == m.insns[m.image.entry + 4].addr  # at .spin, a block boundary
    assert m.r[0] == (m.icount - 1) // 2 and (m.icount - 1) % 2 == 0
