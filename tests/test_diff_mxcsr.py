"""MXCSR against the real CPU: rounding modes, DAZ/FTZ, sticky exception
flags and unmasked exceptions (#XM), for every SSE/AVX floating-point
instruction that rounds or raises flags.

Each test builds one NASM program of many cases with nasm + ld. A case loads
MXCSR (a rounding mode, DAZ, FTZ, sometimes some sticky flags already set),
ymm0-2 and rax from a record in .data, runs one instruction, and stores
ymm0, MXCSR (stmxcsr), rax and the status flags; the program writes all of
it. The VM (step and run tier) must print the same bytes.

Operands: the edge values of tests/native.py (zeros, denormals, FLT_MAX,
infinities, quiet and signalling NaNs, integer boundaries) and random bit
patterns, many with exponents near the underflow and overflow thresholds
and near integer values, where the rounding mode decides the result.
"""

from __future__ import annotations

import io
import os
import random
import struct
import zlib

import pytest

from tests.native import (
    F32_EDGES,
    F64_EDGES,
    build_native,
    require_native,
    run_native,
)
from vm import Fault, Machine, assemble
from vm.isa import softfloat

pytestmark = pytest.mark.native

REC = 128  # record: mxcsr (16), ymm0-2 (3 x 32), rax (8), pad
OUT = 64  # output: ymm0 (32), mxcsr (4), pad (4), rax (8), rflags & 0x8C5 (8), pad
MODES = [
    softfloat.DEFAULT | rc << 13 | daz << 6 | ftz << 15
    for rc in range(4)
    for daz in (0, 1)
    for ftz in (0, 1)
]


def _f32(rng: random.Random) -> int:
    r = rng.random()
    if r < 0.3:
        return rng.choice(F32_EDGES)
    if r < 0.55:  # near the underflow threshold (denormal results), or overflow
        e = rng.choice([rng.randint(0, 30), rng.randint(90, 160), rng.randint(225, 254)])
        return rng.getrandbits(1) << 31 | e << 23 | rng.getrandbits(23)
    if r < 0.75:  # near small integers and halves (conversions, roundss)
        v = rng.randint(-40, 40) / 4 + rng.choice([0, 1e-7, -1e-7, 0.5, 1e-3])
        return struct.unpack("<I", struct.pack("<f", v))[0]
    return rng.getrandbits(32)


def _f64(rng: random.Random) -> int:
    r = rng.random()
    if r < 0.3:
        return rng.choice(F64_EDGES)
    if r < 0.55:
        e = rng.choice([rng.randint(0, 60), rng.randint(800, 1250), rng.randint(1990, 2046)])
        return rng.getrandbits(1) << 63 | e << 52 | rng.getrandbits(52)
    if r < 0.75:
        v = rng.randint(-40, 40) / 4 + rng.choice([0, 1e-15, -1e-15, 0.5, 1e-3])
        return struct.unpack("<Q", struct.pack("<d", v))[0]
    return rng.getrandbits(64)


def _narrowable_f64(rng: random.Random) -> int:
    """A float64 near the float32 range's edges (cvtsd2ss: overflow, denormals)."""
    e = rng.choice([rng.randint(1023 - 160, 1023 - 120), rng.randint(1023 + 120, 1023 + 130)])
    return rng.getrandbits(1) << 63 | e << 52 | rng.getrandbits(52)


def _ymm(rng: random.Random, kind: str) -> bytes:
    if kind == "s":
        return struct.pack("<8I", *(_f32(rng) for _ in range(8)))
    if kind == "n":
        return struct.pack("<4Q", *(_narrowable_f64(rng) for _ in range(4)))
    if kind == "i":  # int32 lanes (cvtdq2ps)
        return struct.pack(
            "<8I", *(rng.getrandbits(rng.choice([8, 24, 25, 31, 32])) for _ in range(8))
        )
    return struct.pack("<4Q", *(_f64(rng) for _ in range(4)))


