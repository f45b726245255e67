"""`mnist-vm asm`: an assembler listing of a linked image.

For every source line that produced something: its address, the first bytes
of data it emitted (instructions have no machine bytes in this machine: an
instruction occupies one 4-byte slot of .text), the file:line and the source
text. Then the symbol table and the section sizes.
"""

from __future__ import annotations

from ..image import Image


def _section_bytes(image: Image, addr: int, size: int, section: str) -> bytes:
    sec = image.sections[section]
    if section == ".bss" or not sec.data:
        return b""
    off = addr - sec.addr
    return bytes(sec.data[off : off + min(size, 8)])


def listing(image: Image) -> str:
    out: list[str] = []
    by_file: dict[str, list] = {}
    for row in image.rows:
        by_file.setdefault(row.loc.file, []).append(row)
    for file, rows in by_file.items():
        out.append(f"; ---- {file} " + "-" * max(0, 60 - len(file)))
        out.append(
            f";{'address':>8}  {'assembled as (instruction or first bytes)':<34}"
            f" {'line':>5}  source"
        )
        rows.sort(key=lambda r: (r.loc.line, r.addr))
        last_line = None
        for row in rows:
            if row.insn is None and row.size == 0:
                continue
            if row.insn is not None:
                what = row.insn.text()
            else:
                data = _section_bytes(image, row.addr, row.size, row.section)
                what = data.hex(" ") + (" ..." if row.size > len(data) and data else "")
                what = what or f"({row.size:,} bytes reserved)"
            text = row.loc.text.rstrip().expandtabs(4) if row.loc.line != last_line else ""
            last_line = row.loc.line
            if len(what) > 34:
                what = what[:31] + "..."
            out.append(f"{row.addr:08x}  {what:<34} {row.loc.line:5}  {text}")
        out.append("")
    out.append("; ---- symbols " + "-" * 50)
    syms = sorted(image.symbols.values(), key=lambda s: (s.section is None, s.value, s.name))
    for s in syms:
        where = s.section or "equ"
        flag = "global" if s.is_global else ""
        size = f"{s.size:>10,}" if s.size is not None else " " * 10
        out.append(f"{s.value:016x}  {where:<8} {size}  {flag:<6}  {s.name}")
    out.append("")
    out.append("; ---- sections " + "-" * 49)
    for sec in image.sections.values():
        extra = ""
        if sec.name == ".text":
            extra = f"  ({len(image.insns)} instructions)"
        out.append(f"{sec.name:<8} {sec.addr:#010x}  {sec.size:>12,} bytes  {sec.perms}{extra}")
    out.append(f"entry    {image.entry:#010x}")
    for w in image.warnings:
        out.append(w)
    return "\n".join(out)
