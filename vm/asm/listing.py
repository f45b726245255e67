"""`mnist-vm asm`: an assembler listing of a linked image.

For every source line that produced something: its address, the first bytes
of data it emitted (instructions have no machine bytes in this machine: an
instruction occupies one 4-byte slot of .text), the file:line and the source
text. Then the symbol table and the section sizes.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from itertools import chain

from ..image import Image, Insn, Row


def _section_bytes(image: Image, addr: int, size: int, section: str) -> bytes:
    sec = image.sections[section]
    if section == ".bss" or not sec.data:
        return b""
    off = addr - sec.addr
    return bytes(sec.data[off : off + min(size, 8)])


def listing(image: Image) -> str:
    return "\n".join(listing_lines(image))


def listing_lines(image: Image) -> Iterator[str]:
    """The listing one line at a time (a large program's listing is never one string)."""
    by_file: dict[str, list[Row | Insn]] = {f: [] for f in image.sources}  # in reading order
    every: Iterable[Row | Insn] = chain(image.rows, image.insns)
    for row in every:
        if isinstance(row, Insn) and row.host is not None:
            continue  # a built-in routine: no source line
        by_file.setdefault(row.loc.file, []).append(row)
    for file, rows in by_file.items():
        if not rows:
            continue
        yield f"; ---- {file} " + "-" * max(0, 60 - len(file))
        yield (
            f";{'address':>8}  {'assembled as (instruction or first bytes)':<34}"
            f" {'line':>5}  source"
        )
        rows.sort(key=lambda r: (r.loc.line, r.addr))
        last_line = None
        for row in rows:
            if isinstance(row, Insn):
                what = row.text()
            elif row.size == 0:
                continue
            else:
                data = _section_bytes(image, row.addr, row.size, row.section)
                what = data.hex(" ") + (" ..." if row.size > len(data) and data else "")
                what = what or f"({row.size:,} bytes reserved)"
            text = row.loc.text.rstrip().expandtabs(4) if row.loc.line != last_line else ""
            last_line = row.loc.line
            if len(what) > 34:
                what = what[:31] + "..."
            yield f"{row.addr:08x}  {what:<34} {row.loc.line:5}  {text}"
        yield ""
    yield "; ---- symbols " + "-" * 50
    syms = sorted(image.symbols.values(), key=lambda s: (s.section is None, s.value, s.name))
    for s in syms:
        where = s.section or "equ"
        flag = "global" if s.is_global else ""
        size = f"{s.size:>10,}" if s.size is not None else " " * 10
        yield f"{s.value:016x}  {where:<8} {size}  {flag:<6}  {s.name}"
    yield ""
    yield "; ---- sections " + "-" * 49
    for sec in image.sections.values():
        extra = ""
        if sec.name == ".text":
            extra = f"  ({len(image.insns)} instructions)"
        yield f"{sec.name:<8} {sec.addr:#010x}  {sec.size:>12,} bytes  {sec.perms}{extra}"
    yield f"entry    {image.entry:#010x}"
    yield from image.warnings
