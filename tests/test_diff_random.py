"""Random straight-line instruction sequences, native CPU vs VM.

Hypothesis draws sequences of 5-30 instructions across the whole subset
(integer and SSE, plus forward conditional jumps and balanced stack groups
whose push/pop address memory through rsp; no calls or syscalls), with
register operands, memory operands into an aligned scratch
buffer (`[rel scratch+d]` and `[r15+d]`, r15 = scratch, never written) and
edge-case immediates, from edge-case initial registers. Each example batches
BATCH sequences into one program: one nasm + ld build and one VM run.

Flags are compared only where they are defined after the whole sequence:
`flags_after` follows the table's flags_written/flags_undefined through the
sequence (shift counts, forward jumps joining). A flag reader (adc, sbb,
cmovcc, setcc, jcc) is only generated where the flags it reads are defined;
otherwise a `cmp` is put before it. div/idiv come with a guard that rules out
#DE (dividend sign/zero extension, divisor forced nonzero and small).

On a mismatch the failing sequence is shrunk (greedily dropping
instructions, each round one batched build) and reported as assembly with
its initial state; `python tests/test_diff_random.py SEED` replays one
sequence seed (see docs/testing.md).
"""

from __future__ import annotations

import random
import sys
import tempfile
from dataclasses import dataclass

import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from native import (
    ALL_FLAGS,
    GPR64,
    M64,
    Builder,
    Case,
    State,
    describe_failure,
    int_edges,
    native_skip_reason,
    run_cases,
    sext,
    vm_error_context,
)

from vm.isa import TABLE

pytestmark = pytest.mark.native

BATCH = 40  # sequences per program
EXAMPLES = 3  # hypothesis examples per test (each one program)
BASE = "r15"  # holds the scratch address throughout a sequence

SHIFTS = ("shl", "shr", "sar", "rol", "ror", "shld", "shrd")
# stack and control instructions, and: xlatb (reads [rbx+al], anywhere), std
# (DF would stay set into the harness), pushf/popf/enter (stack)
EXCLUDED = {"push", "pop", "leave", "call", "ret", "jmp", "syscall", "hostcall"}
EXCLUDED |= {"xlatb", "std", "pushf", "popf", "enter"}
# MXCSR: random values trap, and the program would run in MXCSR-exact mode
# (tests/test_diff_mxcsr.py); bt* with a register offset into memory: a bit
# string, anywhere (tests/test_diff_bitstring.py)
EXCLUDED |= {"ldmxcsr", "stmxcsr"}
# condition -> flags it reads
COND_READS = {
    "o": "O",
    "no": "O",
    "b": "C",
    "ae": "C",
    "e": "Z",
    "ne": "Z",
    "be": "CZ",
    "a": "CZ",
    "s": "S",
    "ns": "S",
    "p": "P",
    "np": "P",
    "l": "SO",
    "ge": "SO",
    "le": "ZSO",
    "g": "ZSO",
}
SHIFT_COUNTS = (0, 1, 2, 3, 7, 8, 15, 16, 31, 32, 33, 63, 64, 65, 255)


def _defs():
    seen = {}
    for d in TABLE.values():
        seen.setdefault(d.mnemonic, d)
    return [seen[k] for k in sorted(seen)]


def _pool(groups):
    out = []
    for d in _defs():
        if d.mnemonic in EXCLUDED or d.group not in groups:
            continue
        if d.group == "control" and d.kind != "cond-jump":
            continue
        for f in d.forms:
            if d.mnemonic in ("shld", "shrd") and f.tokens == ("r/m16", "r16", "cl"):
                continue  # a count above 16 (cl is random) has an undefined result
            if d.mnemonic == "movsd" and not f.tokens:
                continue  # the string instruction: [rsi] and [rdi] are anywhere
            out.append((d.mnemonic, f.tokens))
    return out


# A stack group (SeqGen._stack): pushes, one push/pop whose memory operand is
# addressed through rsp (the CPU computes a pop's address after incrementing
# rsp, a push's before decrementing it), pops back into registers.
STACK = ("stack", ())
STACK_FORMS = (
    "pop qword [rsp]",
    "pop qword [rsp+8]",
    "pop qword [rsp-8]",
    "push qword [rsp]",
    "push qword [rsp+8]",
    "push qword [rsp+16]",
)


