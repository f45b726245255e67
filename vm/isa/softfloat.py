"""IEEE binary32/binary64 arithmetic under MXCSR: the MXCSR-exact helpers.

A program that reads or writes MXCSR (ldmxcsr, stmxcsr) runs its SSE/AVX
floating-point instructions through these helpers instead of the host's
floats (see docs/machine.md, "MXCSR"). Every helper is a pure function of the
operands' bit patterns and the MXCSR value: it returns the result's bits and
the exception flags the operation raises, and the instruction's template ORs
the flags into MXCSR (FPCHECK, vm/codegen.py). Values are exact integers
(significand * 2**exponent), rounded once by the mode in MXCSR.RC, so every
rounding mode is as exact as the default one.

What the CPU does, as modelled here (checked against the host CPU by
tests/test_diff_mxcsr.py):
* NaN operands: the first source's NaN, quieted, else the second's (FMA: the
  first NaN of x, y, z); an SNaN operand raises IE; an invalid operation
  (inf - inf, 0 * inf, 0 / 0, sqrt of a negative) gives the default NaN, IE.
* DAZ: denormal operands are read as zeros of their sign; without DAZ a
  denormal operand raises DE (only instructions the SDM lists with #D).
* Tininess is detected after rounding; UE is raised for a tiny inexact
  result (a tiny exact one too when UE is unmasked); FTZ (with UE masked)
  returns a zero of the result's sign for a tiny result and raises UE and PE.
* Overflow raises OE and PE and gives infinity or the largest finite value
  by the rounding mode.
"""

from __future__ import annotations

import math
import struct

from ..environment import helper

IE, DE, ZE, OE, UE, PE = 1, 2, 4, 8, 16, 32
FLAG_NAMES = ("IE", "DE", "ZE", "OE", "UE", "PE")
FLAG_WORDS = (
    "invalid operation",
    "denormal operand",
    "divide by zero",
    "overflow",
    "underflow",
    "precision (inexact result)",
)
DAZ, FTZ = 1 << 6, 1 << 15
MASK_SHIFT = 7  # exception masks: bits 7-12, in flag order
RC_SHIFT = 13
NEAREST, DOWN, UP, ZERO = 0, 1, 2, 3
DEFAULT = 0x1F80  # as Linux starts a process: all exceptions masked, round to nearest
WRITABLE = 0xFFFF  # MXCSR_MASK of CPUs with DAZ: bits 16-31 are reserved (#GP)
INDEFINITE_INT = {32: 1 << 31, 64: 1 << 63}


class _Fmt:
    """An IEEE binary format: `bits` wide, `p` significand bits (with the hidden one)."""

    def __init__(self, bits: int, p: int):
        self.bits, self.p = bits, p
        ebits = bits - p
        self.bias = (1 << (ebits - 1)) - 1
        self.emin, self.emax = 1 - self.bias, self.bias
        self.sign = 1 << (bits - 1)
        self.frac = (1 << (p - 1)) - 1
        self.exp = ((1 << ebits) - 1) << (p - 1)
        self.qbit = 1 << (p - 2)
        self.default_nan = self.sign | self.exp | self.qbit
        self.max = self.exp - 1  # the largest finite magnitude


FMT = {32: _Fmt(32, 24), 64: _Fmt(64, 53)}


def _nan(f: _Fmt, x: int) -> bool:
    return x & f.exp == f.exp and bool(x & f.frac)


def _snan(f: _Fmt, x: int) -> bool:
    return _nan(f, x) and not x & f.qbit


def _inf(f: _Fmt, x: int) -> bool:
    return x & ~f.sign == f.exp


def _zero(f: _Fmt, x: int) -> bool:
    return not x & ~f.sign


def _denormal(f: _Fmt, x: int) -> bool:
    return not x & f.exp and bool(x & f.frac)


def _parts(f: _Fmt, x: int) -> tuple[int, int, int]:
    """A finite x as (sign, m, e): x == (-1)**sign * m * 2**e."""
    be = (x & f.exp) >> (f.p - 1)
    m = x & f.frac
    if be:
        return x >> (f.bits - 1), m | (1 << (f.p - 1)), be - f.bias - (f.p - 1)
    return x >> (f.bits - 1), m, f.emin - (f.p - 1)


