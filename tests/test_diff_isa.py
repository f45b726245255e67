"""Every instruction form of the table, native CPU vs VM, bit for bit.

The cases are generated from `vm.isa.spec.TABLE`: each definition (mnemonic)
gets one batched program with cases for every one of its forms, built once
with nasm + ld, run natively and in the VM, and compared register by
register (all GPRs, the flags the table says are defined, xmm0-15 and the
scratch memory). A new instruction or form is covered automatically as long
as a generator below understands its operand tokens;
`test_every_form_has_a_generator` fails otherwise.

Operand values are edge cases (0, 1, -1, INT_MIN/INT_MAX of each size, 0x80,
0xFF.., shift counts 0/1/31/32/63/64/65/255, signed zeros, denormals, FLT_MAX,
infinities, quiet and signalling NaNs with payloads, rounding ties, integer
conversion limits) mixed with random values; registers not under test hold
random 64-bit values so partial-register writes show. Faulting operands (#DE,
misaligned movaps) have their own tests at the end.
"""

from __future__ import annotations

import random
import struct
import zlib

import pytest
from native import (
    ALL_FLAGS,
    F32_EDGES,
    F64_EDGES,
    FLAG_STATES,
    GPR64,
    GPR_BY_SIZE,
    SCRATCH_SIZE,
    Builder,
    Case,
    Op,
    State,
    assert_batch,
    build_native,
    f32_of,
    int_edges,
    random_f32,
    random_f64,
    random_int,
    require_native,
    run_cases,
    run_native,
    run_native_cases,
    run_vm,
    sext,
)

from vm.isa import TABLE

pytestmark = pytest.mark.native

# Definitions that are not written in source: (mnemonic -> why not generated here)
NOT_IN_SOURCE = {
    "hostcall": "runtime stub behind `call exp/log/expf/logf`; covered by test_diff_programs",
    "int": "a system call (int 0x80) compared with the CPU in tests/test_os_boundary.py",
    "ldmxcsr": "random MXCSR values trap (#GP, unmasked exceptions): tests/test_diff_mxcsr.py",
    "stmxcsr": "switches the program to MXCSR-exact mode: tests/test_diff_mxcsr.py",
}


def unique_defs():
    by_name = {}
    for d in TABLE.values():
        by_name.setdefault(d.mnemonic, d)
    return [by_name[k] for k in sorted(by_name)]


# AVX / FMA / AVX-512 forms write ymm/zmm: tests/test_diff_avx.py compares the whole zmm file
VECTOR_GROUPS = ("avx", "fma", "avx512")
DEFS = [
    d for d in unique_defs() if d.mnemonic not in NOT_IN_SOURCE and d.group not in VECTOR_GROUPS
]


class NoGenerator(Exception):
    pass


def seed_for(*parts) -> int:
    return zlib.crc32(" ".join(map(str, parts)).encode())


def spellings(d) -> list[str]:
    return [d.mnemonic, *d.aliases]


def bits_of(token: str) -> int | None:
    digits = "".join(ch for ch in token if ch.isdigit())
    return int(digits) if digits else None


def default_flags(d) -> str:
    """Compared flags: all five except those the table says are undefined
    (unwritten flags must be preserved, so they are compared too)."""
    return "".join(f for f in ALL_FLAGS if f not in d.flags_undefined)


def curated_pairs(bits: int) -> list[tuple[int, int]]:
    m = (1 << bits) - 1
    h = 1 << (bits - 1)
    return [
        (h - 1, 1),
        (h, 1),
        (h, m),
        (0, 0),
        (m, m),
        (m, 1),
        (h, h),
        (h - 1, h - 1),
        (0x80 & m, 0x7F),
        (0, 1),
        (1, 0),
        (h, 0),
        (0, h),
        (m, 0),
        (0, m),
    ]


# ---------------------------------------------------------------------------
# integer instructions


def gen_alu(d, form, rng, n=24):
    """Two-operand (and one-operand) integer forms: pairs of edge values."""
    toks = form.tokens
    first = bits_of(toks[0]) if toks else None
    cases = []
    pairs = curated_pairs(first or 64)
    for i in range(n):
        legacy = not any("64" in t for t in toks) and rng.random() < 0.25
        b = Builder(rng, legacy=legacy)
        mem_prob = 0.7 if (len(toks) > 1 and toks[1].startswith("r/m")) else 0.4
        ops = []
        for t in toks:
            if t.startswith("imm"):
                ops.append(b.imm(bits_of(t), first))
            else:
                ops.append(b.operand(t, first, mem_prob=mem_prob))
        vals = pairs[i] if i < len(pairs) else (None, None)
        for j, op in enumerate(ops):
            if op.kind == "imm":
                continue
            v = vals[min(j, 1)]
            if v is None:
                v = random_int(rng, op.size)
            if d.bit_string and j == 1 and ops[0].kind == "mem":
                # a bit string: an offset of N or more moves the address out of the
                # scratch area (tests/test_diff_bitstring.py moves it)
                v = rng.randrange(first) | (rng.getrandbits(64) & ~((1 << first) - 1))
            b.put(op, v)
        body = [f"{d.mnemonic} {', '.join(o.text for o in ops)}".strip()]
        cases.append(b.case(f"{d.mnemonic}[{form}]#{i}", body, default_flags(d)))
    return cases


def gen_mov(d, form, rng):
    if form.tokens == ("r64", "imm64"):
        cases = []
        vals = [v for v in int_edges(64) if not -(1 << 31) <= sext(v, 64) < (1 << 31)]
        vals += [1 << 32, 0xFFFFFFFF, 0x80000000, 0x7FFFFFFFFFFFFFFF]
        vals += [rng.getrandbits(64) for _ in range(6)]
        for i, v in enumerate(vals):
            b = Builder(rng)
            r = b.gpr(64)
            cases.append(b.case(f"mov[{form}]#{i}", [f"mov {r.text}, {v:#x}"]))
        return cases
    return gen_alu(d, form, rng)


SHIFT_COUNTS = (0, 1, 2, 3, 7, 8, 9, 15, 16, 17, 31, 32, 33, 63, 64, 65, 127, 255)


def shift_flags(d, bits: int, count: int) -> str:
    """Flags defined after a shift/rotate by `count` (Intel SDM): none change
    for a masked count of 0; OF only for a masked count of 1; CF undefined for
    shl/shr of 8/16-bit operands by >= the operand size."""
    masked = count & (63 if bits == 64 else 31)
    if masked == 0:
        return ALL_FLAGS
    flags = set(default_flags(d))
    if masked == 1:
        flags.add("O")
    if d.mnemonic in ("shl", "shr") and bits in (8, 16) and masked >= bits:
        flags.discard("C")
    return "".join(f for f in ALL_FLAGS if f in flags)


