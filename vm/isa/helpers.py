"""Small semantic helpers the instruction templates call.

Only what does not fit in a one-line template lives here: IEEE edge cases
that Python's float operations would turn into exceptions, conversions with
x86's integer-indefinite result, shifts and rotates with their flag rules,
and multiply/divide.

Float32 arithmetic: SSE single-precision +, -, *, /, sqrt are computed on
Python floats (binary64) and rounded once to binary32 when stored into an
XMM lane; for these operations double rounding is innocuous (53 >= 2*24+2),
so the result is bit-exact. NaN operands: x86 returns the first source
operand's NaN (quieted) if it is a NaN, else the second's; the helpers below
that cannot rely on the host's own float unit follow that rule explicitly.
"""

from __future__ import annotations

import math
import os
import struct

from ..environment import helper
from . import flags as F

INF = math.inf
_DEFAULT_NAN = struct.unpack("<d", struct.pack("<Q", 0xFFF8000000000000))[
    0
]  # x86 "real indefinite"


@helper()
def fdiv(a: float, b: float) -> float:
    """a / b with IEEE results where Python raises ZeroDivisionError."""
    try:
        return a / b
    except ZeroDivisionError:
        if a != a:  # NaN / 0 -> that NaN
            return a
        if a == 0.0:  # 0 / 0 -> default NaN
            return _DEFAULT_NAN
        neg = (math.copysign(1.0, a) < 0) != (math.copysign(1.0, b) < 0)
        return -INF if neg else INF


@helper()
def fnan(a: float, b: float) -> float:
    """The NaN an SSE arithmetic instruction returns: the first source's NaN,
    quieted (a + 0.0 quiets it), else the second's, else the default NaN."""
    if a != a:
        return a + 0.0
    if b != b:
        return b + 0.0
    return _DEFAULT_NAN


@helper()
def fsqrt(x: float) -> float:
    if x != x:
        return x + 0.0  # quieted
    if x < 0.0:
        return _DEFAULT_NAN
    return math.sqrt(x)  # sqrt(-0.0) = -0.0, sqrt(inf) = inf


@helper()
def fcmp(a: float, b: float) -> int:
    """RFLAGS after comiss/ucomiss/comisd/ucomisd: ZF, PF, CF; OF=SF=AF=0."""
    if a != a or b != b:
        return F.FIXED | F.ZF_BIT | F.PF_BIT | F.CF_BIT
    if a < b:
        return F.FIXED | F.CF_BIT
    if a == b:
        return F.FIXED | F.ZF_BIT
    return F.FIXED


@helper()
def cvtt(x: float, bits: int) -> int:
    """Truncate toward zero to a signed integer of `bits` (two's complement,
    unsigned representation); NaN or out of range -> integer indefinite."""
    indefinite = 1 << (bits - 1)
    if x != x or x in (INF, -INF):
        return indefinite
    v = int(x)  # truncates toward zero
    if not -(1 << (bits - 1)) <= v < (1 << (bits - 1)):
        return indefinite
    return v & ((1 << bits) - 1)


@helper()
def i2f32(v: int) -> float:
    """A signed integer rounded (nearest-even) to binary32, returned as a
    Python float holding that binary32 value exactly."""
    if -(1 << 53) <= v <= (1 << 53):
        return float(v)  # exact; the XMM store rounds once
    sign = -1 if v < 0 else 1
    a = abs(v)
    shift = a.bit_length() - 24
    q, rem = a >> shift, a & ((1 << shift) - 1)
    half = 1 << (shift - 1)
    if rem > half or (rem == half and q & 1):
        q += 1
    return sign * float(q << shift)


# ---- integer multiply / divide --------------------------------------------


# ---- architecturally undefined flags -------------------------------------------
# SF/ZF/PF after mul/imul and OF after a shift by more than 1 are undefined;
# real CPUs still produce something, and programs that test them (setz after
# mul) print what their CPU does. The VM follows one vendor's measured rule,
# picked with MNIST_VM_UNDEFINED_FLAGS (see docs/machine.md, "Flags"):
#   intel    measured on an Intel Xeon (this project's host) with a native probe:
#            mul/imul SF = top bit of the low half, ZF = 0, PF = parity of its
#            low byte; shl OF = the 1-bit formula on the *original* operand
#            (bit N-1 xor bit N-2), shr OF = its top bit, sar OF = 0.
#   lowhalf  the VM's earlier choice: mul/imul SF/ZF/PF from the low half; shl
#            OF = top bit of the result xor CF. Not known to match a CPU.
# AMD's rule could not be measured here (no AMD host): it is not modelled.
UNDEFINED_FLAGS_PROFILES = ("intel", "lowhalf")
UNDEFINED_FLAGS = os.environ.get("MNIST_VM_UNDEFINED_FLAGS", "intel")
if UNDEFINED_FLAGS not in UNDEFINED_FLAGS_PROFILES:
    UNDEFINED_FLAGS = "intel"


