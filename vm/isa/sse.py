"""SSE / SSE2 (and SSE3's haddps) instructions.

Lanes: F = float32, D = float64, I = uint32 bits, Q = uint64 bits (see
vm/codegen.py). Moves copy bits (I/Q lanes) so a signalling NaN moves
unchanged; arithmetic reads float lanes and the XMM store rounds to binary32
once (bit-exact, see vm/isa/helpers.py). Packed operations with a 128-bit
memory operand require 16-byte alignment (legacy SSE), except movups/movupd.
"""

from . import strings
from .spec import insn

S, P = "sse", 16
ZERO_UPPER_I = "WAI1 = 0\nWAI2 = 0\nWAI3 = 0"
# MXCSR-exact templates (InsnDef.exact) read float lanes as their bits: F -> I, D -> Q
BITS_LANE = {"F": ("I", 32), "D": ("Q", 64)}


def fp_step(call: str, dst: str) -> str:
    """One step of an MXCSR-exact template: a vm/isa/softfloat.py helper
    returns (bits, flags); the flags join fx (FPCHECK() adds them to MXCSR)."""
    return f"t_, e_ = {call}\nfx = fx | e_\n{dst} = t_"


def fp_lanes(call: str, dst: str, lanes) -> str:
    """fp_step for each lane: `#` in call and dst is the lane number; then FPCHECK()."""
    steps = [fp_step(call.replace("#", str(i)), dst.replace("#", str(i))) for i in lanes]
    return "\n".join(steps + ["FPCHECK()"])


# ---- moves -----------------------------------------------------------------
insn(
    "movss",
    "xmm, xmm | xmm, m32 | m32, xmm",
    {"xmm, xmm": "WAI0 = BI0", "xmm, m32": "WAI0 = BI0\n" + ZERO_UPPER_I, "m32, xmm": "WAI0 = BI0"},
    "Move a scalar float32. From memory the upper three lanes are zeroed; between registers "
    "only lane 0 changes.",
    group=S,
)
insn(
    "movsd",
    "xmm, xmm | xmm, m64 | m64, xmm | ",
    {
        "xmm, xmm": "WAQ0 = BQ0",
        "xmm, m64": "WAQ0 = BQ0\nWAQ1 = 0",
        "m64, xmm": "WAQ0 = BQ0",
        "": strings.semantics("movs", 4, ""),
    },
    "Move a scalar float64. From memory the upper lane is zeroed; between registers only "
    "lane 0 changes. Without operands: the string instruction, copy the dword at [rsi] to "
    "[rdi] and move both by 4 (down if DF = 1).",
    group=S,
)
for _m, _a, _what in (
    ("movaps", P, "four float32"),
    ("movups", 0, "four float32"),
    ("movapd", P, "two float64"),
    ("movupd", 0, "two float64"),
):
    insn(
        _m,
        "xmm, xmm/m128 | m128, xmm",
        "WAQ0 = BQ0\nWAQ1 = BQ1",
        f"Move 128 bits ({_what}); "
        + ("the memory operand must be 16-byte aligned." if _a else "any alignment."),
        group=S,
        align=_a,
    )
insn(
    "movd",
    "xmm, r/m32 | r/m32, xmm",
    {"xmm, r/m32": "WAI0 = B\n" + ZERO_UPPER_I, "r/m32, xmm": "WA = BI0"},
    "Move 32 bits between a general register/memory and lane 0 of an xmm register "
    "(zeroing the other lanes).",
    group=S,
)
insn(
    "movq",
    "xmm, r/m64 | r/m64, xmm | xmm, xmm",
    {
        "xmm, r/m64": "WAQ0 = B\nWAQ1 = 0",
        "r/m64, xmm": "WA = BQ0",
        "xmm, xmm": "WAQ0 = BQ0\nWAQ1 = 0",
    },
    "Move 64 bits between a general register/memory and the low half of an xmm register "
    "(zeroing the upper half).",
    group=S,
)


# ---- arithmetic ------------------------------------------------------------
# A NaN result is chosen as the hardware does (helpers.fnan): the first
# source's NaN (quieted), else the second's, else the default NaN; the host's
# own choice between two NaN operands is not relied on.
def _exact_arith(op: str, kind: str, lanes: tuple[int, ...]) -> str:
    lane, bits = BITS_LANE[kind]
    if op == "sqrt":
        return fp_lanes(f"fpsqrt(c.mxcsr, {bits}, B{lane}#)", f"WA{lane}#", lanes)
    return fp_lanes(f"fpop(c.mxcsr, '{op}', {bits}, A{lane}#, B{lane}#)", f"WA{lane}#", lanes)


