"""Packed-integer helpers of the SSE2 templates (vm/isa/sse_int.py).

The templates see an xmm register as two 64-bit halves (Q lanes) or four
32-bit lanes (I lanes); byte and word lanes are handled here, on one 64-bit
half at a time: every packed operation of the set works lane by lane, and
no lane crosses the middle of the register. Adds and subtracts use the SWAR
identities (carries stopped at lane boundaries), the rest loops over lanes.
"""

from __future__ import annotations

from ..environment import helper

M64 = (1 << 64) - 1
# each helper is registered (@helper) in the generated code's environment
# (vm/environment.py)
_HIGH = {
    w: int.from_bytes(((1 << (w - 1)).to_bytes(w // 8, "little")) * (64 // w), "little")
    for w in (8, 16, 32, 64)
}


@helper()
def padd(a: int, b: int, w: int) -> int:
    """Lane-wise a + b (wrapping) of one 64-bit half with w-bit lanes."""
    h = _HIGH[w]
    return (((a & ~h) + (b & ~h)) ^ ((a ^ b) & h)) & M64


@helper()
def psub(a: int, b: int, w: int) -> int:
    """Lane-wise a - b (wrapping)."""
    h = _HIGH[w]
    return (((a | h) - (b & ~h)) ^ ((a ^ ~b) & h)) & M64


def _lanes(x: int, w: int) -> list[int]:
    m = (1 << w) - 1
    return [(x >> i) & m for i in range(0, 64, w)]


def _join(lanes: list[int], w: int) -> int:
    m = (1 << w) - 1
    out = 0
    for i, v in enumerate(lanes):
        out |= (v & m) << (i * w)
    return out


def _signed(v: int, w: int) -> int:
    s = 1 << (w - 1)
    return (v ^ s) - s


@helper()
def pcmpeq(a: int, b: int, w: int) -> int:
    """All ones in each lane where a == b, else zeros."""
    m = (1 << w) - 1
    return _join([m if x == y else 0 for x, y in zip(_lanes(a, w), _lanes(b, w))], w)


@helper()
def pcmpgt(a: int, b: int, w: int) -> int:
    """All ones in each lane where a > b as signed integers."""
    m = (1 << w) - 1
    return _join(
        [m if _signed(x, w) > _signed(y, w) else 0 for x, y in zip(_lanes(a, w), _lanes(b, w))],
        w,
    )


@helper()
def pminub(a: int, b: int) -> int:
    return _join([min(x, y) for x, y in zip(_lanes(a, 8), _lanes(b, 8))], 8)


@helper()
def pmaxub(a: int, b: int) -> int:
    return _join([max(x, y) for x, y in zip(_lanes(a, 8), _lanes(b, 8))], 8)


@helper()
def pmullw(a: int, b: int) -> int:
    """The low 16 bits of each signed 16-bit product (the same as unsigned)."""
    return _join([x * y for x, y in zip(_lanes(a, 16), _lanes(b, 16))], 16)


@helper()
def movmsk(q0: int, q1: int, w: int) -> int:
    """The top bit of each w-bit lane of the 128-bit q1:q0, lane 0 in bit 0."""
    bits = 0
    for i, v in enumerate(_lanes(q0, w) + _lanes(q1, w)):
        bits |= (v >> (w - 1)) << i
    return bits


@helper()
def interleave(a: int, b: int, w: int) -> tuple[int, int]:
    """Lanes of the 64-bit halves a and b interleaved a0 b0 a1 b1 ...: the
    128-bit result as (low half, high half) (punpckl*/punpckh*)."""
    mixed = [v for pair in zip(_lanes(a, w), _lanes(b, w)) for v in pair]
    n = 64 // w
    return _join(mixed[:n], w), _join(mixed[n:], w)


@helper()
def pshift(a: int, count: int, w: int, kind: str) -> int:
    """Each w-bit lane shifted by count ('l' left, 'r' logical right, 'a'
    arithmetic right); a count of w or more gives zeros (sign copies for 'a')."""
    if kind == "a":
        n = min(count, w - 1)
        return _join([_signed(x, w) >> n for x in _lanes(a, w)], w)
    if count >= w:
        return 0
    if kind == "l":
        return _join([x << count for x in _lanes(a, w)], w)
    return _join([x >> count for x in _lanes(a, w)], w)


@helper()
def byteshift(q0: int, q1: int, n: int, left: bool) -> tuple[int, int]:
    """The 128-bit q1:q0 shifted by n bytes (16 or more: zero)."""
    if n > 15:
        return 0, 0
    x = (q1 << 64) | q0
    x = (x << (8 * n)) if left else (x >> (8 * n))
    return x & M64, (x >> 64) & M64
