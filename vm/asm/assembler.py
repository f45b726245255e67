"""Assemble and link NASM-subset sources into an Image.

Pass 1 reads every file's lines, defines labels at (section piece, offset)
and sizes every item: an instruction takes INSN_SIZE bytes of .text, data
directives their bytes. Layout then places the pieces as `ld` would: every
file's .text, then the built-in libm routines the program calls, then
.rodata, .data and .bss, each section starting on a new page. Pass 2
evaluates every expression with final addresses, matches each instruction's
operands against the instruction table and emits data bytes.

Symbols follow NASM + ld: a file sees its own labels, `equ` constants and
the names it declares `extern`; `global` names are visible to other files;
`.local` labels belong to the last ordinary label before them.
"""

from __future__ import annotations

import difflib
import os
import sys

from ..errors import AsmError, SourceLoc
from ..image import INSN_SIZE, TEXT_FILL, Image, Insn, Row, Section
from ..isa import TABLE, MatchError, lookup, match
from ..isa.operands import SIZE_KEYWORDS, Imm, Mem, Operand, Reg, register
from ..isa.spec import OperandError, imm_warnings, operand_fits
from . import floats, limits
from .directives import BRACKET_FORMS, DATA_UNITS, HANDLERS, RES_UNITS, find_file, split_commas
from .expr import M64, Evaluator, Node, parse_expr, uses_here
from .lexer import Token, decode_source, strip_comment, tokenize
from .link import LIBM, SECTIONS, Linker
from .operands import at, parse_operand
from .preproc import Line, Preprocessor
from .records import Chunk, DataItem, Equ, FileCtx, FillItem, InsnItem, Label

SECTION_PERMS = {".text": "rx", ".rodata": "r", ".data": "rw", ".bss": "rw"}
PREFIXES = {"rep", "repe", "repz", "repne", "repnz", "lock"}  # part of the instruction after them


def _prefix_error(word: str) -> str:
    """Why `prefix instruction` is not an instruction."""
    prefix, rest = word.split(None, 1)
    if prefix == "lock":
        lockable = sorted({d.mnemonic for d in TABLE.values() if d.lockable})
        return (
            f"the lock prefix is not allowed on '{rest}' (only on instructions that "
            f"read, modify and write memory: {', '.join(lockable)})"
        )
    strings = "movs, stos, lods" if prefix == "rep" else "cmps, scas"
    return (
        f"'{prefix}' goes with string instructions ({strings}, with a b/w/d/q suffix), not '{rest}'"
    )


class AsmInternalError(AsmError):
    """A bug in the assembler surfaced as a clean message (tests treat it as a failure)."""


class _Errors:
    def __init__(self):
        self.items: list[AsmError] = []

    def add(self, e: AsmError) -> None:
        self.items.append(e)
        if len(self.items) >= limits.MAX_ERRORS:
            self.raise_if_any()

    def raise_if_any(self) -> None:
        if self.items:
            order: dict[str, int] = {}
            for e in self.items:
                order.setdefault(e.loc.file if e.loc else "", len(order))
            self.items.sort(
                key=lambda e: (order[e.loc.file if e.loc else ""], e.loc.line if e.loc else 0)
            )
            first = self.items[0]
            if len(self.items) == 1:
                raise first
            err = type(first)(first.message, first.loc)
            err.others = self.items[1:]
            raise err


def is_keyword(word: str) -> bool:
    w = word.lower()
    return w in HANDLERS or lookup(w) is not None or w in PREFIXES


