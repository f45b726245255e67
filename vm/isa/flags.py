"""RFLAGS, computed lazily.

A flag-writing instruction records what it did as a tuple
    (kind, nbits, a, b, r)
and the five status flags are derived only when something reads them (a jcc,
setcc, cmovcc, adc, the debugger). `r` is the unmasked Python-int result for
ADD/ADC/SUB/SBB (so the carry/borrow is visible), the masked result otherwise.
RAW holds a complete RFLAGS value in `r` (used where computing every flag
eagerly is simpler: shifts, rotates, multiplies, SSE compares).

AF (bit 4) is derived like the others (only pushf reads it): the carry out
of bit 3 for the arithmetic kinds, 0 after logic. Bit 1 and IF (bit 9) read
as set, as in user mode on Linux.

DF (the direction flag of the string instructions, bit 10) is not part of
these records: it changes only by cld/std/popf, so it lives beside the
general registers as machine.r[DF] (0 or 1), where every tier keeps it in a
local and every snapshot (undo records, saved states) carries it.
"""

from __future__ import annotations

from ..environment import helper, register

ADD, ADC, SUB, SBB, LOGIC, INC, DEC, RAW = range(8)
KIND_NAMES = ("add", "adc", "sub", "sbb", "logic", "inc", "dec", "raw")

CF_BIT, PF_BIT, ZF_BIT, SF_BIT, OF_BIT = 0x1, 0x4, 0x40, 0x80, 0x800
AF_BIT, DF_BIT = 0x10, 0x400
STATUS = CF_BIT | PF_BIT | AF_BIT | ZF_BIT | SF_BIT | OF_BIT  # what popf restores
DF = 16  # machine.r[DF] is the direction flag
FIXED = 0x202  # reserved bit 1 and IF
INITIAL = (RAW, 0, 0, 0, FIXED)

# parity of a byte: 1 when the number of set bits is even (x86 PF)
_PARITY = bytes(1 - (bin(i).count("1") & 1) for i in range(256))


@helper()
def cf(fl) -> int:
    k = fl[0]
    if k <= ADC:
        return (fl[4] >> fl[1]) & 1
    if k <= SBB:
        return 1 if fl[4] < 0 else 0
    if k == LOGIC:
        return 0
    if k == RAW:
        return fl[4] & 1
    return fl[3]  # INC/DEC keep the CF they found (stored in b)


def _res(fl) -> int:
    return fl[4] & ((1 << fl[1]) - 1)


def zf(fl) -> int:
    if fl[0] == RAW:
        return (fl[4] >> 6) & 1
    return 1 if _res(fl) == 0 else 0


def sf(fl) -> int:
    if fl[0] == RAW:
        return (fl[4] >> 7) & 1
    return (_res(fl) >> (fl[1] - 1)) & 1


def pf(fl) -> int:
    if fl[0] == RAW:
        return (fl[4] >> 2) & 1
    return _PARITY[fl[4] & 0xFF]


def of(fl) -> int:
    k, n, a, b, r = fl
    if k == RAW:
        return (r >> 11) & 1
    if k == LOGIC:
        return 0
    res = r & ((1 << n) - 1)
    sign = 1 << (n - 1)
    if k <= ADC:
        return 1 if (a ^ res) & (b ^ res) & sign else 0
    if k <= SBB:
        return 1 if (a ^ b) & (a ^ res) & sign else 0
    if k == INC:
        return 1 if res == sign else 0
    return 1 if res == sign - 1 else 0  # DEC


def af(fl) -> int:
    """The adjust flag: the carry (borrow) out of bit 3."""
    k = fl[0]
    if k == RAW:
        return (fl[4] >> 4) & 1
    if k == LOGIC:
        return 0
    if k >= INC:  # INC/DEC: the other operand is 1 (b holds CF)
        return ((fl[2] ^ fl[4] ^ 1) >> 4) & 1
    return ((fl[2] ^ fl[3] ^ fl[4]) >> 4) & 1


@helper()
def rflags(fl) -> int:
    """The full RFLAGS value of the status flags (with bit 1 and IF set; DF
    is machine.r[DF], see above)."""
    if fl[0] == RAW:
        return fl[4] | FIXED
    return FIXED | cf(fl) | pf(fl) << 2 | af(fl) << 4 | zf(fl) << 6 | sf(fl) << 7 | of(fl) << 11


def make_raw(c: int, p: int, z: int, s: int, o: int) -> int:
    return FIXED | c | p << 2 | z << 6 | s << 7 | o << 11


def parity(x: int) -> int:
    return _PARITY[x & 0xFF]


# ---- condition codes (jcc / setcc / cmovcc) ------------------------------
# Fast paths for the common producers keep loops quick; every one is checked
# against the generic flag definition by tests/test_flags.py.


def cc_o(fl):
    return of(fl) == 1


def cc_no(fl):
    return of(fl) == 0


def cc_b(fl):
    return cf(fl) == 1


def cc_ae(fl):
    return cf(fl) == 0


def cc_s(fl):
    return sf(fl) == 1


def cc_ns(fl):
    return sf(fl) == 0


def cc_p(fl):
    return pf(fl) == 1


def cc_np(fl):
    return pf(fl) == 0


def cc_e(fl):
    if fl[0] == RAW:
        return fl[4] & ZF_BIT != 0
    return fl[4] & ((1 << fl[1]) - 1) == 0


def cc_ne(fl):
    return not cc_e(fl)


def cc_be(fl):
    if fl[0] == SUB:
        return fl[2] <= fl[3]
    return cf(fl) == 1 or zf(fl) == 1


def cc_a(fl):
    if fl[0] == SUB:
        return fl[2] > fl[3]
    return cf(fl) == 0 and zf(fl) == 0


def cc_l(fl):
    if fl[0] == SUB:
        s = 1 << (fl[1] - 1)
        return (fl[2] ^ s) < (fl[3] ^ s)
    return sf(fl) != of(fl)


def cc_ge(fl):
    if fl[0] == SUB:
        s = 1 << (fl[1] - 1)
        return (fl[2] ^ s) >= (fl[3] ^ s)
    return sf(fl) == of(fl)


def cc_le(fl):
    if fl[0] == SUB:
        s = 1 << (fl[1] - 1)
        return (fl[2] ^ s) <= (fl[3] ^ s)
    return zf(fl) == 1 or sf(fl) != of(fl)


def cc_g(fl):
    if fl[0] == SUB:
        s = 1 << (fl[1] - 1)
        return (fl[2] ^ s) > (fl[3] ^ s)
    return zf(fl) == 0 and sf(fl) == of(fl)


def generic_condition(cc: str, fl) -> bool:
    """Each condition from the five flags alone (the definition; tests compare
    the fast paths above against it)."""
    c, p, z, s, o = cf(fl), pf(fl), zf(fl), sf(fl), of(fl)
    return {
        "o": o == 1,
        "no": o == 0,
        "b": c == 1,
        "ae": c == 0,
        "e": z == 1,
        "ne": z == 0,
        "be": c == 1 or z == 1,
        "a": c == 0 and z == 0,
        "s": s == 1,
        "ns": s == 0,
        "p": p == 1,
        "np": p == 0,
        "l": s != o,
        "ge": s == o,
        "le": z == 1 or s != o,
        "g": z == 0 and s == o,
    }[cc]


CONDITION_FUNCS = {name[3:]: fn for name, fn in globals().items() if name.startswith("cc_")}
for _cc, _fn in CONDITION_FUNCS.items():
    register(f"cc_{_cc}", _fn)  # generated code tests conditions with cc_e(fl) ...
