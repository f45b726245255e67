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
import textwrap

from rich.text import Text

from vm.isa.operands import GPR64, GPR_NUM, VEC_NAMES, vec_read

from . import expr as E
from .model import _signed
from .session import XMM_MODES, MemView, Picture, Session

CHANGED = "bold black on yellow"
CURRENT = "bold white on dark_blue"
DIM = "grey50"
# the order gdb and most debuggers show them in (not the encoding order)
GPR_ORDER = ("rax", "rbx", "rcx", "rdx", "rsi", "rdi", "rbp", "rsp", *GPR64[8:])
FLAG_NAMES = (("CF", 0x1), ("PF", 0x4), ("ZF", 0x40), ("SF", 0x80), ("OF", 0x800))


# ---- code -------------------------------------------------------------------------
def code_title(s: Session) -> str:
    m = s.machine
    addr = s.code_focus if s.code_focus is not None else m.rip
    insn = m.insns.get(addr)
    r = s.routine_at(addr)
    where = f"{os.path.basename(insn.loc.file)}:{insn.loc.line}" if insn else f"{addr:#x}"
    # the routine first: on a narrow panel the title's end is cut, and the
    # line number is in the gutter anyway
    return f"Code  {r[1] if r else '?'}  {where}" + ("  (list)" if s.code_focus else "")


def code_panel(s: Session, height: int = 20, scroll: int = 0, width: int = 100) -> Text:
    """Source around the current line (or the `list` focus), with breakpoints,
    the current line marked and each line's address (left out when narrow:
    the registers panel's rip line has it)."""
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
        if width >= 50:
            out.append(f"{a:8x} " if a is not None else " " * 9, style=DIM)
        out.append(f"{ln:4d} ", style=DIM)
        style = CURRENT if ln == cur_line else ""
        _asm_line(out, text, style)
        if ln == cur_line and s.code_focus is None:
            note = s.annotate()
            if note:
                out.append(f"   ◂ {note}", style="magenta")
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
def registers_panel(s: Session, width: int = 88, height: int = 40) -> Text:
    """rip and RFLAGS first (always visible), then the GPRs in as many columns
    as the width holds (with signed decimal when there is room), then as many
    xmm registers as the height leaves, in the chosen lane format."""
    m = s.machine
    prev_r, prev_x, prev_fl, _ = s.prev_regs
    out = Text(no_wrap=True, overflow="ellipsis")
    out.append("rip ", style="bold")
    out.append(f"{m.rip:016x}", style="")
    out.append(f" <{s.describe(m.rip)}>\n", style="cyan")
    _flags_line(out, m.rflags, prev_fl, wide=width >= 48, mxcsr=_mxcsr_text(m))
    hex_cols, dec_cols = (width + 2) // 22, (width + 2) // 43
    decimal = dec_cols >= 2 or (dec_cols == 1 and hex_cols < 2)
    per_line = max(1, dec_cols if decimal else hex_cols)
    for i, name in enumerate(GPR_ORDER):
        n = GPR_NUM[name]
        v = m.r[n]
        out.append(f"{name:>3} ", style="bold")
        out.append(f"{v:016x}", style=CHANGED if v != prev_r[n] else "")
        if decimal:
            out.append(f" {_signed(v, 64):>20}", style=DIM)
        last = i == len(GPR_ORDER) - 1
        out.append("\n" if i % per_line == per_line - 1 or last else "  ")
    used = 2 + (len(GPR_ORDER) + per_line - 1) // per_line
    room = height - used
    if room < 2:
        out.rstrip()
        return out
    mode = s.xmm_mode
    bits, regs = _vector_view(s)
    name, nbytes = VEC_NAMES[bits], bits // 8
    # bytes of lanes per line: 32 (f32: 8 lanes) when they stay readable, else 16
    per_line = 32 if width >= 124 or (mode != "hex" and width >= 72) else 16
    lines_each = (nbytes + per_line - 1) // per_line
    lane_room = (width - len(name) - 3) // (min(per_line, nbytes) // 16)
    shown = 0
    for k in regs:
        if (shown + 1) * lines_each > room - 1:
            break
        cur, old = vec_read(m.xb, k, nbytes), vec_read(prev_x, k, nbytes)
        out.append(f"{name}{k:<2} ", style="bold")
        for at in range(0, nbytes, per_line):  # the high lanes on the next lines
            if at:
                out.append("\n" + " " * (len(name) + 3))
            for sl in range(at, min(at + per_line, nbytes), 16):
                _xmm_lanes(out, cur[sl : sl + 16], old[sl : sl + 16], mode, lane_room)
        out.append("\n")
        shown += 1
    more = f"  +{len(regs) - shown} more: info registers" if shown < len(regs) else ""
    out.append(f"{name} as {mode}{more}  x switches, `xmm ymm|zmm|auto` widens", style=DIM)
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


