"""The string instructions: movs, stos, lods, scas, cmps (b/w/d/q), alone or
with a rep/repe/repne prefix.

A prefixed instruction is its own table entry (`rep movsb`, `repne scasb`):
its meaning is a loop, not a modifier. Each runs as ONE step of the machine,
however many elements it moves: Machine.string_op calls `execute` below,
which works on whole blocks (a `rep movsb` of a megabyte is one slice copy),
and counts as one instruction in icount, in the debugger's step and in
step limits, as the CPU retires it as one instruction.

Semantics, as the CPU's: the direction flag (machine.r[DF]) chooses up or
down; rcx counts the elements left (a rep with rcx = 0 does nothing and
leaves the flags); repe/repne also stop after the compare that ends them,
whose flags remain (those of cmp acc, [rdi] for scas, cmp [rsi], [rdi] for
cmps). Overlapping moves give the element-by-element result (a `rep movsb`
with rdi = rsi + 1 replicates the first byte).

Faults: the elements before the first inaccessible one are done, rsi, rdi
and rcx say how far it got (as the CPU leaves them, so the instruction
could be restarted), and the fault names the first bad element's address.
"""

from __future__ import annotations

import struct

from . import flags as F
from .spec import insn

M64 = (1 << 64) - 1
SIZES = {"b": 1, "w": 2, "d": 4, "q": 8}
_FMT = {1: "<B", 2: "<H", 4: "<I", 8: "<Q"}
_ACC = {1: 0xFF, 2: 0xFFFF, 4: 0xFFFFFFFF, 8: M64}


def semantics(op: str, size: int, rep: str) -> str:
    """The template: one machine call, then the fault it may have met."""
    return (
        f"c.string_op('{op}', {size}, '{rep}')\nif c.sfault:\n    FAULT(c.sfault[0], c.sfault[1])"
    )


_WHAT = {
    "movs": "Copy the {unit} at [rsi] to [rdi]",
    "stos": "Store {acc} at [rdi]",
    "lods": "Load the {unit} at [rsi] into {acc}",
    "scas": "Compare {acc} with the {unit} at [rdi] (flags as cmp {acc}, [rdi])",
    "cmps": "Compare the {unit} at [rsi] with the one at [rdi] (flags as cmp [rsi], [rdi])",
}
_MOVED = {"movs": "rsi and rdi", "stos": "rdi", "lods": "rsi", "scas": "rdi", "cmps": "rsi and rdi"}
_UNIT = {1: "byte", 2: "word", 4: "dword", 8: "qword"}
_ACCNAME = {1: "al", 2: "ax", 4: "eax", 8: "rax"}
_NOTE = (
    "One step of the machine however many elements it handles (icount, the debugger's step). "
    "On a fault the elements before the bad one are done and rsi/rdi/rcx show the progress."
)


def _doc(op: str, size: int, rep: str) -> str:
    what = _WHAT[op].format(unit=_UNIT[size], acc=_ACCNAME[size])
    step = f"{_MOVED[op]} move by {size} (down if DF = 1)"
    if not rep:
        return f"{what}; {step}."
    until = {
        "rep": "",
        "repe": ", stopping early at the first difference (ZF = 0)",
        "repne": ", stopping early at the first match (ZF = 1)",
    }[rep]
    return f"{what}, rcx times{until}; {step} each time, rcx counts down."


def _define(name: str, op: str, size: int, rep: str, aliases: tuple[str, ...] = ()) -> None:
    compares = op in ("scas", "cmps")
    insn(
        name,
        "",
        semantics(op, size, rep),
        _doc(op, size, rep),
        group="string",
        aliases=aliases,
        implicit={
            "movs": "rsi, rdi",
            "stos": f"{_ACCNAME[size]}, rdi",
            "lods": f"{_ACCNAME[size]}, rsi",
            "scas": f"{_ACCNAME[size]}, rdi",
            "cmps": "rsi, rdi",
        }[op]
        + (", rcx" if rep else ""),
        flags_written="CPZSO" if compares else "",
        notes=_NOTE if rep else "",
    )


for _op in ("movs", "stos", "lods", "scas", "cmps"):
    for _sfx, _size in SIZES.items():
        _name = _op + _sfx
        if _name != "movsd":  # movsd is also SSE's scalar move: sse.py adds this form
            _define(_name, _op, _size, "")
        if _op in ("scas", "cmps"):
            _define(f"repe {_name}", _op, _size, "repe", (f"repz {_name}", f"rep {_name}"))
            _define(f"repne {_name}", _op, _size, "repne", (f"repnz {_name}",))
        else:
            _define(f"rep {_name}", _op, _size, "rep")


# ---- execution --------------------------------------------------------------------