def _arith(expr: str, kind: str, lanes: tuple[int, ...]) -> str:
    out = []
    for i in lanes:
        a, b = f"A{kind}{i}", f"B{kind}{i}"
        out += [
            f"t{i} = " + expr.format(a=a, b=b),
            f"if t{i} != t{i}: t{i} = fnan({a}, {b})",
            f"WA{kind}{i} = t{i}",
        ]
    return "\n".join(out)


_OPS = (
    ("add", "{a} + {b}", "Add"),
    ("sub", "{a} - {b}", "Subtract"),
    ("mul", "{a} * {b}", "Multiply"),
    ("div", "fdiv({a}, {b})", "Divide"),
)
_NAN_NOTE = (
    "NaN operands: the first source's NaN (quieted) wins, then the second's; an "
    "invalid operation (inf - inf, 0 * inf, 0 / 0) gives the default NaN "
    "(negative quiet NaN)."
)
for _op, _expr, _verb in _OPS:
    insn(
        _op + "ss",
        "xmm, xmm/m32",
        _arith(_expr, "F", (0,)),
        f"{_verb} scalar float32 (lane 0); other lanes unchanged. Rounds by MXCSR.RC.",
        group=S,
        exact=_exact_arith(_op, "F", (0,)),
        notes=_NAN_NOTE,
    )
    insn(
        _op + "sd",
        "xmm, xmm/m64",
        _arith(_expr, "D", (0,)),
        f"{_verb} scalar float64 (lane 0); the upper lane is unchanged.",
        group=S,
        exact=_exact_arith(_op, "D", (0,)),
        notes=_NAN_NOTE,
    )
    insn(
        _op + "ps",
        "xmm, xmm/m128",
        _arith(_expr, "F", (0, 1, 2, 3)),
        f"{_verb} four float32 lanes in parallel.",
        group=S,
        exact=_exact_arith(_op, "F", (0, 1, 2, 3)),
        align=P,
        notes=_NAN_NOTE,
    )
    insn(
        _op + "pd",
        "xmm, xmm/m128",
        _arith(_expr, "D", (0, 1)),
        f"{_verb} two float64 lanes in parallel.",
        group=S,
        exact=_exact_arith(_op, "D", (0, 1)),
        align=P,
        notes=_NAN_NOTE,
    )

insn(
    "sqrtss",
    "xmm, xmm/m32",
    "WAF0 = fsqrt(BF0)",
    "Square root of the source's lane 0 into lane 0 (negative -> default NaN).",
    group=S,
    exact=_exact_arith("sqrt", "F", (0,)),
)
insn(
    "sqrtsd",
    "xmm, xmm/m64",
    "WAD0 = fsqrt(BD0)",
    "Square root of a float64.",
    group=S,
    exact=_exact_arith("sqrt", "D", (0,)),
)
insn(
    "sqrtps",
    "xmm, xmm/m128",
    "WAF@ = fsqrt(BF@)",
    "Square root of four float32 lanes.",
    group=S,
    align=P,
    exact=_exact_arith("sqrt", "F", (0, 1, 2, 3)),
)
insn(
    "sqrtpd",
    "xmm, xmm/m128",
    "WAD0 = fsqrt(BD0)\nWAD1 = fsqrt(BD1)",
    "Square root of two float64 lanes.",
    group=S,
    align=P,
    exact=_exact_arith("sqrt", "D", (0, 1)),
)

