"""AVX, AVX2 (float subset), FMA3 and an AVX-512F subset (no masking).

Vocabulary as in sse.py (lanes F D I Q; operand letters A B C D, see
vm/codegen.py); ymm operands have lanes F0-F7, zmm F0-F15. Three rules of
the CPU shape every entry:

* VEX and EVEX writes to a register zero its bits above the destination
  width, up to bit 511 (legacy SSE leaves them alone).
* VEX's extra source: `vaddps x1, x2, x3` computes x2 + x3 into x1, so the
  destination is free and the upper lanes of a scalar op come from x2.
* Only vmovaps/vmovapd check alignment (their operand's own size: 16, 32 or
  64 bytes); VEX arithmetic takes any address, unlike legacy SSE.

The arithmetic forms are derived from the SSE definitions (one semantics):
`derive` renames the SSE template's operands (dst, src -> dst, src1, src2),
repeats it per 128-bit slice (as AVX extends shufps, haddps, unpcklps ...)
and adds the VEX upper-lane rules. FMA3 rounds once (vm/isa/fused.py).
"""

from __future__ import annotations

import re

from . import sse as _sse  # noqa: F401  (derive reads its definitions)
from .spec import TABLE, insn
from .sse import fp_lanes

AVX, FMA, AVX512 = "avx", "fma", "avx512"
ALIGN_OWN = -1  # InsnDef.align: the memory operand's own size (vmovaps)
_LANE_BYTES = {"F": 4, "I": 4, "D": 8, "Q": 8}
_WIDTH_TOKENS = {128: ("xmm", "m128"), 256: ("ymm", "m256"), 512: ("zmm", "m512")}
_READ = re.compile(r"\b([ABC])([FDIQ])(\d+)\b|\b([ABC])\b")
_WRITE = re.compile(r"^(\s*W)([A])([FDIQ])(\d+)(\s*=.*)$")