def set_undefined_flags(profile: str) -> None:
    """Pick the undefined-flags rule for code run from now on."""
    global UNDEFINED_FLAGS
    if profile not in UNDEFINED_FLAGS_PROFILES:
        raise ValueError(f"undefined-flags profile must be one of {UNDEFINED_FLAGS_PROFILES}")
    UNDEFINED_FLAGS = profile


@helper()
def mul_flags(overflow: bool, low: int, bits: int) -> int:
    """RFLAGS after mul/imul: CF=OF=overflow; SF, ZF, PF (undefined) by the
    UNDEFINED_FLAGS rule, from the low half of the result."""
    o = 1 if overflow else 0
    mask = (1 << bits) - 1
    low &= mask
    z = 0 if UNDEFINED_FLAGS == "intel" else (1 if low == 0 else 0)
    return F.make_raw(o, F.parity(low), z, (low >> (bits - 1)) & 1, o)


def signed(v: int, bits: int) -> int:
    s = 1 << (bits - 1)
    return (v ^ s) - s


# ---- shifts and rotates ---------------------------------------------------
# The shift templates compute the result themselves; these give the RFLAGS
# after a shift by a nonzero masked count n of `a` to result `r` (the
# template leaves flags alone when the masked count is 0, as the hardware
# does). rol/ror return (result, rflags).


@helper()
def shl_flags(a: int, n: int, bits: int, r: int) -> int:
    c = (a >> (bits - n)) & 1 if n <= bits else 0
    if UNDEFINED_FLAGS == "intel":  # defined for n == 1 only: see UNDEFINED_FLAGS
        o = ((a >> (bits - 1)) ^ (a >> (bits - 2))) & 1
    else:
        o = ((r >> (bits - 1)) & 1) ^ c
    return F.make_raw(c, F.parity(r), 1 if r == 0 else 0, (r >> (bits - 1)) & 1, o)


@helper()
def shr_flags(a: int, n: int, bits: int, r: int) -> int:
    c = (a >> (n - 1)) & 1
    o = (a >> (bits - 1)) & 1  # defined for n == 1 only; the same rule in both profiles
    return F.make_raw(c, F.parity(r), 1 if r == 0 else 0, (r >> (bits - 1)) & 1, o)


@helper()
def sar_flags(a: int, n: int, bits: int, r: int) -> int:
    c = (signed(a, bits) >> (n - 1)) & 1
    return F.make_raw(c, F.parity(r), 1 if r == 0 else 0, (r >> (bits - 1)) & 1, 0)


@helper()
def rol(a: int, n: int, bits: int, old_fl) -> tuple[int, int]:
    mask = (1 << bits) - 1
    k = n % bits
    r = ((a << k) | (a >> (bits - k))) & mask if k else a
    c = r & 1
    o = ((r >> (bits - 1)) & 1) ^ c  # defined for n == 1 only
    old = F.rflags(old_fl) & ~(F.CF_BIT | F.OF_BIT)
    return r, old | c | o << 11


@helper()
def ror(a: int, n: int, bits: int, old_fl) -> tuple[int, int]:
    mask = (1 << bits) - 1
    k = n % bits
    r = ((a >> k) | (a << (bits - k))) & mask if k else a
    c = (r >> (bits - 1)) & 1
    o = c ^ ((r >> (bits - 2)) & 1)  # defined for n == 1 only
    old = F.rflags(old_fl) & ~(F.CF_BIT | F.OF_BIT)
    return r, old | c | o << 11


# ---- flags of single-flag instructions and bit operations -------------------


@helper()
def with_cf(fl, c: int) -> int:
    """RFLAGS with CF replaced by c and every other flag kept (clc, stc, cmc,
    bt/bts/btr/btc: ZF and the rest are unchanged)."""
    return (F.rflags(fl) & ~F.CF_BIT) | c