_MAXNOTE = (
    "If either value is NaN, or both are zeros of any sign, the SOURCE (second "
    "operand) is returned unchanged, as on hardware."
)
for _op, _cmp, _word in (("max", ">", "Maximum"), ("min", "<", "Minimum")):
    _want = int(_op == "max")

    def _mm(bits: int, lanes: tuple[int, ...], want: int = _want) -> str:
        lane = "I" if bits == 32 else "Q"
        call = f"fpminmax(c.mxcsr, {bits}, A{lane}#, B{lane}#, {want})"
        return fp_lanes(call, f"WA{lane}#", lanes)

    insn(
        _op + "ss",
        "xmm, xmm/m32",
        f"WAI0 = AI0 if AF0 {_cmp} BF0 else BI0",
        f"{_word} of scalar float32: dst {_cmp} src ? dst : src.",
        group=S,
        exact=_mm(32, (0,)),
        notes=_MAXNOTE,
    )
    insn(
        _op + "sd",
        "xmm, xmm/m64",
        f"WAQ0 = AQ0 if AD0 {_cmp} BD0 else BQ0",
        f"{_word} of scalar float64: dst {_cmp} src ? dst : src.",
        group=S,
        exact=_mm(64, (0,)),
        notes=_MAXNOTE,
    )
    insn(
        _op + "ps",
        "xmm, xmm/m128",
        f"WAI@ = AI@ if AF@ {_cmp} BF@ else BI@",
        f"{_word} of four float32 lanes: dst {_cmp} src ? dst : src per lane.",
        group=S,
        align=P,
        exact=_mm(32, (0, 1, 2, 3)),
        notes=_MAXNOTE,
    )
    insn(
        _op + "pd",
        "xmm, xmm/m128",
        f"WAQ0 = AQ0 if AD0 {_cmp} BD0 else BQ0\nWAQ1 = AQ1 if AD1 {_cmp} BD1 else BQ1",
        f"{_word} of two float64 lanes.",
        group=S,
        align=P,
        exact=_mm(64, (0, 1)),
        notes=_MAXNOTE,
    )

# ---- bitwise ---------------------------------------------------------------
for _m, _expr, _doc in (
    ("andps", "AQ{i} & BQ{i}", "Bitwise AND of 128 bits (e.g. clear sign bits for fabs)."),
    ("andnps", "~AQ{i} & BQ{i}", "Bitwise AND NOT: dst = (NOT dst) AND src."),
    ("orps", "AQ{i} | BQ{i}", "Bitwise OR of 128 bits."),
    ("xorps", "AQ{i} ^ BQ{i}", "Bitwise XOR of 128 bits (xorps x, x zeroes a register)."),
    ("andpd", "AQ{i} & BQ{i}", "Bitwise AND of 128 bits (double-precision spelling)."),
    ("andnpd", "~AQ{i} & BQ{i}", "Bitwise AND NOT (double-precision spelling)."),
    ("orpd", "AQ{i} | BQ{i}", "Bitwise OR of 128 bits (double-precision spelling)."),
    ("xorpd", "AQ{i} ^ BQ{i}", "Bitwise XOR of 128 bits (double-precision spelling)."),
    ("pxor", "AQ{i} ^ BQ{i}", "Bitwise XOR of 128 bits (integer spelling)."),
):
    insn(
        _m,
        "xmm, xmm/m128",
        "\n".join(f"WAQ{i} = " + _expr.format(i=i) for i in (0, 1)),
        _doc,
        group=S,
        align=P,
    )

# ---- compares ----------------------------------------------------------------
for _m, _lane, _doc in (
    (
        "comiss",
        "F",
        "Compare scalar float32 and set ZF, PF, CF (unordered: all three 1; "
        "less: CF; equal: ZF). OF, SF, AF are cleared. Use ja/jb/je after it.",
    ),
    (
        "ucomiss",
        "F",
        "As comiss, but only a signalling NaN raises the invalid exception (IE) (comiss: any NaN).",
    ),
    ("comisd", "D", "Compare scalar float64; flags as comiss."),
    ("ucomisd", "D", "Compare scalar float64; flags as ucomiss."),
):
    insn(
        _m,
        "xmm, xmm/m32" if _lane == "F" else "xmm, xmm/m64",
        f"FLAGSRAW(fcmp(A{_lane}0, B{_lane}0))",
        _doc,
        group=S,
        flags_written="CPZSO",
        exact=fp_step(
            f"fpcomi(c.mxcsr, {BITS_LANE[_lane][1]}, A{BITS_LANE[_lane][0]}0, "
            f"B{BITS_LANE[_lane][0]}0, {int(not _m.startswith('u'))})",
            "t_",
        )
        + "\nFPCHECK()\nFLAGSRAW(t_)",
    )