def zero_above(bits: int) -> list[str]:
    """Template lines zeroing the destination's bits from `bits` up to 511."""
    return [f"WAQ{k} = 0" for k in range(bits // 64, 8)]


def _shift_letter(letter: str, nds: bool) -> str:
    return "ABCD"["ABC".index(letter) + 1] if nds else letter


def _slice(sse_lines: list[str], s: int, nds: bool) -> tuple[list[str], set[int]]:
    """The SSE template for 128-bit slice s: lanes moved up by s slices,
    reads renamed for VEX's extra source. Returns the lines and the bytes
    of the slice the template writes."""
    written: set[int] = set()
    out = []
    for line in sse_lines:
        w = _WRITE.match(line)
        head = ""
        if w:
            kind, j = w.group(3), int(w.group(4))
            width = _LANE_BYTES[kind]
            written.update(range(j * width, j * width + width))
            head = f"{w.group(1)}A{kind}{j + s * 16 // width}"
            line = w.group(5)

        def rename(m: re.Match) -> str:
            if m.group(4):
                return _shift_letter(m.group(4), nds)
            letter, kind, j = m.group(1), m.group(2), int(m.group(3))
            return f"{_shift_letter(letter, nds)}{kind}{j + s * 16 // _LANE_BYTES[kind]}"

        out.append(head + _READ.sub(rename, line))
    return out, written


def _sse_lines(mnemonic: str, exact: bool = False) -> list[str]:
    sem = TABLE[mnemonic].exact if exact else TABLE[mnemonic].sem
    if not isinstance(sem, str):
        raise ValueError(f"{mnemonic}: derive needs a single-template SSE entry")
    lines = []
    for line in sem.strip("\n").split("\n"):
        lines += [line.replace("@", str(i)) for i in range(4)] if "@" in line else [line]
    return lines


def _vex_form(sse_form: str, width: int, nds: bool) -> str:
    reg, mem = _WIDTH_TOKENS[width]
    toks = [t.strip() for t in sse_form.split(",")]
    toks = [t.replace("xmm/m128", f"{reg}/{mem}") if t == "xmm/m128" else t for t in toks]
    toks = [reg if t == "xmm" else t for t in toks]
    if nds:
        toks.insert(1, toks[0])
    return ", ".join(toks)


def derive(
    mnemonic: str,
    sse: str,
    doc: str,
    widths: tuple[int, ...] = (128, 256),
    nds: bool = True,
    group: str = AVX,
    **kw,
) -> None:
    """Define the VEX (and, with 512 in widths, EVEX) form of SSE instruction
    `sse`: the same per-lane semantics, repeated per 128-bit slice, with the
    destination's unwritten low lanes taken from the first source (a scalar
    op's lanes 1-3) and its bits above the width zeroed."""
    base = _sse_lines(sse)
    # the MXCSR-exact template likewise, with one FPCHECK() for all slices, at the end
    has_exact = TABLE[sse].exact is not None
    exact = [x for x in _sse_lines(sse, True) if x != "FPCHECK()"] if has_exact else []
    (sse_form,) = TABLE[sse].forms  # one SSE form: xmm, xmm/mN (, imm8)
    forms, sems, exact_sems = [], {}, {}
    for width in widths:
        form = _vex_form(str(sse_form), width, nds)
        lines: list[str] = []
        xlines: list[str] = []
        for s in range(width // 128):
            body, written = _slice(base, s, nds)
            lines += body
            xlines += _slice(exact, s, nds)[0]
        keep = [j for j in range(4) if not set(range(4 * j, 4 * j + 4)) <= written]
        rest = [f"WAI{j} = BI{j}" for j in keep]  # scalar ops: the rest of src1
        rest += zero_above(width)
        forms.append(form)
        sems[form] = "\n".join(lines + rest)
        exact_sems[form] = "\n".join(xlines + rest + ["FPCHECK()"])
    insn(
        mnemonic,
        " | ".join(forms),
        sems,
        doc,
        group=group,
        notes=TABLE[sse].notes,
        exact=exact_sems if has_exact else None,
        **kw,
    )


# ---- arithmetic, derived from SSE -------------------------------------------------
for _op, _verb in (("add", "Add"), ("sub", "Subtract"), ("mul", "Multiply"), ("div", "Divide")):
    derive(
        f"v{_op}ps",
        f"{_op}ps",
        f"{_verb} float32 lanes: dst = src1 {_op} src2 (4, 8 or 16 lanes).",
        widths=(128, 256, 512),
    )
    derive(
        f"v{_op}pd",
        f"{_op}pd",
        f"{_verb} float64 lanes: dst = src1 {_op} src2 (2, 4 or 8 lanes).",
        widths=(128, 256, 512),
    )
    derive(
        f"v{_op}ss",
        f"{_op}ss",
        f"{_verb} scalar float32: lane 0 = src1 {_op} src2, lanes 1-3 from src1, bits "
        "128-511 zeroed.",
        widths=(128,),
    )
    derive(
        f"v{_op}sd",
        f"{_op}sd",
        f"{_verb} scalar float64: lane 0 = src1 {_op} src2, lane 1 from src1, bits 128-511 zeroed.",
        widths=(128,),
    )
for _op, _cmp in (("max", ">"), ("min", "<")):
    derive(
        f"v{_op}ps",
        f"{_op}ps",
        f"{_op.capitalize()}imum of float32 lanes: src1 {_cmp} src2 ? src1 : src2 per lane.",
        widths=(128, 256, 512),
    )
    derive(
        f"v{_op}pd",
        f"{_op}pd",
        f"{_op.capitalize()}imum of float64 lanes: src1 {_cmp} src2 ? src1 : src2 per lane.",
        widths=(128, 256, 512),
    )
    derive(
        f"v{_op}ss",
        f"{_op}ss",
        f"{_op.capitalize()}imum of scalar float32 (lane 0); lanes 1-3 from src1.",
        widths=(128,),
    )
    derive(
        f"v{_op}sd",
        f"{_op}sd",
        f"{_op.capitalize()}imum of scalar float64 (lane 0); lane 1 from src1.",
        widths=(128,),
    )
derive(
    "vsqrtps",
    "sqrtps",
    "Square root of each float32 lane of the source.",
    widths=(128, 256, 512),
    nds=False,
)
derive(
    "vsqrtpd",
    "sqrtpd",
    "Square root of each float64 lane of the source.",
    widths=(128, 256, 512),
    nds=False,
)
derive(
    "vsqrtss",
    "sqrtss",
    "Square root of src2's lane 0 into lane 0; lanes 1-3 from src1.",
    widths=(128,),
)
derive(
    "vsqrtsd",
    "sqrtsd",
    "Square root of src2's float64 lane 0 into lane 0; lane 1 from src1.",
    widths=(128,),
)

# ---- bitwise -------------------------------------------------------------------
for _m, _what in (
    ("xorps", "XOR (vxorps x, x, x zeroes the whole register)"),
    ("andps", "AND"),
    ("andnps", "AND NOT: dst = (NOT src1) AND src2"),
    ("orps", "OR"),
):
    derive(
        "v" + _m,
        _m,
        f"Bitwise {_what}, 128/256/512 bits (zmm: AVX-512DQ).",
        widths=(128, 256, 512),
    )

# ---- shuffles, horizontal ops (per 128-bit slice, as the CPU does) -------------------
derive(
    "vshufps",
    "shufps",
    "Shuffle within each 128-bit slice: lanes 0-1 from src1, 2-3 from src2, chosen by the "
    "same two imm8 bits in every slice.",
)
derive(
    "vhaddps",
    "haddps",
    "Horizontal add within each 128-bit slice: [a0+a1, a2+a3, b0+b1, b2+b3] per slice "
    "(a = src1, b = src2); it does not add across slices.",
)
derive("vunpcklps", "unpcklps", "Interleave the low lanes of each 128-bit slice.")
derive("vunpckhps", "unpckhps", "Interleave the high lanes of each 128-bit slice.")

# ---- moves -----------------------------------------------------------------------------


def _moves(width: int) -> dict[str, str]:
    """A load (or register copy) and a store of `width` bits: form -> template."""
    reg, mem = _WIDTH_TOKENS[width]
    copy = [f"WAQ{k} = BQ{k}" for k in range(width // 64)]
    return {
        f"{reg}, {reg}/{mem}": "\n".join(copy + zero_above(width)),
        f"{mem}, {reg}": "\n".join(copy),
    }


def _move_entry(mnemonic: str, aligned: bool, what: str) -> None:
    sems = {form: sem for width in (128, 256, 512) for form, sem in _moves(width).items()}
    insn(
        mnemonic,
        " | ".join(sems),
        sems,
        f"Move 128, 256 or 512 bits ({what}); "
        + (
            "a memory operand must be aligned to its size (16, 32 or 64 bytes)."
            if aligned
            else "any alignment."
        ),
        group=AVX,
        align=ALIGN_OWN if aligned else 0,
    )


_move_entry("vmovaps", True, "float32 lanes")
_move_entry("vmovups", False, "float32 lanes")
_move_entry("vmovapd", True, "float64 lanes")
_move_entry("vmovupd", False, "float64 lanes")

for _m, _k, _n in (("vmovss", "I", 32), ("vmovsd", "Q", 64)):
    _rest = "WAI1 = BI1\nWAI2 = BI2\nWAI3 = BI3" if _k == "I" else "WAQ1 = BQ1"
    insn(
        _m,
        f"xmm, m{_n} | m{_n}, xmm | xmm, xmm, xmm",
        {
            f"xmm, m{_n}": f"WA{_k}0 = B{_k}0\n"
            + ("WAI1 = 0\nWAI2 = 0\nWAI3 = 0\n" if _k == "I" else "WAQ1 = 0\n")
            + "\n".join(zero_above(128)),
            f"m{_n}, xmm": f"WA{_k}0 = B{_k}0",
            "xmm, xmm, xmm": f"WA{_k}0 = C{_k}0\n{_rest}\n" + "\n".join(zero_above(128)),
        },
        f"Move a scalar float{_n}. A load zeroes every other bit of the register; the "
        "register form takes lane 0 from src2 and the rest of the low 128 bits from src1.",
        group=AVX,
    )

_BCAST = {
    form: "\n".join([f"WAI{j} = BI0" for j in range(w // 32)] + zero_above(w))
    for form, w in (
        ("xmm, m32", 128),
        ("ymm, m32", 256),
        ("xmm, xmm", 128),
        ("ymm, xmm", 256),
        ("zmm, xmm/m32", 512),
    )
}
insn(
    "vbroadcastss",
    " | ".join(_BCAST),
    _BCAST,
    "Copy one float32 (memory, or lane 0 of an xmm register: AVX2) into every lane.",
    group=AVX,
)

# ---- 128/256-bit pieces -------------------------------------------------------------------
insn(
    "vextractf128",
    "xmm, ymm, imm8 | m128, ymm, imm8",
    {
        "xmm, ymm, imm8": "WAQ0 = (BQ0, BQ2)[C & 1]\nWAQ1 = (BQ1, BQ3)[C & 1]\n"
        + "\n".join(zero_above(128)),
        "m128, ymm, imm8": "WAQ0 = (BQ0, BQ2)[C & 1]\nWAQ1 = (BQ1, BQ3)[C & 1]",
    },
    "Copy the low (imm8 bit 0 = 0) or high 128 bits of a ymm register.",
    group=AVX,
)
insn(
    "vinsertf128",
    "ymm, ymm, xmm/m128, imm8",
    "\n".join(f"WAQ{k} = CQ{k % 2} if D & 1 == {k // 2} else BQ{k}" for k in range(4))
    + "\n"
    + "\n".join(zero_above(256)),
    "dst = src1 with its low (imm8 bit 0 = 0) or high 128 bits replaced by src2.",
    group=AVX,
)
insn(
    "vperm2f128",
    "ymm, ymm, ymm/m256, imm8",
    "\n".join(
        f"WAQ{2 * h + q} = 0 if (D >> {4 * h + 3}) & 1 else "
        f"(BQ{q}, BQ{2 + q}, CQ{q}, CQ{2 + q})[(D >> {4 * h}) & 3]"
        for h in (0, 1)
        for q in (0, 1)
    )
    + "\n"
    + "\n".join(zero_above(256)),
    "Each 128-bit half of dst is one of src1.lo, src1.hi, src2.lo, src2.hi (imm8 bits 0-1 "
    "and 4-5), or zero (bit 3, bit 7).",
    group=AVX,
)


def _permil(width: int, imm: bool) -> str:
    n = width // 32
    out = []
    for i in range(n):
        base = i // 4 * 4
        pick = f"(C >> {2 * (i % 4)}) & 3" if imm else f"CI{i} & 3"
        src = ", ".join(f"BI{base + k}" for k in range(4))
        out.append(f"WAI{i} = ({src})[{pick}]")
    return "\n".join(out + zero_above(width))


insn(
    "vpermilps",
    "xmm, xmm/m128, imm8 | ymm, ymm/m256, imm8 | xmm, xmm, xmm/m128 | ymm, ymm, ymm/m256",
    {
        "xmm, xmm/m128, imm8": _permil(128, True),
        "ymm, ymm/m256, imm8": _permil(256, True),
        "xmm, xmm, xmm/m128": _permil(128, False),
        "ymm, ymm, ymm/m256": _permil(256, False),
    },
    "Permute float32 lanes within each 128-bit slice: lane i takes lane (imm8 >> 2i) & 3 "
    "of its slice, or with a register control, the low 2 bits of the control's lane i.",
    group=AVX,
)
insn(
    "vextractf32x4",
    "xmm, zmm, imm8 | m128, zmm, imm8",
    {
        "xmm, zmm, imm8": "\n".join(
            [f"WAQ{q} = (BQ{q}, BQ{2 + q}, BQ{4 + q}, BQ{6 + q})[C & 3]" for q in (0, 1)]
            + zero_above(128)
        ),
        "m128, zmm, imm8": "\n".join(
            f"WAQ{q} = (BQ{q}, BQ{2 + q}, BQ{4 + q}, BQ{6 + q})[C & 3]" for q in (0, 1)
        ),
    },
    "Copy 128-bit slice imm8 & 3 of a zmm register (AVX-512F).",
    group=AVX512,
)
insn(
    "vextractf32x8",
    "ymm, zmm, imm8 | m256, zmm, imm8",
    {
        "ymm, zmm, imm8": "\n".join(
            [f"WAQ{q} = (BQ{q}, BQ{4 + q})[C & 1]" for q in range(4)] + zero_above(256)
        ),
        "m256, zmm, imm8": "\n".join(f"WAQ{q} = (BQ{q}, BQ{4 + q})[C & 1]" for q in range(4)),
    },
    "Copy the low (imm8 bit 0 = 0) or high 256 bits of a zmm register (AVX-512DQ).",
    group=AVX512,
)

# ---- clearing --------------------------------------------------------------------------------
# No operands: these name registers 0-15 directly (bits 128-511 zeroed by
# vzeroupper, all of them by vzeroall; zmm16-31 are unchanged on 64-bit CPUs).
_ZU = "\n".join(
    f"xq[{512 // 8 * s + 2 * r + q}] = 0" for s in (1, 2, 3) for r in range(16) for q in (0, 1)
)
_ZL = "\n".join(f"xq[{2 * r + q}] = 0" for r in range(16) for q in (0, 1))
insn(
    "vzeroupper",
    "",
    _ZU,
    "Zero bits 128-511 of ymm0-15/zmm0-15 (avoids the SSE transition penalty; call it "
    "before returning to SSE code).",
    group=AVX,
)
insn("vzeroall", "", _ZL + "\n" + _ZU, "Zero ymm0-15/zmm0-15 entirely.", group=AVX)

# ---- FMA3 ------------------------------------------------------------------------------------
# dst = x * y (+/-) z with one rounding; the digits say which operands are
# multiplied and which is added (operand 1 = dst, 2 = src1, 3 = src2):
# 132: dst*src2 + src1, 213: src1*dst + src2, 231: src1*src2 + dst.
_ORDERS = {"132": ("A", "C", "B"), "213": ("B", "A", "C"), "231": ("B", "C", "A")}
_SIGNS = {  # (negate the product, negate the addend), meaning
    "fmadd": ("", "", "x*y + z"),
    "fmsub": ("", "-", "x*y - z"),
    "fnmadd": ("-", "", "-(x*y) + z"),
    "fnmsub": ("-", "-", "-(x*y) - z"),
}


def _fma_exact(order: str, kind: str, lanes: int, neg_p: str, neg_z: str) -> list[str]:
    """The MXCSR-exact lanes of an FMA (vm/isa/softfloat.py's fpfma)."""
    x, y, z = _ORDERS[order]
    lane, bits = ("I", 32) if kind == "F" else ("Q", 64)
    args = f"{x}{lane}#, {y}{lane}#, {z}{lane}#, {int(bool(neg_p))}, {int(bool(neg_z))}"
    return fp_lanes(f"fpfma(c.mxcsr, {bits}, {args})", f"WA{lane}#", range(lanes)).split("\n")


def _fma_lanes(order: str, kind: str, lanes: int, neg_p: str, neg_z: str) -> list[str]:
    x, y, z = _ORDERS[order]
    out = []
    for i in range(lanes):
        args = f"{neg_p}{x}{kind}{i}, {y}{kind}{i}, {neg_z}{z}{kind}{i}"
        if kind == "F":
            # inline fast path: the product is exact and, usually, so is the
            # binary64 sum (TwoSum error 0: one rounding, at the lane store);
            # otherwise (or for inf/NaN, whose error is NaN) fused.fma32
            out += [
                f"u{i} = {neg_p}{x}F{i} * {y}F{i}",
                f"t{i} = u{i} + {neg_z}{z}F{i}",
                f"v{i} = t{i} - u{i}",
                f"if (u{i} - (t{i} - v{i})) + ({neg_z}{z}F{i} - v{i}): t{i} = fma32({args})",
            ]
        else:
            out.append(f"t{i} = fma64({args})")
        out += [
            f"if t{i} != t{i}: t{i} = fnan3({x}{kind}{i}, {y}{kind}{i}, {z}{kind}{i})",
            f"WA{kind}{i} = t{i}",
        ]
    return out


for _name, (_np, _nz, _meaning) in _SIGNS.items():
    for _order in _ORDERS:
        for _suffix, _kind, _scalar in (
            ("ps", "F", 0),
            ("pd", "D", 0),
            ("ss", "F", 1),
            ("sd", "D", 1),
        ):
            _widths = (128,) if _scalar else (128, 256, 512)
            _forms, _sems, _exact = [], {}, {}
            for _w in _widths:
                _reg, _mem = _WIDTH_TOKENS[_w]
                _msize = (32 if _kind == "F" else 64) if _scalar else _w
                _f = (
                    f"{_reg}, {_reg}, {_reg}/m{_msize}"
                    if not _scalar
                    else f"xmm, xmm, xmm/m{_msize}"
                )
                _n = 1 if _scalar else _w // (32 if _kind == "F" else 64)
                _forms.append(_f)
                _sems[_f] = "\n".join(_fma_lanes(_order, _kind, _n, _np, _nz) + zero_above(_w))
                _exact[_f] = "\n".join(_fma_exact(_order, _kind, _n, _np, _nz) + zero_above(_w))
            _x, _y, _z = (("dst", "src1", "src2")["ABC".index(c)] for c in _ORDERS[_order])
            insn(
                f"v{_name}{_order}{_suffix}",
                " | ".join(_forms),
                _sems,
                f"Fused {_meaning} with x = {_x}, y = {_y}, z = {_z}, rounded once "
                + ("(scalar lane 0; other low lanes unchanged)." if _scalar else "per lane."),
                group=FMA,
                exact=_exact,
                notes="NaN operands: the first NaN of x, y, z (quieted), whatever the "
                "operand order; 0 * inf or inf - inf gives the default NaN. Exact: see "
                "vm/isa/fused.py.",
            )

# CPU feature each form needs (tests skip natively where the host lacks it; docs show it).
for _d in {id(d): d for d in TABLE.values() if d.group in (AVX, FMA, AVX512)}.values():
    for _form in _d.forms:
        _flag = "fma" if _d.group == FMA else "avx"
        if _form.evex:
            _flag = "avx512f"
            if _d.mnemonic in ("vxorps", "vandps", "vandnps", "vorps", "vextractf32x8"):
                _flag = "avx512dq"
        elif _d.mnemonic == "vbroadcastss" and "mem" not in _form.types[1].kinds:
            _flag = "avx2"
        _d.cpuid[str(_form)] = _flag
