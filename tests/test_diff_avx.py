"""Every AVX / AVX2 / FMA3 / AVX-512 form of the table, native CPU vs VM, bit for bit.

Like test_diff_isa.py (which covers the legacy forms), cases are generated
from the table: every form of every vector definition, with registers and
memory holding float lanes - edge values (NaNs with payloads, infinities,
signed zeros, denormals, FLT_MAX, rounding ties) mixed with random ones -
and compared over the whole zmm0-31 file and the scratch memory
(tests/native_vec.py), so the VEX/EVEX zeroing of upper bits is checked too.
FMA cases include constructed double-rounding traps: a product exact in
binary64 whose binary64 sum with the addend lands on a binary32 rounding
midpoint the exact sum is not on (a twice-rounded FMA gets these wrong).
Forms the host CPU cannot run are skipped with the missing flag named.
"""

from __future__ import annotations

import random
import struct
import zlib
from pathlib import Path

import pytest
from native import assert_same, require_native
from native_vec import (
    SCRATCH,
    Operands,
    VecCase,
    edge_lanes,
    missing_feature,
    run_vec_cases,
)
from test_run_tier import check_tiers

from vm.isa import TABLE

pytestmark = pytest.mark.native

VECTOR_GROUPS = ("avx", "fma", "avx512")
DEFS = sorted(
    {d.mnemonic: d for d in TABLE.values() if d.group in VECTOR_GROUPS}.values(),
    key=lambda d: d.mnemonic,
)
FMA_ROLES = {"132": (0, 2, 1), "213": (1, 0, 2), "231": (1, 2, 0)}  # operand of x, y, z


def kind_of(mnemonic: str) -> str:
    return "f64" if mnemonic.endswith(("pd", "sd")) else "f32"


def f32_bits(x: float) -> int:
    return struct.unpack("<I", struct.pack("<f", x))[0]


def midpoint_triple(rng: random.Random) -> tuple[int, int, int]:
    """(x, y, z) binary32 bits with x*y exact in binary64 and x*y + z, rounded
    to binary64, exactly on a binary32 midpoint that the exact sum is just
    below: z has an odd significand, x*y = ulp(z)/2 * (1 - 2**-2k), so a
    twice-rounded FMA rounds the midpoint to even (away from z) while the
    single rounding gives z."""
    k = rng.randint(15, 23)
    e = rng.randint(-90, 100)
    mant = rng.randrange(1 << 23) | 1
    sign = rng.choice((1.0, -1.0))
    z = sign * (1 + mant / (1 << 23)) * 2.0**e
    half_ulp = 2.0 ** (e - 24)
    t = rng.randint(-20, 20)
    x = sign * (1 - 2.0**-k) * half_ulp * 2.0**t
    y = (1 + 2.0**-k) * 2.0**-t
    if rng.random() < 0.5:
        x, y = y * sign, x * sign
    return f32_bits(x), f32_bits(y), f32_bits(z)


def lane_count(d, form) -> int:
    t = form.types[0] if "mem" not in form.types[0].kinds else form.types[-1]
    width = 8 if kind_of(d.mnemonic) == "f64" else 4
    if d.mnemonic.endswith(("ss", "sd")):
        return 1
    return max(t.vsize, 128) // 8 // width