def _daz(f: _Fmt, mx: int, x: int, de: bool = True) -> tuple[int, int]:
    """An operand as the instruction reads it: a denormal is a zero under DAZ,
    else it raises DE (when the instruction signals DE)."""
    if _denormal(f, x):
        if mx & DAZ:
            return x & f.sign, 0
        return x, DE if de else 0
    return x, 0


def _rc(mx: int) -> int:
    return (mx >> RC_SHIFT) & 3


def _masked(mx: int, flag: int) -> bool:
    return bool(mx >> MASK_SHIFT & flag)


def _shift_round(m: int, sh: int, sticky: bool, sign: int, rc: int) -> tuple[int, bool]:
    """m * 2**-sh (plus a sticky fraction below it) rounded to an integer by rc:
    (magnitude, inexact)."""
    if sh <= 0:
        return m << -sh, sticky
    r, rem = m >> sh, m & ((1 << sh) - 1)
    inexact = bool(rem) or sticky
    if not inexact:
        return r, False
    if rc == NEAREST:
        half = 1 << (sh - 1)
        up = rem > half or (rem == half and (sticky or bool(r & 1)))
    elif rc == ZERO:
        up = False
    else:
        up = (rc == DOWN) == (sign == 1)
    return r + up, True


def _round(f: _Fmt, mx: int, sign: int, m: int, e: int, sticky: bool = False) -> tuple[int, int]:
    """(-1)**sign * m * 2**e (m > 0; with `sticky`, a little more than that,
    less than (m + 1) * 2**e, and m has p + 2 bits at least) rounded to f
    by MXCSR: (bits, flags)."""
    rc = _rc(mx)
    top = m.bit_length() - 1 + e  # exponent of the leading bit
    r, _ = _shift_round(m, top - (f.p - 1) - e, sticky, sign, rc)
    tiny = top + (r >> f.p) < f.emin  # after rounding, with unbounded exponent
    q = max(top, f.emin) - (f.p - 1)
    r, inexact = _shift_round(m, q - e, sticky, sign, rc)
    if r >> f.p:
        r, q = r >> 1, q + 1
    flags = PE if inexact else 0
    s = sign << (f.bits - 1)
    if r and r.bit_length() - 1 + q > f.emax:
        big = rc == NEAREST or (rc == UP and sign == 0) or (rc == DOWN and sign == 1)
        return s | (f.exp if big else f.max), OE | PE
    if tiny:
        if mx & FTZ and _masked(mx, UE):
            return s, UE | PE
        if inexact or not _masked(mx, UE):
            flags |= UE
    if r >> (f.p - 1):
        return s | ((q + f.p - 1 + f.bias) << (f.p - 1)) | (r & f.frac), flags
    return s | r, flags


def _exact(f: _Fmt, sign: int, n: int) -> int:
    """The bits of the integer (-1)**sign * n, which f holds exactly."""
    if n == 0:
        return sign << (f.bits - 1)
    return _round(f, DEFAULT, sign, n, 0)[0]


def _priority(result: tuple[int, int]) -> tuple[int, int]:
    """An invalid operation or a division by zero takes priority over a
    denormal operand: DE is not raised with IE or ZE (SDM 11.5.2's order)."""
    bits, flags = result
    return (bits, flags & ~DE) if flags & (IE | ZE) else result


def _first_nan(f: _Fmt, *xs: int) -> tuple[int, int] | None:
    """The NaN an operation returns (the first NaN operand, quieted) and IE
    if any operand is a signalling NaN; None without NaN operands."""
    nans = [x for x in xs if _nan(f, x)]
    if not nans:
        return None
    return nans[0] | f.qbit, IE if any(_snan(f, x) for x in xs) else 0


def _zero_sum_sign(mx: int, sa: int, sb: int) -> int:
    """The sign of an exact zero sum: both terms' sign if they agree, else
    + (- when rounding down), as IEEE says."""
    return sa if sa == sb else int(_rc(mx) == DOWN)


# ---- the operations ---------------------------------------------------------------------