# ---- conversions -------------------------------------------------------------
insn(
    "cvtsi2ss",
    "xmm, r/m32 | xmm, r/m64",
    "WAF0 = i2f32(SB)",
    "Convert a signed integer to float32 (rounded by MXCSR.RC) into lane 0.",
    group=S,
    exact=fp_lanes("fpi2f(c.mxcsr, 32, SB)", "WAI0", (0,)),
)
insn(
    "cvtsi2sd",
    "xmm, r/m32 | xmm, r/m64",
    "WAD0 = float(SB)",
    "Convert a signed integer to float64 into lane 0.",
    group=S,
    exact=fp_lanes("fpi2f(c.mxcsr, 64, SB)", "WAQ0", (0,)),
)
insn(
    "cvttss2si",
    "r32, xmm/m32 | r64, xmm/m32",
    "WA = cvtt(BF0, N)",
    "Convert float32 to a signed integer, truncating toward zero. NaN or out of range gives "
    "the integer indefinite value 0x80000000 (0x8000000000000000 for 64-bit).",
    group=S,
    exact=fp_lanes("fpf2i(c.mxcsr, 32, BI0, N, 1)", "WA", (0,)),
)
insn(
    "cvttsd2si",
    "r32, xmm/m64 | r64, xmm/m64",
    "WA = cvtt(BD0, N)",
    "Convert float64 to a signed integer, truncating toward zero (indefinite on NaN or overflow).",
    group=S,
    exact=fp_lanes("fpf2i(c.mxcsr, 64, BQ0, N, 1)", "WA", (0,)),
)
insn(
    "cvtss2sd",
    "xmm, xmm/m32",
    "WAD0 = BF0",
    "Widen float32 to float64 (exact).",
    group=S,
    exact=fp_lanes("fpcvt(c.mxcsr, 32, 64, BI0)", "WAQ0", (0,)),
)
insn(
    "cvtsd2ss",
    "xmm, xmm/m64",
    "WAF0 = BD0",
    "Narrow float64 to float32, rounding by MXCSR.RC.",
    group=S,
    exact=fp_lanes("fpcvt(c.mxcsr, 64, 32, BQ0)", "WAI0", (0,)),
)
insn(
    "cvtdq2ps",
    "xmm, xmm/m128",
    "WAF@ = float((BI@ ^ 0x80000000) - 0x80000000)",
    "Convert four signed int32 lanes to float32.",
    group=S,
    align=P,
    exact=fp_lanes("fpi2f(c.mxcsr, 32, (BI# ^ 0x80000000) - 0x80000000)", "WAI#", range(4)),
)
insn(
    "cvttps2dq",
    "xmm, xmm/m128",
    "WAI@ = cvtt(BF@, 32)",
    "Convert four float32 lanes to int32, truncating (indefinite 0x80000000 on NaN/overflow).",
    group=S,
    align=P,
    exact=fp_lanes("fpf2i(c.mxcsr, 32, BI#, 32, 1)", "WAI#", range(4)),
)

