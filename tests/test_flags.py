"""Lazy flags: fast paths and fused conditions agree with the definition."""

from hypothesis import given, settings
from hypothesis import strategies as st

from vm.codegen import _fused
from vm.isa import flags as F
from vm.isa.spec import CONDITIONS

EDGE = st.sampled_from([0, 1, 2, 0x7F, 0x80, 0xFF, 0x7FFF, 0x8000, 0xFFFF, 0x7FFFFFFF,
                        0x80000000, 0xFFFFFFFF, (1 << 63) - 1, 1 << 63, (1 << 64) - 1])


@st.composite
def sub_flags(draw):
    n = draw(st.sampled_from([8, 16, 32, 64]))
    mask = (1 << n) - 1
    a = draw(st.one_of(EDGE, st.integers(0, mask))) & mask
    b = draw(st.one_of(EDGE, st.integers(0, mask))) & mask
    return (F.SUB, n, a, b, a - b)


@st.composite
def logic_flags(draw):
    n = draw(st.sampled_from([8, 16, 32, 64]))
    mask = (1 << n) - 1
    r = draw(st.one_of(EDGE, st.integers(0, mask))) & mask
    return (F.LOGIC, n, 0, 0, r)


def _eval_fused(expr: str, fl) -> bool:
    return bool(eval(expr, {}, {"fl": fl}))


@settings(max_examples=400)
@given(fl=st.one_of(sub_flags(), logic_flags()), cc=st.sampled_from(sorted(CONDITIONS)))
def test_fused_condition_matches_generic_definition(fl, cc):
    fused = _fused(cc, fl[0], fl[1])
    if fused is not None:
        assert _eval_fused(fused, fl) == F.generic_condition(cc, fl)


@settings(max_examples=400)
@given(fl=st.one_of(sub_flags(), logic_flags()), cc=st.sampled_from(sorted(CONDITIONS)))
def test_condition_fast_paths_match_generic_definition(fl, cc):
    assert F.CONDITION_FUNCS[cc](fl) == F.generic_condition(cc, fl)


def test_cmp_of_int_min_minus_one_sets_overflow_in_jl_sense():
    # cmp eax, 1 with eax = INT_MIN: INT_MIN - 1 overflows; jl is taken (INT_MIN < 1)
    fl = (F.SUB, 32, 0x80000000, 1, 0x80000000 - 1)
    assert F.of(fl) == 1 and F.sf(fl) == 0
    assert F.cc_l(fl) and F.generic_condition("l", fl)


def test_rflags_of_initial_state_is_0x202():
    assert F.rflags(F.INITIAL) == 0x202