class Assembler:
    def __init__(
        self,
        defines: dict[str, str] | None = None,
        include_paths: list[str] | None = None,
        overlay: dict[str, str] | None = None,
    ):
        self.overlay = dict(overlay or {})  # path -> text, consulted before the disk
        self.defines = dict(defines or {})
        self.include_paths = list(include_paths or [])
        self.files: list[FileCtx] = []
        self.errors = _Errors()
        self.warnings: list[str] = []
        self.sources: dict[str, list[str]] = {}
        self.binaries: list[tuple[str, int, int | None, bytes]] = []  # Image.binaries
        self.linker = Linker(self.files, self.errors, self.warnings)
        self.commons: set[str] = set()  # names a `common` line has defined
        self.image_bytes = 0  # every loaded section together (limits.MAX_IMAGE_BYTES)
        self.stored_bytes = 0  # the initialised part (limits.MAX_INITIALISED_BYTES)
        self.dropped_bytes = 0  # incbin bytes in dropped sections (held, so counted too)
        self.item_count = 0  # instructions, data, fills and symbols (limits.MAX_ITEMS)
        self.reg_operands: dict[tuple, tuple] = {}  # equal register-only operand tuples, shared
        # pass-1 state
        self.cur: Chunk
        self.parent = ""  # the last label without a dot: `.x` means parent.x
        self.plain_line = False  # the current line's tokens are those of its text
        self.struc: tuple[str, Chunk, SourceLoc] | None = None
        self.istruc: tuple[str, Chunk, int, SourceLoc] | None = None

    # ---- driver ----------------------------------------------------------------------
    def assemble(self, sources) -> Image:
        if not sources:
            raise AsmError("no source files given")
        loaded = []
        for src in sources:
            if isinstance(src, tuple):
                name, text = src
                if len(text) > limits.MAX_SOURCE_BYTES:
                    raise AsmError(_too_large(name))
            else:
                name = str(src)
                try:
                    text = self._read(name)
                except OSError as e:
                    raise AsmError(
                        f"cannot read {name}: {getattr(e, 'strerror', None) or e}"
                    ) from None
            loaded.append((name, text))
        budget = [limits.MAX_PREPROCESSED_LINES, limits.MAX_PREPROCESSED_BYTES]
        for i, (name, text) in enumerate(loaded):
            ctx = FileCtx(i, name)
            self.files.append(ctx)
            self._begin_file(ctx)
            pre = Preprocessor(
                self.defines,
                self.include_paths,
                self._read,
                self.warnings,
                lambda p: p in self.overlay or os.path.isfile(p),
                emit=lambda line, ctx=ctx: self._pass1_line(ctx, line),
                budget=budget,
            )
            pre.run_file(name, text)
            self.sources.update(pre.sources)
            self._end_file(ctx)
            for err in pre.errors:
                self.errors.add(err)
        # pass 2 runs even after errors, so one run reports every bad line
        self.linker.check_declarations()
        self.linker.layout()
        image = self._pass2()
        self.errors.raise_if_any()
        return image

    def _read(self, path: str) -> str:
        if path in self.overlay:
            text = self.overlay[path]
            if len(text) > limits.MAX_SOURCE_BYTES:
                raise OSError(0, _too_large(path))
            return text
        return _read(path)

    def read_binary(self, target: str, including: str, loc: SourceLoc, skip: int, count):
        """incbin's bytes: from the overlay (a saved state's files) or the disk."""
        path = self.binary_path(target, including)
        if path is None:
            raise AsmError(
                f"cannot find incbin file '{target}' (looked next to "
                f"{os.path.basename(including)}, in the include paths and the current directory)",
                loc,
            )
        room = limits.MAX_INITIALISED_BYTES - self.stored_bytes - self.dropped_bytes
        if path in self.overlay:
            data = self.overlay[path].encode("utf-8", "surrogateescape")
        else:
            try:
                size = os.path.getsize(path)
                if size - skip > room and (count is None or count > room):
                    raise AsmError(
                        f"incbin file '{target}' is {size:,} bytes: more than the "
                        f"{limits.MAX_INITIALISED_BYTES:,} bytes of initialised data allowed",
                        loc,
                    )
                with open(path, "rb") as f:
                    f.seek(skip)
                    data = f.read(room + 1 if count is None else min(count, room + 1))
            except OSError as e:
                raise AsmError(f"cannot read incbin file '{target}': {e.strerror}", loc) from None
            skip = 0
        data = data[skip:] if count is None else data[skip : skip + count]
        return data

    def include_binary(self, target: str, including: str, loc: SourceLoc, skip: int, count):
        """incbin's bytes (read_binary), recorded for the image (Image.binaries)."""
        data = self.read_binary(target, including, loc, skip, count)
        if not self.cur.loaded:  # kept in memory all the same: counted as stored
            self.dropped_bytes += len(data)
        path = self.binary_path(target, including)
        self.binaries.append((path or target, skip, count, bytes(data)))
        return data

    def binary_path(self, target: str, including: str) -> str | None:
        """The file incbin target names, as read_binary finds it."""
        return find_file(
            target, including, self.include_paths, lambda p: p in self.overlay or os.path.isfile(p)
        )

    # ---- pass 1 ------------------------------------------------------------------------
    def chunk(self, ctx: FileCtx, section: str, loaded=True, absolute=False) -> Chunk:
        c = ctx.chunks.get(section)
        if c is None:
            c = ctx.chunks[section] = Chunk(ctx.index, section, loaded=loaded, absolute=absolute)
        return c

    def _begin_file(self, ctx: FileCtx) -> None:
        self.cur = self.chunk(ctx, ".text")
        self.parent = ""
        self.struc = self.istruc = None

    def _end_file(self, ctx: FileCtx) -> None:
        if self.struc is not None:
            self.errors.add(AsmError(f"struc {self.struc[0]} has no endstruc", self.struc[2]))
        if self.istruc is not None:
            self.errors.add(AsmError(f"istruc {self.istruc[0]} has no iend", self.istruc[3]))

    def _pass1_line(self, ctx: FileCtx, line: Line) -> None:
        try:
            self._line(ctx, line)
        except AsmError as e:
            self.errors.add(e)
        except RecursionError:
            self.errors.add(AsmError("expression nested too deeply", line.loc))

    def _line(self, ctx: FileCtx, line: Line) -> None:
        toks = line.tokens
        loc = line.loc
        self.plain_line = line.plain
        if not toks:
            return
        # NASM's primitive forms: [section .data], [global _start], [bits 64]
        if (
            toks[0].is_op("[")
            and toks[-1].is_op("]")
            and len(toks) >= 3
            and toks[1].kind == "id"
            and toks[1].text.lower() in BRACKET_FORMS
        ):
            toks = toks[1:-1]
        i = 0
        label = None
        if toks[0].kind == "id" and len(toks) > 1 and toks[1].is_op(":"):
            label, i = toks[0], 2
        elif (
            toks[0].kind == "id"
            and not is_keyword(toks[0].text)
            and len(toks) > 1
            and toks[1].kind == "id"
            and is_keyword(toks[1].text)
            and register(toks[0].text) is None
        ):
            label, i = toks[0], 1
        rest = toks[i:]
        if label is not None:
            if rest and rest[0].is_id("equ"):
                self._equ(ctx, label, rest, loc)
                return
            self.label(ctx, label, loc)
        if not rest:
            return
        self.statement(ctx, rest, loc)

    def _full_name(self, name: str) -> str:
        if name.startswith(".") and not name.startswith("..@"):
            return self.parent + name
        return name

    def check_name(self, tok: Token, loc: SourceLoc, what: str) -> None:
        if tok.kind != "id" or tok.text in ("$", "$$"):
            raise AsmError(f"{what} expected, found '{tok.text}'", at(loc, tok.col))
        if tok.value != "escaped" and (
            register(tok.text) is not None
            or is_keyword(tok.text)
            or tok.text.lower() in SIZE_KEYWORDS
        ):
            raise AsmError(
                f"'{tok.text}' is a reserved word and cannot be a {what} "
                f"(write ${tok.text} to use it as a name)",
                at(loc, tok.col),
            )

    def define_symbol(self, ctx: FileCtx, name: str, tok: Token, loc: SourceLoc) -> None:
        """Refuses a second definition of name (naming the first), and one past
        limits.MAX_ITEMS."""
        self._count(1, at(loc, tok.col))
        prev = ctx.labels.get(name) or ctx.equs.get(name)
        if prev is not None:
            raise AsmError(
                f"symbol '{name}' is already defined at {prev.loc.file}:{prev.loc.line}",
                at(loc, tok.col),
            )

    def label(self, ctx: FileCtx, tok: Token, loc: SourceLoc) -> None:
        self.check_name(tok, loc, "label")
        name = self._full_name(tok.text)
        self.define_symbol(ctx, name, tok, loc)
        ctx.labels[name] = Label(name, self.cur, self.cur.size, at(loc, tok.col))
        if not tok.text.startswith("."):
            self.parent = tok.text

    def _equ(self, ctx: FileCtx, tok: Token, rest: list[Token], loc: SourceLoc) -> None:
        self.check_name(tok, loc, "constant name")
        name = self._full_name(tok.text)
        self.define_symbol(ctx, name, tok, loc)
        if len(rest) < 2:
            raise AsmError("equ needs a value: NAME equ 42", at(loc, rest[0].col))
        node = parse_expr(rest[1:], loc)
        ctx.equs[name] = Equ(name, node, at(loc, tok.col), (self.cur.size, self.cur), self.parent)

    def statement(self, ctx: FileCtx, toks: list[Token], loc: SourceLoc) -> None:
        head = toks[0]
        if head.kind != "id":
            raise AsmError(
                f"instruction or directive expected, found '{head.text}'", at(loc, head.col)
            )
        handler = HANDLERS.get(head.text.lower())
        if handler is not None:
            handler(self, ctx, head, toks[1:], loc)
        else:
            self.insn(ctx, head, toks[1:], loc)

    def _count(self, items: int, loc: SourceLoc) -> None:
        """Counts items more records, refused past limits.MAX_ITEMS: each costs
        memory in every later stage (a few hundred bytes in the image, and
        compiled code in the machine), so their number bounds the memory."""
        if self.item_count + items > limits.MAX_ITEMS:
            raise AsmError(
                f"the program has more than {limits.MAX_ITEMS:,} instructions, data "
                "lines, reservations and labels together (the limit, MAX_ITEMS in "
                "vm/asm/limits.py; use times or resb for large blocks of data)",
                loc,
            )
        self.item_count += items

    def _room(self, size: int, loc: SourceLoc, stored: bool) -> None:
        """Refuses size more bytes in the current chunk past the limits;
        checked before anything is allocated."""
        if not self.cur.loaded:
            return
        if self.image_bytes + size > limits.MAX_IMAGE_BYTES:
            raise AsmError(
                f"the program would need {self.image_bytes + size:,} bytes of memory: "
                f"the machine's limit is {limits.MAX_IMAGE_BYTES:,} "
                f"({limits.MAX_IMAGE_BYTES >> 20} MiB, sections and .bss together)",
                loc,
            )
        if (
            stored
            and self.cur.section != ".bss"
            and self.stored_bytes + size > limits.MAX_INITIALISED_BYTES
        ):
            raise AsmError(
                f"the program would hold {self.stored_bytes + size:,} bytes of "
                f"initialised data: the limit is {limits.MAX_INITIALISED_BYTES:,} "
                f"({limits.MAX_INITIALISED_BYTES >> 20} MiB; reserve large buffers "
                "with resb in .bss)",
                loc,
            )

    def _grow(self, size: int, loc: SourceLoc, stored: bool) -> None:
        """Makes room for one more item of size bytes (see _room and _count)."""
        self._room(size, loc, stored)
        self._count(1, loc)
        if self.cur.loaded:
            self.image_bytes += size
            self.stored_bytes += size if stored and self.cur.section != ".bss" else 0

    def fill(self, size: int, loc: SourceLoc, fill: int = 0) -> None:
        c = self.cur
        self._grow(size, loc, c.section != ".bss")
        c.items.append(FillItem(c, c.size, size, loc, fill))
        c.size += size

    def times(self, ctx: FileCtx, head: Token, args: list[Token], loc: SourceLoc) -> None:
        # the count is the longest prefix that parses as an expression
        if not args:
            raise AsmError("times needs a count and something to repeat", at(loc, head.col))
        split = None
        for j in range(len(args), 0, -1):
            if j < len(args) and args[j].kind == "id" and is_keyword(args[j].text):
                try:
                    parse_expr(args[:j], loc)
                except AsmError:
                    continue
                split = j
                break
        if split is None:
            raise AsmError(
                "times needs a count and then an instruction or data directive: times 16 db 0",
                at(loc, head.col),
            )
        n = self.critical(ctx, args[:split], loc)
        if n < 0:
            raise AsmError(f"times count is negative ({n})", at(loc, args[0].col))
        body = args[split:]
        word = body[0].text.lower()
        if word in DATA_UNITS:
            self.data(ctx, DATA_UNITS[word], body[0], body[1:], loc, n)
        elif lookup(word) is not None:
            # every copy is an instruction: check the count before making any
            self._room(n * INSN_SIZE, at(loc, head.col), True)
            if self.item_count + n > limits.MAX_ITEMS:
                self._count(n, at(loc, head.col))  # the error, before any copy is made
            for _ in range(n):
                self.insn(ctx, body[0], body[1:], loc)
        elif word in RES_UNITS:  # one reservation of n times the size
            if n:
                self.statement(ctx, body, loc)
                item = self.cur.items[-1]
                self.fill(item.size * (n - 1), item.loc)
        elif word in ("align", "alignb"):  # aligned once, aligned for good
            if n:
                self.statement(ctx, body, loc)
        else:
            raise AsmError(f"times cannot repeat '{body[0].text}'", at(loc, body[0].col))

    def data(
        self, ctx: FileCtx, unit: int, head: Token, args: list[Token], loc: SourceLoc, repeat: int
    ) -> None:
        if self.cur.section == ".bss" or self.cur.absolute:
            if self.cur.absolute:
                raise AsmError(
                    f"{head.text} in a struc: fields reserve space (.x: resd 1); give "
                    "values with istruc/at/iend",
                    at(loc, head.col),
                )
            raise AsmError(
                f"{head.text} in .bss: .bss holds only zeros (use resb/resd there, "
                "or put initialised data in section .data)",
                at(loc, head.col),
            )
        if not args:
            raise AsmError(f"{head.text} needs at least one value", at(loc, head.col))
        values: list = []
        size = 0
        for group in split_commas(args):
            if not group:
                raise AsmError("value expected between commas", at(loc, head.col))
            if len(group) == 1 and group[0].kind == "str":
                b = group[0].value
                padded = b + bytes(-len(b) % unit)
                values.append(padded)
                size += len(padded)
                continue
            node = parse_expr(group, loc)
            if node.kind == "float" and unit not in (2, 4, 8, 10):
                raise AsmError(
                    f"{head.text} cannot hold a floating-point value (use dd for "
                    "float32, dq for float64, dt for 80-bit)",
                    at(loc, group[0].col),
                )
            if unit == 10 and node.kind != "float":
                raise AsmError(
                    "dt holds 80-bit floating-point values only (write 5.0, not 5)",
                    at(loc, group[0].col),
                )
            if node.kind == "num":  # a plain number is kept as an int (a Node costs 72 bytes)
                values.append(_fits(node.value, unit, loc, node.col))
            else:
                values.append(node)
            size += unit
        c = self.cur
        self._grow(size * repeat, at(loc, head.col), True)
        c.items.append(DataItem(c, c.size, unit, values, repeat, size, loc, self.parent))
        c.size += size * repeat

    def insn(self, ctx: FileCtx, head: Token, args: list[Token], loc: SourceLoc) -> None:
        word = head.text.lower()
        if word in PREFIXES:
            if not args or args[0].kind != "id":
                raise AsmError(f"an instruction must follow '{word}'", at(loc, head.col))
            head = Token("id", f"{word} {args[0].text}", head.col)  # `rep movsb` is one entry
            args = args[1:]
            word = head.text.lower()
        d = lookup(word)
        if (d is None or d.group == "internal") and word.split()[0] in PREFIXES:
            raise AsmError(_prefix_error(word), at(loc, head.col))
        if d is None or d.group == "internal":
            close = difflib.get_close_matches(
                word, [k for k, v in TABLE.items() if v.group != "internal"], n=3
            )
            if close:
                hint = f" (did you mean {', '.join(close)}?)"
            elif len(args) == 0 and ("_" in word or word[:1] == "."):
                hint = "; a label needs a colon: " + head.text + ":"
            else:
                hint = ""
            raise AsmError(
                f"unknown instruction '{head.text}'{hint}; `mnist-vm isa` lists the "
                "instruction subset",
                at(loc, head.col),
            )
        if self.cur.section != ".text" or not self.cur.loaded:
            raise AsmError(
                f"instructions belong in section .text (this line is in {self.cur.section})",
                at(loc, head.col),
            )
        groups = split_commas(args) if args else []
        for g in groups:
            if not g:
                raise AsmError("operand expected between commas", at(loc, head.col))
        c = self.cur
        if c.size % INSN_SIZE:  # data in .text before this instruction
            self.fill(INSN_SIZE - c.size % INSN_SIZE, loc)
        self._grow(INSN_SIZE, at(loc, head.col), True)
        keep = None if self.plain_line else groups  # a plain line is read again in pass 2
        c.items.append(InsnItem(c, c.size, head, keep, loc, self.parent))
        c.size += INSN_SIZE

    def critical(self, ctx: FileCtx, toks: list[Token], loc: SourceLoc) -> int:
        """A number that decides a size: known now, from earlier lines only."""
        node = parse_expr(toks, loc)
        chunk = self.cur
        parent = self.parent

        def resolve(name: str, n: Node):
            full = parent + name if name.startswith(".") and not name.startswith("..@") else name
            lab = ctx.labels.get(full)
            if lab is not None:
                return lab.offset, (None if lab.chunk.absolute else lab.chunk)
            equ = ctx.equs.get(full)
            if equ is not None:
                if equ.busy:
                    raise AsmError(f"'{name}' is defined in terms of itself", at(loc, n.col))
                equ.busy = True
                try:
                    ev = Evaluator(equ.loc, resolve, lambda: equ.here, lambda: (0, equ.here[1]))
                    return ev.eval(equ.node)
                finally:
                    equ.busy = False
            raise AsmError(
                f"'{name}' must be defined before this line (its value decides a size or count)",
                at(loc, n.col),
            )

        ev = Evaluator(loc, resolve, lambda: (chunk.size, chunk), lambda: (0, chunk))
        return ev.number(node)

    def _pass2(self) -> Image:
        insns: list[Insn] = []
        rows: list[Row] = []
        blobs: dict[str, bytearray] = {}
        for sec in SECTIONS:
            start, end = self.linker.section_ranges[sec]
            fill = TEXT_FILL if sec == ".text" else 0
            # .bss stays empty: its zeros are the machine's to map
            blobs[sec] = bytearray([fill]) * (end - start) if sec != ".bss" else bytearray()
        for ctx in self.files:
            for sec in SECTIONS:
                c = ctx.chunks.get(sec)
                if c is None:
                    continue
                start = self.linker.section_ranges[sec][0]
                blob = blobs[sec]
                items, c.items = c.items, []  # each item is dropped once encoded
                for k, item in enumerate(items):
                    items[k] = None
                    addr = c.base + item.offset
                    try:
                        if isinstance(item, InsnItem):
                            insn = self._encode_insn(ctx, item, addr)
                            insns.append(insn)  # its own listing row (Image.rows)
                        elif isinstance(item, DataItem):
                            raw = self._encode_data(ctx, item, addr)
                            blob[addr - start : addr - start + len(raw)] = raw
                            rows.append(Row(item.loc, addr, len(raw), sec))
                        else:
                            if sec != ".bss" and (item.fill or sec == ".text"):
                                blob[addr - start : addr - start + item.size] = (
                                    bytes([item.fill]) * item.size
                                )
                            rows.append(Row(item.loc, addr, item.size, sec))
                    except AsmError as e:
                        self.errors.add(e)
                    except RecursionError:
                        self.errors.add(AsmError("expression nested too deeply", item.loc))
                del items
        hostdef = TABLE["hostcall"]
        for name, addr in self.linker.stubs.items():
            what = "libm routine (host C library)" if name in LIBM else "C library routine"
            loc = SourceLoc(
                "<libm>" if name in LIBM else "<libc>", 0, 1, f"{name}: built-in {what}"
            )
            insns.append(Insn(addr, "hostcall", hostdef, hostdef.forms[0], (), loc, host=name))
        insns.sort(key=lambda i: i.addr)
        sections = {}
        for sec in SECTIONS:
            start, end = self.linker.section_ranges[sec]
            data: bytearray = blobs[sec] if sec != ".bss" else bytearray()
            sections[sec] = Section(sec, start, end - start, data, SECTION_PERMS[sec])
        symbols = self.linker.symbols()
        self.errors.raise_if_any()
        entry = self.linker.entry(symbols, insns)
        return Image(
            sections,
            insns,
            symbols,
            entry,
            sources=self.sources,
            defines=dict(self.defines),
            files=[f.name for f in self.files],
            warnings=self.warnings,
            rows=rows,
            binaries=self.binaries,
        )

    # ---- instructions ----------------------------------------------------------------
    def _encode_insn(self, ctx: FileCtx, item: InsnItem, addr: int) -> Insn:
        loc = item.loc
        d = lookup(item.mnemonic.text)
        assert d is not None  # pass 1 checked the mnemonic
        ev = Evaluator(
            loc, self.linker.resolver(ctx, item.parent, loc), _const(addr), _const(item.chunk.base)
        )
        groups = item.operands if item.operands is not None else _operands_again(item)
        ops: list[Operand] = [parse_operand(group, loc, ev) for group in groups]
        try:
            form, fixed = match(d, tuple(ops))
        except OperandError as e:
            raise AsmError(str(e), loc) from None
        except MatchError as e:
            raise AsmError(self._form_error(d, ops, str(e)), at(loc, item.mnemonic.col)) from None
        self._check_rex(fixed, item, at(loc, item.mnemonic.col))
        name = sys.intern(item.mnemonic.text.lower())  # one string per mnemonic, not per line
        if all(type(o) is Reg for o in fixed):  # register-only: few distinct tuples, shared
            fixed = self.reg_operands.setdefault(fixed, fixed)
        if name.startswith("lock ") and not (fixed and isinstance(fixed[0], Mem)):
            raise AsmError(
                "lock needs a memory destination (the CPU raises #UD otherwise)",
                at(loc, item.mnemonic.col),
            )
        for w in imm_warnings(d, form, tuple(ops)):
            self.warnings.append(f"{loc.file}:{loc.line}: warning: {w}")
        return Insn(addr, name, d, form, fixed, loc)

    def _form_error(self, d, ops: list[Operand], msg: str) -> str:
        imms = [i for i, o in enumerate(ops) if isinstance(o, Imm)]
        if imms:
            k = imms[-1]
            sizes = sorted(
                {
                    f.types[k].size
                    for f in d.forms
                    if len(f.types) == len(ops)
                    and "imm" in f.types[k].kinds
                    and all(
                        operand_fits(t, o, f)
                        for j, (t, o) in enumerate(zip(f.types, ops))
                        if j != k
                    )
                }
            )
            if sizes:
                v = ops[k].value  # type: ignore[union-attr]  # an Imm (see imms)
                widest = f"imm{sizes[-1]}" + (
                    " (sign-extended to 64 bits)"
                    if sizes[-1] == 32
                    and any(isinstance(o, (Reg, Mem)) and o.size == 64 for o in ops)
                    else ""
                )
                hint = (
                    "; load a larger value into a register first (mov r64, imm64)"
                    if sizes[-1] == 32
                    else ""
                )
                return (
                    f"immediate {v} ({v & M64:#x}) does not fit: {d.mnemonic} takes at most "
                    f"{widest} here{hint}"
                )
        regs = [o for o in ops if isinstance(o, Reg) and o.kind == "gpr"]
        mems = [o for o in ops if isinstance(o, Mem) and o.size]
        if not msg.startswith("operation size"):
            widths = {r.size for r in regs} | {m.size for m in mems}
            if (
                len(regs) + len(mems) >= 2
                and len(widths) > 1
                and all(
                    len({t.size for t in f.types if "gpr" in t.kinds or "mem" in t.kinds}) <= 1
                    for f in d.forms
                )
            ):
                parts = [
                    f"{o.name} is {o.size}-bit"
                    if isinstance(o, Reg)
                    else f"the memory operand is {o.size}-bit"
                    for o in ops
                    if isinstance(o, (Reg, Mem)) and (not isinstance(o, Reg) or o.kind == "gpr")
                ]
                return f"operand size mismatch: {', '.join(parts)}"
        return msg

    def _check_rex(self, ops, item: InsnItem, loc: SourceLoc) -> None:
        high = [o for o in ops if isinstance(o, Reg) and o.high8]
        if not high:
            return
        for o in ops:
            if (
                isinstance(o, Reg)
                and o.kind == "gpr"
                and not o.high8
                and (o.num >= 8 or o.size == 64 or o.name in ("spl", "bpl", "sil", "dil"))
            ):
                raise AsmError(
                    f"{high[0].name} cannot be used together with {o.name} in one "
                    "instruction (x86-64 encoding limit: no ah/bh/ch/dh with "
                    "REX registers)",
                    loc,
                )
            if isinstance(o, Mem) and any(r is not None and r.num >= 8 for r in (o.base, o.index)):
                raise AsmError(
                    f"{high[0].name} cannot be used with r8-r15 in the address "
                    "(x86-64 encoding limit)",
                    loc,
                )

    # ---- data ---------------------------------------------------------------------------
    def _encode_data(self, ctx: FileCtx, item: DataItem, addr: int) -> bytes:
        one = self._encode_values(ctx, item, addr)
        if item.repeat <= 1:
            return one if item.repeat else b""
        if not any(isinstance(v, Node) and uses_here(v) for v in item.values):
            return one * item.repeat  # `times 4096 db 0`: encoded once
        out = bytearray(one)
        for k in range(1, item.repeat):
            out += self._encode_values(ctx, item, addr + k * item.size_one)
        return bytes(out)

    def _encode_values(self, ctx: FileCtx, item: DataItem, pos: int) -> bytes:
        out = bytearray()
        unit = item.unit
        ev = Evaluator(
            item.loc,
            self.linker.resolver(ctx, item.parent, item.loc),
            lambda: (pos, None),
            _const(item.chunk.base),
        )
        for v in item.values:
            if isinstance(v, bytes):
                out += v
                pos += len(v)
                continue
            if isinstance(v, int):  # checked against the unit in pass 1
                out += (v & ((1 << unit * 8) - 1)).to_bytes(unit, "little")
                pos += unit
                continue
            if v.kind == "float":
                try:
                    bitsv = floats.bits(v.value, unit * 8, v.op == "-")
                except floats.FloatError as e:
                    raise AsmError(str(e), at(item.loc, v.col)) from None
                out += bitsv.to_bytes(unit, "little")
                pos += unit
                continue
            n = _fits(ev.number(v), unit, item.loc, v.col)
            out += (n & ((1 << unit * 8) - 1)).to_bytes(unit, "little")
            pos += unit
        return bytes(out)


