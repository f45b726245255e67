"""SSE2 (and SSE4.1's pmulld) packed-integer instructions.

An xmm register holds sixteen bytes, eight words, four dwords or two
qwords; the templates work on its two 64-bit halves (Q lanes) or four dwords
(I lanes) and leave byte and word lanes to vm/isa/packed.py. A 128-bit
memory operand must be 16-byte aligned, except for movdqu.
"""

from .spec import insn

G, P = "sse-int", 16
HALVES = (0, 1)
WIDTH = {"b": 8, "w": 16, "d": 32, "q": 64}


def _halves(expr: str) -> str:
    """One line per 64-bit half: expr uses {a} and {b} for the halves."""
    return "\n".join(f"WAQ{i} = " + expr.format(a=f"AQ{i}", b=f"BQ{i}") for i in HALVES)


# ---- moves ------------------------------------------------------------------------
for _m, _a in (("movdqa", P), ("movdqu", 0)):
    insn(
        _m,
        "xmm, xmm/m128 | m128, xmm",
        "WAQ0 = BQ0\nWAQ1 = BQ1",
        "Move 128 bits of integers; "
        + ("the memory operand must be 16-byte aligned." if _a else "any alignment."),
        group=G,
        align=_a,
    )

# ---- arithmetic -----------------------------------------------------------------------
for _s, _w in WIDTH.items():
    insn(
        "padd" + _s,
        "xmm, xmm/m128",
        _halves(f"padd({{a}}, {{b}}, {_w})"),
        f"Add packed {_w}-bit integers (wrapping).",
        group=G,
        align=P,
    )
    insn(
        "psub" + _s,
        "xmm, xmm/m128",
        _halves(f"psub({{a}}, {{b}}, {_w})"),
        f"Subtract packed {_w}-bit integers (wrapping).",
        group=G,
        align=P,
    )
insn(
    "pmullw",
    "xmm, xmm/m128",
    _halves("pmullw({a}, {b})"),
    "Multiply packed 16-bit integers, keeping the low 16 bits of each product.",
    group=G,
    align=P,
)
insn(
    "pmulld",
    "xmm, xmm/m128",
    "WAI@ = (AI@ * BI@) & 0xFFFFFFFF",
    "Multiply packed 32-bit integers, keeping the low 32 bits of each product (SSE4.1).",
    group=G,
    align=P,
)
insn(
    "pminub",
    "xmm, xmm/m128",
    _halves("pminub({a}, {b})"),
    "Minimum of packed unsigned bytes.",
    group=G,
    align=P,
)
insn(
    "pmaxub",
    "xmm, xmm/m128",
    _halves("pmaxub({a}, {b})"),
    "Maximum of packed unsigned bytes.",
    group=G,
    align=P,
)

# ---- logic (pxor is with the other xor spellings in sse.py) -------------------------------
for _m, _expr, _doc in (
    ("pand", "{a} & {b}", "Bitwise AND of 128 bits."),
    ("pandn", "~{a} & {b}", "Bitwise AND NOT: dst = (NOT dst) AND src."),
    ("por", "{a} | {b}", "Bitwise OR of 128 bits."),
):
    insn(_m, "xmm, xmm/m128", _halves(_expr), _doc, group=G, align=P)

# ---- compares ---------------------------------------------------------------------------
for _s in "bwd":
    _w = WIDTH[_s]
    insn(
        "pcmpeq" + _s,
        "xmm, xmm/m128",
        _halves(f"pcmpeq({{a}}, {{b}}, {_w})"),
        f"Compare packed {_w}-bit integers for equality: all ones where equal, else zeros.",
        group=G,
        align=P,
    )
    insn(
        "pcmpgt" + _s,
        "xmm, xmm/m128",
        _halves(f"pcmpgt({{a}}, {{b}}, {_w})"),
        f"Compare packed signed {_w}-bit integers: all ones where dst > src, else zeros.",
        group=G,
        align=P,
    )
insn(
    "pmovmskb",
    "r32, xmm",
    "WA = movmsk(BQ0, BQ1, 8)",
    "Gather the top bit of each of the 16 bytes into bits 0-15 of a register (the rest 0).",
    group=G,
)

# ---- shuffles and unpacks -------------------------------------------------------------------
insn(
    "pshufd",
    "xmm, xmm/m128, imm8",
    "\n".join(f"WAI{i} = (BI0, BI1, BI2, BI3)[(C >> {2 * i}) & 3]" for i in range(4)),
    "Shuffle dwords: lane i of dst = the src lane chosen by bits 2i+1:2i of imm8.",
    group=G,
    align=P,
)
for _s, _w in (("bw", 8), ("wd", 16), ("dq", 32)):
    for _half, _which in ((0, "l"), (1, "h")):
        insn(
            f"punpck{_which}{_s}",
            "xmm, xmm/m128",
            f"t0, t1 = interleave(AQ{_half}, BQ{_half}, {_w})\nWAQ0 = t0\nWAQ1 = t1",
            f"Interleave the {_w}-bit lanes of the {'low' if _which == 'l' else 'high'} "
            "halves of dst and src: d0, s0, d1, s1, ...",
            group=G,
            align=P,
        )
insn(
    "punpcklqdq",
    "xmm, xmm/m128",
    "WAQ1 = BQ0",
    "Interleave the low qwords: [d0, s0].",
    group=G,
    align=P,
)
insn(
    "punpckhqdq",
    "xmm, xmm/m128",
    "t = BQ1\nWAQ0 = AQ1\nWAQ1 = t",
    "Interleave the high qwords: [d1, s1].",
    group=G,
    align=P,
)

# ---- shifts ---------------------------------------------------------------------------------
_SHIFT_NOTE = (
    "The count is an immediate or the whole low 64 bits of an xmm/memory operand; a count "
    "of the lane width or more gives zeros (copies of the sign bit for psra)."
)
for _kind, _name, _sizes, _verb in (
    ("l", "psll", "wdq", "Shift left"),
    ("r", "psrl", "wdq", "Shift right logically"),
    ("a", "psra", "wd", "Shift right arithmetically"),
):
    for _s in _sizes:
        _w = WIDTH[_s]
        insn(
            _name + _s,
            "xmm, xmm/m128 | xmm, imm8",
            {
                "xmm, xmm/m128": _halves(f"pshift({{a}}, BQ0, {_w}, '{_kind}')"),
                "xmm, imm8": _halves(f"pshift({{a}}, B, {_w}, '{_kind}')"),
            },
            f"{_verb} each {_w}-bit lane by the count.",
            group=G,
            align=P,
            notes=_SHIFT_NOTE,
        )
for _m, _left, _verb in (("pslldq", True, "left"), ("psrldq", False, "right")):
    insn(
        _m,
        "xmm, imm8",
        f"t0, t1 = byteshift(AQ0, AQ1, B, {_left})\nWAQ0 = t0\nWAQ1 = t1",
        f"Shift the whole register {_verb} by imm8 bytes (16 or more: zero).",
        group=G,
    )
