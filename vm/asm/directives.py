"""Pass-1 directives: one handler per directive word, in one table.

A handler gets the assembler (its pass-1 state: the current chunk `cur`,
the label `parent` local labels belong to), the file, the directive token,
the tokens after it and the line's location. Words not in HANDLERS are
instructions.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import TYPE_CHECKING

from ..errors import AsmError, SourceLoc
from ..image import INSN_SIZE
from . import limits
from .lexer import Token
from .link import SECTIONS
from .operands import at
from .records import FileCtx, Label

if TYPE_CHECKING:
    from .assembler import Assembler

DATA_UNITS = {"db": 1, "dw": 2, "dd": 4, "dq": 8, "dt": 10, "do": 16, "ddq": 16}
RES_UNITS = {"resb": 1, "resw": 2, "resd": 4, "resq": 8, "rest": 10, "reso": 16, "resdq": 16}
# section attributes NASM accepts after the name (all ignored: the machine
# decides permissions by section, as ld's default script does)
SECTION_ATTRIBUTES = {
    "progbits",
    "nobits",
    "alloc",
    "noalloc",
    "exec",
    "noexec",
    "write",
    "nowrite",
    "tls",
    "notls",
    "contents",
}
# sections that are not loaded (notes, comments, debug info): accepted, dropped
UNLOADED_PREFIXES = (".note", ".comment", ".debug", ".eh_frame", ".gnu")

Handler = Callable[["Assembler", FileCtx, Token, list[Token], SourceLoc], None]


def split_commas(tokens: list[Token]) -> list[list[Token]]:
    groups: list[list[Token]] = [[]]
    depth = 0
    for t in tokens:
        if t.kind == "op" and t.text in "([":
            depth += 1
        elif t.kind == "op" and t.text in ")]":
            depth -= 1
        if t.is_op(",") and depth == 0:
            groups.append([])
            continue
        groups[-1].append(t)
    return groups


def _section(asm: Assembler, ctx: FileCtx, head: Token, args: list[Token], loc: SourceLoc):
    if not args or args[0].kind != "id":
        raise AsmError("section needs a name: section .text", at(loc, head.col))
    # the name runs up to the first space: .note.GNU-stack is one name
    k = 1
    while k < len(args) and args[k].col == args[k - 1].col + len(args[k - 1].text):
        k += 1
    name = "".join(t.text for t in args[:k]).lower()
    attrs = args[k:]
    for t in attrs:
        if t.kind == "id" and t.text.lower() in SECTION_ATTRIBUTES | {"align"}:
            continue
        if t.kind == "num" or t.is_op("="):  # align=16
            continue
        raise AsmError(
            f"unknown section attribute '{t.text}' (NASM's are "
            f"{', '.join(sorted(SECTION_ATTRIBUTES))}, align=N)",
            at(loc, t.col),
        )
    noalloc = any(t.is_id("noalloc") for t in attrs)
    canonical = next(
        (s for s in SECTIONS if name == s or name.startswith(s + ".")), None
    )  # .rodata.str1.1 goes into .rodata, as ld's default script does
    if noalloc or (canonical is None and name.startswith(UNLOADED_PREFIXES)):
        asm.cur = asm.chunk(ctx, name, loaded=False)
        return
    if canonical is None:
        raise AsmError(
            f"unknown section '{args[0].text}' (the machine has {', '.join(SECTIONS)}; "
            "notes, comments and debug sections are accepted and dropped)",
            at(loc, args[0].col),
        )
    asm.cur = asm.chunk(ctx, canonical)


def _symbols(asm: Assembler, ctx: FileCtx, head: Token, args: list[Token], loc: SourceLoc):
    word = head.text.lower()
    if not args:
        raise AsmError(f"{word} needs at least one name", at(loc, head.col))
    for group in split_commas(args):
        if not group:
            raise AsmError("name expected", at(loc, head.col))
        asm.check_name(group[0], loc, "symbol name")
        if len(group) > 1 and not (group[1].is_op(":") and len(group) == 3):
            raise AsmError(f"unexpected '{group[1].text}' after the name", at(loc, group[1].col))
        if word == "global":
            ctx.globals.setdefault(group[0].text, at(loc, group[0].col))
        elif word == "extern":
            ctx.externs.setdefault(group[0].text, at(loc, group[0].col))
        # static: file-local is what every other name already is


def _common(asm: Assembler, ctx: FileCtx, head: Token, args: list[Token], loc: SourceLoc):
    """`common name size[:align]`: a global .bss variable (ld merges the
    copies of every file; here the first file defines it, the others see it
    as extern)."""
    if len(args) < 2 or args[0].kind != "id":
        raise AsmError("common needs a name and a size: common count 8", at(loc, head.col))
    name = args[0]
    asm.check_name(name, loc, "symbol name")
    rest = args[1:]
    align = 8
    colon = next((k for k, t in enumerate(rest) if t.is_op(":")), None)
    if colon is not None:
        align = asm.critical(ctx, rest[colon + 1 :], loc)
        rest = rest[:colon]
        if align <= 0 or align & (align - 1):
            raise AsmError(f"alignment must be a power of two, got {align}", at(loc, head.col))
    size = asm.critical(ctx, rest, loc)
    if size < 0:
        raise AsmError(f"common size is negative ({size})", at(loc, rest[0].col))
    if name.text in asm.commons:
        ctx.externs.setdefault(name.text, at(loc, name.col))
        return
    bss = asm.chunk(ctx, ".bss")
    bss.align = max(bss.align, align)
    saved = asm.cur
    asm.cur = bss
    try:
        pad = -bss.size % align
        if pad:
            asm.fill(pad, at(loc, head.col))
        asm.define_symbol(ctx, name.text, name, loc)
        ctx.labels[name.text] = Label(name.text, bss, bss.size, at(loc, name.col))
        asm.fill(size, at(loc, head.col))
    finally:
        asm.cur = saved
    ctx.globals.setdefault(name.text, at(loc, name.col))
    asm.commons.add(name.text)


def _default(asm: Assembler, ctx: FileCtx, head: Token, args: list[Token], loc: SourceLoc):
    if len(args) != 1 or not args[0].is_id("rel", "abs"):
        raise AsmError("default takes rel or abs", at(loc, head.col))


def _bits(asm: Assembler, ctx: FileCtx, head: Token, args: list[Token], loc: SourceLoc):
    if len(args) != 1 or args[0].kind != "num" or args[0].value != 64:
        raise AsmError("the machine is 64-bit: only 'bits 64' is accepted", at(loc, head.col))


def _nothing(asm: Assembler, ctx: FileCtx, head: Token, args: list[Token], loc: SourceLoc):
    """cpu, use64: nothing to do on this machine."""


def _equ(asm: Assembler, ctx: FileCtx, head: Token, args: list[Token], loc: SourceLoc):
    raise AsmError("equ needs a name before it: NAME equ 42", at(loc, head.col))


def _align(asm: Assembler, ctx: FileCtx, head: Token, args: list[Token], loc: SourceLoc):
    word = head.text.lower()
    groups = split_commas(args)
    if not args or len(groups) > 2:
        raise AsmError(f"{word} needs a power of two: {word} 16", at(loc, head.col))
    n = asm.critical(ctx, groups[0], loc)
    if n <= 0 or n & (n - 1):
        raise AsmError(f"alignment must be a power of two, got {n}", at(loc, groups[0][0].col))
    if n > limits.MAX_IMAGE_BYTES:
        raise AsmError(f"alignment {n} is larger than the machine's memory", at(loc, head.col))
    cur = asm.cur
    cur.align = max(cur.align, n)
    pad = -cur.size % n
    if not pad:
        return
    if cur.section == ".text" and word == "align" and pad % INSN_SIZE == 0:
        for _ in range(pad // INSN_SIZE):  # nops keep fall-through working
            asm.insn(ctx, Token("id", "nop", head.col), [], loc)
    elif word == "align" and cur.section != ".bss":
        asm.fill(pad, at(loc, head.col), 0x90)  # NASM pads `align` with NOP bytes
    else:
        asm.fill(pad, at(loc, head.col))


def _data(asm: Assembler, ctx: FileCtx, head: Token, args: list[Token], loc: SourceLoc):
    asm.data(ctx, DATA_UNITS[head.text.lower()], head, args, loc, 1)


def _reserve(asm: Assembler, ctx: FileCtx, head: Token, args: list[Token], loc: SourceLoc):
    word = head.text.lower()
    if not args:
        raise AsmError(f"{word} needs a count: {word} 16", at(loc, head.col))
    n = asm.critical(ctx, args, loc)
    if n < 0:
        raise AsmError(f"{word} count is negative ({n})", at(loc, args[0].col))
    asm.fill(n * RES_UNITS[word], at(loc, head.col))


def _times(asm: Assembler, ctx: FileCtx, head: Token, args: list[Token], loc: SourceLoc):
    asm.times(ctx, head, args, loc)


def _incbin(asm: Assembler, ctx: FileCtx, head: Token, args: list[Token], loc: SourceLoc):
    """`incbin "file"[, skip[, count]]`: the file's bytes as data. The file is
    looked up next to the source, then in the include paths."""
    groups = split_commas(args)
    if not args or len(groups[0]) != 1 or groups[0][0].kind != "str" or len(groups) > 3:
        raise AsmError('incbin needs a quoted file name: incbin "file.bin"', at(loc, head.col))
    target = groups[0][0].value.decode("utf-8", "surrogateescape")
    skip = asm.critical(ctx, groups[1], loc) if len(groups) > 1 else 0
    count = asm.critical(ctx, groups[2], loc) if len(groups) > 2 else None
    if skip < 0 or (count is not None and count < 0):
        raise AsmError("incbin offset and length must not be negative", at(loc, head.col))
    blob = asm.include_binary(target, loc.file, at(loc, groups[0][0].col), skip, count)
    asm.data(ctx, 1, head, [Token("str", groups[0][0].text, groups[0][0].col, blob)], loc, 1)


# ---- structures: struc/endstruc, istruc/at/iend ---------------------------------------


def _struc(asm: Assembler, ctx: FileCtx, head: Token, args: list[Token], loc: SourceLoc):
    """`struc NAME`: the following `.field: resd 1` lines define NAME.field
    as offsets from 0; `endstruc` defines NAME_size."""
    groups = split_commas(args)
    if not args or len(groups[0]) != 1 or groups[0][0].kind != "id":
        raise AsmError("struc needs a name: struc point", at(loc, head.col))
    if asm.struc is not None:
        raise AsmError(
            f"struc inside struc (close '{asm.struc[0]}' with endstruc first)", at(loc, head.col)
        )
    start = asm.critical(ctx, groups[1], loc) if len(groups) > 1 else 0
    name = groups[0][0]
    asm.check_name(name, loc, "structure name")
    outer = asm.cur
    asm.cur = asm.chunk(ctx, "struc " + name.text, loaded=False, absolute=True)
    asm.cur.size = start
    try:
        asm.label(ctx, name, loc)
    except AsmError:
        asm.cur = outer
        raise
    asm.struc = (name.text, outer, loc)


def _endstruc(asm: Assembler, ctx: FileCtx, head: Token, args: list[Token], loc: SourceLoc):
    if asm.struc is None:
        raise AsmError("endstruc without struc", at(loc, head.col))
    name, outer, _ = asm.struc
    body = asm.cur
    start = ctx.labels[name].offset if name in ctx.labels else 0
    size_name = name + "_size"
    asm.define_symbol(ctx, size_name, head, loc)
    # NAME_size: an absolute symbol (an offset in a chunk that stays at 0)
    ctx.labels[size_name] = Label(size_name, body, body.size - start, at(loc, head.col))
    asm.struc = None
    asm.cur = outer


def _istruc(asm: Assembler, ctx: FileCtx, head: Token, args: list[Token], loc: SourceLoc):
    if len(args) != 1 or args[0].kind != "id":
        raise AsmError("istruc needs a structure name: istruc point", at(loc, head.col))
    if asm.istruc is not None:
        raise AsmError(f"istruc inside istruc '{asm.istruc[0]}'", at(loc, head.col))
    asm.istruc = (args[0].text, asm.cur, asm.cur.size, loc)


def _at(asm: Assembler, ctx: FileCtx, head: Token, args: list[Token], loc: SourceLoc):
    """`at NAME.field, dd 1`: zeros up to the field's offset, then the data."""
    if asm.istruc is None:
        raise AsmError("'at' belongs between istruc and iend", at(loc, head.col))
    _, chunk, start, _ = asm.istruc
    if asm.cur is not chunk:
        raise AsmError("the section changed inside istruc", at(loc, head.col))
    comma = next((k for k, t in enumerate(args) if t.is_op(",")), len(args))
    if comma == 0:
        raise AsmError("at needs a field: at point.x, dd 1", at(loc, head.col))
    offset = asm.critical(ctx, args[:comma], loc)
    _pad_to(asm, start + offset, args[0], loc)
    rest = args[comma + 1 :]
    if rest:
        asm.statement(ctx, rest, loc)


