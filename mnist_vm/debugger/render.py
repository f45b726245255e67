"""What the panels show, as Rich renderables: shared by the Textual app
(each panel is a widget that calls one of these with its size) and the line
mode (which prints them). Nothing here changes the session.

Change highlighting compares with the state the session remembered at the
previous stop (Session.mark): registers, flags and xmm lanes, and the bytes
of the memory view.
"""

from __future__ import annotations

import math
import os
import struct

from rich.text import Text

from vm.isa.operands import VEC_NAMES, vec_read

from . import expr as E
from .session import XMM_MODES, MemView, Picture, Session, _signed

CHANGED = "bold black on yellow"
CURRENT = "bold white on dark_blue"
DIM = "grey50"
GPR_ORDER = (
    "rax",
    "rbx",
    "rcx",
    "rdx",
    "rsi",
    "rdi",
    "rbp",
    "rsp",
    "r8",
    "r9",
    "r10",
    "r11",
    "r12",
    "r13",
    "r14",
    "r15",
)
_GPR_NUM = {
    "rax": 0,
    "rcx": 1,
    "rdx": 2,
    "rbx": 3,
    "rsp": 4,
    "rbp": 5,
    "rsi": 6,
    "rdi": 7,
    **{f"r{i}": i for i in range(8, 16)},
}
FLAG_NAMES = (("CF", 0x1), ("PF", 0x4), ("ZF", 0x40), ("SF", 0x80), ("OF", 0x800))


# ---- code -------------------------------------------------------------------------
def code_title(s: Session) -> str:
    m = s.machine
    addr = s.code_focus if s.code_focus is not None else m.rip
    insn = m.insns.get(addr)
    r = s.routine_at(addr)
    where = f"{os.path.basename(insn.loc.file)}:{insn.loc.line}" if insn else f"{addr:#x}"
    return f"Code  {where}  in {r[1] if r else '?'}" + ("  (list)" if s.code_focus else "")