def _flags_line(out: Text, rf: int, prev: int, wide: bool, mxcsr: str = "") -> None:
    out.append("flg ", style="bold")
    out.append(f"{rf:#06x} ")
    for name, bit in FLAG_NAMES:
        on = bool(rf & bit)
        was = bool(prev & bit)
        style = CHANGED if on != was else ("bold" if on else DIM)
        out.append(f" {name}={int(on)}" if wide else f" {name[0]}{int(on)}", style=style)
    if mxcsr:
        out.append("  mxcsr ", style="bold")
        out.append(mxcsr)
    out.append("\n")


_ROUNDING = ("nearest", "down", "up", "zero")


def _mxcsr_text(m) -> str:
    """MXCSR, its rounding mode and raised flags, for a program that uses it
    (MXCSR-exact mode; in any other program it is 0x1F80 for good)."""
    if not m.mxcsr_exact:
        return ""
    v = m.mxcsr
    raised = [name for i, name in enumerate(("IE", "DE", "ZE", "OE", "UE", "PE")) if v >> i & 1]
    extra = [w for w, bit in (("DAZ", 6), ("FTZ", 15)) if v >> bit & 1]
    return " ".join([f"{v:#06x}", f"RC={_ROUNDING[v >> 13 & 3]}", *extra, *raised])