# ---- shuffles ------------------------------------------------------------------
insn(
    "shufps",
    "xmm, xmm/m128, imm8",
    "WAI0 = (AI0, AI1, AI2, AI3)[C & 3]\nWAI1 = (AI0, AI1, AI2, AI3)[(C >> 2) & 3]\n"
    "WAI2 = (BI0, BI1, BI2, BI3)[(C >> 4) & 3]\nWAI3 = (BI0, BI1, BI2, BI3)[(C >> 6) & 3]",
    "Shuffle: lanes 0-1 of the result pick from dst, lanes 2-3 from src, two bits of imm8 "
    "each. `shufps x, x, 0` broadcasts lane 0.",
    group=S,
    align=P,
)
insn(
    "unpcklps",
    "xmm, xmm/m128",
    "WAI0 = AI0\nWAI1 = BI0\nWAI2 = AI1\nWAI3 = BI1",
    "Interleave the low lanes: [d0, s0, d1, s1].",
    group=S,
    align=P,
)
insn(
    "unpckhps",
    "xmm, xmm/m128",
    "WAI0 = AI2\nWAI1 = BI2\nWAI2 = AI3\nWAI3 = BI3",
    "Interleave the high lanes: [d2, s2, d3, s3].",
    group=S,
    align=P,
)
insn(
    "movhlps",
    "xmm, xmm",
    "WAQ0 = BQ1",
    "Move the source's high 64 bits into dst's low 64.",
    group=S,
)
insn(
    "movlhps",
    "xmm, xmm",
    "WAQ1 = BQ0",
    "Move the source's low 64 bits into dst's high 64.",
    group=S,
)
insn(
    "haddps",
    "xmm, xmm/m128",
    "\n".join(
        f"t{i} = {x} + {y}\nif t{i} != t{i}: t{i} = fnan({x}, {y})"
        for i, (x, y) in enumerate((("AF0", "AF1"), ("AF2", "AF3"), ("BF0", "BF1"), ("BF2", "BF3")))
    )
    + "\nWAF0 = t0\nWAF1 = t1\nWAF2 = t2\nWAF3 = t3",
    "Horizontal add (SSE3): [d0+d1, d2+d3, s0+s1, s2+s3]. Twice in a row sums four lanes.",
    group=S,
    align=P,
    exact="\n".join(
        fp_step(f"fpop(c.mxcsr, 'add', 32, {x}, {y})", f"WAI{i}")
        for i, (x, y) in enumerate((("AI0", "AI1"), ("AI2", "AI3"), ("BI0", "BI1"), ("BI2", "BI3")))
    )
    + "\nFPCHECK()",
)
insn(
    "unpcklpd",
    "xmm, xmm/m128",
    "WAQ1 = BQ0",
    "Interleave the low float64 lanes: [d0, s0].",
    group=S,
    align=P,
)
insn(
    "unpckhpd",
    "xmm, xmm/m128",
    "t = BQ1\nWAQ0 = AQ1\nWAQ1 = t",
    "Interleave the high float64 lanes: [d1, s1].",
    group=S,
    align=P,
)
insn(
    "shufpd",
    "xmm, xmm/m128, imm8",
    "t0 = (AQ0, AQ1)[C & 1]\nt1 = (BQ0, BQ1)[(C >> 1) & 1]\nWAQ0 = t0\nWAQ1 = t1",
    "Shuffle float64 lanes: lane 0 from dst (imm8 bit 0), lane 1 from src (bit 1).",
    group=S,
    align=P,
)
insn(
    "movmskps",
    "r32, xmm | r64, xmm",
    "WA = (BI0 >> 31) | (BI1 >> 31) << 1 | (BI2 >> 31) << 2 | (BI3 >> 31) << 3",
    "Gather the sign bits of the four float32 lanes into bits 0-3 of a register.",
    group=S,
)

# ---- more conversions ---------------------------------------------------------------
insn(
    "cvtps2pd",
    "xmm, xmm/m64",
    "t0 = BF0\nt1 = BF1\nWAD0 = t0\nWAD1 = t1",
    "Widen the two low float32 lanes to float64 (exact).",
    group=S,
    exact=fp_lanes("fpcvt(c.mxcsr, 32, 64, BI#)", "WAQ#", (0, 1)),
)
insn(
    "cvtpd2ps",
    "xmm, xmm/m128",
    "t0 = BD0\nt1 = BD1\nWAF0 = t0\nWAF1 = t1\nWAI2 = 0\nWAI3 = 0",
    "Narrow two float64 lanes to float32 (rounded by MXCSR.RC) in lanes 0-1; lanes 2-3 are zeroed.",
    group=S,
    align=P,
    exact=fp_lanes("fpcvt(c.mxcsr, 64, 32, BQ#)", "WAI#", (0, 1)) + "\nWAI2 = 0\nWAI3 = 0",
)
insn(
    "cvtps2dq",
    "xmm, xmm/m128",
    "WAI@ = cvtr(BF@, 32)",
    "Convert four float32 lanes to int32, rounding by MXCSR.RC (indefinite 0x80000000 "
    "on NaN/overflow).",
    group=S,
    align=P,
    exact=fp_lanes("fpf2i(c.mxcsr, 32, BI#, 32, 0)", "WAI#", range(4)),
)
insn(
    "cvtss2si",
    "r32, xmm/m32 | r64, xmm/m32",
    "WA = cvtr(BF0, N)",
    "Convert float32 to a signed integer, rounding by MXCSR.RC (indefinite on NaN or overflow).",
    group=S,
    exact=fp_lanes("fpf2i(c.mxcsr, 32, BI0, N, 0)", "WA", (0,)),
)
insn(
    "cvtsd2si",
    "r32, xmm/m64 | r64, xmm/m64",
    "WA = cvtr(BD0, N)",
    "Convert float64 to a signed integer, rounding by MXCSR.RC (indefinite on NaN or overflow).",
    group=S,
    exact=fp_lanes("fpf2i(c.mxcsr, 64, BQ0, N, 0)", "WA", (0,)),
)