def code_panel(s: Session, height: int = 20, scroll: int = 0) -> Text:
    m = s.machine
    addr = s.code_focus if s.code_focus is not None else m.rip
    insn = m.insns.get(addr)
    out = Text(no_wrap=True, overflow="ellipsis")
    if insn is None:
        out.append(f"rip = {m.rip:#x}: no instruction here", style="bold red")
        return out
    fname, line = insn.loc.file, insn.loc.line
    lines = s.image.sources.get(fname, [])
    cur = m.insns.get(m.rip)
    cur_line = cur.loc.line if cur is not None and cur.loc.file == fname else None
    bp_lines: dict[int, bool] = {}
    for bp in s.breakpoints.values():
        bi = m.insns.get(bp.addr)
        if bi is not None and bi.loc.file == fname:
            bp_lines[bi.loc.line] = bp_lines.get(bi.loc.line, False) or bp.enabled
    first = max(1, min(line - height // 3 + scroll, len(lines) - height + 1))
    for ln in range(first, min(len(lines), first + height - 1) + 1):
        text = lines[ln - 1].expandtabs(4)
        a = s._lines.get((fname, ln))
        mark = "▶" if ln == cur_line else " "
        if ln in bp_lines:
            out.append("●" if bp_lines[ln] else "○", style="bold red" if bp_lines[ln] else "red")
        else:
            out.append(" ")
        out.append(mark, style="bold green")
        out.append(f"{a:8x} " if a is not None else " " * 9, style=DIM)
        out.append(f"{ln:4d} ", style=DIM)
        style = CURRENT if ln == cur_line else ""
        _asm_line(out, text, style)
        out.append("\n")
    out.rstrip()
    return out


def _asm_line(out: Text, text: str, base: str) -> None:
    code, sep, comment = text.partition(";")
    stripped = code.strip()
    start = len(out)
    if stripped.endswith(":") or (stripped and ":" in stripped.split()[0]):
        out.append(code, style="bold cyan")
    elif stripped:
        lead = len(code) - len(code.lstrip())
        word, _, rest = code.lstrip().partition(" ")
        out.append(code[:lead])
        out.append(word, style="bold")
        out.append((" " + rest) if _ else "")
    else:
        out.append(code)
    if sep:
        out.append(";" + comment, style="green")
    if base:
        out.stylize(base, start, len(out))


# ---- registers -----------------------------------------------------------------------------
def registers_panel(s: Session, width: int = 88) -> Text:
    """GPRs in hex and signed decimal (two per line when the panel is wide
    enough), rip, decoded RFLAGS, xmm0-15 in the chosen lane format."""
    m = s.machine
    prev_r, prev_x, prev_fl, _ = s.prev_regs
    out = Text(no_wrap=True, overflow="ellipsis")
    per_line = 2 if width >= 86 else 1
    for i, name in enumerate(GPR_ORDER):
        n = _GPR_NUM[name]
        v = m.r[n]
        style = CHANGED if v != prev_r[n] else ""
        out.append(f"{name:>3} ", style="bold")
        out.append(f"{v:016x}", style=style)
        out.append(f" {_signed(v, 64):>20}", style=DIM)
        out.append("\n" if i % per_line == per_line - 1 else "  ")
    out.append("rip ", style="bold")
    out.append(f"{m.rip:016x}", style="")
    out.append(f" <{s.describe(m.rip)}>\n", style="cyan")
    rf = m.rflags
    out.append("flg ", style="bold")
    out.append(f"{rf:#06x} ")
    for name, bit in FLAG_NAMES:
        on = bool(rf & bit)
        was = bool(prev_fl & bit)
        style = CHANGED if on != was else ("bold" if on else DIM)
        out.append(f" {name}={int(on)}", style=style)
    out.append("\n")
    mode = s.xmm_mode
    bits, regs = _vector_view(s)
    name, nbytes = VEC_NAMES[bits], bits // 8
    per_line = 32 if width >= 124 else 16  # bytes of lanes per line (f32: 8 or 4 lanes)
    for k in regs:
        cur, old = vec_read(m.xb, k, nbytes), vec_read(prev_x, k, nbytes)
        out.append(f"{name}{k:<2} ", style="bold")
        for at in range(0, nbytes, per_line):  # the high lanes on the next lines
            if at:
                out.append("\n" + " " * (len(name) + 3))
            for sl in range(at, min(at + per_line, nbytes), 16):
                _xmm_lanes(out, cur[sl : sl + 16], old[sl : sl + 16], mode)
        out.append("\n")
    out.append(
        f"{name} as {mode}  (x or `xmm f32|f64|hex|i32` switches; `xmm xmm|ymm|zmm|auto`)",
        style=DIM,
    )
    return out


def _vector_view(s: Session) -> tuple[int, tuple[int, ...]]:
    """(width in bits, register numbers) the panel shows: xmm0-15, or for a
    program using ymm/zmm the registers it names at that width (all 16/32 of
    them when chosen by hand)."""
    widest, named = s.vec_use
    if s.vec_view == "auto":
        if widest == 128:
            return 128, tuple(range(16))
        return widest, named
    bits = {"xmm": 128, "ymm": 256, "zmm": 512}[s.vec_view]
    return bits, tuple(range(32 if bits == 512 else 16))


def _xmm_lanes(out: Text, cur: bytes, old: bytes, mode: str) -> None:
    if mode == "f64":
        size, fmt, width = 8, "<d", 22
    elif mode == "i32":
        size, fmt, width = 4, "<i", 11
    elif mode == "hex":
        size, fmt, width = 4, None, 8
    else:
        size, fmt, width = 4, "<f", 13
    for j in range(0, 16, size)[::-1] if mode == "hex" else range(0, 16, size):
        a, b = cur[j : j + size], old[j : j + size]
        if fmt is None:
            text = a[::-1].hex()
        else:
            (v,) = struct.unpack(fmt, a)
            text = f"{v:.9g}" if mode == "f32" else f"{v:.17g}" if mode == "f64" else str(v)
        out.append(f"{text:>{width}}", style=CHANGED if a != b else "")
        out.append(" ")


# ---- memory -------------------------------------------------------------------------------------
def view_title(s: Session) -> str:
    if s.panel == "picture" and s.picture is not None:
        return f"Picture  {s.picture.title}"
    v = s.current_view()
    shape = f"{v.type}[{v.rows}x{v.cols}]" if v.rows else v.type
    name = s.describe(v.addr)
    region = s.machine.mem.region(v.addr)
    where = f" <{name}>" if name != f"{v.addr:#x}" else f" ({region})"
    return f"Memory  {v.expr} = {v.addr:#x}{where} as {shape}"


def memory_panel(s: Session, height: int = 16, width: int = 80) -> Text:
    if s.panel == "picture" and s.picture is not None:
        return picture(s.picture, max(8, height), max(20, width))
    v = s.current_view()
    try:
        data = s.machine.mem.read(
            v.addr, min(v.nbytes, _linear_bytes(v, height, width) if v.rows is None else v.nbytes)
        )
    except ValueError:
        return Text(
            f"{v.addr:#x} is not mapped ({s.machine.mem.region(v.addr)} memory)", style="bold red"
        )
    prev = v.prev if v.prev is not None and v.prev_addr == v.addr else None
    if v.rows is not None:
        return _matrix(v, data, prev, height, width)
    return _linear(s, v, data, prev, height, width)


def _linear_bytes(v: MemView, height: int, width: int) -> int:
    return max(16, (height - 1) * _per_row(v, width) * v.elem) + v.top * _per_row(v, width) * v.elem


def _per_row(v: MemView, width: int) -> int:
    if v.type == "hex":
        return 16 if width >= 80 else 8
    cw = _cell_width(v.type) + 1
    n = max(1, (width - 20) // cw)
    return 1 << (n.bit_length() - 1)


def _cell_width(type_name: str) -> int:
    return {
        "f32": 11,
        "f64": 15,
        "i8": 4,
        "u8": 3,
        "i16": 6,
        "u16": 5,
        "i32": 11,
        "u32": 10,
        "i64": 20,
        "u64": 20,
        "byte": 3,
        "word": 5,
        "dword": 10,
        "qword": 18,
    }.get(type_name, 11)


def _fmt(type_name: str, raw: bytes, digits: int = 6) -> str:
    size, kind = E.TYPES[type_name]
    (v,) = struct.unpack(E._STRUCT[(size, kind)], raw)
    if kind == "f":
        return f"{v:.{digits}g}" if type_name in ("f32", "float") or digits < 6 else f"{v:.10g}"
    return str(v)


def _linear(s: Session, v: MemView, data: bytes, prev, height: int, width: int) -> Text:
    out = Text(no_wrap=True, overflow="ellipsis")
    per = _per_row(v, width)
    step = per * v.elem
    first = v.top * step
    for row in range(max(1, height - 1)):
        off = first + row * step
        if off >= len(data):
            break
        addr = v.addr + off
        out.append(f"{addr:012x} ", style=DIM)
        out.append(f"{('+' + hex(off)):>7} ", style=DIM)
        chunk = data[off : off + step]
        if v.type == "hex":
            for k, b in enumerate(chunk):
                old = prev[off + k] if prev is not None and off + k < len(prev) else b
                out.append(f"{b:02x}", style=CHANGED if old != b else "")
                out.append("  " if k == 7 else " ")
            out.append(" " * (3 * (per - len(chunk))))
            out.append("".join(chr(b) if 32 <= b < 127 else "." for b in chunk), style=DIM)
        else:
            w = _cell_width(v.type)
            for k in range(0, len(chunk) - v.elem + 1, v.elem):
                raw = chunk[k : k + v.elem]
                old = prev[off + k : off + k + v.elem] if prev is not None else raw
                out.append(f"{_fmt(v.type, raw):>{w}}", style=CHANGED if old != raw else "")
                out.append(" ")
        out.append("\n")
    out.rstrip()
    return out


def _matrix(v: MemView, data: bytes, prev, height: int, width: int) -> Text:
    out = Text(no_wrap=True, overflow="ellipsis")
    w = _cell_width(v.type)
    digits = 6
    if v.type in ("f32", "f64", "float", "double"):
        for w2, d2 in ((w, 6), (10, 5), (9, 4), (8, 3)):  # fewer digits if all columns fit
            if 6 + v.cols * (w2 + 1) <= width:
                w, digits = w2, d2
                break
    ncols = max(1, (width - 6) // (w + 1))
    top = max(0, min(v.top, v.rows - 1))
    left = max(0, min(v.left, v.cols - 1))
    cols = range(left, min(v.cols, left + ncols))
    out.append("      ", style=DIM)
    for c in cols:
        out.append(f"{c:>{w}} ", style="bold " + DIM)
    out.append("\n")
    nrows = max(1, height - 2)
    for r in range(top, min(v.rows, top + nrows)):
        out.append(f"{r:>5} ", style="bold " + DIM)
        for c in cols:
            off = (r * v.cols + c) * v.elem
            raw = data[off : off + v.elem]
            old = (
                prev[off : off + v.elem] if prev is not None and len(prev) >= off + v.elem else raw
            )
            out.append(f"{_fmt(v.type, raw, digits):>{w}}", style=CHANGED if old != raw else "")
            out.append(" ")
        out.append("\n")
    more = []
    if top > 0 or top + nrows < v.rows:
        more.append(f"rows {top}-{min(v.rows, top + nrows) - 1} of {v.rows}")
    if left > 0 or left + ncols < v.cols:
        more.append(f"cols {left}-{min(v.cols, left + ncols) - 1} of {v.cols}")
    if more:
        out.append("  ".join(more) + "  (scroll: arrows, PgUp/PgDn, Home)", style=DIM)
    out.rstrip()
    return out


# ---- pictures -------------------------------------------------------------------------------------
_SHADES = " .:-=+*#%@"


def picture(p: Picture, height: int = 16, width: int = 60, ascii: bool = False) -> Text:
    """Two pixels per character cell (upper half block: foreground = top pixel,
    background = bottom pixel), downsampled by averaging to fit. ascii=True
    draws one character per pixel from a ramp of shades (for plain text)."""
    rows, cols, vals = p.rows, p.cols, p.values
    fy = max(1, math.ceil(rows / max(1, 2 * (height - 2))))
    fx = max(1, math.ceil(cols / max(1, width - 2)))
    f = max(fx, fy)
    H, W = math.ceil(rows / f), math.ceil(cols / f)
    grid = []
    finite = [x for x in vals if x == x and abs(x) != math.inf]
    for y in range(H):
        row = []
        for x in range(W):
            acc = [
                vals[yy * cols + xx]
                for yy in range(y * f, min(rows, (y + 1) * f))
                for xx in range(x * f, min(cols, (x + 1) * f))
            ]
            acc = [a for a in acc if a == a and abs(a) != math.inf]
            row.append(sum(acc) / len(acc) if acc else 0.0)
        grid.append(row)
    lo = min(finite) if finite else 0.0
    hi = max(finite) if finite else 1.0
    scale = (255.0 if hi > 1.5 else 1.0) if p.kind == "digit" else (max(abs(lo), abs(hi)) or 1.0)

    def color(x: float) -> str:
        return _grey(x / scale) if p.kind == "digit" else _diverging(x / scale)

    out = Text(no_wrap=True)
    if ascii:
        for y in range(H):
            for x in range(W):
                v = grid[y][x] / scale
                if p.kind != "digit":
                    v = abs(v)
                    ch = _SHADES[min(9, int(v * 9.99))]
                    out.append(ch + ch, style="red" if grid[y][x] > 0 else "blue")
                else:
                    ch = _SHADES[min(9, max(0, int(v * 9.99)))]
                    out.append(ch + ch)
            out.append("\n")
    for y in range(0, H, 2) if not ascii else ():
        for x in range(W):
            top = color(grid[y][x])
            bot = color(grid[y + 1][x]) if y + 1 < H else "black"
            out.append("▀", style=f"{top} on {bot}")
        out.append("\n")
    cap = f"{rows}x{cols}" + (f" shown {H}x{W} (each pixel averages {f}x{f})" if f > 1 else "")
    cap += f"   min {lo:.4g}  max {hi:.4g}"
    if p.kind != "digit":
        cap += "   blue < 0 < red"
    out.append(cap, style=DIM)
    if p.caption:
        out.append("\n" + p.caption, style="bold")
    return out


def _grey(x: float) -> str:
    g = int(max(0.0, min(1.0, x)) * 255)
    return f"rgb({g},{g},{g})"


def _diverging(x: float) -> str:
    x = max(-1.0, min(1.0, x))
    if x >= 0:
        k = int(255 * (1 - x))
        return f"rgb(255,{k},{k})"
    k = int(255 * (1 + x))
    return f"rgb({k},{k},255)"


# ---- stack, output, status -------------------------------------------------------------------------
def stack_panel(s: Session, height: int = 12) -> Text:
    m = s.machine
    out = Text(no_wrap=True, overflow="ellipsis")
    frames = s.frames()
    for f in frames[: max(1, height // 2)]:
        out.append(f"#{f.level} ", style="bold")
        out.append(f"{f.routine}", style="bold cyan")
        out.append(f"  {s.loc_text(f.pc)}\n", style=DIM)
    sp = m.r[4]
    slots = {f.slot for f in frames if f.slot is not None}
    left = max(1, height - len(out.plain.splitlines()) - 1)
    out.append("stack\n", style="bold " + DIM)
    for k in range(left):
        a = sp + 8 * k
        try:
            q = int.from_bytes(m.mem.read(a, 8), "little")
        except ValueError:
            break
        out.append(f"rsp+{8 * k:<4x}", style=DIM)
        out.append(f"{q:016x}")
        if a in slots:
            out.append(f"  ret to {s.describe(q)}", style="magenta")
        elif q in m.insns or s.describe(q) != f"{q:#x}":
            out.append(f"  {s.describe(q)}", style=DIM)
        out.append("\n")
    out.rstrip()
    return out


def output_panel(s: Session, height: int = 6) -> Text:
    lines = s.output.text().splitlines()[-max(1, height) :]
    return Text(
        "\n".join(lines) if lines else "(no output yet)",
        style="" if lines else DIM,
        no_wrap=True,
        overflow="ellipsis",
    )


def status_text(s: Session) -> Text:
    m, h = s.machine, s.history
    out = Text(no_wrap=True, overflow="ellipsis")
    out.append(f" {m.icount:,} insns ", style="bold reverse")
    kind = s.stop.kind
    style = {
        "fault": "bold white on red",
        "exit": "bold black on green",
        "breakpoint": "bold black on yellow",
        "watchpoint": "bold black on yellow",
        "interrupt": "bold white on magenta",
    }.get(kind, "bold")
    out.append(f" {kind} ", style=style)
    out.append(f" {s.mode_text()} ", style="italic")
    out.append(f" history {h.depth:,} back, {h.used / 2**20:.0f} MiB ", style=DIM)
    out.append(" ? help  : command  q quit", style=DIM)
    return out


# ---- floats -------------------------------------------------------------------------------------------
def float_bits(value: float, kind: str) -> Text:
    """A float's bits and IEEE 754 fields."""
    if kind == "f32":
        (bits,) = struct.unpack("<I", struct.pack("<f", value))
        nexp, nfrac, bias, width = 8, 23, 127, 32
    else:
        (bits,) = struct.unpack("<Q", struct.pack("<d", value))
        nexp, nfrac, bias, width = 11, 52, 1023, 64
    sign = bits >> (width - 1)
    exp = (bits >> nfrac) & ((1 << nexp) - 1)
    frac = bits & ((1 << nfrac) - 1)
    out = Text()
    shown = f"{value:.9g}" if kind == "f32" else repr(value)
    out.append(f"{kind} {shown} = {bits:#0{width // 4 + 2}x}\n", style="bold")
    out.append("sign ", style=DIM)
    out.append(f"{sign}", style="bold red")
    out.append("  exponent ", style=DIM)
    out.append(f"{exp:0{nexp}b}", style="bold green")
    out.append("  fraction ", style=DIM)
    out.append(f"{frac:0{nfrac}b}\n", style="bold blue")
    if exp == (1 << nexp) - 1:
        what = (
            "infinity"
            if frac == 0
            else ("quiet NaN" if frac >> (nfrac - 1) else "signalling NaN") + f", payload {frac:#x}"
        )
        out.append(f"{'-' if sign else '+'}{what}")
    elif exp == 0:
        if frac == 0:
            out.append(f"{'-' if sign else '+'}zero")
        else:
            out.append(
                f"subnormal: {'-' if sign else '+'}0.{frac:0{nfrac}b}... = "
                f"{'-' if sign else '+'}{frac / (1 << nfrac):.9g} x 2^{1 - bias}"
            )
    else:
        mant = 1 + frac / (1 << nfrac)
        out.append(
            f"normal: {'-' if sign else '+'}{mant:.9g} x 2^({exp} - {bias}) = "
            f"{'-' if sign else '+'}{mant:.9g} x 2^{exp - bias}"
        )
    return out


__all__ = [
    "XMM_MODES",
    "code_panel",
    "code_title",
    "float_bits",
    "memory_panel",
    "output_panel",
    "picture",
    "registers_panel",
    "stack_panel",
    "status_text",
    "view_title",
]
