"""Bit operations, sign extensions of the accumulator, atomic exchanges and
the single-flag instructions.

Each entry is the whole truth about one instruction (see integer.py); the
flag helpers are in helpers.py.
"""

from .flags import DF
from .spec import expand_sizes as sizes
from .spec import insn

W = sizes("rN, r/mN", (16, 32, 64))  # bsf, bsr, popcnt, lzcnt, tzcnt

# ---- sign extension of the accumulator -----------------------------------------
insn(
    "cbw",
    "",
    "r[0] = (r[0] & ~0xFFFF) | ((((r[0] & 0xFF) ^ 0x80) - 0x80) & 0xFFFF)",
    "Sign-extend al into ax.",
    implicit="ax",
)
insn(
    "cwde",
    "",
    "r[0] = (((r[0] & 0xFFFF) ^ 0x8000) - 0x8000) & 0xFFFFFFFF",
    "Sign-extend ax into eax (zeroing the upper half of rax).",
    implicit="eax",
)
insn(
    "cwd",
    "",
    "r[2] = (r[2] & ~0xFFFF) | (0xFFFF if r[0] & 0x8000 else 0)",
    "Sign-extend ax into dx:ax (the rest of rdx is unchanged).",
    implicit="ax, dx",
)

# ---- bit test ------------------------------------------------------------------
# A register offset selects a bit of a register modulo its size; with a memory
# operand it indexes a bit string (InsnDef.bit_string: the address moves by
# the signed offset's quotient, vm.codegen), an immediate offset stays modulo.
_BT_FORMS = sizes("r/mN, rN | r/mN, imm8", (16, 32, 64))
_BT_NOTE = (
    "An immediate offset, or a register offset into a register, is taken modulo the "
    "operand size. A register offset into memory addresses a bit string: the signed offset "
    "selects bit (offset mod N) of the N-bit operand at address + N/8 * floor(offset / N), "
    "so `bt [x], eax` with eax = -1 tests bit 7 of the byte before x."
)
for _m, _new, _doc in (
    ("bt", None, "Bit test: CF = the selected bit of dst."),
    ("bts", "A | (1 << n_)", "Bit test and set: CF = the selected bit, then set it."),
    ("btr", "A & ~(1 << n_)", "Bit test and reset: CF = the selected bit, then clear it."),
    ("btc", "A ^ (1 << n_)", "Bit test and complement: CF = the selected bit, then flip it."),
):
    insn(
        _m,
        _BT_FORMS,
        "n_ = B & (N - 1)\nFLAGSRAW(with_cf(c.fl, (A >> n_) & 1))"
        + (f"\nWA = {_new}" if _new else ""),
        _doc + " ZF is unchanged.",
        flags_written="C",
        flags_undefined="PSO",
        notes=_BT_NOTE,
        lockable=_new is not None,
        bit_string=True,
    )

# ---- bit scan and count ----------------------------------------------------------
# The flags these leave undefined are given the value 0.
insn(
    "bsf",
    W,
    "if B:\n    WA = bit_length(B & -B) - 1\n    FLAGSRAW(0x202)\nelse:\n    FLAGSRAW(0x242)",
    "Bit scan forward: dst = index of the lowest set bit of src; ZF = (src == 0).",
    flags_written="Z",
    flags_undefined="CPSO",
    notes="When src is 0 the destination is left unchanged (as Intel and AMD processors do; "
    "the manuals call it undefined).",
)
insn(
    "bsr",
    W,
    "if B:\n    WA = bit_length(B) - 1\n    FLAGSRAW(0x202)\nelse:\n    FLAGSRAW(0x242)",
    "Bit scan reverse: dst = index of the highest set bit of src; ZF = (src == 0).",
    flags_written="Z",
    flags_undefined="CPSO",
    notes="When src is 0 the destination is left unchanged (as Intel and AMD processors do; "
    "the manuals call it undefined).",
)
insn(
    "popcnt",
    W,
    "WA = bit_count(B)\nFLAGSRAW(0x202 if B else 0x242)",
    "Population count: dst = the number of set bits of src. ZF = (src == 0); CF, OF, SF, PF = 0.",
    flags_written="CPZSO",
)
insn(
    "lzcnt",
    W,
    "t = N - bit_length(B)\nWA = t\nFLAGSRAW(0x202 | (B == 0) | ((t == 0) << 6))",
    "Count leading zero bits (the operand size for 0). CF = (src == 0), ZF = (dst == 0).",
    flags_written="CZ",
    flags_undefined="PSO",
)
insn(
    "tzcnt",
    W,
    "t = bit_length(B & -B) - 1 if B else N\nWA = t\nFLAGSRAW(0x202 | (B == 0) | ((t == 0) << 6))",
    "Count trailing zero bits (the operand size for 0). CF = (src == 0), ZF = (dst == 0).",
    flags_written="CZ",
    flags_undefined="PSO",
)
insn(
    "bswap",
    "r32 | r64",
    "WA = bswap(A, N)",
    "Reverse the byte order of a register (a 32-bit one zero-extends into 64 bits).",
)