def cases_for(d, form) -> list[VecCase]:
    rng = random.Random(zlib.crc32(f"{d.mnemonic} {form}".encode()))
    kind = kind_of(d.mnemonic)
    fma = d.group == "fma"
    n = 24 if d.mnemonic.endswith(("ss", "sd")) else 12
    cases = []
    for i in range(n):
        ops = Operands(d, form, rng, i)
        body = [f"{d.mnemonic} {', '.join(ops.texts)}".strip()]
        case = VecCase.random(f"{d.mnemonic}[{form}]#{i}", body, rng, kind)
        case.feature = d.cpuid[str(form)]
        if i % 3 == 0:  # every source lane an edge value (NaN, inf, +-0, denormal ...)
            for where, at in ops.where:
                if where == "reg":
                    case.regs[at][:] = edge_lanes(rng, kind, 64)
                elif where == "mem":
                    case.scratch[:] = edge_lanes(rng, kind, SCRATCH)
        if fma and kind == "f32" and i % 3 == 1:
            regs = [w for w in ops.where if w[0] != "imm"]
            if len({w for w in regs}) == 3:  # three distinct operands: construct traps
                order = d.mnemonic[-5:-2]
                neg_x = d.mnemonic.startswith("vfnm")
                neg_z = "msub" in d.mnemonic
                for lane in range(lane_count(d, form)):
                    x, y, z = midpoint_triple(rng)
                    x ^= (1 << 31) if neg_x else 0
                    z ^= (1 << 31) if neg_z else 0
                    for role, v in zip(FMA_ROLES[order], (x, y, z)):
                        ops.put(case, role, lane, 4, v)
        cases.append(case)
    return cases


@pytest.mark.parametrize("mnemonic", [d.mnemonic for d in DEFS])
def test_native_vs_vm(mnemonic, tmp_path):
    require_native()
    d = TABLE[mnemonic]
    cases, skipped = [], []
    for form in d.forms:
        flag = d.cpuid[str(form)]
        why = missing_feature(flag)
        if why:
            skipped.append(f"{form}: {why}")
            continue
        cases += cases_for(d, form)
    if not cases:
        pytest.skip("; ".join(skipped))
    report = run_vec_cases(cases, tmp_path, name=mnemonic.replace(" ", "_"), kind=kind_of(mnemonic))
    assert not report, f"{len(report)} of {len(cases)} cases differ:\n" + "\n\n".join(report[:6])


def test_every_vector_form_has_cases():
    assert len(DEFS) > 60
    for d in DEFS:
        for form in d.forms:
            assert cases_for(d, form), f"{d.mnemonic} {form}"
            assert d.cpuid[str(form)] in ("avx", "avx2", "fma", "avx512f", "avx512dq")


def test_midpoint_triples_are_double_rounding_traps():
    """The constructed FMA cases can fail: rounding x*y + z through binary64
    gives a different binary32 than the single rounding (fused.fma32)."""
    from vm.isa.fused import fma32

    rng = random.Random(7)

    def f(bits):
        return struct.unpack("<f", struct.pack("<I", bits))[0]

    def to32(v):
        return struct.unpack("<I", struct.pack("<f", v))[0]

    for _ in range(200):
        x, y, z = (f(b) for b in midpoint_triple(rng))
        assert to32(x * y + z) != to32(fma32(x, y, z)), (x, y, z)
        assert to32(fma32(x, y, z)) == to32(z)


# ---- faults and alignment -------------------------------------------------------------

ALIGN_LINES = [
    ("vmovaps ymm1, [rel buf+16]", True),
    ("vmovaps [rel buf+32], zmm1", True),
    ("vmovapd xmm1, [rel buf+8]", True),
    ("vmovaps ymm1, [rel buf+32]", False),
    ("vaddps ymm1, ymm2, [rel buf+4]", False),
    ("vfmadd231ps zmm1, zmm2, [rel buf+12]", False),
    ("vmovups zmm1, [rel buf+3]", False),
]


@pytest.mark.parametrize("line,faults", ALIGN_LINES, ids=[x for x, _ in ALIGN_LINES])
def test_vex_alignment(line, faults, tmp_path):
    """vmovaps needs its operand's own alignment (#GP: SIGSEGV natively,
    Fault('misaligned') in the VM); VEX arithmetic takes any address."""
    require_native()
    need = "avx512f" if "zmm" in line else "fma" if "vfm" in line else "avx"
    why = missing_feature(need)
    if why:
        pytest.skip(why)
    from native import build_native, run_native, run_vm

    src = [
        (
            "al.asm",
            "global _start\nsection .data\nalign 64\nbuf: times 256 db 0\nsection .text\n"
            f"_start:\n    {line}\n    mov eax, 60\n    xor edi, edi\n    syscall\n",
        )
    ]
    out, status = run_native(build_native(src, workdir=tmp_path), cwd=tmp_path)
    assert (status in (-11, -7)) == faults, f"native status {status}"
    from vm import Fault

    if faults:
        with pytest.raises(Fault) as e:
            run_vm(src, root=tmp_path)
        assert e.value.kind == "misaligned", str(e.value)
    else:
        assert run_vm(src, root=tmp_path) == (b"", 0)