def gen_shift(d, form, rng):
    dst_tok, cnt_tok = form.tokens
    bits = bits_of(dst_tok)
    cases = []
    for i, count in enumerate(SHIFT_COUNTS * 2):
        legacy = bits != 64 and rng.random() < 0.25
        b = Builder(rng, legacy=legacy)
        if cnt_tok == "cl":
            b.reserved.add(1)
            if rng.random() < 0.08:
                dst = Op_cl(bits)  # shl cl, cl / shl rcx, cl
            else:
                dst = b.operand(dst_tok, bits)
                b.put(dst, random_int(rng, bits))
            b.state.set_reg("cl", count)
            text = f"{d.mnemonic} {dst.text}, cl"
        else:
            dst = b.operand(dst_tok, bits)
            b.put(dst, random_int(rng, bits))
            text = f"{d.mnemonic} {dst.text}, {count}"
        cases.append(
            b.case(f"{d.mnemonic}[{form}] count={count}#{i}", [text], shift_flags(d, bits, count))
        )
    return cases


def Op_cl(bits):
    name = GPR_BY_SIZE[bits][1]
    return Op(name, "gpr", bits, name=name)


def gen_mul1(d, form, rng, n=24):
    """mul/imul with one operand: rdx:rax = rax * src."""
    bits = bits_of(form.tokens[0])
    pairs = curated_pairs(bits)
    acc = {8: "al", 16: "ax", 32: "eax", 64: "rax"}[bits]
    cases = []
    for i in range(n):
        # rax (and rdx) are implicit operands: never use them as an address base
        b = Builder(rng, legacy=bits != 64 and rng.random() < 0.25, no_base=(0, 2))
        src = b.operand(form.tokens[0], bits)
        a, v = pairs[i] if i < len(pairs) else (random_int(rng, bits), random_int(rng, bits))
        b.state.set_reg(acc, a)
        b.put(src, v)
        cases.append(
            b.case(f"{d.mnemonic}[{form}]#{i}", [f"{d.mnemonic} {src.text}"], default_flags(d))
        )
    return cases


def gen_imul(d, form, rng):
    if len(form.tokens) == 1:
        return gen_mul1(d, form, rng)
    return gen_alu(d, form, rng)


def _div_operands(rng, bits: int, signed: bool) -> tuple[int, int]:
    """(dividend, divisor) whose quotient fits: no #DE."""
    m = (1 << bits) - 1
    while True:
        dv = random_int(rng, bits) if rng.random() < 0.7 else rng.randint(1, 20)
        q = random_int(rng, bits)
        if signed:
            dv, q = sext(dv, bits), sext(q, bits)
            if dv == 0:
                continue
            r = rng.randrange(0, abs(dv)) if rng.random() < 0.8 else abs(dv) - 1
            x = q * dv
            x = x + r if x >= 0 else x - r
            if x == 0 and rng.random() < 0.5:
                x = r
            qq = abs(x) // abs(dv) * (1 if (x >= 0) == (dv > 0) else -1)
            if -(1 << (bits - 1)) <= qq < (1 << (bits - 1)) and -(1 << (2 * bits - 1)) <= x < (
                1 << (2 * bits - 1)
            ):
                return x & ((1 << 2 * bits) - 1), dv & m
        else:
            if dv == 0:
                continue
            r = rng.randrange(0, dv)
            return q * dv + r, dv