# ---- double-precision shifts ------------------------------------------------------
_SHD_FORMS = sizes("r/mN, rN, imm8 | r/mN, rN, cl", (16, 32, 64))
_SHD = """n_ = C & {cm}
if n_:
    t, f_ = {op}(A, B, n_, N)
    WA = t
    FLAGSRAW(f_)
else:
    WA = A"""
for _m, _doc in (
    ("shld", "Shift dst left by count, filling the vacated bits from the top of src."),
    ("shrd", "Shift dst right by count, filling the vacated bits from the bottom of src."),
):
    insn(
        _m,
        _SHD_FORMS,
        {f: _SHD.format(cm=63 if "64" in f else 31, op=_m) for f in _SHD_FORMS.split(" | ")},
        _doc + " CF = the last bit shifted out; a masked count of 0 changes nothing.",
        flags_written="CPZSO",
        flags_undefined="O",
        notes="The count is masked to 5 bits (6 for 64-bit operands). OF is defined for a "
        "count of 1 only. A 16-bit operand shifted by more than 16 has an undefined result "
        "on hardware.",
    )

# ---- exchanges (a lock prefix is accepted: the VM is one thread) -----------------
insn(
    "xadd",
    sizes("r/mN, rN"),
    "t = A + B\nWB = A\nWA = t\nFLAGS(ADD, A, B, t)",
    "Exchange and add: src = dst, dst = dst + src.",
    flags_written="CPZSO",
    lockable=True,
)
_ACC = {
    8: ("r[0] & 0xFF", "r[0] = (r[0] & ~0xFF) | A"),
    16: ("r[0] & 0xFFFF", "r[0] = (r[0] & ~0xFFFF) | A"),
    32: ("r[0] & 0xFFFFFFFF", "r[0] = A"),
    64: ("r[0]", "r[0] = A"),
}
insn(
    "cmpxchg",
    sizes("r/mN, rN"),
    {
        f"r/m{n}, r{n}": f"t = {get}\nFLAGS(SUB, t, A, t - A)\nif t == A:\n    WA = B\n"
        f"else:\n    {put}"
        for n, (get, put) in _ACC.items()
    },
    "Compare and exchange: if the accumulator (al/ax/eax/rax) equals dst, dst = src "
    "(ZF = 1); else the accumulator = dst (ZF = 0). Flags as cmp acc, dst.",
    notes="A memory destination must be writable even when the compare fails (the CPU "
    "writes it back); a register destination is then left alone (not zero-extended), "
    "and a 32-bit accumulator is written (zero-extending rax) only when the compare fails.",
    implicit="rax",
    flags_written="CPZSO",
    lockable=True,
)

# ---- single flags -----------------------------------------------------------------
for _m, _cf, _doc in (
    ("clc", "0", "Clear the carry flag."),
    ("stc", "1", "Set the carry flag."),
    ("cmc", "1 - CF", "Complement the carry flag."),
):
    insn(
        _m,
        "",
        f"FLAGSRAW(with_cf(c.fl, {_cf}))",
        _doc,
        flags_read="C" if "CF" in _cf else "",
        flags_written="C",
    )
insn("cld", "", f"r[{DF}] = 0", "Clear the direction flag: string instructions go up.")
insn("std", "", f"r[{DF}] = 1", "Set the direction flag: string instructions go down.")