def _rax(rng: random.Random) -> int:
    bits = rng.choice([8, 24, 25, 31, 32, 53, 54, 63, 64])
    return rng.getrandbits(bits) * rng.choice([1, -1]) & ((1 << 64) - 1)


def _program(cases: list[tuple[str, bytes]], mxcsr: bool = True) -> str:
    """The cases as one program; without mxcsr, one that never touches MXCSR
    (it runs in the default mode, on the fast paths)."""
    recs, code = [], []
    for i, (text, rec) in enumerate(cases):
        recs.append(f"rec{i}: db " + ", ".join(str(b) for b in rec))
        code += [
            f"    ldmxcsr [rec{i}]" if mxcsr else "    nop",
            f"    vmovups ymm0, [rec{i} + 16]",
            f"    vmovups ymm1, [rec{i} + 48]",
            f"    vmovups ymm2, [rec{i} + 80]",
            f"    mov rax, [rec{i} + 112]",
            f"    {text}",
            f"    vmovups [out + {OUT * i}], ymm0",
            f"    stmxcsr [out + {OUT * i + 32}]" if mxcsr else "    nop",
            f"    mov [out + {OUT * i + 40}], rax",
            "    pushfq",
            "    pop rbx",
            "    and ebx, 0x8C5",
            f"    mov [out + {OUT * i + 48}], rbx",
            "    ldmxcsr [mxdefault]" if mxcsr else "    nop",
        ]
    return "\n".join(
        [
            "section .data",
            "align 16",
            "mxdefault: dd 0x1F80",
            *recs,
            "section .bss",
            "align 32",
            f"out: resb {OUT * len(cases)}",
            "section .text",
            "global _start",
            "_start:",
            *code,
            "    mov eax, 1",
            "    mov edi, 1",
            "    mov rsi, out",
            f"    mov edx, {OUT * len(cases)}",
            "    syscall",
            "    mov eax, 60",
            "    xor edi, edi",
            "    syscall",
            "",
        ]
    )


def _record(rng: random.Random, kinds: str) -> bytes:
    mode = rng.choice(MODES)
    if rng.random() < 0.2:
        mode |= rng.getrandbits(6)  # sticky flags already set: they stay
    rec = struct.pack("<I12x", mode)
    rec += b"".join(_ymm(rng, k) for k in kinds)
    rec += struct.pack("<Q8x", _rax(rng))
    assert len(rec) == REC
    return rec


def _vm(src: str, tier: str, exact: bool = True) -> bytes:
    image = assemble([("mxcsr.asm", src)])
    out = io.BytesIO()
    m = Machine(image, stdout=out, stderr=io.BytesIO())
    m.tier = tier
    assert m.mxcsr_exact == exact
    assert m.run(max_steps=10_000_000) == 0
    return out.getvalue()


def _describe(cases, native: bytes, vm: bytes) -> str:
    lines = []
    for i, (text, rec) in enumerate(cases):
        a, b = native[OUT * i : OUT * (i + 1)], vm[OUT * i : OUT * (i + 1)]
        if a != b:
            (mode,) = struct.unpack_from("<I", rec)
            lines.append(
                f"case {i}: {text}  mxcsr in {mode:#06x}\n"
                f"  ymm0 {rec[16:48].hex()}\n  ymm1 {rec[48:80].hex()}\n  ymm2 {rec[80:112].hex()}"
                f"\n  rax {rec[112:120].hex()}\n"
                f"  native ymm0 {a[:32].hex()} mxcsr {a[32:36].hex()} rax {a[40:48].hex()} "
                f"fl {a[48:56].hex()}\n"
                f"  vm     ymm0 {b[:32].hex()} mxcsr {b[32:36].hex()} rax {b[40:48].hex()} "
                f"fl {b[48:56].hex()}"
            )
            if len(lines) >= 8:
                break
    return (
        f"{sum(1 for i in range(len(cases)) if native[OUT * i : OUT * (i + 1)] != vm[OUT * i : OUT * (i + 1)])} of {len(cases)} cases differ\n"
        + "\n".join(lines)
    )