# ---- whole programs ---------------------------------------------------------------------

ASM = Path(__file__).parent / "asm"


@pytest.mark.slow
def test_dense_layer_784x128_native_vs_vm(tmp_path):
    """A hand-vectorised 784 -> 128 dense layer (zmm FMA, broadcast, relu,
    lane reduction): the 128 outputs and their sum, byte for byte."""
    require_native()
    why = missing_feature("avx512f", "avx512dq")
    if why:
        pytest.skip(why)
    out, status = assert_same([ASM / "dense_avx512.asm"], tmp_path)
    assert status == 0 and len(out) == 4 * 129
    assert any(struct.unpack("<128f", out[:512])), "all outputs zero: the layer did nothing"


def test_dense_layer_in_every_tier():
    """The same layer, 16 inputs (x stays 64-byte aligned for vmovaps): the run tier (optimised loops over zmm lanes)
    leaves exactly the step tier's registers and memory."""
    src = "%define INPUTS 16\n" + (ASM / "dense_avx512.asm").read_text()
    assert check_tiers(src, "dense_avx512 INPUTS=16", limit=60_000) == ("exit", 0)


VECTOR_LOOP = """
global _start
section .data
align 64
a: times 64 dd 1.5
b: times 64 dd -0.25
section .text
_start:
    lea rsi, [rel a]
    lea rdi, [rel b]
    vxorps ymm0, ymm0, ymm0
    vbroadcastss zmm3, [rsi]
    mov ecx, 7
.l:
    vmovups ymm1, [rsi + 32]
    vfmadd231ps ymm0, ymm1, [rdi]
    vmulps xmm2, xmm1, [rdi + 4]
    vaddss xmm2, xmm2, xmm0
    vfnmsub213sd xmm4, xmm2, xmm0
    vperm2f128 ymm5, ymm0, ymm1, 0x21
    vshufps ymm6, ymm5, ymm0, 0x4e
    vhaddps ymm0, ymm0, ymm6
    vinsertf128 ymm7, ymm6, xmm2, 1
    vfmadd132ps zmm3, zmm3, zmm3
    vmaxps zmm8, zmm3, zmm7
    vmovaps [rdi + 64], ymm0
    addss xmm0, xmm1
    dec ecx
    jnz .l
    vzeroupper
    mov eax, 60
    xor edi, edi
    syscall
"""


def test_vector_loop_in_every_tier():
    """VEX/EVEX writes (upper bits zeroed) mixed with a legacy SSE write
    (upper bits kept) in a loop: every tier agrees with the step tier."""
    assert check_tiers(VECTOR_LOOP, "vector loop") == ("exit", 0)


def test_legacy_sse_writes_keep_the_upper_bits(tmp_path):
    """Legacy SSE instructions (every form with only xmm, memory and imm8
    operands) on registers whose bits 128-511 are set: natively and in the VM
    those bits stay, unlike a VEX write."""
    require_native()
    rng = random.Random(12)
    cases = []
    sse = {d.mnemonic: d for d in TABLE.values() if d.group == "sse" and not d.mxcsr}
    for d in sse.values():
        for form in d.forms:
            if not form.types or not all(t.kinds <= {"xmm", "mem", "imm"} for t in form.types):
                continue  # no operands: the string movsd that shares the SSE mnemonic
            for i in range(2):
                ops = Operands(d, form, rng, i)
                body = [f"{d.mnemonic} {', '.join(ops.texts)}"]
                cases.append(VecCase.random(f"{d.mnemonic}[{form}]#{i}", body, rng))
    assert len(cases) > 40
    report = run_vec_cases(cases, tmp_path, name="legacy")
    assert not report, f"{len(report)} of {len(cases)} cases differ:\n" + "\n\n".join(report[:6])