def _iend(asm: Assembler, ctx: FileCtx, head: Token, args: list[Token], loc: SourceLoc):
    if asm.istruc is None:
        raise AsmError("iend without istruc", at(loc, head.col))
    name, chunk, start, _ = asm.istruc
    asm.istruc = None
    size = asm.critical(ctx, [Token("id", name + "_size", head.col)], loc)
    if asm.cur is chunk:
        _pad_to(asm, start + size, head, loc)


def _pad_to(asm: Assembler, target: int, tok: Token, loc: SourceLoc) -> None:
    pad = target - asm.cur.size
    if pad < 0:
        raise AsmError(
            f"the data so far is {-pad} byte(s) past this point of the structure "
            "(give the fields in order, each no larger than its size)",
            at(loc, tok.col),
        )
    if pad:
        asm.fill(pad, at(loc, tok.col))


HANDLERS: dict[str, Handler] = {
    "section": _section,
    "segment": _section,
    "global": _symbols,
    "extern": _symbols,
    "static": _symbols,
    "common": _common,
    "default": _default,
    "bits": _bits,
    "use64": _nothing,
    "cpu": _nothing,
    "equ": _equ,
    "align": _align,
    "alignb": _align,
    "times": _times,
    "incbin": _incbin,
    "struc": _struc,
    "endstruc": _endstruc,
    "istruc": _istruc,
    "at": _at,
    "iend": _iend,
    **{word: _data for word in DATA_UNITS},
    **{word: _reserve for word in RES_UNITS},
}
# directives that may be written in brackets, NASM's "primitive" form: [section .data]
BRACKET_FORMS = {"section", "segment", "global", "extern", "default", "bits", "cpu", "common"}


def find_file(target: str, including: str, include_paths: list[str], exists) -> str | None:
    """target next to the including file, then in each include path, then as given."""
    if os.path.isabs(target):
        return target if exists(target) else None
    here = os.path.dirname(including)
    candidates = [os.path.join(here, target) if here else target]
    candidates += [os.path.join(p, target) for p in include_paths]
    candidates.append(target)
    for c in candidates:
        if exists(c):
            return os.path.normpath(c)
    return None