def _check(tmp_path, texts: list[tuple[str, str]], n: int, seed: int, mxcsr: bool = True) -> None:
    """n cases of each (instruction, operand kinds of ymm0-2: s f32, d f64,
    n f64 near the f32 range's edges, i int32), against the CPU, in both tiers.
    Without mxcsr: the program never touches MXCSR (default mode, fast paths)."""
    require_native()
    rng = random.Random(seed)
    cases = [(text, _record(rng, kinds)) for text, kinds in texts for _ in range(n)]
    src = _program(cases, mxcsr)
    exe = build_native([("mxcsr.asm", src)], workdir=tmp_path)
    native, status = run_native(exe)
    assert status == 0
    vm = _vm(src, "run", mxcsr)
    assert native == vm, _describe(cases, native, vm)
    assert _vm(src, "step", mxcsr) == vm


ARITH = [
    (f"{op}{suffix} xmm0, xmm1", "sss" if suffix[1] == "s" else "ddd")
    for op in ("add", "sub", "mul", "div")
    for suffix in ("ss", "ps", "sd", "pd")
]
SQRT_MINMAX = [
    (f"{op}{suffix} xmm0, xmm1", "sss" if suffix[1] == "s" else "ddd")
    for op in ("sqrt", "max", "min")
    for suffix in ("ss", "ps", "sd", "pd")
]
COMPARE = [
    (f"{op} xmm0, xmm1", "sss" if op.endswith("s") else "ddd")
    for op in ("comiss", "ucomiss", "comisd", "ucomisd")
] + [(f"cmp{p}s xmm0, xmm1, {k}", "sss") for k in range(8) for p in ("s", "p")]
CONVERT = [
    ("cvtsi2ss xmm0, rax", "sss"),
    ("cvtsi2ss xmm0, eax", "sss"),
    ("cvtsi2sd xmm0, rax", "ddd"),
    ("cvtsi2sd xmm0, eax", "ddd"),
    ("cvtss2si rax, xmm1", "sss"),
    ("cvtss2si eax, xmm1", "sss"),
    ("cvttss2si rax, xmm1", "sss"),
    ("cvttss2si eax, xmm1", "sss"),
    ("cvtsd2si rax, xmm1", "ddd"),
    ("cvtsd2si eax, xmm1", "ddd"),
    ("cvttsd2si rax, xmm1", "ddd"),
    ("cvttsd2si eax, xmm1", "ddd"),
    ("cvtss2sd xmm0, xmm1", "sss"),
    ("cvtsd2ss xmm0, xmm1", "dnd"),
    ("cvtsd2ss xmm0, xmm1", "ddd"),
    ("cvtps2pd xmm0, xmm1", "sss"),
    ("cvtpd2ps xmm0, xmm1", "dnd"),
    ("cvtdq2ps xmm0, xmm1", "sis"),
    ("cvtps2dq xmm0, xmm1", "sss"),
    ("cvttps2dq xmm0, xmm1", "sss"),
    ("cvtdq2pd xmm0, xmm1", "sis"),
    ("cvtpd2dq xmm0, xmm1", "ddd"),
    ("cvttpd2dq xmm0, xmm1", "ddd"),
]
ROUND = [
    (f"{op} xmm0, xmm1, {imm}", "sss" if op.endswith("s") else "ddd")
    for op in ("roundss", "roundps", "roundsd", "roundpd")
    for imm in (0, 1, 2, 3, 4, 9, 12)
]
OTHER = [
    ("haddps xmm0, xmm1", "sss"),
    ("dpps xmm0, xmm1, 0xFF", "sss"),
    ("dpps xmm0, xmm1, 0x71", "sss"),
]
AVX = [
    ("vaddps ymm0, ymm1, ymm2", "sss"),
    ("vmulpd ymm0, ymm1, ymm2", "ddd"),
    ("vdivss xmm0, xmm1, xmm2", "sss"),
    ("vsqrtpd ymm0, ymm1", "ddd"),
    ("vhaddps ymm0, ymm1, ymm2", "sss"),
    ("vmaxps ymm0, ymm1, ymm2", "sss"),
    ("vfmadd231ss xmm0, xmm1, xmm2", "sss"),
    ("vfmadd132ps ymm0, ymm1, ymm2", "sss"),
    ("vfnmsub213pd ymm0, ymm1, ymm2", "ddd"),
    ("vfmsub231sd xmm0, xmm1, xmm2", "ddd"),
    ("vfnmadd231ps xmm0, xmm1, xmm2", "sss"),
]