# ---- compares with a predicate ------------------------------------------------------------
PREDICATES = ("eq", "lt", "le", "unord", "neq", "nlt", "nle", "ord")
_PRED_DOC = (
    "Predicates (imm8 bits 2:0): 0 eq, 1 lt, 2 le, 3 unord, 4 neq, 5 nlt, 6 nle, 7 ord; "
    "a NaN makes eq/lt/le/ord false and the others true."
)
insn(
    "cmpss",
    "xmm, xmm/m32, imm8",
    "WAI0 = fcmpp(AF0, BF0, C)",
    "Compare scalar float32 lane 0 by a predicate: all ones if it holds, else zeros.",
    group=S,
    exact=fp_lanes("fpcmp(c.mxcsr, 32, AI0, BI0, C)", "WAI0", (0,)),
    notes=_PRED_DOC,
)
insn(
    "cmpps",
    "xmm, xmm/m128, imm8",
    "WAI@ = fcmpp(AF@, BF@, C)",
    "Compare four float32 lanes by a predicate: all ones where it holds, else zeros.",
    group=S,
    align=P,
    exact=fp_lanes("fpcmp(c.mxcsr, 32, AI#, BI#, C)", "WAI#", range(4)),
    notes=_PRED_DOC,
)
for _k, _p in enumerate(PREDICATES):
    insn(
        f"cmp{_p}ss",
        "xmm, xmm/m32",
        f"WAI0 = fcmpp(AF0, BF0, {_k})",
        f"cmpss with predicate {_k} ({_p}).",
        group=S,
        exact=fp_lanes(f"fpcmp(c.mxcsr, 32, AI0, BI0, {_k})", "WAI0", (0,)),
    )
    insn(
        f"cmp{_p}ps",
        "xmm, xmm/m128",
        f"WAI@ = fcmpp(AF@, BF@, {_k})",
        f"cmpps with predicate {_k} ({_p}).",
        group=S,
        align=P,
        exact=fp_lanes(f"fpcmp(c.mxcsr, 32, AI#, BI#, {_k})", "WAI#", range(4)),
    )

# ---- SSE4.1 ---------------------------------------------------------------------------------
insn(
    "blendvps",
    "xmm, xmm/m128",
    "\n".join(f"WAI{i} = BI{i} if xi[{i}] >> 31 else AI{i}" for i in range(4)),
    "Blend: lane i = src's where the sign bit of xmm0's lane i is set, else dst's (xmm0 is "
    "implicit).",
    group=S,
    align=P,
    implicit="xmm0",
)
insn(
    "dpps",
    "xmm, xmm/m128, imm8",
    "t0, t1, t2, t3 = dpps((AF0, AF1, AF2, AF3), (BF0, BF1, BF2, BF3), C)\n"
    "WAF0 = t0\nWAF1 = t1\nWAF2 = t2\nWAF3 = t3",
    "Dot product: the products of the lanes imm8 bits 4-7 select, summed, into the lanes "
    "bits 0-3 select (others 0).",
    group=S,
    align=P,
    exact="t0, t1, t2, t3, e_ = fpdpps(c.mxcsr, (AI0, AI1, AI2, AI3), (BI0, BI1, BI2, BI3), C)\n"
    "fx = fx | e_\nWAI0 = t0\nWAI1 = t1\nWAI2 = t2\nWAI3 = t3\nFPCHECK()",
    notes="Lane i sums (p[i^1] + p[i]) + (p[i^3] + p[i^2]), each step rounded to float32 "
    "(the order decides which NaN a lane gets: as measured on Intel).",
)
_ROUND_DOC = (
    "imm8 bits 1:0: 0 nearest even, 1 down, 2 up, 3 toward zero; bit 2: the MXCSR mode "
    "instead; bit 3: no precision exception"
)
for _m, _forms, _sem, _what, _bits, _lanes in (
    ("roundss", "xmm, xmm/m32, imm8", "WAF0 = fround(BF0, C)", "scalar float32 (lane 0)", 32, 1),
    ("roundsd", "xmm, xmm/m64, imm8", "WAD0 = fround(BD0, C)", "scalar float64 (lane 0)", 64, 1),
    ("roundps", "xmm, xmm/m128, imm8", "WAF@ = fround(BF@, C)", "four float32 lanes", 32, 4),
    (
        "roundpd",
        "xmm, xmm/m128, imm8",
        "WAD0 = fround(BD0, C)\nWAD1 = fround(BD1, C)",
        "two float64 lanes",
        64,
        2,
    ),
):
    _l = "I" if _bits == 32 else "Q"
    insn(
        _m,
        _forms,
        _sem,
        f"Round {_what} to an integral value by the mode imm8 gives.",
        group=S,
        align=P if "128" in _forms else 0,
        notes=_ROUND_DOC + ".",
        exact=fp_lanes(f"fpround(c.mxcsr, {_bits}, B{_l}#, C)", f"WA{_l}#", range(_lanes)),
    )