def _add(f: _Fmt, mx: int, a: int, b: int) -> tuple[int, int]:
    a, fa = _daz(f, mx, a)
    b, fb = _daz(f, mx, b)
    flags = fa | fb
    if _inf(f, a) or _inf(f, b):
        if _inf(f, a) and _inf(f, b) and (a ^ b) & f.sign:
            return f.default_nan, flags | IE
        return (a if _inf(f, a) else b), flags
    sa, ma, ea = _parts(f, a)
    sb, mb, eb = _parts(f, b)
    e = min(ea, eb)
    n = (-ma if sa else ma) << (ea - e)
    n += (-mb if sb else mb) << (eb - e)
    if n == 0:
        s = _zero_sum_sign(mx, sa, sb) if ma == mb == 0 else int(_rc(mx) == DOWN)
        return s << (f.bits - 1), flags
    bits, rf = _round(f, mx, int(n < 0), abs(n), e)
    return bits, flags | rf


def _mul(f: _Fmt, mx: int, a: int, b: int) -> tuple[int, int]:
    a, fa = _daz(f, mx, a)
    b, fb = _daz(f, mx, b)
    flags = fa | fb
    s = (a ^ b) >> (f.bits - 1)
    if _inf(f, a) or _inf(f, b):
        if _zero(f, a) or _zero(f, b):
            return f.default_nan, flags | IE
        return (s << (f.bits - 1)) | f.exp, flags
    if _zero(f, a) or _zero(f, b):
        return s << (f.bits - 1), flags
    _, ma, ea = _parts(f, a)
    _, mb, eb = _parts(f, b)
    bits, rf = _round(f, mx, s, ma * mb, ea + eb)
    return bits, flags | rf


def _div(f: _Fmt, mx: int, a: int, b: int) -> tuple[int, int]:
    a, fa = _daz(f, mx, a)
    b, fb = _daz(f, mx, b)
    flags = fa | fb
    s = (a ^ b) >> (f.bits - 1)
    sbit = s << (f.bits - 1)
    if _inf(f, a):
        return (f.default_nan, flags | IE) if _inf(f, b) else (sbit | f.exp, flags)
    if _inf(f, b):
        return sbit, flags
    if _zero(f, b):
        return (f.default_nan, flags | IE) if _zero(f, a) else (sbit | f.exp, flags | ZE)
    if _zero(f, a):
        return sbit, flags
    _, ma, ea = _parts(f, a)
    _, mb, eb = _parts(f, b)
    sh = max(0, f.p + 3 + mb.bit_length() - ma.bit_length())
    q, rem = divmod(ma << sh, mb)
    bits, rf = _round(f, mx, s, q, ea - eb - sh, rem != 0)
    return bits, flags | rf