@pytest.mark.parametrize(
    "group",
    ["ARITH", "SQRT_MINMAX", "COMPARE", "CONVERT", "ROUND", "OTHER", "AVX"],
)
def test_mxcsr_modes_and_flags_match_cpu(tmp_path, group):
    texts = globals()[group]
    _check(
        tmp_path,
        texts,
        max(4, int(os.environ.get("MXCSR_CASES", "1200")) // len(texts)),
        seed=zlib.crc32(group.encode()),
    )


# ---- unmasked exceptions: #XM, natively SIGFPE ----------------------------------------------


def _xm_program(mode: int, setup: str, op: str) -> str:
    return f"""section .data
align 16
mode: dd {mode:#x}
align 16
a: dd 1.0, 0.0, -1.0, 3.0
b: dd 3.0, 2.0, 2.0, 0.0
tiny: dd 0x00800000, 0, 0, 0
big: dd 1e30, 0, 0, 0
qnan: dd 0x7FC00000, 0, 0, 0
ok: db "ok", 10
section .text
global _start
_start:
    ldmxcsr [mode]
    movaps xmm0, [a]
    movaps xmm1, [b]
    {setup}
    {op}
    mov eax, 1
    mov edi, 1
    mov rsi, ok
    mov edx, 3
    syscall
    mov eax, 60
    xor edi, edi
    syscall
"""


def _unmask(flag: int) -> int:
    return softfloat.DEFAULT & ~(flag << softfloat.MASK_SHIFT)


XM_CASES = [
    (_unmask(softfloat.ZE), "", "divss xmm0, [b + 12]"),  # 1 / 0
    (_unmask(softfloat.ZE), "", "divps xmm0, xmm1"),  # lane 3: 3 / 0
    (_unmask(softfloat.ZE), "", "divss xmm0, xmm1"),  # 1 / 3: no ZE
    (_unmask(softfloat.PE), "", "divss xmm0, xmm1"),  # 1 / 3 is inexact
    (_unmask(softfloat.PE), "", "addss xmm0, xmm0"),  # exact
    (_unmask(softfloat.IE), "", "sqrtss xmm0, [a + 8]"),  # sqrt(-1)
    (_unmask(softfloat.IE), "movss xmm1, [qnan]", "ucomiss xmm0, xmm1"),  # quiet: no IE
    (_unmask(softfloat.IE), "movss xmm1, [qnan]", "comiss xmm0, xmm1"),  # signalling compare
    (_unmask(softfloat.IE), "movss xmm1, [big]", "cvtss2si eax, xmm1"),  # out of range
    (_unmask(softfloat.UE), "movss xmm0, [tiny]", "mulss xmm0, xmm0"),  # underflow
    (_unmask(softfloat.OE), "movss xmm0, [big]", "mulss xmm0, xmm0"),  # overflow
    (_unmask(softfloat.DE), "movss xmm1, [tiny + 4]", "addss xmm0, xmm1"),  # +0: no DE
    (softfloat.DEFAULT | 1 << 16, "", "addss xmm0, xmm1"),  # reserved bit: #GP
]


@pytest.mark.parametrize("mode,setup,op", XM_CASES)
def test_unmasked_exception_stops_like_the_cpu(tmp_path, mode, setup, op):
    """An unmasked exception: natively SIGFPE (#XM), in the VM a
    'simd-exception' fault at the same instruction, its destination
    unchanged; a reserved MXCSR bit: SIGSEGV (#GP) / 'general-protection'."""
    require_native()
    src = _xm_program(mode, setup, op)
    exe = build_native([("xm.asm", src)], workdir=tmp_path)
    native_out, status = run_native(exe)
    image = assemble([("xm.asm", src)])
    out = io.BytesIO()
    m = Machine(image, stdout=out, stderr=io.BytesIO())
    if status == 0:
        assert m.run() == 0
        assert out.getvalue() == native_out == b"ok\n"
        return
    with pytest.raises(Fault) as e:
        m.run()
    kind = {-8: "simd-exception", -11: "general-protection"}[status]
    assert e.value.kind == kind
    assert e.value.loc is not None and e.value.loc.text.strip() == (
        op if kind == "simd-exception" else "ldmxcsr [mode]"
    )
    if kind == "simd-exception":
        dst = m.insns[e.value.rip].operands[0]
        if getattr(dst, "kind", "") == "xmm":
            # the faulting instruction wrote nothing: its destination is what the
            # instructions before it left
            m2 = Machine(image, stdout=io.BytesIO(), stderr=io.BytesIO())
            m2.tier = "step"
            while m2.rip != e.value.rip:
                m2.step()
            assert bytes(m.xb) == bytes(m2.xb)
    assert out.getvalue() == native_out == b""


# ---- MXCSR-exact mode is the only mode of such a program ---------------------------------


LOOP = """section .data
mode: dd 0x5F80
x: dd 1.0
three: dd 3.0
section .text
global _start
_start:
    ldmxcsr [mode]
    mov ecx, 100000
    movss xmm0, [x]
.loop:
    divss xmm0, [three]
    addss xmm0, [x]
    dec ecx
    jnz .loop
    cvtss2si edi, xmm0
    mov eax, 60
    syscall
"""


def test_program_with_ldmxcsr_runs_without_native_traces_or_twins():
    image = assemble([("loop.asm", LOOP)])
    m = Machine(image, stdout=io.BytesIO(), stderr=io.BytesIO())
    assert m.mxcsr_exact and m.tier == "native"
    m.native_after = 1
    assert m.run() == 2  # 1 + 1/3 + 1/9 ... rounded up (RC = up) is 1.5000001 -> 2
    assert m._native == {}
    assert m.mxcsr == 0x5F80 | softfloat.PE


def test_program_without_mxcsr_access_keeps_the_fast_paths():
    image = assemble([("loop.asm", LOOP.replace("ldmxcsr [mode]", "nop"))])
    m = Machine(image, stdout=io.BytesIO(), stderr=io.BytesIO())
    assert not m.mxcsr_exact
    assert m.run() == 2  # round to nearest: 1.5 -> 2 (even)
    assert m.mxcsr == softfloat.DEFAULT  # nothing can observe the flags


def test_default_mode_matches_cpu(tmp_path):
    """The same instructions in a program without ldmxcsr/stmxcsr: the fast
    templates (round to nearest, no flags kept), against the CPU."""
    texts = ARITH + CONVERT + ROUND + [("movhps xmm0, [rec0 + 48]", "sss")]
    texts += [("movlpd xmm0, [rec0 + 48]", "ddd"), ("movhpd [rec0 + 64], xmm0", "ddd")]
    _check(tmp_path, texts, 12, seed=7, mxcsr=False)


TWIN = """section .data
mode: dd 0x1F80
section .text
global _start
_start:
    ldmxcsr [mode]
    mov edi, 7
    call routine
    mov eax, 60
    syscall
routine:
    mov edi, 3
    ret
"""


@pytest.mark.parametrize("exact", [True, False])
def test_fast_mode_twins_are_not_called_in_mxcsr_exact_mode(exact):
    src = TWIN if exact else TWIN.replace("ldmxcsr [mode]", "nop")
    image = assemble([("twin.asm", src)])
    m = Machine(image, stdout=io.BytesIO(), stderr=io.BytesIO())
    calls = []
    m.accel[image.symbols["routine"].value] = "a twin"
    m.accel_call = lambda target, ip, k: calls.append(target) or ip + 4  # what a twin does
    status = m.run()
    assert (status, calls) == ((3, []) if exact else (7, [image.symbols["routine"].value]))
