"""The native tier's lane groups (vm/native/lanes.py): a packed instruction's
lanes translated as LLVM vector operations must give the step tier's bits,
NaN/-0.0/denormal/inf lanes included, and leave vectorised loops at faults
with the exact state."""

from __future__ import annotations

import ast
import struct

import pytest
from test_native_tier import check_native, tier

from vm import assemble, native
from vm.native.lanes import find_groups

pytestmark = pytest.mark.skipif(
    not native.available(), reason="llvmlite missing or host not x86-64"
)


def _groups(src: str) -> dict:
    return {p: (size, n) for p, (size, n, _) in find_groups(ast.parse(src).body).items()}


def test_find_groups_takes_the_lanes_of_a_packed_add_as_one_group():
    src = "\n".join(
        f"t{i} = _af{i} + _bf{i}\nif t{i} != t{i}: t{i} = fnan(_af{i}, _bf{i})\nxf[{4 + i}] = t{i}"
        for i in range(4)
    )
    assert _groups(src) == {0: (3, 4)}


def test_find_groups_refuses_lanes_that_read_what_another_lane_wrote():
    # xf[5] = xf[4]; xf[6] = xf[5] ... run one after another copy lane 4 everywhere
    assert _groups("xf[5] = xf[4]\nxf[6] = xf[5]\nxf[7] = xf[6]") == {}
    assert _groups("t1 = t0 + 1.0\nt2 = t1 + 1.0") == {}


def test_find_groups_needs_something_that_changes_per_lane():
    assert _groups("x = 1\nx = 1\nx = 1") == {}


def _floats(vals) -> str:
    return ", ".join(f"0x{struct.unpack('<I', struct.pack('<f', v))[0]:08x}" for v in vals)


# every lane an edge case: quiet and signalling NaNs with payloads, -0.0, +-inf,
# denormals, the largest float (overflow), 1.0
_EDGES = [
    0x7FC12345, 0xFF812345, 0x7F800001, 0x80000000, 0x00000000, 0x7F800000, 0xFF800000,
    0x00000001, 0x807FFFFF, 0x7F7FFFFF, 0x3F800000, 0xBF800000, 0x00400000, 0x4B000001,
    0xFFFFFFFF, 0x3EAAAAAB,
]  # fmt: skip


def _edge_loop(op: str) -> str:
    a = ", ".join(f"0x{x:08x}" for x in _EDGES)
    b = ", ".join(f"0x{x:08x}" for x in reversed(_EDGES))
    return f"""
global _start
section .data
align 16
va: dd {a}
vb: dd {b}
out: times 16 dd 0
section .text
_start:
    lea rsi, [rel va]
    lea rdi, [rel vb]
    lea rdx, [rel out]
    mov r8d, 40
.rep:
    xor ecx, ecx
.loop:
    movaps xmm0, [rsi + rcx*4]
    movaps xmm1, [rdi + rcx*4]
    {op} xmm0, xmm1
    {op} xmm1, [rsi + rcx*4]
    movups [rdx + rcx*4], xmm0
    addps xmm2, xmm1
    add ecx, 4
    cmp ecx, 16
    jl .loop
    dec r8d
    jnz .rep
    mov eax, 60
    xor edi, edi
    syscall
"""


@pytest.mark.parametrize("op", ["addps", "subps", "mulps", "divps", "maxps", "minps", "sqrtps"])
def test_packed_ops_on_nan_zero_inf_and_denormal_lanes_match_the_step_tier(op):
    src = _edge_loop(op)
    outcome, natively = check_native(src, f"{op} edge lanes")
    assert outcome[:2] == ("exit", 0)
    assert natively > 100


def test_packed_arithmetic_is_translated_to_vector_operations():
    t = tier(assemble([("t.asm", _edge_loop("mulps"))]), "native")
    t.m.run(max_steps=10**6)
    trace = native.hottest(t.m)
    assert trace is not None and "mulps" in "\n".join(trace.listing)
    assert "fmul <4 x float>" in trace.ir
    assert "fadd <4 x float>" in trace.ir
    assert "fmul float" not in trace.ir  # no lane left scalar


_FAULTING = """
global _start
section .data
align 16
v: times 64 dd 1.25
section .text
_start:
    lea rdi, [rel v]
    xorps xmm0, xmm0
    mov rcx, {start}
.loop:
    movups xmm1, [rdi + rcx*4]
    mulps xmm1, xmm1
    addps xmm0, xmm1
    {extra}
    add rcx, 4
    jmp .loop
"""


@pytest.mark.parametrize(
    "what, start, extra",
    [
        ("off the end of data", 0, ""),
        ("a misaligned mulps operand", 1, "mulps xmm1, [rdi + rcx*4 + 2]"),
        ("a store off the end", 0, "movups [rdi + rcx*4 + 8192], xmm0"),
    ],
)
def test_a_fault_in_the_middle_of_a_vectorised_loop_leaves_the_exact_state(what, start, extra):
    src = _FAULTING.format(start=start, extra=extra)
    outcome, natively = check_native(src, what, limit=10**6)
    assert outcome[0] == "fault" and outcome[1] != "step-limit", outcome
    assert natively > 0
