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
    return bytes(sec.data[off:off + min(size, 8)])


def listing(image: Image) -> str:
    out: list[str] = []
    by_file: dict[str, list] = {}
    for row in image.rows:
        by_file.setdefault(row.loc.file, []).append(row)
    for file, rows in by_file.items():
        out.append(f"; ---- {file} " + "-" * max(0, 60 - len(file)))
        seen: set[int] = set()
        for row in rows:
            text = row.loc.text.rstrip().expandtabs(4)
            if row.insn is not None:
                what = f"{'':24}"
                shown = row.insn.text()
                src = text.strip()
                note = "" if _same(src, shown) else f"   ; = {shown}"
            else:
                if row.size == 0:
                    continue
                data = _section_bytes(image, row.addr, row.size, row.section)
                hexed = data.hex(" ") + (" ..." if row.size > len(data) and data else "")
                what = f"{(hexed or f'({row.size} bytes)'):<24}"
                note = ""
            if row.loc.line in seen and row.insn is None:
                text = ""
            seen.add(row.loc.line)
            out.append(f"{row.addr:08x}  {what}{row.loc.line:5}  {text}{note}")
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


def _same(src: str, shown: str) -> bool:
    norm = lambda s: " ".join(s.replace(",", ", ").split()).lower()  # noqa: E731
    return norm(src.split(";")[0]).endswith(norm(shown))