@helper()
def bswap(a: int, bits: int) -> int:
    """The bytes of a (bits wide) in reverse order."""
    return int.from_bytes(a.to_bytes(bits // 8, "little"), "big")


@helper()
def shld(a: int, b: int, n: int, bits: int) -> tuple[int, int]:
    """Double-precision shift left of a by a masked, nonzero count n, filling
    from the top of b: (result, rflags). CF is the last bit shifted out of a;
    OF (defined for n == 1) is set when the sign changed. A 16-bit count
    above 16 is undefined on hardware; we shift through b:a:b then."""
    mask = (1 << bits) - 1
    x = (a << 2 * bits) | (b << bits) | a
    t = (x >> (2 * bits - n)) & mask
    c = (x >> (3 * bits - n)) & 1
    s = (t >> (bits - 1)) & 1
    return t, F.make_raw(c, F.parity(t), 1 if t == 0 else 0, s, s ^ ((a >> (bits - 1)) & 1))


@helper()
def shrd(a: int, b: int, n: int, bits: int) -> tuple[int, int]:
    """Double-precision shift right of a by a masked, nonzero count n, filling
    from the bottom of b: (result, rflags), flags as shld."""
    mask = (1 << bits) - 1
    x = (b << 2 * bits) | (a << bits) | b
    t = (x >> (bits + n)) & mask
    c = (x >> (bits + n - 1)) & 1
    s = (t >> (bits - 1)) & 1
    return t, F.make_raw(c, F.parity(t), 1 if t == 0 else 0, s, s ^ ((a >> (bits - 1)) & 1))


# ---- SSE conversions, compares, rounding and dot products ---------------------

_F32 = memoryview(bytearray(4)).cast("f")


@helper()
def f32(x: float) -> float:
    """x rounded (nearest even) to binary32, as a Python float."""
    _F32[0] = x
    return _F32[0]


@helper()
def cvtr(x: float, bits: int) -> int:
    """Convert to a signed integer of `bits`, rounding to nearest even (the
    default MXCSR mode); NaN or out of range -> integer indefinite."""
    if x != x or x in (INF, -INF):
        return 1 << (bits - 1)
    v = round(x)  # Python rounds halves to even
    if not -(1 << (bits - 1)) <= v < (1 << (bits - 1)):
        return 1 << (bits - 1)
    return v & ((1 << bits) - 1)


# cmpps/cmpss predicates 0-7: eq, lt, le, unord, neq, nlt, nle, ord
_PREDICATES = (
    lambda a, b: a == b,
    lambda a, b: a < b,
    lambda a, b: a <= b,
    lambda a, b: a != a or b != b,
    lambda a, b: not a == b,
    lambda a, b: not a < b,
    lambda a, b: not a <= b,
    lambda a, b: a == a and b == b,
)


@helper()
def fcmpp(a: float, b: float, pred: int) -> int:
    """A compare lane: all ones if the predicate (imm8 bits 2:0) holds."""
    return 0xFFFFFFFF if _PREDICATES[pred & 7](a, b) else 0


@helper()
def fround(x: float, imm: int) -> float:
    """roundss/roundps/...: imm8 bits 1:0 = nearest even, down, up, toward
    zero; bit 2 = the MXCSR mode (nearest even by default). The sign of a
    zero result is the operand's; a NaN is returned quieted."""
    if x != x or x in (INF, -INF):
        return x + 0.0
    mode = 0 if imm & 4 else imm & 3
    if mode == 0:
        r = float(round(x))
    elif mode == 1:
        r = float(math.floor(x))
    elif mode == 2:
        r = float(math.ceil(x))
    else:
        r = float(math.trunc(x))
    return math.copysign(r, x)


def _mul32(a: float, b: float) -> float:
    t = a * b
    return fnan(a, b) if t != t else f32(t)


def _add32(a: float, b: float) -> float:
    t = a + b
    return fnan(a, b) if t != t else f32(t)


@helper()
def dpps(a: tuple, b: tuple, imm: int) -> tuple[float, float, float, float]:
    """The four lanes of dpps: products of the lanes imm8 bits 4-7 select
    (others +0.0), summed with a float32 rounding at each step, into the
    lanes bits 0-3 select (others +0.0). Lane i adds
    (p[i^1] + p[i]) + (p[i^3] + p[i^2]): the same number in every lane, but
    with NaNs the first operand's NaN wins, so the order (measured on an
    Intel CPU) decides which NaN each lane gets."""
    p = [_mul32(a[i], b[i]) if imm >> (4 + i) & 1 else 0.0 for i in range(4)]
    out = [0.0, 0.0, 0.0, 0.0]
    for i in range(4):
        if imm >> i & 1:
            out[i] = _add32(_add32(p[i ^ 1], p[i]), _add32(p[i ^ 3], p[i ^ 2]))
    return out[0], out[1], out[2], out[3]