def _xmm_lanes(out: Text, cur: bytes, old: bytes, mode: str, room: int = 60) -> None:
    """Lane 0 first in every format (as the f32/i32 lists read), each lane cut
    to the room there is: f32 with up to 9 significant digits, fewer when narrow."""
    size = 8 if mode == "f64" else 4
    lanes = 16 // size
    width = max(6, room // lanes - 1)
    for j in range(0, 16, size):
        a, b = cur[j : j + size], old[j : j + size]
        if mode == "hex":
            text = a[::-1].hex()
        else:
            (v,) = struct.unpack({"f64": "<d", "i32": "<i"}.get(mode, "<f"), a)
            text = str(v) if mode == "i32" else _short_float(v, 17 if mode == "f64" else 9, width)
        out.append(f"{text:>{width}}", style=CHANGED if a != b else "")
        out.append(" ")


def _short_float(v: float, digits: int, width: int) -> str:
    for d in range(digits, 0, -1):
        text = f"{v:.{d}g}"
        if len(text) <= width:
            return text
    return text


# ---- memory -------------------------------------------------------------------------------------
def view_title(s: Session) -> str:
    if s.panel == "picture" and s.picture is not None:
        p = s.picture
        # the caption's first line (a label, the verdict) in the title too: a
        # short panel may have no row left for it
        note = p.caption.splitlines()[0] if p.caption else ""
        return f"Picture  {p.title}" + (f": {note}" if note else "")
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
    want = min(v.nbytes, _linear_bytes(v, height, width) if v.rows is None else v.nbytes)
    ext = s.extent(v.addr) if v.rows is None and v.expr in s.image.symbols else None
    end_note = None
    if ext is not None and v.addr + want > ext[1] + ext[2]:
        want = max(1, ext[1] + ext[2] - v.addr)
        end_note = f"(end of {ext[0]}: {ext[2]:,} bytes)"
    mem = s.machine.mem
    mapped = mem.extent(v.addr, want) if v.shape is None else want
    if 0 < mapped < want:  # e.g. rsp near the top of the stack: show what there is
        want = mapped
        end_note = f"(the {mem.region(v.addr)} memory ends at {v.addr + mapped:#x})"
    try:
        data = s.machine.mem.read(v.addr, want)
    except ValueError:
        return Text(
            f"{v.addr:#x} is not mapped ({s.machine.mem.region(v.addr)} memory)", style="bold red"
        )
    prev = v.prev if v.prev is not None and v.prev_addr == v.addr else None
    if v.shape is not None:
        return _matrix(v, v.shape, data, prev, height, width)
    out = _linear(s, v, data, prev, height, width)
    if end_note:
        out.append("\n" + end_note, style=DIM)
    return out


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


def _matrix(v: MemView, shape: tuple[int, int], data: bytes, prev, height: int, width: int) -> Text:
    nrow, ncol = shape
    out = Text(no_wrap=True, overflow="ellipsis")
    w = _cell_width(v.type)
    digits = 6
    if v.type in ("f32", "f64", "float", "double"):
        for w2, d2 in ((w, 6), (10, 5), (9, 4), (8, 3)):  # fewer digits if all columns fit
            if 6 + ncol * (w2 + 1) <= width:
                w, digits = w2, d2
                break
    ncols = max(1, (width - 6) // (w + 1))
    top = max(0, min(v.top, nrow - 1))
    left = max(0, min(v.left, ncol - 1))
    cols = range(left, min(ncol, left + ncols))
    out.append("      ", style=DIM)
    for c in cols:
        out.append(f"{c:>{w}} ", style="bold " + DIM)
    out.append("\n")
    nrows = max(1, height - 2)
    for r in range(top, min(nrow, top + nrows)):
        out.append(f"{r:>5} ", style="bold " + DIM)
        for c in cols:
            off = (r * ncol + c) * v.elem
            raw = data[off : off + v.elem]
            old = (
                prev[off : off + v.elem] if prev is not None and len(prev) >= off + v.elem else raw
            )
            out.append(f"{_fmt(v.type, raw, digits):>{w}}", style=CHANGED if old != raw else "")
            out.append(" ")
        out.append("\n")
    more = []
    if top > 0 or top + nrows < nrow:
        more.append(f"rows {top}-{min(nrow, top + nrows) - 1} of {nrow}")
    if left > 0 or left + ncols < ncol:
        more.append(f"cols {left}-{min(ncol, left + ncols) - 1} of {ncol}")
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

    def factor(rows: int, cols: int) -> int:
        fy = max(1, math.ceil(rows / max(1, 2 * (height - 2))))
        fx = max(1, math.ceil(cols / max(1, width - 2)))
        return max(fx, fy)

    f = factor(rows, cols)
    cropped = ""
    if p.kind == "digit" and f > 1:
        # a small panel: leave out the blank border (MNIST digits sit in the
        # middle 20x20) rather than average away the strokes
        box = _ink_box(vals, rows, cols)
        if box is not None:
            r0, r1, c0, c1 = box
            if factor(r1 - r0, c1 - c0) < f:
                vals = [vals[r * cols + c] for r in range(r0, r1) for c in range(c0, c1)]
                cropped = f" (rows {r0}-{r1 - 1}, cols {c0}-{c1 - 1}: the rest is blank)"
                rows, cols = r1 - r0, c1 - c0
                f = factor(rows, cols)
    if p.bars:  # leave the bar chart room beside the picture (bars of 4 or more)
        need = max(len(label) for label, _, _ in p.bars) + 14
        while width - math.ceil(cols / f) - 3 < need and f < cols:
            f += 1
    fy = fx = f
    zoom = 1
    if p.kind != "digit" and not ascii:
        # a matrix fills the panel: its rows and columns are averaged apart (a
        # cell need not stay square), and a small one is drawn larger
        fy = max(1, math.ceil(rows / max(1, 2 * (height - 2))))
        fx = max(1, math.ceil(cols / max(1, width - 2)))
        if fy == fx == 1:
            zoom = max(1, min((width - 2) // cols, 2 * (height - 2) // rows, 8))
    H, W = math.ceil(rows / fy), math.ceil(cols / fx)
    grid = []
    finite = [x for x in vals if x == x and abs(x) != math.inf]
    for y in range(H):
        row = []
        for x in range(W):
            acc = [
                vals[yy * cols + xx]
                for yy in range(y * fy, min(rows, (y + 1) * fy))
                for xx in range(x * fx, min(cols, (x + 1) * fx))
            ]
            acc = [a for a in acc if a == a and abs(a) != math.inf]
            row.append(sum(acc) / len(acc) if acc else 0.0)
        grid.append(row)
    wide = 1  # a tall matrix squeezed in height keeps its columns apart and wide
    if p.kind != "digit" and not ascii and fy > 1 and fx == 1:
        wide = max(1, min(8, (width - 2) // W))
    if zoom > 1 or wide > 1:
        sy, sx = zoom, zoom * wide
        grid = [[v for v in row for _ in range(sx)] for row in grid for _ in range(sy)]
        H, W = H * sy, W * sx
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
            if y >= 9:
                _bar(out, p, y - 9, max(30, width - 2 * W))
            out.append("\n")
    lines = (H + 1) // 2
    first_bar = 2 if lines >= len(p.bars) + 2 else 0  # bars beside the picture, all ten
    for i in range(max(lines, first_bar + len(p.bars)) if not ascii else 0):
        y = 2 * i
        for x in range(W) if y < H else ():
            top = color(grid[y][x])
            bot = color(grid[y + 1][x]) if y + 1 < H else "black"
            out.append("▀", style=f"{top} on {bot}")
        if y >= H:
            out.append(" " * W)
        _bar(out, p, i - first_bar, width - W - 3)
        out.append("\n")
    cap = f"{p.rows}x{p.cols}{cropped}" if cropped else f"{rows}x{cols}"
    if fy > 1 or fx > 1:
        cap += f" shown {H}x{W // wide} (each pixel averages {fy}x{fx})"
    elif zoom > 1:
        cap += f" (each value drawn {zoom}x{zoom} pixels)"
    cap += f"   min {lo:.4g}  max {hi:.4g}"
    if p.kind != "digit":
        cap += "   blue < 0 < red"
    # the caption (a label, a verdict) first and wrapped, so a short panel cuts
    # only the dimmed details after it
    for line in p.caption.splitlines():
        out.append("\n".join(textwrap.wrap(line, max(20, width))) + "\n", style="bold")
    out.append("\n".join(textwrap.wrap(cap, max(20, width))), style=DIM)
    return out


def _ink_box(vals: list[float], rows: int, cols: int) -> tuple[int, int, int, int] | None:
    """Rows r0:r1 and columns c0:c1 holding every non-zero pixel (None if all are 0)."""
    ink = [(i // cols, i % cols) for i, v in enumerate(vals[: rows * cols]) if v != 0]
    if not ink:
        return None
    ys, xs = [y for y, _ in ink], [x for _, x in ink]
    return min(ys), max(ys) + 1, min(xs), max(xs) + 1


def _bar(out: Text, p: Picture, k: int, room: int) -> None:
    """Bar k of a picture's bar chart (show prediction), to the right of its row."""
    if not 0 <= k < len(p.bars):
        return
    label, value, style = p.bars[k]
    if room < len(label) + 12:  # "  label " + a bar of 2 + " 100.0%"
        return
    n = max(0, room - len(label) - 10)
    filled = int(round(value * n)) if value == value else 0
    out.append(f"  {label} ", style=style or "")
    out.append("█" * filled + "·" * (n - filled), style=style or DIM)
    out.append(f" {value:6.1%}" if value == value else "    nan", style=style or "")


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
    for f in frames[: max(1, height // 2 if height >= 4 else 1)]:
        out.append(f"#{f.level} ", style="bold")
        out.append(f"{f.routine}", style="bold cyan")
        out.append(f"  {s.loc_text(f.pc)}\n", style=DIM)
    sp = m.r[4]
    slots = {f.slot for f in frames if f.slot is not None}
    left = max(1, height - len(out.plain.splitlines()))
    if height >= 6:
        out.append("stack\n", style="bold " + DIM)
        left -= 1
    for k in range(left):
        a = sp + 8 * k
        try:
            q = int.from_bytes(m.mem.read(a, 8), "little")
        except ValueError:
            break
        out.append(f"rsp+{8 * k:#x}".ljust(9), style=DIM)
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
    cmd = s.last_command
    label = cmd if kind in ("step", "finish", "start", cmd) else f"{cmd}: {kind}"
    out.append(f" {label} ", style=style)
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