def gen_div(d, form, rng, n=28):
    bits = bits_of(form.tokens[0])
    signed = d.mnemonic == "idiv"
    cases = []
    for i in range(n):
        b = Builder(rng, reserved=(0, 2))  # rax, rdx are the dividend
        self_div = i % 9 == 8  # div rax/eax/ax/al (dividend high < it)
        x, dv = _div_operands(rng, bits, signed)
        if self_div:
            acc = {8: "al", 16: "ax", 32: "eax", 64: "rax"}[bits]
            v = rng.randint(2, (1 << (bits - 1)) - 1)
            hi = rng.randrange(0, v // 2 if signed else v)
            x = (hi << bits) | v
            src_text = acc
        else:
            src = b.operand(form.tokens[0], bits)
            b.put(src, dv)
            src_text = src.text
        if bits == 8:
            b.state.set_reg("ax", x)
        else:
            lo, hi = {16: ("ax", "dx"), 32: ("eax", "edx"), 64: ("rax", "rdx")}[bits]
            b.state.set_reg(lo, x)
            b.state.set_reg(hi, x >> bits)
        cases.append(
            b.case(f"{d.mnemonic}[{form}]#{i}", [f"{d.mnemonic} {src_text}"], default_flags(d))
        )
    return cases


def gen_implicit_rax(d, form, rng):
    """cqo, cdq, cdqe: sign extension of rax/eax."""
    cases = []
    vals = int_edges(64) + [sext(v, 32) & (2**64 - 1) for v in int_edges(32)]
    for i, v in enumerate(vals):
        b = Builder(rng)
        b.state.gprs[0] = v
        cases.append(b.case(f"{d.mnemonic}#{i}", [d.mnemonic]))
    return cases


def gen_lea(d, form, rng, n=30):
    """lea computes an address without touching memory: any register values."""
    bits = bits_of(form.tokens[0])
    cases = []
    for i in range(n):
        b = Builder(rng)
        dst = b.gpr(bits)
        pool = [r for r in GPR64 if r != "rsp"]
        base, idx = rng.choice(pool), rng.choice([r for r in pool if r != "rsp"])
        scale = rng.choice((1, 2, 4, 8))
        disp = rng.choice(
            (0, 1, -1, 8, -8, 0x7FFFFFFF, -0x80000000, 0x1234, rng.randint(-999, 999))
        )
        shape = i % 5
        if shape == 0:
            inner = base
        elif shape == 1:
            inner = f"{base}{disp:+d}"
        elif shape == 2:
            inner = f"{base}+{idx}*{scale}"
        elif shape == 3:
            inner = f"{base}+{idx}*{scale}{disp:+d}"
        else:
            inner = f"{idx}*{scale}{disp:+d}"
        cases.append(b.case(f"lea[{form}]#{i}", [f"lea {dst.text}, [{inner}]"]))
    return cases


def gen_cmov(d, form, rng):
    bits = bits_of(form.tokens[0])
    cases = []
    states = list(FLAG_STATES)
    rng.shuffle(states)
    names = spellings(d)
    for i, fl in enumerate(states[:10]):
        b = Builder(rng, legacy=bits != 64 and rng.random() < 0.2)
        b.state.flags = fl
        dst = b.gpr(bits)
        src = b.operand(form.tokens[1], bits, mem_prob=0.4)
        b.put(src, random_int(rng, bits))
        mn = names[i % len(names)]
        cases.append(b.case(f"{mn}[{form}] flags={fl}#{i}", [f"{mn} {dst.text}, {src.text}"]))
    return cases


def gen_setcc(d, form, rng):
    cases = []
    names = spellings(d)
    for i, fl in enumerate(FLAG_STATES + FLAG_STATES[::3]):
        b = Builder(rng, legacy=rng.random() < 0.3)
        b.state.flags = fl
        dst = b.operand("r/m8", 8, mem_prob=0.3 if i < len(FLAG_STATES) else 1.0)
        mn = names[i % len(names)]
        cases.append(b.case(f"{mn}[{form}] flags={fl}#{i}", [f"{mn} {dst.text}"]))
    return cases


def gen_jcc(d, form, rng):
    cases = []
    names = spellings(d)
    for i, fl in enumerate(FLAG_STATES):
        b = Builder(rng)
        b.state.flags = fl
        mn = names[i % len(names)]
        body = [
            f"{mn} {{L}}taken",
            "mov r9d, 1",
            "jmp {L}done",
            "{L}taken:",
            "mov r9d, 2",
            "{L}done:",
        ]
        cases.append(b.case(f"{mn} flags={fl}", body))
    return cases


def gen_jmp(d, form, rng):
    cases = []
    for i in range(4):
        b = Builder(rng)
        if form.tokens == ("rel",):
            body = ["jmp {L}t", "mov r9d, 1", "{L}t:", "mov r10d, 2"]
        elif i % 2 == 0:
            body = ["lea rax, [rel {L}t]", "jmp rax", "mov r9d, 1", "{L}t:", "mov eax, 2"]
        else:
            m = b.mem(64, off=8 * rng.randrange(SCRATCH_SIZE // 8))
            body = [
                "lea rax, [rel {L}t]",
                f"mov {m.text}, rax",
                f"jmp {m.text}",
                "mov r9d, 1",
                "{L}t:",
                "mov eax, 2",
                f"mov {m.text}, rax",
            ]
        cases.append(b.case(f"jmp[{form}]#{i}", body))
    return cases


def gen_call(d, form, rng):
    """call pushes a return address (an address: overwritten before the dump)."""
    cases = []
    for i in range(4):
        b = Builder(rng)
        if form.tokens == ("rel",):
            body = ["call {L}f", "mov r9d, 1", "{L}f:", "mov qword [rsp], 0"]
        elif i % 2 == 0:
            body = [
                "lea rbx, [rel {L}f]",
                "call rbx",
                "mov r9d, 1",
                "{L}f:",
                "mov qword [rsp], 0",
                "mov ebx, 3",
            ]
        else:
            m = b.mem(64, off=8 * rng.randrange(SCRATCH_SIZE // 8))
            body = [
                "lea rax, [rel {L}f]",
                f"mov {m.text}, rax",
                f"call {m.text}",
                "mov r9d, 1",
                "{L}f:",
                "mov qword [rsp], 0",
                "mov eax, 2",
                f"mov {m.text}, rax",
            ]
        cases.append(b.case(f"call[{form}]#{i}", body))
    return cases


def gen_ret(d, form, rng):
    cases = []
    for i, n in enumerate((0, 8, 16, 24) if form.tokens else (None, None)):
        b = Builder(rng)
        pre = [f"push {k}" for k in range((n or 0) // 8)]
        ret = "ret" if n is None else f"ret {n}"
        body = pre + ["call {L}f", "mov r9d, 2", "jmp {L}d", "{L}f:", "mov r10d, 3", ret, "{L}d:"]
        cases.append(b.case(f"{ret}#{i}", body))
    return cases


def gen_push(d, form, rng):
    cases = []
    for i in range(16):
        b = Builder(rng, reserved=(9,))
        if form.tokens == ("imm32",):
            v = rng.choice(
                [0, 1, -1, 0x7FFFFFFF, -0x80000000, 0x80, -129, rng.randint(-9999, 9999)]
            )
            text = f"push {imm_text_signed(v)}"
        elif form.tokens == ("r/m16",):
            op = b.operand("r/m16", 16)
            b.put(op, random_int(rng, 16))
            text = f"push {op.text}"
            cases.append(b.case(f"push[{form}]#{i}", [text, "mov r9w, [rsp]", "lea rsp, [rsp+2]"]))
            continue
        else:
            op = b.operand("r/m64", 64)
            b.put(op, random_int(rng, 64))
            text = f"push {op.text}"
        cases.append(b.case(f"push[{form}]#{i}", [text, "mov r9, [rsp]"]))
    return cases


def imm_text_signed(v: int) -> str:
    return str(v) if v < 0 else hex(v)


def gen_pop(d, form, rng):
    cases = []
    for i in range(16):
        b = Builder(rng)
        bits = bits_of(form.tokens[0])
        src = b.gpr(bits)
        b.put(src, random_int(rng, bits))
        dst = b.operand(form.tokens[0], bits)
        cases.append(b.case(f"pop[{form}]#{i}", [f"push {src.text}", f"pop {dst.text}"]))
    return cases


def gen_leave(d, form, rng):
    cases = []
    for i in range(4):
        b = Builder(rng)
        body = [
            "push r12",
            "mov rbp, rsp",
            f"lea rsp, [rsp-{8 * (i + 1)}]",
            "mov qword [rsp], 5",
            "leave",
        ]
        cases.append(b.case(f"leave#{i}", body))
    return cases


def gen_nop(d, form, rng):
    return [Builder(rng).case(f"nop#{i}", ["nop"]) for i in range(2)]


def gen_syscall(d, form, rng):
    """Syscalls whose results do not depend on the host: unknown numbers
    (-ENOSYS), bad file descriptors (-EBADF), zero-length read/write. rcx and
    r11 are clobbered differently by design."""
    calls = [
        ("unknown syscall 1000", ["mov eax, 1000"]),
        ("unknown syscall 4000", ["mov eax, 4000"]),
        (
            "write(1, scratch, 0)",
            ["mov eax, 1", "mov edi, 1", "lea rsi, [rel scratch]", "mov edx, 0"],
        ),
        (
            "write(-1, scratch, 4)",
            ["mov eax, 1", "mov rdi, -1", "lea rsi, [rel scratch]", "mov edx, 4"],
        ),
        (
            "write(77, scratch, 4)",
            ["mov eax, 1", "mov edi, 77", "lea rsi, [rel scratch]", "mov edx, 4"],
        ),
        ("close(99)", ["mov eax, 3", "mov edi, 99"]),
        ("lseek(99, 0, 0)", ["mov eax, 8", "mov edi, 99", "xor esi, esi", "xor edx, edx"]),
        (
            "read(55, scratch, 8)",
            ["mov eax, 0", "mov edi, 55", "lea rsi, [rel scratch]", "mov edx, 8"],
        ),
    ]
    cases = []
    for what, setup in calls:
        b = Builder(rng)
        body = setup + ["syscall"]
        if any("rsi, [rel scratch]" in s for s in setup):
            body.append("mov esi, 0")  # an address: not comparable
        cases.append(b.case(f"syscall {what}", body, ignore=("rcx", "r11")))
    return cases


# ---------------------------------------------------------------------------
# SSE instructions

F32_PAIRS = [  # (dst lane, src lane) bit patterns
    (0x7F800000, 0xFF800000),
    (0x7F800000, 0x7F800000),
    (0xFF800000, 0xFF800000),
    (0x00000000, 0x80000000),
    (0x80000000, 0x00000000),
    (0x80000000, 0x80000000),
    (0x00000000, 0x00000000),
    (0x7FC00001, 0x7FC00002),
    (0x7F800001, 0x7FC12345),
    (0x7FC12345, 0x7F800001),
    (0x3F800000, 0x7FA00000),
    (0xFFA00005, 0x3F800000),
    (0x7FC12345, 0x3F800000),
    (0x3F800000, 0xFFC00000),
    (0x7F7FFFFF, 0x7F7FFFFF),
    (0x7F7FFFFF, 0xFF7FFFFF),
    (0x00800000, 0x3F000000),
    (0x00000001, 0x00000001),
    (0x007FFFFF, 0x00800000),
    (0x3F800000, 0x33800000),
    (0x3F800000, 0x33800001),
    (0x3F800001, 0x33800000),
    (0x3F800000, 0x3F800000),
    (0x3F800000, 0xBF800000),
    (0x00000000, 0x7F800000),
    (0x7F800000, 0x00000000),
    (0x3F800000, 0x00000000),
    (0xBF800000, 0x00000000),
    (0x3F800000, 0x80000000),
    (0x40200000, 0xBF000000),
    (0x80000001, 0x00000001),
    (0x4B800000, 0x3F800000),
    (0x3EAAAAAB, 0x40400000),
    (0x00800000, 0x00800000),
    (0x0C000000, 0x0C000000),
    (0x5F000000, 0x5F000000),
]
F64_PAIRS = [
    (0x7FF0000000000000, 0xFFF0000000000000),
    (0x7FF0000000000000, 0x7FF0000000000000),
    (0x0000000000000000, 0x8000000000000000),
    (0x8000000000000000, 0x0000000000000000),
    (0x8000000000000000, 0x8000000000000000),
    (0x0000000000000000, 0x0000000000000000),
    (0x7FF8000000000001, 0x7FF8000000000002),
    (0x7FF0000000000001, 0x7FF8000000012345),
    (0x7FF8000000012345, 0x7FF0000000000001),
    (0x3FF0000000000000, 0x7FF4000000000000),
    (0xFFF4000000000005, 0x3FF0000000000000),
    (0x3FF0000000000000, 0xFFF8000000000000),
    (0x7FEFFFFFFFFFFFFF, 0x7FEFFFFFFFFFFFFF),
    (0x7FEFFFFFFFFFFFFF, 0xFFEFFFFFFFFFFFFF),
    (0x0010000000000000, 0x3FE0000000000000),
    (0x0000000000000001, 0x0000000000000001),
    (0x000FFFFFFFFFFFFF, 0x0010000000000000),
    (0x3FF0000000000000, 0x3CA0000000000000),
    (0x3FF0000000000000, 0x3CA0000000000001),
    (0x3FF0000000000001, 0x3CA0000000000000),
    (0x3FF0000000000000, 0x3FF0000000000000),
    (0x3FF0000000000000, 0xBFF0000000000000),
    (0x0000000000000000, 0x7FF0000000000000),
    (0x7FF0000000000000, 0x0000000000000000),
    (0x3FF0000000000000, 0x0000000000000000),
    (0xBFF0000000000000, 0x8000000000000000),
    (0x4004000000000000, 0xBFE0000000000000),
    (0x8000000000000001, 0x0000000000000001),
    (0x3FD5555555555555, 0x4008000000000000),
    (0x0180000000000000, 0x0180000000000000),
]

F32_PREFIXES = (
    "add",
    "sub",
    "mul",
    "div",
    "max",
    "min",
    "sqrt",
    "hadd",
    "comi",
    "ucomi",
    "shuf",
    "unpck",
    "cmp",
    "round",
)
FLOAT_BINARY = ("add", "sub", "mul", "div", "max", "min", "hadd", "comi", "ucomi", "cmp", "dp")


def lane_kind(mn: str) -> str:
    """What the xmm operands of mn hold: 'f32', 'f64', 'i32' or 'bits'."""
    special = {
        "cvtss2sd": "f32",
        "cvttss2si": "f32",
        "cvttps2dq": "f32",
        "cvtsd2ss": "f64",
        "cvttsd2si": "f64",
        "cvtdq2ps": "i32",
        "cvtsi2ss": "bits",
        "cvtsi2sd": "bits",
        "cvtps2pd": "f32",
        "cvtpd2ps": "f64",
        "cvtps2dq": "f32",
        "cvtss2si": "f32",
        "cvtsd2si": "f64",
        "dpps": "f32",
        "movmskps": "f32",
        "blendvps": "bits",
    }
    if mn in special:
        return special[mn]
    if mn.startswith(F32_PREFIXES):
        if mn.endswith(("ss", "ps")):
            return "f32"
        if mn.endswith(("sd", "pd")):
            return "f64"
    return "bits"


def lane_value(rng, kind: str, nbytes: int) -> int:
    if kind == "f32" or (kind == "bits" and nbytes == 4):
        return random_f32(rng) if kind == "f32" or rng.random() < 0.7 else rng.getrandbits(32)
    if kind == "f64" or (kind == "bits" and nbytes == 8):
        return random_f64(rng) if kind == "f64" or rng.random() < 0.7 else rng.getrandbits(64)
    if kind == "i32":
        return random_int(rng, 32)
    raise ValueError(kind)


def fill(b: Builder, op, kind: str, rng) -> None:
    """Give an xmm or memory operand lanes of its kind."""
    nbytes = op.size // 8
    if kind == "bits":
        lane = rng.choice((4, 8)) if nbytes >= 8 else nbytes
    else:
        lane = 8 if kind == "f64" else 4
    lane = min(lane, nbytes)
    for at in range(0, nbytes, lane):
        b.put(op, lane_value(rng, kind, lane), lane, at)


INT_CONVERT_EDGES = [
    0,
    1,
    -1,
    2,
    -2,
    3,
    7,
    100,
    -100,
    (1 << 24),
    (1 << 24) + 1,
    (1 << 24) + 3,
    (1 << 25) + 2,
    (1 << 25) + 6,
    (1 << 31) - 1,
    -(1 << 31),
    (1 << 31) - 64,
    (1 << 31) - 65,
    -(1 << 31) + 1,
    (1 << 53),
    (1 << 53) + 1,
    (1 << 53) + 3,
    (1 << 63) - 1,
    -(1 << 63),
    -(1 << 63) + 1,
    (1 << 62) + (1 << 38) + 1,
    0x7FFFFF8000000000,
    0x7FFFFFC000000000,
    0x7FFFFFFFFFFFFC00,
    0x7FFFFFFFFFFFFE00,
    -0x7FFFFFFFFFFFFE00,
    0x0000_0080_0000_0001,
    0x1000_0010_0000_0000,
    0x1000_0030_0000_0000,
]


def int_for_convert(rng, bits: int, i: int) -> int:
    pool = [v for v in INT_CONVERT_EDGES if -(1 << (bits - 1)) <= v < (1 << (bits - 1))]
    if i < len(pool):
        return pool[i] & ((1 << bits) - 1)
    n = rng.randint(1, bits)
    v = rng.getrandbits(n) * rng.choice((1, -1))
    return v & ((1 << bits) - 1)


def gen_sse(d, form, rng):
    mn, toks = d.mnemonic, form.tokens
    kind = lane_kind(mn)
    binary = mn.startswith(FLOAT_BINARY) and kind in ("f32", "f64")
    pairs = F32_PAIRS if kind == "f32" else F64_PAIRS
    edges = F32_EDGES if kind == "f32" else F64_EDGES if kind == "f64" else []
    lane = 8 if kind == "f64" else 4
    packed = mn.endswith(("ps", "pd")) or mn in ("cvtdq2ps", "cvttps2dq")
    lanes = 16 // lane if packed else 1
    if binary:
        n = -(-len(pairs) // lanes) + 16
    elif edges:
        n = -(-len(edges) // lanes) + 16
    else:
        n = 24
    cases = []
    k = 0  # position in the curated list
    for i in range(n):
        b = Builder(rng)
        ops = []
        for t in toks:
            if t.startswith("imm"):
                v = (0, 0x1B, 0xE4, 0xFF, 0x4E, 0xB1)[i] if i < 6 else rng.randrange(256)
                ops.append(b.imm(8, None, value=v))
            else:
                ops.append(b.operand(t, None, align=d.align, mem_prob=0.45))
        # values: gprs get integers, xmm/memory get lanes of the instruction's kind
        for j, (t, op) in enumerate(zip(toks, ops)):
            if t.startswith("r") and op.kind in ("gpr", "mem"):
                if mn.startswith("cvtsi2"):
                    b.put(op, int_for_convert(rng, op.size, i))
                else:
                    b.put(op, random_int(rng, op.size))
            elif op.kind in ("xmm", "mem"):
                fill(b, op, kind if (j > 0 or binary or kind == "bits") else "bits", rng)
        # curated lanes: pairs for binary float ops, single edges for unary ones
        src_i = 1 if len(ops) > 1 else 0
        src = ops[src_i]
        dst = ops[0]
        if kind in ("f32", "f64", "i32") and src.kind in ("xmm", "mem"):
            for ln in range(lanes):
                at = ln * lane
                if at + lane > src.size // 8:
                    break
                if binary and k < len(pairs):
                    a, s = pairs[k]
                    k += 1
                    if dst.kind == "xmm" and dst.name != src.name:
                        b.put(dst, a, lane, at)
                    b.put(src, s, lane, at)
                elif not binary and k < len(edges):
                    b.put(src, edges[k], lane, at)
                    k += 1
        body = [f"{mn} {', '.join(o.text for o in ops)}"]
        cases.append(b.case(f"{mn}[{form}]#{i}", body, default_flags(d)))
    return cases


# ---------------------------------------------------------------------------
# bit operations, exchanges, flags, stack frames, loops, string instructions


def gen_shd(d, form, rng):
    """shld/shrd: every interesting count (16-bit: counts above 16 are undefined)."""
    dst_tok, src_tok, cnt_tok = form.tokens
    bits = bits_of(dst_tok)
    counts = [c for c in SHIFT_COUNTS if bits != 16 or (c & 31) <= 16]
    cases = []
    for i, count in enumerate(counts * 2):
        b = Builder(rng, legacy=bits != 64 and rng.random() < 0.25, reserved=(1,))
        dst = b.operand(dst_tok, bits)
        src = b.gpr(bits)
        b.put(dst, random_int(rng, bits))
        b.put(src, random_int(rng, bits))
        if cnt_tok == "cl":
            b.state.set_reg("cl", count)
            cnt = "cl"
        else:
            cnt = str(count)
        text = f"{d.mnemonic} {dst.text}, {src.text}, {cnt}"
        cases.append(
            b.case(f"{d.mnemonic}[{form}] count={count}#{i}", [text], shift_flags(d, bits, count))
        )
    return cases


def gen_cmpxchg(d, form, rng, n=24):
    """Half the cases find the accumulator equal to the destination."""
    bits = bits_of(form.tokens[0])
    acc = {8: "al", 16: "ax", 32: "eax", 64: "rax"}[bits]
    cases = []
    for i in range(n):
        b = Builder(rng, legacy=bits != 64 and rng.random() < 0.25, no_base=(0,))
        dst = b.operand(form.tokens[0], bits, mem_prob=0.6)
        src = b.gpr(bits)
        v = random_int(rng, bits)
        b.put(dst, v)
        b.put(src, random_int(rng, bits))
        if dst.kind == "mem" and i % 2 == 0:
            b.state.set_reg(acc, v)
        text = f"{d.mnemonic} {dst.text}, {src.text}"
        cases.append(b.case(f"{d.mnemonic}[{form}]#{i}", [text], default_flags(d)))
    return cases


def gen_flag_op(d, form, rng):
    """clc/stc/cmc/cld/std from every flag state; DF is read back with pushf."""
    cases = []
    for _i, fl in enumerate(FLAG_STATES):
        b = Builder(rng, reserved=(9,))
        b.state.flags = fl
        cases.append(b.case(f"{d.mnemonic} flags={fl}", [d.mnemonic, "pushf", "pop r9", "cld"]))
    return cases


def gen_pushf(d, form, rng):
    """pushf's image: status flags (AF too, from the add/sub that loads them), DF, IF."""
    cases = []
    for i, fl in enumerate(FLAG_STATES):
        b = Builder(rng, reserved=(9,))
        b.state.flags = fl
        body = (["std"] if i % 3 == 0 else []) + [d.mnemonic, "pop r9", "cld"]
        cases.append(b.case(f"{d.mnemonic} flags={fl}#{i}", body))
    return cases


POPF_BITS = 0x8D5 | 0x400  # status flags and DF (TF would trap, AC align-check natively)


def gen_popf(d, form, rng):
    cases = []
    for i in range(24):
        b = Builder(rng, reserved=(9, 10))
        v = rng.getrandbits(64) & POPF_BITS if i else POPF_BITS
        b.state.set_reg("r9", v | 0x202)
        body = ["push r9", d.mnemonic, "pushf", "pop r10", "cld"]
        cases.append(b.case(f"{d.mnemonic} {v:#x}", body))
    return cases


def gen_enter(d, form, rng):
    cases = []
    for _i, size in enumerate((0, 8, 24, 256, 0xFFF8)):
        b = Builder(rng, reserved=(5, 9, 10))
        body = [f"enter {size}, 0", "mov r9, rbp", "sub r9, rsp", "mov r10, [rbp]", "leave"]
        cases.append(b.case(f"enter {size}, 0", body))
    return cases


def gen_xlatb(d, form, rng):
    cases = []
    for i in range(16):
        b = Builder(rng, reserved=(0, 3))
        b.state.set_reg("al", rng.randrange(SCRATCH_SIZE - 1) if i else 0)
        b.setup.append(f"lea rbx, [rel scratch+{i % 2}]")
        b.rebase.append("rbx")
        cases.append(b.case(f"{d.mnemonic}#{i}", [d.mnemonic]))
    return cases


def gen_loop(d, form, rng):
    """One loop/jrcxz decision per case, from counts around 0 and 2**32."""
    counts = (0, 1, 2, 3, 1 << 32, (1 << 32) + 1, M64_ALL, 0xFFFFFFFF, 0x100000000 - 1)
    cases = []
    for i, fl in enumerate(FLAG_STATES + FLAG_STATES[:5]):
        b = Builder(rng, reserved=(1, 9))
        b.state.flags = fl
        b.state.gprs[1] = counts[i % len(counts)]
        body = [
            f"{d.mnemonic} {{L}}taken",
            "mov r9d, 1",
            "jmp {L}done",
            "{L}taken:",
            "mov r9d, 2",
            "{L}done:",
        ]
        cases.append(b.case(f"{d.mnemonic} rcx={b.state.gprs[1]:#x} flags={fl}", body))
    b = Builder(rng, reserved=(1, 9))
    b.state.gprs[1] = 5
    body = ["xor r9d, r9d", "{L}top:", "add r9, rcx", f"{d.mnemonic} {{L}}top"]
    if not d.mnemonic.startswith("j"):
        cases.append(b.case(f"{d.mnemonic} counted loop", body))
    return cases


M64_ALL = (1 << 64) - 1


def gen_string(d, form, rng, n=24):
    """String instructions over the scratch area: rsi/rdi inside it, counts
    that stay inside it, both directions, runs of equal elements for the
    compares, overlapping moves."""
    words = d.mnemonic.split()
    rep = words[0] if len(words) == 2 else ""
    name = words[-1]
    op, size = name[:4], {"b": 1, "w": 2, "d": 4, "q": 8}[name[4]]
    acc = {1: "al", 2: "ax", 4: "eax", 8: "rax"}[size]
    cases = []
    for i in range(n):
        b = Builder(rng, reserved=(0, 1, 6, 7))
        down = i % 4 == 3
        limit = SCRATCH_SIZE // size
        count = rng.choice((0, 1, 2, 3, limit // 2, limit // 3)) if rep else 1
        span = max(count, 1) * size
        si = rng.randrange(0, SCRATCH_SIZE - span + 1)
        di = rng.randrange(0, SCRATCH_SIZE - span + 1)
        if op == "movs" and i % 5 == 1 and span + size <= SCRATCH_SIZE:
            si = rng.randrange(0, SCRATCH_SIZE - span - size + 1)
            di = si + size * rng.choice((1, 1, 2)) // (1 if size > 1 else 1)
            di = min(di, SCRATCH_SIZE - span)
        if down:
            si, di = si + span - size, di + span - size
        if op in ("scas", "cmps"):
            # equal runs: copy part of one block onto the other / fill with acc
            v = random_int(rng, 8 * size)
            b.state.set_reg(acc, v)
            k = rng.randrange(0, max(count, 1) + 1)
            for j in range(k):
                at = (di - j * size) if down else (di + j * size)
                if op == "scas":
                    b.state.set_mem(at, v if rep != "repne" else (v + 1), size)
                else:
                    sat = (si - j * size) if down else (si + j * size)
                    if rep == "repne":
                        b.state.set_mem(
                            at,
                            int.from_bytes(b.state.scratch[sat : sat + size], "little") ^ 1,
                            size,
                        )
                    else:
                        b.state.scratch[at : at + size] = b.state.scratch[sat : sat + size]
        b.state.gprs[1] = count if rep else rng.getrandbits(64)
        b.setup += [f"lea rsi, [rel scratch+{si}]", f"lea rdi, [rel scratch+{di}]"]
        b.rebase += ["rsi", "rdi"]
        body = (["std"] if down else []) + [d.mnemonic] + (["cld"] if down else [])
        flags = default_flags(d)
        cases.append(b.case(f"{d.mnemonic} count={count} si={si} di={di} down={down}", body, flags))
    return cases


PACKED_COUNTS = (0, 1, 2, 7, 8, 9, 15, 16, 17, 31, 32, 33, 63, 64, 65, 255)


def gen_sse_int(d, form, rng, n=24):
    """Packed integers: random lanes, some lanes of dst equal to src (compares),
    min/max ties, shift counts around each lane width (immediate or in xmm)."""
    mn, toks = d.mnemonic, form.tokens
    shift = mn.startswith(("psll", "psrl", "psra"))
    cases = []
    for i in range(n):
        b = Builder(rng)
        ops = []
        for t in toks:
            if t == "imm8":
                if shift:
                    v = PACKED_COUNTS[i % len(PACKED_COUNTS)]
                else:
                    v = (0, 0x1B, 0xE4, 0xFF, 0x4E, 0xB1)[i] if i < 6 else rng.randrange(256)
                ops.append(b.imm(8, None, value=v))
            else:
                ops.append(b.operand(t, None, align=d.align, mem_prob=0.45))
        for op in ops:
            if op.kind == "gpr":
                b.put(op, random_int(rng, op.size))
            elif op.kind in ("xmm", "mem"):
                b.put(op, rng.getrandbits(op.size), op.size // 8)
        dst, src = ops[0], ops[1] if len(ops) > 1 else None
        if src is not None and src.kind in ("xmm", "mem") and dst.kind in ("xmm", "mem"):
            if shift:
                count = PACKED_COUNTS[i % len(PACKED_COUNTS)] if i % 5 else rng.getrandbits(64)
                b.put(src, count, 8)
            elif i % 2 and dst.text != src.text:
                for at in rng.sample(range(16), rng.randint(1, 12)):
                    v = rng.getrandbits(8)
                    b.put(dst, v, 1, at)
                    b.put(src, v if rng.random() < 0.8 else v ^ 0x80, 1, at)
        body = [f"{mn} {', '.join(o.text for o in ops)}"]
        cases.append(b.case(f"{mn}[{form}]#{i}", body, default_flags(d)))
    return cases


# ---------------------------------------------------------------------------
# dispatch

SPECIAL = {
    "mov": gen_mov,
    "imul": gen_imul,
    "mul": gen_mul1,
    "div": gen_div,
    "idiv": gen_div,
    "cqo": gen_implicit_rax,
    "cdq": gen_implicit_rax,
    "cdqe": gen_implicit_rax,
    "cbw": gen_implicit_rax,
    "cwde": gen_implicit_rax,
    "cwd": gen_implicit_rax,
    "shld": gen_shd,
    "shrd": gen_shd,
    "cmpxchg": gen_cmpxchg,
    "clc": gen_flag_op,
    "stc": gen_flag_op,
    "cmc": gen_flag_op,
    "cld": gen_flag_op,
    "std": gen_flag_op,
    "pushf": gen_pushf,
    "popf": gen_popf,
    "enter": gen_enter,
    "xlatb": gen_xlatb,
    "movsd": lambda d, form, rng: (gen_string if not form.tokens else gen_sse)(d, form, rng),
    "loop": gen_loop,
    "loope": gen_loop,
    "loopne": gen_loop,
    "jrcxz": gen_loop,
    "jecxz": gen_loop,
    "lea": gen_lea,
    "shl": gen_shift,
    "shr": gen_shift,
    "sar": gen_shift,
    "rol": gen_shift,
    "ror": gen_shift,
    "jmp": gen_jmp,
    "call": gen_call,
    "ret": gen_ret,
    "push": gen_push,
    "pop": gen_pop,
    "leave": gen_leave,
    "nop": gen_nop,
    "syscall": gen_syscall,
}
INT_TOKENS = {f"{p}{n}" for p in ("r", "r/m", "m", "imm") for n in (8, 16, 32, 64)}


def generator(d):
    if d.mnemonic in SPECIAL:
        return SPECIAL[d.mnemonic]
    if d.cond is not None:
        if d.mnemonic.startswith("cmov"):
            return gen_cmov
        if d.mnemonic.startswith("set"):
            return gen_setcc
        if d.mnemonic.startswith("j"):
            return gen_jcc
    if d.group == "string":
        return gen_string
    if d.group == "sse-int":
        return gen_sse_int
    if d.group == "sse":
        return gen_sse
    if d.group == "integer" and all(set(f.tokens) <= INT_TOKENS for f in d.forms):
        return gen_alu
    raise NoGenerator(
        f"no case generator for {d.mnemonic} ({d.group}); add one to tests/test_diff_isa.py"
    )


def cases_for(d) -> list[Case]:
    gen = generator(d)
    cases = []
    for form in d.forms:
        rng = random.Random(seed_for(d.mnemonic, form))
        got = gen(d, form, rng)
        if not got:
            raise NoGenerator(f"the generator made no case for {d.mnemonic} {form}")
        cases.extend(got)
    return cases


# ---------------------------------------------------------------------------
# tests


def test_table_is_loaded():
    assert len(DEFS) > 100


def test_every_form_has_a_generator():
    missing = []
    for d in DEFS:
        try:
            gen = generator(d)
        except NoGenerator as e:
            missing.append(str(e))
            continue
        for form in d.forms:
            try:
                if not gen(d, form, random.Random(0)):
                    missing.append(f"{d.mnemonic} {form}: no cases")
            except (NoGenerator, KeyError) as e:
                missing.append(f"{d.mnemonic} {form}: {e}")
    assert not missing, "forms without a case generator:\n" + "\n".join(missing)


def test_harness_dump_decodes_known_state(tmp_path):
    """The native side alone: a known instruction's dump decodes to the
    registers, flags, xmm lanes and memory we expect."""
    require_native()
    st = State.random(random.Random(5))
    st.flags = "C"
    st.set_reg("rax", 0x7FFFFFFFFFFFFFFF)
    st.set_reg("rbx", 1)
    st.set_xmm(3, f32_of(1.5), 4, 0)
    st.set_xmm(4, f32_of(2.25), 4, 0)
    st.set_mem(16, 0x1122334455667788, 8)
    case = Case(
        "known",
        [
            "add rax, rbx",
            "addss xmm3, xmm4",
            "not qword [rel scratch+16]",
            "push rbx",
            "mov r9, [rsp]",
        ],
        st,
    )
    (dump,) = run_native_cases([case], tmp_path)
    assert dump.gprs[0] == 0x8000000000000000
    assert dump.flags == {"O": 1, "C": 0, "Z": 0, "S": 1, "P": 1}
    assert struct.unpack_from("<f", dump.xmm[3])[0] == 3.75
    assert dump.xmm[4] == bytes(st.xmm[4])
    assert dump.scratch[16:24] == (~0x1122334455667788 & (2**64 - 1)).to_bytes(8, "little")
    assert dump.gprs[4] == (-8) & (2**64 - 1)  # rsp moved by the push
    assert dump.gprs[9] == 1
    assert "rax=8000000000000000" in dump.render()


def test_harness_sets_every_initial_flag_state(tmp_path):
    """Each of the 19 reachable flag states is loaded exactly (native side)."""
    require_native()
    rng = random.Random(9)
    cases = []
    for fl in FLAG_STATES:
        st = State.random(rng)
        st.flags = fl
        cases.append(Case(f"flags {fl}", ["nop"], st))
    for case, dump in zip(cases, run_native_cases(cases, tmp_path)):
        got = "".join(f for f in ALL_FLAGS if dump.flags[f])
        assert got == case.state.flags, case.name
        assert dump.gprs[:4] == case.state.gprs[:4] and dump.gprs[5:] == case.state.gprs[5:]
        assert dump.xmm == [bytes(x) for x in case.state.xmm]
        assert dump.scratch == bytes(case.state.scratch)


@pytest.mark.parametrize("mnemonic", [d.mnemonic for d in DEFS])
def test_native_vs_vm(mnemonic, tmp_path):
    require_native()
    d = TABLE[mnemonic]
    cases = cases_for(d)
    res = run_cases(cases, tmp_path, name=mnemonic)
    assert_batch(res)


# ---- faults ---------------------------------------------------------------------

SIGFPE, SIGSEGV, SIGBUS = 8, 11, 7

DIV_FAULTS = []
for _mn in ("div", "idiv"):
    for _bits in (8, 16, 32, 64):
        acc = {8: "ax", 16: "ax", 32: "eax", 64: "rax"}[_bits]
        hi = {8: None, 16: "dx", 32: "edx", 64: "rdx"}[_bits]
        src = {8: "bl", 16: "bx", 32: "ebx", 64: "rbx"}[_bits]
        big = 1 << (_bits - 1)
        DIV_FAULTS.append(
            (
                f"{_mn} {src} by zero",
                [f"mov {acc}, 7"]
                + ([f"mov {hi}, 0"] if hi else [])
                + [f"mov {src}, 0", f"{_mn} {src}"],
            )
        )
        if _mn == "div":
            DIV_FAULTS.append(
                (
                    f"div {src} quotient overflow",
                    [f"mov {acc}, 0"]
                    + ([f"mov {hi}, 1"] if hi else ["mov ax, 0x100"])
                    + [f"mov {src}, 1", f"div {src}"],
                )
            )
        else:
            # INT_MIN / -1
            setup = (
                [f"mov ax, {-big & 0xFFFF:#x}"]
                if _bits == 8
                else [
                    f"mov {acc}, {-big & ((1 << _bits) - 1):#x}"
                    if _bits < 64
                    else "mov rax, 0x8000000000000000",
                    f"mov {hi}, {(1 << _bits) - 1:#x}" if _bits < 64 else "mov rdx, -1",
                ]
            )
            if _bits == 8:
                setup = ["mov ax, 0xff80"]  # ax = -128
            DIV_FAULTS.append(
                (f"idiv {src} INT_MIN / -1", setup + [f"mov {src}, -1", f"idiv {src}"])
            )
        DIV_FAULTS.append(
            (
                f"{_mn} qword memory by zero",
                ["mov rax, 5", "xor edx, edx", "mov qword [rel buf], 0", f"{_mn} qword [rel buf]"],
            )
        )

DIV_FAULTS = list(dict(DIV_FAULTS).items())


def fault_program(lines: list[str]) -> str:
    body = "\n".join("    " + ln for ln in lines)
    return (
        f"global _start\nsection .data\nalign 16\nbuf: times 64 db 0\n"
        f"section .text\n_start:\n{body}\n    mov eax, 60\n    xor edi, edi\n    syscall\n"
    )


@pytest.mark.parametrize("what,lines", DIV_FAULTS, ids=[w for w, _ in DIV_FAULTS])
def test_divide_error_faults(what, lines, tmp_path):
    """#DE: SIGFPE natively, Fault('divide-error') in the VM."""
    require_native()
    src = [("de.asm", fault_program(lines))]
    out, status = run_native(build_native(src, workdir=tmp_path), cwd=tmp_path)
    assert status == -SIGFPE, f"native: expected SIGFPE, got status {status}"
    from vm import Fault

    with pytest.raises(Fault) as e:
        run_vm(src, root=tmp_path)
    assert e.value.kind == "divide-error", str(e.value)


def _misaligned_forms():
    out = []
    for d in DEFS:
        if not d.align:
            continue
        for form in d.forms:
            if "m128" not in " ".join(form.tokens):
                continue
            ops = []
            for t in form.tokens:
                if "m128" in t:
                    ops.append("[rel buf+8]")
                elif t.startswith("imm"):
                    ops.append("0")
                else:
                    ops.append("xmm1")
            out.append((f"{d.mnemonic} {', '.join(ops)}", f"{d.mnemonic}[{form}]"))
    return out


MISALIGNED = _misaligned_forms()


@pytest.mark.parametrize("line", [x for x, _ in MISALIGNED], ids=[i for _, i in MISALIGNED])
def test_misaligned_128bit_operand_faults(line, tmp_path):
    """Legacy-SSE 128-bit memory operands must be 16-byte aligned: SIGSEGV
    natively (#GP), Fault('misaligned') in the VM."""
    require_native()
    src = [("mis.asm", fault_program([line]))]
    out, status = run_native(build_native(src, workdir=tmp_path), cwd=tmp_path)
    assert status in (-SIGSEGV, -SIGBUS), f"native: expected SIGSEGV, got status {status}"
    from vm import Fault

    with pytest.raises(Fault) as e:
        run_vm(src, root=tmp_path)
    assert e.value.kind == "misaligned", str(e.value)


def test_unaligned_moves_do_not_fault(tmp_path):
    """movups/movupd accept any alignment (natively and in the VM)."""
    require_native()
    lines = [
        "movups xmm1, [rel buf+3]",
        "movupd [rel buf+9], xmm1",
        "movups xmm2, [rel buf+9]",
        "movd eax, xmm2",
        "mov edi, eax",
        "and edi, 0",
        "mov eax, 60",
        "syscall",
    ]
    src = [("unal.asm", fault_program(lines))]
    out, status = run_native(build_native(src, workdir=tmp_path), cwd=tmp_path)
    assert status == 0
    assert run_vm(src, root=tmp_path) == (out, status)