def _run_length(layout, p: int, step: int, size: int, write: bool) -> int:
    """How many consecutive elements from p (moving by step) are accessible."""
    lo = layout.wlo if write else layout.rlo
    for a, b in ((lo, layout.hi), (layout.slo, layout.top)):
        if a <= p and p + size <= b:
            return (b - p) // size if step > 0 else (p - a) // size + 1
    return 0


def _block(p: int, step: int, n: int) -> int:
    """The lowest address of n elements starting at p and moving by step."""
    return p if step > 0 else p + (n - 1) * step


def _first_stop(
    buf, a: int, b: int | None, step: int, size: int, n: int, acc: int, until_equal: bool
):
    """The index (< n) of the first element that ends a repe/repne compare, or
    None. Elements: at a (and b for cmps; acc for scas), moving by step."""
    if size == 1 and step > 0 and b is None:
        pat = bytes([acc])
        if until_equal:
            i = buf.find(pat, a, a + n)
            return None if i < 0 else i - a
        rest = len(bytes(buf[a : a + n]).lstrip(pat))
        return None if rest == 0 else n - rest
    if step > 0 and b is not None and not until_equal:
        # memcmp: skip equal chunks at C speed, then look inside the first unequal one
        chunk = 4096 // size * size
        i = 0
        while i < n:
            k = min(chunk // size, n - i)
            if buf[a + i * size : a + (i + k) * size] != buf[b + i * size : b + (i + k) * size]:
                break
            i += k
        else:
            return None
        start = i
    else:
        start = 0
    fmt = _FMT[size]
    for i in range(start, n):
        x = struct.unpack_from(fmt, buf, a + i * step)[0]
        y = acc if b is None else struct.unpack_from(fmt, buf, b + i * step)[0]
        if (x == y) == until_equal:
            return i
    return None


def execute(m, op: str, size: int, rep: str) -> tuple[str, str] | None:
    """Run one string instruction on machine m. Returns None, or the
    (kind, message) of the fault that stopped it (the caller raises it)."""
    r, buf = m.r, m.mem.buf
    layout = m.mem.layout()
    count = r[1] if rep else 1
    if count == 0:
        return None
    step = -size if r[F.DF] else size
    rsi, rdi = r[6], r[7]
    reads_si = op in ("movs", "lods", "cmps")
    uses_di = op in ("movs", "stos", "scas", "cmps")
    writes_di = op in ("movs", "stos")
    n = count
    if reads_si:
        n = min(n, _run_length(layout, rsi, step, size, False))
    if uses_di:
        n = min(n, _run_length(layout, rdi, step, size, writes_di))
    total = n * size
    done = n  # elements completed
    if n:
        if op == "movs":
            s_lo, d_lo = _block(rsi, step, n), _block(rdi, step, n)
            m.wlog(d_lo, total)
            dist = (rdi - rsi) if step > 0 else (rsi - rdi)
            if 0 < dist < total:  # each element reads what an earlier one wrote
                if size == 1 and step > 0:
                    for k in range(0, total, dist):
                        j = min(dist, total - k)
                        buf[rdi + k : rdi + k + j] = buf[rsi + k : rsi + k + j]
                else:
                    for i in range(n):
                        o = i * step
                        buf[rdi + o : rdi + o + size] = buf[rsi + o : rsi + o + size]
            else:
                buf[d_lo : d_lo + total] = buf[s_lo : s_lo + total]
        elif op == "stos":
            d_lo = _block(rdi, step, n)
            m.wlog(d_lo, total)
            buf[d_lo : d_lo + total] = (r[0] & _ACC[size]).to_bytes(size, "little") * n
        elif op == "lods":
            v = struct.unpack_from(_FMT[size], buf, rsi + (n - 1) * step)[0]
            r[0] = v if size >= 4 else (r[0] & ~_ACC[size]) | v
        else:
            acc = r[0] & _ACC[size]
            b = rdi if op == "cmps" else None
            a = rsi if op == "cmps" else rdi
            stop = None
            if rep:
                stop = _first_stop(buf, a, b, step, size, n, acc, rep == "repne")
            last = n - 1 if stop is None else stop
            done = last + 1
            fmt = _FMT[size]
            x = struct.unpack_from(fmt, buf, a + last * step)[0]
            y = acc if b is None else struct.unpack_from(fmt, buf, b + last * step)[0]
            if op == "scas":
                x, y = y, x  # cmp acc, [rdi]
            m.fl = (F.SUB, 8 * size, x, y, x - y)
    moved = done * step
    if reads_si:
        r[6] = (rsi + moved) & M64
    if uses_di:
        r[7] = (rdi + moved) & M64
    if rep:
        r[1] = (count - done) & M64
    if done < n or n == count:
        return None
    # the element after the last good one is not accessible
    at_si, at_di = (rsi + moved) & M64, (rdi + moved) & M64
    if reads_si and _run_length(layout, at_si, step, size, False) == 0:
        return m.access_fault(at_si, size, "read")
    return m.access_fault(at_di, size, "write" if writes_di else "read")
