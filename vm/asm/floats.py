"""Floating-point literals, correctly rounded as NASM does.

A decimal literal is converted exactly (fractions.Fraction) and rounded once,
to nearest even, into the target format: converting through a Python float
first would round twice and could differ from nasm in the last bit of a
float32. Hex floats (0x1.8p3) and NASM's special values are accepted too.
"""

from __future__ import annotations

from fractions import Fraction

# (exponent bits, fraction bits) of the IEEE binary formats
FORMATS = {16: (5, 10), 32: (8, 23), 64: (11, 52), 79: (15, 63)}  # 79: x87 without its J bit
SPECIALS = {
    "__infinity__": "inf",
    "__?infinity?__": "inf",
    "__qnan__": "qnan",
    "__?qnan?__": "qnan",
    "__snan__": "snan",
    "__?snan?__": "snan",
    "__float_inf__": "inf",
    "__float_qnan__": "qnan",
}


class FloatError(ValueError):
    pass


def _parse(text: str) -> Fraction:
    t = text.replace("_", "").lower()
    if t.startswith("0x"):
        mant, _, exp = t[2:].partition("p")
        whole, _, frac = mant.partition(".")
        value = Fraction(int((whole or "0") + frac, 16), 16 ** len(frac))
        e = int(exp) if exp else 0
        return value * (Fraction(2) ** e)
    try:
        return Fraction(t)
    except ValueError:
        raise FloatError(f"invalid floating-point literal '{text}'") from None


def bits(text: str, width: int, negative: bool = False) -> int:
    """The IEEE bit pattern of the literal (optionally negated) in `width` bits.

    Width 80 is the x87 extended format of `dt`: 15 exponent bits and a 64-bit
    significand whose integer bit is explicit (set unless the value is zero or
    denormal)."""
    if width == 80:
        v = bits(text, 79, negative)
        sign, exp, frac = v >> 78, (v >> 63) & 0x7FFF, v & ((1 << 63) - 1)
        return (sign << 79) | (exp << 64) | ((1 if exp else 0) << 63) | frac
    ebits, fbits = FORMATS[width]
    sign = 1 << (width - 1)
    if text.startswith(("-", "+")):
        negative ^= text[0] == "-"
        text = text[1:]
    special = SPECIALS.get(text.lower())
    emax = (1 << ebits) - 1
    if special is not None:
        if special == "inf":
            v = emax << fbits
        elif special == "qnan":
            v = (emax << fbits) | (1 << (fbits - 1))
        else:
            v = (emax << fbits) | 1
        return v | (sign if negative else 0)
    v = round_fraction(_parse(text), ebits, fbits, width)
    return v ^ sign if negative else v  # -0.0 keeps its sign


def round_fraction(value: Fraction, ebits: int, fbits: int, width: int) -> int:
    sign = (1 << (width - 1)) if value < 0 else 0
    a = abs(value)
    if a == 0:
        return sign
    bias = (1 << (ebits - 1)) - 1
    emin = 1 - bias
    # exponent e with 2^e <= a < 2^(e+1)
    e = a.numerator.bit_length() - a.denominator.bit_length()
    if Fraction(2) ** e > a:
        e -= 1
    elif Fraction(2) ** (e + 1) <= a:
        e += 1
    e = max(e, emin)  # denormals share the minimum exponent
    scaled = a / (Fraction(2) ** (e - fbits))  # significand as a real number of fbits+1 bits
    q, r = divmod(scaled.numerator, scaled.denominator)
    half = Fraction(r, scaled.denominator)
    if half > Fraction(1, 2) or (half == Fraction(1, 2) and q & 1):
        q += 1
    if q >> (fbits + 1):  # rounding carried into a new bit
        q >>= 1
        e += 1
    if e > bias:  # overflow: infinity
        return sign | (((1 << ebits) - 1) << fbits)
    if q >> fbits == 0:  # denormal (or rounded to zero)
        return sign | q
    return sign | ((e + bias) << fbits) | (q & ((1 << fbits) - 1))