def _sqrt(f: _Fmt, mx: int, a: int) -> tuple[int, int]:
    a, flags = _daz(f, mx, a)
    if _zero(f, a):
        return a, flags
    if a & f.sign:
        return f.default_nan, flags | IE
    if _inf(f, a):
        return a, flags
    _, m, e = _parts(f, a)
    if e & 1:
        m, e = m << 1, e - 1
    k = f.p + 3
    n = m << (2 * k)
    r = math.isqrt(n)
    bits, rf = _round(f, mx, 0, r, (e - 2 * k) // 2, r * r != n)
    return bits, flags | rf


_BINARY = {
    "add": _add,
    "sub": lambda f, mx, a, b: _add(f, mx, a, b ^ f.sign),
    "mul": _mul,
    "div": _div,
}


@helper()
def fpop(mx: int, op: str, bits: int, a: int, b: int) -> tuple[int, int]:
    """a op b (add, sub, mul, div) in binary`bits` under MXCSR: (bits, flags)."""
    f = FMT[bits]
    nan = _first_nan(f, a, b)
    if nan is not None:
        return nan
    return _priority(_BINARY[op](f, mx, a, b))


@helper()
def fpsqrt(mx: int, bits: int, a: int) -> tuple[int, int]:
    """Square root under MXCSR: (bits, flags)."""
    f = FMT[bits]
    nan = _first_nan(f, a)
    return nan if nan is not None else _priority(_sqrt(f, mx, a))


@helper()
def fpfma(mx: int, bits: int, x: int, y: int, z: int, neg_p: int, neg_z: int) -> tuple[int, int]:
    """(-1)**neg_p * x * y + (-1)**neg_z * z rounded once under MXCSR: (bits, flags).
    A NaN result is the first NaN of x, y, z (quieted, not negated)."""
    return _priority(_fma(mx, bits, x, y, z, neg_p, neg_z))


def _fma(mx: int, bits: int, x: int, y: int, z: int, neg_p: int, neg_z: int) -> tuple[int, int]:
    f = FMT[bits]
    nan = _first_nan(f, x, y, z)
    x, fx = _daz(f, mx, x)
    y, fy = _daz(f, mx, y)
    z, fz = _daz(f, mx, z)
    invalid_product = (_inf(f, x) and _zero(f, y)) or (_zero(f, x) and _inf(f, y))
    if nan is not None:
        return nan[0], nan[1] | (IE if invalid_product else 0)
    flags = fx | fy | fz
    sp = ((x ^ y) >> (f.bits - 1)) ^ neg_p
    sz = (z >> (f.bits - 1)) ^ neg_z
    if invalid_product:
        return f.default_nan, flags | IE
    if _inf(f, x) or _inf(f, y):
        if _inf(f, z) and sp != sz:
            return f.default_nan, flags | IE
        return (sp << (f.bits - 1)) | f.exp, flags
    if _inf(f, z):
        return (sz << (f.bits - 1)) | f.exp, flags
    _, mxx, ex = _parts(f, x)
    _, my, ey = _parts(f, y)
    _, mz, ez = _parts(f, z)
    mp, ep = mxx * my, ex + ey
    if mp == 0 and mz == 0:
        return _zero_sum_sign(mx, sp, sz) << (f.bits - 1), flags
    e = min(ep, ez)
    n = (-mp if sp else mp) << (ep - e)
    n += (-mz if sz else mz) << (ez - e)
    if n == 0:
        return int(_rc(mx) == DOWN) << (f.bits - 1), flags
    r, rf = _round(f, mx, int(n < 0), abs(n), e)
    return r, flags | rf


@helper()
def fpminmax(mx: int, bits: int, a: int, b: int, want_max: int) -> tuple[int, int]:
    """maxss/minss: a NaN operand (either kind) raises IE and gives the second
    operand (unchanged but for DAZ); so does a tie (two zeros of any sign)."""
    f = FMT[bits]
    a, fa = _daz(f, mx, a)
    b, fb = _daz(f, mx, b)
    if _nan(f, a) or _nan(f, b):
        return b, IE  # b as read: a denormal is a zero under DAZ
    va, vb = _float(f, a), _float(f, b)
    pick_a = va > vb if want_max else va < vb
    return (a if pick_a else b), fa | fb


def _float(f: _Fmt, x: int) -> float:
    """A non-NaN operand as a Python float (exact: binary32 and binary64 fit)."""
    if f.bits == 32:
        return struct.unpack("<f", struct.pack("<I", x))[0]
    return struct.unpack("<d", struct.pack("<Q", x))[0]


def _compare(f: _Fmt, mx: int, a: int, b: int, signalling: bool) -> tuple[int | None, int]:
    """(-1, 0, 1, or None when unordered; flags) of a compare: IE for an SNaN,
    or for any NaN when the compare signals on QNaNs; DE for denormals."""
    if _nan(f, a) or _nan(f, b):
        return None, IE if signalling or _snan(f, a) or _snan(f, b) else 0
    a, fa = _daz(f, mx, a)
    b, fb = _daz(f, mx, b)
    va, vb = _float(f, a), _float(f, b)
    return (va > vb) - (va < vb), fa | fb


# cmpps predicates 0-7: (holds when unordered, holds for -1/0/1, signals on QNaN)
_PREDICATES = (
    (False, (0,), False),  # eq
    (False, (-1,), True),  # lt
    (False, (-1, 0), True),  # le
    (True, (), False),  # unord
    (True, (-1, 1), False),  # neq
    (True, (0, 1), True),  # nlt
    (True, (1,), True),  # nle
    (False, (-1, 0, 1), False),  # ord
)


@helper()
def fpcmp(mx: int, bits: int, a: int, b: int, pred: int) -> tuple[int, int]:
    """A cmpss/cmpps lane: all ones if predicate imm8 & 7 holds: (mask, flags)."""
    unordered, holds, signalling = _PREDICATES[pred & 7]
    rel, flags = _compare(FMT[bits], mx, a, b, signalling)
    ok = unordered if rel is None else rel in holds
    return ((1 << bits) - 1 if ok else 0), flags


@helper()
def fpcomi(mx: int, bits: int, a: int, b: int, signalling: int) -> tuple[int, int]:
    """comiss (signalling) / ucomiss: (RFLAGS, flags)."""
    rel, flags = _compare(FMT[bits], mx, a, b, bool(signalling))
    zf, pf, cf = (1, 1, 1) if rel is None else (int(rel == 0), 0, int(rel < 0))
    return 0x202 | cf | pf << 2 | zf << 6, flags


@helper()
def fpf2i(mx: int, bits: int, x: int, ibits: int, truncate: int) -> tuple[int, int]:
    """cvtss2si/cvttss2si ...: to a signed integer of ibits, rounded by MXCSR
    (or toward zero); NaN or out of range -> the integer indefinite, IE."""
    f = FMT[bits]
    indefinite = INDEFINITE_INT[ibits]
    if _nan(f, x) or _inf(f, x):
        return indefinite, IE
    x, _ = _daz(f, mx, x, de=False)
    s, m, e = _parts(f, x)
    n, inexact = _shift_round(m, -e, False, s, ZERO if truncate else _rc(mx))
    v = -n if s else n
    if not -(1 << (ibits - 1)) <= v < (1 << (ibits - 1)):
        return indefinite, IE
    return v & ((1 << ibits) - 1), PE if inexact else 0


@helper()
def fpi2f(mx: int, bits: int, v: int) -> tuple[int, int]:
    """A signed integer to binary`bits`, rounded by MXCSR: (bits, flags)."""
    f = FMT[bits]
    if v == 0:
        return 0, 0
    return _round(f, mx, int(v < 0), abs(v), 0)


@helper()
def fpcvt(mx: int, src: int, dst: int, x: int) -> tuple[int, int]:
    """cvtss2sd / cvtsd2ss: binary`src` to binary`dst`, rounded by MXCSR. A
    NaN keeps its sign and the top bits of its payload, quieted."""
    f, g = FMT[src], FMT[dst]
    if _nan(f, x):
        payload = x & f.frac
        payload = payload << (g.p - f.p) if g.p > f.p else payload >> (f.p - g.p)
        sign = x >> (f.bits - 1) << (g.bits - 1)
        return sign | g.exp | g.qbit | payload, IE if _snan(f, x) else 0
    x, flags = _daz(f, mx, x)
    sign = x >> (f.bits - 1)
    if _inf(f, x):
        return sign << (g.bits - 1) | g.exp, flags
    if _zero(f, x):
        return sign << (g.bits - 1), flags
    s, m, e = _parts(f, x)
    r, rf = _round(g, mx, s, m, e)
    return r, flags | rf


@helper()
def fpround(mx: int, bits: int, x: int, imm: int) -> tuple[int, int]:
    """roundss ...: to an integral value by imm8 bits 1:0 (nearest even, down,
    up, toward zero) or, with bit 2, by MXCSR; bit 3 suppresses PE. The
    result keeps the operand's sign (-0.4 -> -0.0)."""
    f = FMT[bits]
    if _nan(f, x):
        return x | f.qbit, IE if _snan(f, x) else 0
    x, _ = _daz(f, mx, x, de=False)
    if _inf(f, x) or _zero(f, x):
        return x, 0
    s, m, e = _parts(f, x)
    n, inexact = _shift_round(m, -e, False, s, _rc(mx) if imm & 4 else imm & 3)
    return _exact(f, s, n), PE if inexact and not imm & 8 else 0


@helper()
def fpdpps(mx: int, a: tuple, b: tuple, imm: int) -> tuple[int, int, int, int, int]:
    """dpps under MXCSR: the four lanes' bits and the flags (the lane order of
    helpers.dpps: products, then (p[i^1] + p[i]) + (p[i^3] + p[i^2]))."""
    flags = 0

    def op(name: str, x: int, y: int) -> int:
        nonlocal flags
        r, fl = fpop(mx, name, 32, x, y)
        flags |= fl
        return r

    p = [op("mul", a[i], b[i]) if imm >> (4 + i) & 1 else 0 for i in range(4)]
    out = [0, 0, 0, 0]
    for i in range(4):
        if imm >> i & 1:
            out[i] = op("add", op("add", p[i ^ 1], p[i]), op("add", p[i ^ 3], p[i ^ 2]))
    return out[0], out[1], out[2], out[3], flags


def describe(flags: int) -> str:
    """'overflow (OE), precision (PE)' for a set of flags."""
    return ", ".join(f"{FLAG_WORDS[i]} ({FLAG_NAMES[i]})" for i in range(6) if flags >> i & 1)
