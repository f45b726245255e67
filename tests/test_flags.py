"""Lazy flags: fast paths and the run tier's conditions on known records
agree with the definition in vm.isa.flags."""

from hypothesis import given, settings
from hypothesis import strategies as st

from vm.isa import flags as F
from vm.isa.spec import CONDITIONS
from vm.runtier import cf_source, cond_source

EDGE = st.sampled_from(
    [
        0,
        1,
        2,
        0x7F,
        0x80,
        0xFF,
        0x7FFF,
        0x8000,
        0xFFFF,
        0x7FFFFFFF,
        0x80000000,
        0xFFFFFFFF,
        (1 << 63) - 1,
        1 << 63,
        (1 << 64) - 1,
    ]
)


@st.composite
def records(draw):
    """A flags record as each kind of instruction leaves it."""
    kind = draw(st.sampled_from([F.ADD, F.ADC, F.SUB, F.SBB, F.LOGIC, F.INC, F.DEC, F.RAW]))
    n = draw(st.sampled_from([8, 16, 32, 64]))
    mask = (1 << n) - 1
    a = draw(st.one_of(EDGE, st.integers(0, mask))) & mask
    b = draw(st.one_of(EDGE, st.integers(0, mask))) & mask
    cin = draw(st.integers(0, 1))
    if kind == F.ADD:
        return (kind, n, a, b, a + b)
    if kind == F.ADC:
        return (kind, n, a, b, a + b + cin)
    if kind == F.SUB:
        return (kind, n, a, b, a - b)
    if kind == F.SBB:
        return (kind, n, a, b, a - b - cin)
    if kind == F.LOGIC:
        return (kind, n, 0, 0, a)
    if kind == F.INC:
        return (kind, n, a, cin, a + 1)
    if kind == F.DEC:
        return (kind, n, a, cin, a - 1)
    bits = draw(st.lists(st.sampled_from([F.CF_BIT, F.PF_BIT, F.ZF_BIT, F.SF_BIT, F.OF_BIT])))
    return (F.RAW, 0, 0, 0, F.FIXED | sum(set(bits)))


def _eval(src: str, fl) -> int:
    return eval(src, {}, {"a": fl[2], "b": fl[3], "r": fl[4]})


@settings(max_examples=2000)
@given(fl=records(), cc=st.sampled_from(sorted(CONDITIONS)))
def test_condition_on_a_known_record_matches_generic_definition(fl, cc):
    src = cond_source(cc, fl[0], fl[1])
    if src is not None:
        assert bool(_eval(src, fl)) == F.generic_condition(cc, fl), src


@settings(max_examples=1000)
@given(fl=records())
def test_cf_of_a_known_record_matches_definition(fl):
    assert _eval(cf_source(fl[0], fl[1]), fl) == F.cf(fl)


def test_every_condition_of_sub_and_logic_records_is_direct():
    # cmp/test + jcc is the common loop branch: it must never build the tuple
    for cc in ("e", "ne", "b", "ae", "be", "a", "l", "ge", "le", "g", "s", "ns"):
        assert cond_source(cc, F.SUB, 32) is not None
        assert cond_source(cc, F.LOGIC, 32) is not None


@settings(max_examples=400)
@given(fl=records(), cc=st.sampled_from(sorted(CONDITIONS)))
def test_condition_fast_paths_match_generic_definition(fl, cc):
    assert F.CONDITION_FUNCS[cc](fl) == F.generic_condition(cc, fl)


def test_cmp_of_int_min_minus_one_sets_overflow_in_jl_sense():
    # cmp eax, 1 with eax = INT_MIN: INT_MIN - 1 overflows; jl is taken (INT_MIN < 1)
    fl = (F.SUB, 32, 0x80000000, 1, 0x80000000 - 1)
    assert F.of(fl) == 1 and F.sf(fl) == 0
    assert F.cc_l(fl) and F.generic_condition("l", fl)


def test_rflags_of_initial_state_is_0x202():
    assert F.rflags(F.INITIAL) == 0x202
