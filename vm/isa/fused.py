"""Fused multiply-add with one rounding, as FMA3's vfmadd/vfmsub/vfnmadd/vfnmsub.

Python has no fma (math.fma arrives in 3.13), and computing x*y + z in
binary64 then storing to binary32 rounds twice, which is wrong whenever the
binary64 sum lands exactly on a binary32 rounding midpoint while the true sum
does not (tests/test_fused.py constructs such cases). So:

* fma32: x, y, z are binary32 values. Their product is exact in binary64
  (24 + 24 significant bits <= 53). The sum p + z is computed with its exact
  error (Knuth's TwoSum) and rounded to binary64 *to odd* (an inexact sum
  whose last bit is 0 moves one ulp toward the error). Rounding a
  round-to-odd binary64 value to binary32 (the lane store, nearest-even)
  equals rounding the exact value once: binary64 has 53 >= 24 + 2 bits (the
  classic round-to-odd theorem, Boldo & Melquiond 2008); this also holds for
  binary32 subnormals, which have fewer bits, and for overflow to infinity.
* fma64: exact integer arithmetic on the operands' significands, rounded
  once to binary64 by CPython's correctly rounded int -> float conversion
  and int / int division (subnormal results included).

Both return a Python float (for fma32 one the lane store rounds to binary32
correctly). Non-finite operands fall back to plain float arithmetic, which
gives the right infinity or a NaN; which NaN a lane gets is the template's
business (fnan3: the first NaN operand in operand order, quieted, else the
default NaN), as the SDM's FMA NaN rules say: "first" in the order of the
expression x * y + z, whichever operand positions the 132/213/231 form
gives them (checked against the CPU by tests/test_diff_avx.py).
"""

from __future__ import annotations

import math
import struct

from ..environment import helper
from .helpers import fnan

_BITS = struct.Struct("<d")  # pack(s)[0] & 1: the last significand bit
_INF = math.inf


@helper()
def fma32(x: float, y: float, z: float) -> float:
    """x * y + z for binary32 x, y, z, rounded once when stored as binary32."""
    p = x * y  # exact
    s = p + z
    if s - s != 0.0:  # inf or NaN: no rounding question
        return s
    v = s - p
    err = (p - (s - v)) + (z - v)  # p + z == s + err exactly
    if err and not _BITS.pack(s)[0] & 1:
        s = math.nextafter(s, _INF if err > 0 else -_INF)
    return s


@helper()
def fma64(x: float, y: float, z: float) -> float:
    """x * y + z for binary64 operands, rounded once to binary64."""
    if not (math.isfinite(x) and math.isfinite(y)):
        return x * y + z  # an infinite (or NaN) product: float rules are the IEEE ones
    if not math.isfinite(z):
        return z  # a finite product (even one past binary64's range) + inf is inf
    mx, ex = _parts(x)
    my, ey = _parts(y)
    mz, ez = _parts(z)
    mp, ep = mx * my, ex + ey
    if mp == 0:  # x * y is an exact zero: zero signs as IEEE adds them (-0 + -0 = -0)
        return (x * y) + z
    e = min(ep, ez)
    n = (mp << (ep - e)) + (mz << (ez - e))
    if n == 0:
        return 0.0  # an exact zero sum of nonzero terms is +0 when rounding to nearest
    try:
        return float(n << e) if e >= 0 else n / (1 << -e)
    except OverflowError:
        return _INF if n > 0 else -_INF


def _parts(v: float) -> tuple[int, int]:
    """v == m * 2**e with integers m, e (exact)."""
    m, e = math.frexp(v)
    return int(m * (1 << 53)), e - 53


@helper()
def fnan3(a: float, b: float, c: float) -> float:
    """The NaN a fused multiply-add x * y + z returns: the first NaN of x, y,
    z (quieted), else the default NaN (0 * inf, inf - inf)."""
    return fnan(a, b) if a != a or b != b else fnan(c, c)