# ---- MXCSR ------------------------------------------------------------------------------------
insn(
    "ldmxcsr",
    "m32",
    "if A >> 16:\n"
    "    FAULT('general-protection', 'ldmxcsr: MXCSR bits 16-31 are reserved and must be 0')\n"
    "_x = c.mxcsr_load(A)",
    "Load MXCSR (SSE rounding mode, exception masks and flags, DAZ, FTZ) from memory.",
    group=S,
    aliases=("vldmxcsr",),
    mxcsr="load",
    notes="Bits 0-5 are the sticky exception flags (IE DE ZE OE UE PE), 6 DAZ, 7-12 their "
    "masks, 13-14 the rounding mode (0 nearest even, 1 down, 2 up, 3 toward zero), 15 FTZ. "
    "A program that uses ldmxcsr or stmxcsr runs in MXCSR-exact mode (docs/machine.md).",
)
insn(
    "stmxcsr",
    "m32",
    "WA = c.mxcsr",
    "Store MXCSR to memory (0x1F80 at process start, plus the exception flags raised since).",
    group=S,
    aliases=("vstmxcsr",),
    mxcsr="store",
)

# ---- the rest of the SSE2 double set: half moves, int32 <-> float64 -----------------------
for _m, _what in (("movlps", "two float32"), ("movlpd", "a float64")):
    insn(
        _m,
        "xmm, m64 | m64, xmm",
        {"xmm, m64": "WAQ0 = BQ0", "m64, xmm": "WAQ0 = BQ0"},
        f"Move 64 bits ({_what}) between memory and the low half of an xmm register (the "
        "high half is unchanged).",
        group=S,
    )
for _m, _what in (("movhps", "two float32"), ("movhpd", "a float64")):
    insn(
        _m,
        "xmm, m64 | m64, xmm",
        {"xmm, m64": "WAQ1 = BQ0", "m64, xmm": "WAQ0 = BQ1"},
        f"Move 64 bits ({_what}) between memory and the high half of an xmm register (the "
        "low half is unchanged).",
        group=S,
    )
insn(
    "cvtdq2pd",
    "xmm, xmm/m64",
    "t0 = float((BI0 ^ 0x80000000) - 0x80000000)\nt1 = float((BI1 ^ 0x80000000) - 0x80000000)\n"
    "WAD0 = t0\nWAD1 = t1",
    "Convert the two low signed int32 lanes to float64 (exact).",
    group=S,
    exact=fp_lanes("fpi2f(c.mxcsr, 64, (BI# ^ 0x80000000) - 0x80000000)", "WAQ#", (0, 1)),
)
for _m, _fn, _trunc, _how in (
    ("cvtpd2dq", "cvtr", 0, "rounding by MXCSR.RC"),
    ("cvttpd2dq", "cvtt", 1, "truncating"),
):
    insn(
        _m,
        "xmm, xmm/m128",
        f"t0 = {_fn}(BD0, 32)\nt1 = {_fn}(BD1, 32)\nWAI0 = t0\nWAI1 = t1\nWAQ1 = 0",
        f"Convert two float64 lanes to int32 in lanes 0-1, {_how} (indefinite 0x80000000 on "
        "NaN/overflow); lanes 2-3 are zeroed.",
        group=S,
        align=P,
        exact=fp_lanes(f"fpf2i(c.mxcsr, 64, BQ#, 32, {_trunc})", "WAI#", (0, 1)) + "\nWAQ1 = 0",
    )