def _with_stack(pool, share: int = 30):
    return pool + [STACK] * max(1, len(pool) // share) if pool else pool


INT_POOL = _with_stack(_pool({"integer"}))
SSE_POOL = _pool({"sse"})
MIXED_POOL = _with_stack(_pool({"integer", "sse", "control"}))


# ---------------------------------------------------------------------------
# sequence units and flag analysis


@dataclass
class Unit:
    """One instruction of a sequence (or a label), with what the flag
    analysis needs to know about it."""

    text: str
    mnemonic: str | None = None  # None for a label
    bits: int | None = None  # operand size (shifts)
    count: int | None = None  # shift count; None = in cl (unknown)
    target: str | None = None  # jcc: the label it jumps to
    label: str | None = None  # this unit is `label:`
    span: int = 0  # jcc: how many units it jumps over
    group: int | None = None  # div guard + div: kept together

    @property
    def defn(self):
        return TABLE[self.mnemonic]


def reads_of(u: Unit) -> str:
    d = u.defn
    if d.cond:
        return COND_READS[d.cond]
    return d.flags_read


def step_flags(u: Unit, defined: set[str]) -> set[str]:
    """Flags defined after u, given those defined before it."""
    d = u.defn
    w, und = set(d.flags_written), set(d.flags_undefined)
    if d.mnemonic in SHIFTS:
        if d.mnemonic in ("shl", "shr") and u.bits in (8, 16):
            if u.count is None or (u.count & 31) >= u.bits:
                und.add("C")
        if u.count is None:  # count in cl: maybe 0 (no change)
            return defined - und
        masked = u.count & (63 if u.bits == 64 else 31)
        if masked == 0:
            return set(defined)
        if masked == 1:
            und.discard("O")
    return (defined | w) - und


def flags_after(units: list[Unit]) -> tuple[set[str], bool]:
    """(flags defined at the end, whether every flag reader reads defined flags)."""
    defined = set(ALL_FLAGS)
    pending: dict[str, list[set[str]]] = {}
    ok = True
    for u in units:
        if u.label is not None:
            for s in pending.pop(u.label, []):
                defined &= s
            continue
        if not set(reads_of(u)) <= defined:
            ok = False
        if u.target is not None:
            pending.setdefault(u.target, []).append(set(defined))
        defined = step_flags(u, defined)
    for sets in pending.values():  # labels dropped by shrinking: join at the end
        for s in sets:
            defined &= s
    return defined, ok


# ---------------------------------------------------------------------------
# generation


def edge_state(rng: random.Random) -> State:
    """A random state whose GPRs come mostly from a table of edge values."""
    st_ = State.random(rng)
    for i in range(16):
        r = rng.random()
        if r < 0.35:
            bits = rng.choice((8, 16, 32, 64))
            v = rng.choice(int_edges(bits))
            st_.gprs[i] = (sext(v, bits) if rng.random() < 0.5 else v) & M64
        elif r < 0.55:
            st_.gprs[i] = rng.randint(-40, 40) & M64
    return st_


def _bits(tok: str) -> int | None:
    digits = "".join(ch for ch in tok if ch.isdigit())
    return int(digits) if digits else None


class SeqGen:
    """Builds one sequence of units from a list of (mnemonic, form tokens)."""

    def __init__(self, rng: random.Random, state: State, tag: str):
        self.rng, self.state, self.tag = rng, state, tag
        self.units: list[Unit] = []
        self.defined = set(ALL_FLAGS)
        self.pending: list[tuple[int, str, set[str]]] = []  # (remaining units, label, flags)
        self.nlabel = 0

    def builder(self, reserved=()) -> Builder:
        return Builder(self.rng, state=self.state, reserved=reserved, base_reg=BASE, same_prob=0.2)

    def emit(self, u: Unit, countdown: bool = True) -> None:
        """Append u; place the labels of forward jumps whose span ends here
        (not inside a guarded group: countdown=False)."""
        if not set(reads_of(u)) <= self.defined:
            # no countdown: a label placed between the cmp and u could undefine flags again
            self.emit(Unit(self._cmp_text(), "cmp"), countdown=False)
        self.units.append(u)
        if u.target is not None:
            self.pending.append((u.span, u.target, set(self.defined)))
        self.defined = step_flags(u, self.defined)
        if not countdown:
            return
        # count down forward jumps; place their labels
        still = []
        for left, label, fl in self.pending:
            if u.target == label:
                still.append((left, label, fl))
                continue
            left -= 1
            if left <= 0:
                self.units.append(Unit(f"{label}:", label=label))
                self.defined &= fl
            else:
                still.append((left, label, fl))
        self.pending = still

    def finish(self) -> list[Unit]:
        for _, label, fl in self.pending:
            self.units.append(Unit(f"{label}:", label=label))
            self.defined &= fl
        self.pending = []
        return self.units

    def _cmp_text(self) -> str:
        b = self.builder()
        bits = self.rng.choice((8, 16, 32, 64))
        a = b.gpr(bits)
        c = b.operand(f"r/m{bits}", bits, mem_prob=0.3)
        return f"cmp {a.text}, {c.text}"

    def add(self, mn: str, toks: tuple[str, ...]) -> None:
        if (mn, toks) == STACK:
            return self._stack()
        d = TABLE[mn]
        rng = self.rng
        if d.kind == "cond-jump":  # jcc, loop, jrcxz: forward only
            self.nlabel += 1
            label = f"{{L}}j{self.nlabel}"
            self.emit(Unit(f"{mn} {label}", mn, target=label, span=rng.randint(1, 3)))
            return
        if mn in ("div", "idiv"):
            return self._div(mn, toks)
        if mn == "lea":
            b = self.builder()
            dst = b.gpr(_bits(toks[0]))
            # not the scratch base register: its value is an address, which differs
            # between the native and the VM layout
            regs = [r for r in GPR64 if r not in ("rsp", BASE)]
            base, idx = rng.choice(regs), rng.choice(regs)
            disp = rng.choice((0, 1, -1, 0x7FFFFFFF, -0x80000000, rng.randint(-500, 500)))
            scale = rng.choice((1, 2, 4, 8))
            self.emit(Unit(f"lea {dst.text}, [{base}+{idx}*{scale}{disp:+d}]", mn))
            return
        b = self.builder()
        first = _bits(toks[0]) if toks else None
        ops, count = [], None
        for t in toks:
            if mn in SHIFTS and t == "imm8":
                counts = SHIFT_COUNTS
                if mn in ("shld", "shrd") and first == 16:
                    counts = tuple(c for c in counts if c & 31 <= 16)  # else undefined
                count = rng.choice(counts)
                ops.append(str(count))
            elif t == "cl":
                ops.append("cl")
            elif t.startswith("imm"):
                ops.append(b.imm(_bits(t), first).text)
            else:
                bit_string = d.bit_string and toks[-1].startswith("r") and t is toks[0]
                ops.append(
                    b.operand(t, first, align=d.align, mem_prob=0 if bit_string else 0.35).text
                )
        self.emit(Unit(f"{mn} {', '.join(ops)}".strip(), mn, bits=first, count=count))

    def _div(self, mn: str, toks: tuple[str, ...]) -> None:
        """div/idiv with a guard that rules out #DE."""
        bits = _bits(toks[0])
        b = self.builder(reserved=(0, 2))
        src = b.operand(toks[0], bits, mem_prob=0.35).text
        if mn == "div":
            guard = ["movzx eax, al" if bits == 8 else "xor edx, edx", f"or {src}, 1"]
            names = ["movzx" if bits == 8 else "xor", "or"]
        else:
            mask = {8: 0x3F, 16: 0x3FFF, 32: 0x3FFFFFFF, 64: 0x3FFFFFFF}[bits]
            ext = {8: ["movsx ax, al"], 16: ["mov dx, ax", "sar dx, 15"], 32: ["cdq"], 64: ["cqo"]}[
                bits
            ]
            guard = ext + [f"and {src}, {mask:#x}", f"or {src}, 1"]
            names = [g.split()[0] for g in guard]
        self.nlabel += 1
        for text, name in zip(guard, names):
            self.emit(
                Unit(text, name, bits=16, count=15 if name == "sar" else None, group=self.nlabel),
                countdown=False,
            )
        self.emit(Unit(f"{mn} {src}", mn, group=self.nlabel))

    def _stack(self) -> None:
        """Three pushes, one rsp-addressed push or pop, pops until rsp is back."""
        rng = self.rng
        b = self.builder()
        srcs = [b.gpr(64).text for _ in range(3)]
        form = rng.choice(STACK_FORMS)
        depth = 3 + (1 if form.startswith("push") else -1)
        dsts = [b.gpr(64).text for _ in range(depth)]
        self.nlabel += 1
        texts = [f"push {r}" for r in srcs] + [form] + [f"pop {r}" for r in dsts]
        for i, text in enumerate(texts):
            u = Unit(text, text.split()[0], group=self.nlabel)
            self.emit(u, countdown=i == len(texts) - 1)


def build_case(
    forms: list[tuple[str, tuple[str, ...]]], seed: int, name: str
) -> tuple[Case, list[Unit]]:
    rng = random.Random(seed)
    state = edge_state(rng)
    gen = SeqGen(rng, state, name)
    for mn, toks in forms:
        gen.add(mn, toks)
    units = gen.finish()
    return make_case(name, state, units), units


def make_case(name: str, state: State, units: list[Unit]) -> Case:
    defined, ok = flags_after(units)
    assert ok, "a flag reader reads undefined flags"
    flags = "".join(f for f in ALL_FLAGS if f in defined)
    return Case(
        name,
        [u.text for u in units],
        state,
        setup=[f"lea {BASE}, [rel scratch]"],
        flags=flags,
        rebase=(BASE,),
    )


# ---------------------------------------------------------------------------
# running, shrinking, reporting


def shrink(case: Case, units: list[Unit], workdir: str, rounds: int = 40) -> Case:
    """Greedy: drop one instruction at a time while the case still differs.
    Each round runs every one-smaller candidate in one batch."""
    for _ in range(rounds):
        cands = []
        for i, u in enumerate(units):
            if u.label is not None:
                continue
            if u.group is not None:
                if i and units[i - 1].group == u.group:
                    continue  # the group is tried from its first unit
                rest = [x for x in units if x.group != u.group]
            else:
                rest = units[:i] + units[i + 1 :]
            if not flags_after(rest)[1]:
                continue
            cands.append((rest, make_case(case.name, case.state, rest)))
        if not cands:
            break
        try:
            res = run_cases([c for _, c in cands], workdir, name="shrink")
        except AssertionError:
            break
        if res.vm_error is not None:
            break
        failing = {id(c) for c, _ in res.failures()}
        nxt = next(((r, c) for r, c in cands if id(c) in failing), None)
        if nxt is None:
            break
        units, case = nxt
    return case


def check_batch(cases_units: list[tuple[Case, list[Unit]]]) -> None:
    reason = native_skip_reason()
    if reason:
        pytest.skip(reason)
    cases = [c for c, _ in cases_units]
    with tempfile.TemporaryDirectory(prefix="mnistvm-rand-") as wd:
        res = run_cases(cases, wd, name="random")
        if res.vm_error is not None:
            raise AssertionError("the VM failed on a random batch: " + vm_error_context(res))
        fails = res.failures()
        if not fails:
            return
        case, diffs = fails[0]
        units = dict((id(c), u) for c, u in cases_units)[id(case)]
        small = shrink(case, units, wd)
        from native import compare_case

        res2 = run_cases([small], wd, name="final")
        d2 = compare_case(small, res2.native[0], res2.vm[0]) if res2.vm else diffs
        msg = [
            f"{len(fails)} of {len(cases)} random sequences differ. First one, shrunk "
            f"from {len(units)} to {len(small.body)} lines:",
            describe_failure(small, d2 or diffs, res2.native[0]),
            "original sequence:",
            case.asm(),
            "other failing sequences: " + ", ".join(c.name for c, _ in fails[1:20]),
        ]
        raise AssertionError("\n".join(msg))


def sequences(pool):
    forms = st.lists(st.sampled_from(pool), min_size=5, max_size=30)
    return st.tuples(forms, st.integers(0, 2**32 - 1))


def batch_strategy(pool):
    return st.lists(sequences(pool), min_size=BATCH, max_size=BATCH)


SETTINGS = settings(
    max_examples=EXAMPLES,
    derandomize=True,
    deadline=None,
    phases=[Phase.explicit, Phase.generate],
    database=None,
    suppress_health_check=list(HealthCheck),
)


def run_random(batch, tag: str) -> None:
    cases_units = [
        build_case(forms, seed, f"{tag}#{k} seed={seed}") for k, (forms, seed) in enumerate(batch)
    ]
    check_batch(cases_units)


@SETTINGS
@given(batch_strategy(INT_POOL or [("nop", ())]))
def test_random_integer_sequences(batch):
    run_random(batch, "int")


@SETTINGS
@given(batch_strategy(SSE_POOL or [("nop", ())]))
def test_random_sse_sequences(batch):
    run_random(batch, "sse")


@SETTINGS
@given(batch_strategy(MIXED_POOL or [("nop", ())]))
def test_random_mixed_sequences_with_forward_jumps(batch):
    run_random(batch, "mixed")


# ---------------------------------------------------------------------------
# self-checks of the generator (no native run needed)


def test_flag_analysis_follows_the_table():
    u = [Unit("add eax, ebx", "add"), Unit("imul eax, ebx", "imul")]
    assert flags_after(u)[0] == {"C", "O"}
    u += [Unit("shl eax, cl", "shl", bits=32)]  # count unknown: PZS stay undefined
    assert flags_after(u)[0] == {"C"}
    u += [Unit("shl eax, 1", "shl", bits=32, count=1)]
    assert flags_after(u)[0] == set(ALL_FLAGS)
    u += [Unit("div ebx", "div")]
    assert flags_after(u)[0] == set()
    assert not flags_after(u + [Unit("adc eax, 1", "adc")])[1]


def test_generated_sequences_are_well_formed():
    rng = random.Random(3)
    pool = MIXED_POOL
    for k in range(200):
        forms = [rng.choice(pool) for _ in range(rng.randint(5, 30))]
        case, units = build_case(forms, k, f"wf{k}")
        assert flags_after(units)[1]
        for ln in case.body:
            assert "rsp" not in ln or ln in STACK_FORMS, ln
            if " " in ln:
                dst = ln.split(" ", 1)[1].split(",")[0].strip()
                assert dst not in ("r15", "r15d", "r15w", "r15b"), ln


def replay(seed: int, pool=None, length: int = 20) -> str:
    """The assembly of a standalone sequence for a seed (debugging aid)."""
    pool = pool or MIXED_POOL
    rng = random.Random(seed)
    forms = [rng.choice(pool) for _ in range(length)]
    case, _ = build_case(forms, seed, f"replay seed={seed}")
    return case.asm() + "\n" + case.state.render(case.mentioned())


if __name__ == "__main__":
    print(replay(int(sys.argv[1]) if len(sys.argv) > 1 else 0))


# ---------------------------------------------------------------------------
# vector code (AVX / AVX2 / FMA / AVX-512): sequences compared over the whole
# zmm0-31 file by tests/native_vec.py, with the forms the host CPU can run


def _vector_pool():
    from native_vec import missing_feature

    seen = {}
    for d in TABLE.values():
        if d.group in ("avx", "fma", "avx512"):
            seen[d.mnemonic] = d
    return [
        (d, f) for d in seen.values() for f in d.forms if missing_feature(d.cpuid[str(f)]) is None
    ]


VECTOR_POOL = _vector_pool()


@pytest.mark.skipif(not VECTOR_POOL, reason="no vector forms, or the host CPU has no AVX")
@SETTINGS
@given(st.lists(st.integers(0, 2**32 - 1), min_size=12, max_size=12))
def test_random_vector_sequences(seeds):
    from native import require_native
    from native_vec import random_sequence, run_vec_cases

    require_native()
    cases = [
        random_sequence(
            VECTOR_POOL, random.Random(s), f"vec seed={s}", random.Random(s).randint(4, 24)
        )
        for s in seeds
    ]
    with tempfile.TemporaryDirectory() as work:
        report = run_vec_cases(cases, work, name="vecseq")
    assert not report, f"{len(report)} of {len(cases)} sequences differ:\n" + "\n\n".join(
        report[:4]
    )