def _operands_again(item: InsnItem) -> list[list[Token]]:
    """The operand tokens of an instruction on a plain line, from its text."""
    toks = tokenize(strip_comment(item.loc.text), item.loc)
    k = next(k for k, t in enumerate(toks) if t.col == item.mnemonic.col)
    k += len(item.mnemonic.text.split())  # `rep movsb` is two tokens, one mnemonic
    return split_commas(toks[k:]) if k < len(toks) else []


def _fits(n: int, unit: int, loc: SourceLoc, col: int) -> int:
    """n, if it fits in unit bytes (signed or unsigned; dq and dt take any 64-bit pattern)."""
    bits = unit * 8
    if bits < 64 and not -(1 << (bits - 1)) <= n < (1 << bits):
        raise AsmError(f"value {n} does not fit in {unit} byte(s)", at(loc, col))
    return n


def _const(v: int):
    """A `$`/`$$` callback for the evaluator that gives a known address."""
    return lambda: (v, None)


def _too_large(name: str) -> str:
    return (
        f"{name} is larger than {limits.MAX_SOURCE_BYTES:,} bytes, the limit for one "
        f"source file ({limits.MAX_SOURCE_BYTES >> 20} MiB)"
    )


def _read(path: str) -> str:
    """A source file as text: UTF-8, with any other bytes (Latin-1) kept as they are."""
    with open(path, "rb") as f:
        raw = f.read(limits.MAX_SOURCE_BYTES + 1)
    if len(raw) > limits.MAX_SOURCE_BYTES:
        raise OSError(0, _too_large(path))
    return decode_source(raw)


def assemble(
    sources,
    defines: dict[str, str] | None = None,
    include_paths: list[str] | None = None,
    overlay: dict[str, str] | None = None,
) -> Image:
    """Assemble and link sources (paths, or (name, text) pairs) into an Image.

    defines are `-D NAME=VALUE` pairs; overlay maps file paths to texts that
    are used instead of the disk (a saved state re-assembles its program from
    the sources it carries). Raises AsmError (file:line:column, the line and a
    caret) for anything wrong with the input."""
    asm = Assembler(defines, include_paths, overlay)
    try:
        return asm.assemble(list(sources))
    except AsmError:
        raise
    except RecursionError:
        raise AsmError("the program is nested too deeply to assemble") from None
    except Exception as e:  # noqa: BLE001 - an assembler bug must not become a traceback
        raise AsmInternalError(
            f"internal assembler error ({type(e).__name__}: {e}); "
            "please report it with the source that caused it"
        ) from e
