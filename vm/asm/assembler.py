"""Assemble and link NASM-subset sources into an Image.

Pass 1 reads every file's lines, defines labels at (section piece, offset)
and sizes every item: an instruction takes INSN_SIZE bytes of .text, data
directives their bytes. Layout then places the pieces as `ld` would: every
file's .text, then the built-in libm/libc routines the program calls (and
for a program with `main` and no `_start`, the C start-up), then .rodata, .data and .bss, each section starting on a new page. Pass 2
evaluates every expression with final addresses, matches each instruction's
operands against the instruction table and emits data bytes.

Symbols follow NASM + ld: a file sees its own labels, `equ` constants and
the names it declares `extern`; `global` names are visible to other files;
`.local` labels belong to the last ordinary label before them.
"""

from __future__ import annotations

import difflib
import os
from dataclasses import dataclass, field

from ..errors import AsmError, SourceLoc
from ..image import INSN_SIZE, PAGE, TEXT_BASE, TEXT_FILL, Image, Insn, Row, Section, Symbol
from ..isa import TABLE, MatchError, lookup, match
from ..isa.operands import SIZE_KEYWORDS, Imm, Mem, Operand, Reg, register
from ..isa.spec import operand_fits
from ..libc import CRT, LIBC
from . import floats
from .expr import M64, Evaluator, Node, linearize, parse_expr, uses_symbols
from .lexer import Token
from .preproc import Line, Preprocessor

SECTIONS = (".text", ".rodata", ".data", ".bss")
SECTION_PERMS = {".text": "rx", ".rodata": "r", ".data": "rw", ".bss": "rw"}
LIBM = ("exp", "log", "expf", "logf")
HOST_ROUTINES = LIBM + LIBC + CRT  # built into the runtime (vm/runtime.py, vm/libc.py)
DATA_UNITS = {"db": 1, "dw": 2, "dd": 4, "dq": 8, "do": 16, "ddq": 16}
RES_UNITS = {"resb": 1, "resw": 2, "resd": 4, "resq": 8, "reso": 16, "resdq": 16}
DIRECTIVES = (
    {
        "section",
        "segment",
        "global",
        "extern",
        "default",
        "bits",
        "align",
        "alignb",
        "times",
        "equ",
        "incbin",
        "cpu",
        "static",
        "common",
    }
    | set(DATA_UNITS)
    | set(RES_UNITS)
)
UNSUPPORTED_PREFIXES = {"rep", "repe", "repz", "repne", "repnz", "lock"}
MAX_ERRORS = 20


class AsmInternalError(AsmError):
    """A bug in the assembler surfaced as a clean message (tests treat it as a failure)."""


# ---- pass-1 records ---------------------------------------------------------------


@dataclass(eq=False)
class Chunk:
    """One file's part of one section."""

    file: int
    section: str
    size: int = 0
    align: int = 16
    base: int = 0
    items: list = field(default_factory=list)


@dataclass
class InsnItem:
    chunk: Chunk
    offset: int
    mnemonic: Token
    operands: list[list[Token]]
    loc: SourceLoc
    parent: str


@dataclass
class DataItem:
    chunk: Chunk
    offset: int
    unit: int
    values: list[Node | bytes]
    repeat: int
    size_one: int
    loc: SourceLoc
    parent: str


@dataclass
class FillItem:  # align padding, resb/resd ... (zeros; nops in .text)
    chunk: Chunk
    offset: int
    size: int
    loc: SourceLoc
    fill: int = 0


@dataclass
class Label:
    name: str
    chunk: Chunk
    offset: int
    loc: SourceLoc


@dataclass
class Equ:
    name: str
    node: Node
    loc: SourceLoc
    here: tuple[int, Chunk]
    parent: str
    value: int | None = None
    busy: bool = False


@dataclass
class FileCtx:
    index: int
    name: str
    labels: dict[str, Label] = field(default_factory=dict)
    equs: dict[str, Equ] = field(default_factory=dict)
    globals: dict[str, SourceLoc] = field(default_factory=dict)
    externs: dict[str, SourceLoc] = field(default_factory=dict)
    chunks: dict[str, Chunk] = field(default_factory=dict)


class _Errors:
    def __init__(self):
        self.items: list[AsmError] = []

    def add(self, e: AsmError) -> None:
        self.items.append(e)
        if len(self.items) >= MAX_ERRORS:
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


def _at(loc: SourceLoc, col: int) -> SourceLoc:
    return SourceLoc(loc.file, loc.line, col, loc.text)


def _spell(tokens: list[Token]) -> str:
    out = ""
    for t in tokens:
        if t.kind == "op" and t.text in ("+", "-") and out and not out.endswith(("(", "[")):
            out += f" {t.text} "
        elif t.kind == "op" and t.text == ",":
            out += ", "
        else:
            out += t.text
    return out.replace("  ", " ").strip()


def _split_commas(tokens: list[Token]) -> list[list[Token]]:
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


def is_keyword(word: str) -> bool:
    w = word.lower()
    return w in DIRECTIVES or lookup(w) is not None or w in UNSUPPORTED_PREFIXES


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
        self.stubs: dict[str, int] = {}  # libm routine -> address
        self.global_defs: dict[str, tuple[FileCtx, Label | Equ]] = {}

    # ---- driver ----------------------------------------------------------------------
    def assemble(self, sources) -> Image:
        if not sources:
            raise AsmError("no source files given")
        loaded = []
        for src in sources:
            if isinstance(src, tuple):
                name, text = src
            else:
                name = str(src)
                try:
                    text = self._read(name)
                except (OSError, UnicodeDecodeError) as e:
                    raise AsmError(
                        f"cannot read {name}: {getattr(e, 'strerror', None) or e}"
                    ) from None
            loaded.append((name, text))
        for i, (name, text) in enumerate(loaded):
            ctx = FileCtx(i, name)
            self.files.append(ctx)
            pre = Preprocessor(
                self.defines,
                self.include_paths,
                self._read,
                self.warnings,
                lambda p: p in self.overlay or os.path.isfile(p),
            )
            lines = pre.run_file(name, text)
            self.sources.update(pre.sources)
            self._pass1(ctx, lines)
            for err in pre.errors:
                self.errors.add(err)
        # pass 2 runs even after errors, so one run reports every bad line
        self._check_declarations()
        self._layout()
        image = self._pass2()
        self.errors.raise_if_any()
        return image

    def _read(self, path: str) -> str:
        if path in self.overlay:
            return self.overlay[path]
        return _read(path)

    # ---- pass 1 ------------------------------------------------------------------------
    def _chunk(self, ctx: FileCtx, section: str) -> Chunk:
        c = ctx.chunks.get(section)
        if c is None:
            c = ctx.chunks[section] = Chunk(ctx.index, section)
        return c

    def _pass1(self, ctx: FileCtx, lines: list[Line]) -> None:
        self.cur = self._chunk(ctx, ".text")
        self.parent = ""
        for line in lines:
            try:
                self._line(ctx, line)
            except AsmError as e:
                self.errors.add(e)
            except RecursionError:
                self.errors.add(AsmError("expression nested too deeply", line.loc))

    def _line(self, ctx: FileCtx, line: Line) -> None:
        toks = line.tokens
        loc = line.loc
        if not toks:
            return
        # [section .data] / [bits 64] style
        if (
            toks[0].is_op("[")
            and toks[-1].is_op("]")
            and len(toks) >= 3
            and toks[1].is_id("section", "segment", "bits", "default")
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
            self._label(ctx, label, loc)
        if not rest:
            return
        self._statement(ctx, rest, loc)

    def _full_name(self, name: str) -> str:
        if name.startswith(".") and not name.startswith("..@"):
            return self.parent + name
        return name

    def _check_name(self, tok: Token, loc: SourceLoc, what: str) -> None:
        if tok.kind != "id" or tok.text in ("$", "$$"):
            raise AsmError(f"{what} expected, found '{tok.text}'", _at(loc, tok.col))
        if tok.value != "escaped" and (
            register(tok.text) is not None
            or is_keyword(tok.text)
            or tok.text.lower() in SIZE_KEYWORDS
        ):
            raise AsmError(
                f"'{tok.text}' is a reserved word and cannot be a {what} "
                f"(write ${tok.text} to use it as a name)",
                _at(loc, tok.col),
            )

    def _define_symbol(self, ctx: FileCtx, name: str, tok: Token, loc: SourceLoc) -> None:
        prev = ctx.labels.get(name) or ctx.equs.get(name)
        if prev is not None:
            raise AsmError(
                f"symbol '{name}' is already defined at {prev.loc.file}:{prev.loc.line}",
                _at(loc, tok.col),
            )

    def _label(self, ctx: FileCtx, tok: Token, loc: SourceLoc) -> None:
        self._check_name(tok, loc, "label")
        name = self._full_name(tok.text)
        self._define_symbol(ctx, name, tok, loc)
        ctx.labels[name] = Label(name, self.cur, self.cur.size, _at(loc, tok.col))
        if not tok.text.startswith("."):
            self.parent = tok.text

    def _equ(self, ctx: FileCtx, tok: Token, rest: list[Token], loc: SourceLoc) -> None:
        self._check_name(tok, loc, "constant name")
        name = self._full_name(tok.text)
        self._define_symbol(ctx, name, tok, loc)
        if len(rest) < 2:
            raise AsmError("equ needs a value: NAME equ 42", _at(loc, rest[0].col))
        node = parse_expr(rest[1:], loc)
        ctx.equs[name] = Equ(name, node, _at(loc, tok.col), (self.cur.size, self.cur), self.parent)

    def _statement(self, ctx: FileCtx, toks: list[Token], loc: SourceLoc) -> None:
        head = toks[0]
        if head.kind != "id":
            raise AsmError(
                f"instruction or directive expected, found '{head.text}'", _at(loc, head.col)
            )
        word = head.text.lower()
        args = toks[1:]
        if word in ("section", "segment"):
            if not args or args[0].kind != "id":
                raise AsmError("section needs a name: section .text", _at(loc, head.col))
            name = args[0].text.lower()
            if name not in SECTIONS:
                raise AsmError(
                    f"unknown section '{args[0].text}' (the machine has {', '.join(SECTIONS)})",
                    _at(loc, args[0].col),
                )
            self.cur = self._chunk(ctx, name)
            return
        if word in ("global", "extern", "static", "common"):
            if word in ("static", "common"):
                raise AsmError(f"'{word}' is not supported (use global/extern)", _at(loc, head.col))
            if not args:
                raise AsmError(f"{word} needs at least one name", _at(loc, head.col))
            for group in _split_commas(args):
                if not group:
                    raise AsmError("name expected", _at(loc, head.col))
                self._check_name(group[0], loc, "symbol name")
                if len(group) > 1 and not (group[1].is_op(":") and len(group) == 3):
                    raise AsmError(
                        f"unexpected '{group[1].text}' after the name", _at(loc, group[1].col)
                    )
                table = ctx.globals if word == "global" else ctx.externs
                table.setdefault(group[0].text, _at(loc, group[0].col))
            return
        if word == "default":
            if len(args) != 1 or not args[0].is_id("rel", "abs"):
                raise AsmError("default takes rel or abs", _at(loc, head.col))
            return
        if word == "bits":
            if len(args) != 1 or args[0].kind != "num" or args[0].value != 64:
                raise AsmError(
                    "the machine is 64-bit: only 'bits 64' is accepted", _at(loc, head.col)
                )
            return
        if word == "cpu":
            return
        if word == "equ":
            raise AsmError("equ needs a name before it: NAME equ 42", _at(loc, head.col))
        if word in ("align", "alignb"):
            groups = _split_commas(args)
            if not args or len(groups) > 2:
                raise AsmError(f"{word} needs a power of two: {word} 16", _at(loc, head.col))
            n = self._critical(ctx, groups[0], loc)
            if n <= 0 or n & (n - 1):
                raise AsmError(
                    f"alignment must be a power of two, got {n}", _at(loc, groups[0][0].col)
                )
            self.cur.align = max(self.cur.align, n)
            pad = -self.cur.size % n
            if pad:
                if self.cur.section == ".text" and word == "align" and pad % INSN_SIZE == 0:
                    for _ in range(pad // INSN_SIZE):  # nops keep fall-through working
                        self._insn(ctx, Token("id", "nop", head.col), [], loc)
                elif word == "align" and self.cur.section != ".bss":
                    self._fill(pad, loc, 0x90)  # NASM pads `align` with NOP bytes
                else:
                    self._fill(pad, loc)
            return
        if word == "times":
            self._times(ctx, head, args, loc)
            return
        if word in DATA_UNITS:
            self._data(ctx, DATA_UNITS[word], head, args, loc, 1)
            return
        if word in RES_UNITS:
            if len(args) == 0:
                raise AsmError(f"{word} needs a count: {word} 16", _at(loc, head.col))
            n = self._critical(ctx, args, loc)
            if n < 0:
                raise AsmError(f"{word} count is negative ({n})", _at(loc, args[0].col))
            self._fill(n * RES_UNITS[word], loc)
            return
        if word == "incbin":
            raise AsmError(
                "incbin is not supported (read files with the open/read syscalls)",
                _at(loc, head.col),
            )
        self._insn(ctx, head, args, loc)

    def _fill(self, size: int, loc: SourceLoc, fill: int = 0) -> None:
        c = self.cur
        c.items.append(FillItem(c, c.size, size, loc, fill))
        c.size += size

    def _times(self, ctx: FileCtx, head: Token, args: list[Token], loc: SourceLoc) -> None:
        # the count is the longest prefix that parses as an expression
        if not args:
            raise AsmError("times needs a count and something to repeat", _at(loc, head.col))
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
                _at(loc, head.col),
            )
        n = self._critical(ctx, args[:split], loc)
        if n < 0:
            raise AsmError(f"times count is negative ({n})", _at(loc, args[0].col))
        if n > 1 << 28:
            raise AsmError(f"times count {n} is too large", _at(loc, args[0].col))
        body = args[split:]
        word = body[0].text.lower()
        if word in DATA_UNITS:
            self._data(ctx, DATA_UNITS[word], body[0], body[1:], loc, n)
        elif lookup(word) is not None:
            for _ in range(n):
                self._insn(ctx, body[0], body[1:], loc)
        elif word in RES_UNITS or word in ("align", "alignb"):
            for _ in range(n):
                self._statement(ctx, body, loc)
        else:
            raise AsmError(f"times cannot repeat '{body[0].text}'", _at(loc, body[0].col))

    def _data(
        self, ctx: FileCtx, unit: int, head: Token, args: list[Token], loc: SourceLoc, repeat: int
    ) -> None:
        if self.cur.section == ".bss":
            raise AsmError(
                f"{head.text} in .bss: .bss holds only zeros (use resb/resd there, "
                "or put initialised data in section .data)",
                _at(loc, head.col),
            )
        if not args:
            raise AsmError(f"{head.text} needs at least one value", _at(loc, head.col))
        values: list = []
        size = 0
        for group in _split_commas(args):
            if not group:
                raise AsmError("value expected between commas", _at(loc, head.col))
            if len(group) == 1 and group[0].kind == "str":
                b = group[0].value
                padded = b + bytes(-len(b) % unit)
                values.append(padded)
                size += len(padded)
                continue
            node = parse_expr(group, loc)
            if node.kind == "float" and unit not in (2, 4, 8):
                raise AsmError(
                    f"{head.text} cannot hold a floating-point value (use dd for "
                    "float32, dq for float64)",
                    _at(loc, group[0].col),
                )
            values.append(node)
            size += unit
        c = self.cur
        c.items.append(DataItem(c, c.size, unit, values, repeat, size, loc, self.parent))
        c.size += size * repeat

    def _insn(self, ctx: FileCtx, head: Token, args: list[Token], loc: SourceLoc) -> None:
        word = head.text.lower()
        if word in UNSUPPORTED_PREFIXES:
            raise AsmError(
                f"the '{word}' prefix is not supported (write the loop out)", _at(loc, head.col)
            )
        d = lookup(word)
        if d is None or d.group == "internal":
            if head.kind == "id" and len(args) == 0 and not is_keyword(word):
                hint = "; a label needs a colon: " + head.text + ":"
            else:
                close = difflib.get_close_matches(
                    word, [k for k, v in TABLE.items() if v.group != "internal"], n=3
                )
                hint = f" (did you mean {', '.join(close)}?)" if close else ""
            raise AsmError(
                f"unknown instruction '{head.text}'{hint}; `mnist-vm isa` lists the "
                "instruction subset",
                _at(loc, head.col),
            )
        if self.cur.section != ".text":
            raise AsmError(
                f"instructions belong in section .text (this line is in {self.cur.section})",
                _at(loc, head.col),
            )
        groups = _split_commas(args) if args else []
        for g in groups:
            if not g:
                raise AsmError("operand expected between commas", _at(loc, head.col))
        c = self.cur
        if c.size % INSN_SIZE:  # data in .text before this instruction
            self._fill(INSN_SIZE - c.size % INSN_SIZE, loc)
        c.items.append(InsnItem(c, c.size, head, groups, _at(loc, head.col), self.parent))
        c.size += INSN_SIZE

    def _critical(self, ctx: FileCtx, toks: list[Token], loc: SourceLoc) -> int:
        """A number that decides a size: known now, from earlier lines only."""
        node = parse_expr(toks, loc)
        chunk = self.cur
        parent = self.parent

        def resolve(name: str, n: Node):
            full = parent + name if name.startswith(".") and not name.startswith("..@") else name
            lab = ctx.labels.get(full)
            if lab is not None:
                return lab.offset, lab.chunk
            equ = ctx.equs.get(full)
            if equ is not None:
                if equ.busy:
                    raise AsmError(f"'{name}' is defined in terms of itself", _at(loc, n.col))
                equ.busy = True
                try:
                    ev = Evaluator(equ.loc, resolve, lambda: equ.here, lambda: (0, equ.here[1]))
                    return ev.eval(equ.node)
                finally:
                    equ.busy = False
            raise AsmError(
                f"'{name}' must be defined before this line (its value decides a size or count)",
                _at(loc, n.col),
            )

        ev = Evaluator(loc, resolve, lambda: (chunk.size, chunk), lambda: (0, chunk))
        return ev.number(node)

    # ---- declarations and layout --------------------------------------------------------
    def _check_declarations(self) -> None:
        for ctx in self.files:
            for name, loc in ctx.globals.items():
                d = ctx.labels.get(name) or ctx.equs.get(name)
                if d is None:
                    if name in ctx.externs:
                        continue
                    self.errors.add(
                        AsmError(f"'{name}' is declared global but not defined in this file", loc)
                    )
                    continue
                prev = self.global_defs.get(name)
                if prev is not None:
                    other = prev[1].loc
                    self.errors.add(
                        AsmError(
                            f"global symbol '{name}' is defined twice (also "
                            f"at {other.file}:{other.line})",
                            d.loc,
                        )
                    )
                    continue
                self.global_defs[name] = (ctx, d)
        for ctx in self.files:
            for name in ctx.externs:
                if name in ctx.labels or name in ctx.equs or name in self.global_defs:
                    continue
                if name in LIBM or name in LIBC:
                    self.stubs.setdefault(name, 0)
        defines_start = any("_start" in ctx.labels for ctx in self.files)
        if not defines_start and "main" in self.global_defs:
            for name in CRT:  # a C program: the built-in start-up calls main (vm/libc.py)
                self.stubs.setdefault(name, 0)

    def _layout(self) -> None:
        addr = TEXT_BASE
        self.section_ranges: dict[str, tuple[int, int]] = {}
        for sec in SECTIONS:
            if sec != ".text":
                addr = (addr + PAGE - 1) & ~(PAGE - 1)
            start = addr
            for ctx in self.files:
                c = ctx.chunks.get(sec)
                if c is None:
                    continue
                addr = (addr + c.align - 1) & ~(c.align - 1)
                c.base = addr
                addr += c.size
            if sec == ".text":
                addr = (addr + INSN_SIZE - 1) & ~(INSN_SIZE - 1)
                for name in sorted(self.stubs, key=HOST_ROUTINES.index):
                    self.stubs[name] = addr
                    addr += INSN_SIZE
            self.section_ranges[sec] = (start, addr)

    # ---- pass 2 ---------------------------------------------------------------------------
    def _resolver(self, ctx: FileCtx, parent: str, loc: SourceLoc):
        def resolve(name: str, n: Node):
            full = parent + name if name.startswith(".") and not name.startswith("..@") else name
            v = self._value_in(ctx, full, loc, n)
            if v is None:
                raise AsmError(self._undefined_message(ctx, name, full), _at(loc, n.col))
            return v, None

        return resolve

    def _value_in(self, ctx: FileCtx, name: str, loc: SourceLoc, n: Node) -> int | None:
        lab = ctx.labels.get(name)
        if lab is not None:
            return lab.chunk.base + lab.offset
        equ = ctx.equs.get(name)
        if equ is not None:
            return self._equ_value(ctx, equ, loc, n)
        if name in ctx.externs or name in ctx.globals:
            g = self.global_defs.get(name)
            if g is not None:
                gctx, d = g
                if isinstance(d, Label):
                    return d.chunk.base + d.offset
                return self._equ_value(gctx, d, loc, n)
            if name in self.stubs:
                return self.stubs[name]
        return None

    def _equ_value(self, ctx: FileCtx, equ: Equ, loc: SourceLoc, n: Node) -> int:
        if equ.value is not None:
            return equ.value
        if equ.busy:
            raise AsmError(f"'{equ.name}' is defined in terms of itself", _at(loc, n.col))
        equ.busy = True
        try:
            here = equ.here[1].base + equ.here[0]
            ev = Evaluator(
                equ.loc,
                self._resolver(ctx, equ.parent, equ.loc),
                lambda: (here, None),
                lambda: (equ.here[1].base, None),
            )
            equ.value = ev.number(equ.node)
        finally:
            equ.busy = False
        return equ.value

    def _undefined_message(self, ctx: FileCtx, name: str, full: str) -> str:
        if name.startswith("."):
            return (
                f"undefined local label '{name}' (looked for '{full}'; local labels belong "
                "to the last label without a dot)"
            )
        if name in ctx.externs:
            return (
                f"undefined symbol '{name}': declared extern, but no file defines it as "
                f"global (built in: {', '.join(LIBM)} and the C library functions "
                "listed in docs/machine.md)"
            )
        for other in self.files:
            if other is not ctx and (name in other.labels or name in other.equs):
                hint = (
                    f"; add 'extern {name}' here"
                    if name in other.globals
                    else f"; it is in {other.name}: add 'global {name}' there and "
                    f"'extern {name}' here"
                )
                return f"undefined symbol '{name}'{hint}"
        if name in LIBM or name in LIBC:
            return f"undefined symbol '{name}' (add 'extern {name}' to use the built-in one)"
        close = difflib.get_close_matches(name, list(ctx.labels) + list(ctx.equs), n=1)
        return f"undefined symbol '{name}'" + (f" (did you mean {close[0]}?)" if close else "")

    def _pass2(self) -> Image:
        insns: list[Insn] = []
        rows: list[Row] = []
        blobs: dict[str, bytearray] = {}
        for sec in SECTIONS:
            start, end = self.section_ranges[sec]
            fill = TEXT_FILL if sec == ".text" else 0
            blobs[sec] = bytearray([fill]) * (end - start)
        for ctx in self.files:
            for sec in SECTIONS:
                c = ctx.chunks.get(sec)
                if c is None:
                    continue
                start = self.section_ranges[sec][0]
                blob = blobs[sec]
                for item in c.items:
                    addr = c.base + item.offset
                    try:
                        if isinstance(item, InsnItem):
                            insn = self._encode_insn(ctx, item, addr)
                            insns.append(insn)
                            rows.append(Row(item.loc, addr, INSN_SIZE, sec, insn))
                        elif isinstance(item, DataItem):
                            raw = self._encode_data(ctx, item, addr)
                            blob[addr - start : addr - start + len(raw)] = raw
                            rows.append(Row(item.loc, addr, len(raw), sec, None))
                        else:
                            if sec != ".bss":
                                blob[addr - start : addr - start + item.size] = (
                                    bytes([item.fill]) * item.size
                                )
                            rows.append(Row(item.loc, addr, item.size, sec, None))
                    except AsmError as e:
                        self.errors.add(e)
                    except RecursionError:
                        self.errors.add(AsmError("expression nested too deeply", item.loc))
        hostdef = TABLE["hostcall"]
        for name, addr in self.stubs.items():
            what = (
                "libm routine (host C library)"
                if name in LIBM
                else "C library routine (vm/libc.py)"
            )
            loc = SourceLoc(
                "<libm>" if name in LIBM else "<libc>", 0, 1, f"{name}: built-in {what}"
            )
            insns.append(Insn(addr, "hostcall", hostdef, hostdef.forms[0], (), loc, host=name))
        insns.sort(key=lambda i: i.addr)
        sections = {}
        for sec in SECTIONS:
            start, end = self.section_ranges[sec]
            data: bytearray = blobs[sec] if sec != ".bss" else bytearray()
            sections[sec] = Section(sec, start, end - start, data, SECTION_PERMS[sec])
        symbols = self._symbols()
        self.errors.raise_if_any()
        entry = self._entry(symbols, insns)
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
        )

    def _symbols(self) -> dict[str, Symbol]:
        out: dict[str, Symbol] = {}
        for ctx in self.files:
            per_chunk: dict[int, list[Label]] = {}
            for lab in ctx.labels.values():
                per_chunk.setdefault(id(lab.chunk), []).append(lab)
            for labs in per_chunk.values():
                labs.sort(key=lambda lb: lb.offset)
                for k, lab in enumerate(labs):
                    nxt = labs[k + 1].offset if k + 1 < len(labs) else lab.chunk.size
                    is_global = lab.name in ctx.globals
                    sym = Symbol(
                        lab.name,
                        lab.chunk.base + lab.offset,
                        lab.chunk.section,
                        is_global,
                        lab.loc,
                        nxt - lab.offset,
                    )
                    self._add_symbol(out, ctx, sym)
            for equ in ctx.equs.values():
                try:
                    v = self._equ_value(ctx, equ, equ.loc, Node("sym", equ.loc.column))
                except AsmError as e:
                    self.errors.add(e)
                    continue
                self._add_symbol(
                    out, ctx, Symbol(equ.name, v & M64, None, equ.name in ctx.globals, equ.loc)
                )
        for name, addr in self.stubs.items():
            if name not in out:
                out[name] = Symbol(name, addr, ".text", True, None, INSN_SIZE)
        return out

    @staticmethod
    def _add_symbol(out: dict[str, Symbol], ctx: FileCtx, sym: Symbol) -> None:
        if sym.name in out and not sym.is_global:
            sym.name = f"{os.path.basename(ctx.name)}:{sym.name}"
        elif sym.name in out:  # a global wins the plain name
            old = out.pop(sym.name)
            old.name = f"{os.path.basename(old.loc.file) if old.loc else '?'}:{old.name}"
            out[old.name] = old
        out[sym.name] = sym

    def _entry(self, symbols: dict[str, Symbol], insns: list[Insn]) -> int:
        if not insns:
            raise AsmError("the program has no instructions (section .text is empty)")
        start = symbols.get("_start")
        if start is not None and start.section == ".text":
            if not start.is_global:
                self.warnings.append(
                    "warning: _start is not declared global (ld would not "
                    "find it); add 'global _start'"
                )
            return start.value
        self.warnings.append(
            "warning: no _start label: execution starts at the beginning of "
            ".text, as ld does (add 'global _start' and a '_start:' label)"
        )
        return insns[0].addr

    # ---- instructions ----------------------------------------------------------------
    def _encode_insn(self, ctx: FileCtx, item: InsnItem, addr: int) -> Insn:
        loc = item.loc
        d = lookup(item.mnemonic.text)
        assert d is not None  # pass 1 checked the mnemonic
        ev_here = (addr, None)
        ops: list[Operand] = []
        for group in item.operands:
            ops.append(self._operand(ctx, item, group, ev_here, d))
        try:
            form, fixed = match(d, tuple(ops))
        except MatchError as e:
            raise AsmError(self._form_error(d, ops, str(e)), loc) from None
        self._check_rex(fixed, item, loc)
        return Insn(addr, item.mnemonic.text.lower(), d, form, fixed, loc)

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
        if d.mnemonic not in ("movzx", "movsx", "movsxd", "movd", "movq") and not msg.startswith(
            "operation size"
        ):
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

    def _operand(self, ctx: FileCtx, item: InsnItem, toks: list[Token], here, d) -> Operand:
        loc = item.loc
        size = None
        i = 0
        for _ in range(3):
            if i < len(toks) and toks[i].kind == "id" and toks[i].value != "escaped":
                w = toks[i].text.lower()
                if w in SIZE_KEYWORDS and i + 1 < len(toks):
                    if size is not None:
                        raise AsmError("two size specifiers", _at(loc, toks[i].col))
                    size = SIZE_KEYWORDS[w]
                    i += 1
                    if i < len(toks) and toks[i].is_id("ptr"):
                        raise AsmError(
                            "NASM does not use PTR: write dword [x], not dword ptr [x]",
                            _at(loc, toks[i].col),
                        )
                    continue
                if w in ("strict", "near", "short") and i + 1 < len(toks):
                    i += 1
                    continue
            break
        body = toks[i:]
        if len(body) > 2 and body[-2].is_id("wrt") and body[-1].is_id("..plt"):
            body = body[:-2]  # `call printf wrt ..plt`: no PLT here, the call goes direct
        if not body:
            raise AsmError("operand expected after the size", _at(loc, toks[0].col))
        first = body[0]
        if first.is_op("["):
            if not body[-1].is_op("]"):
                raise AsmError(
                    "missing ']' at the end of the memory operand", _at(loc, body[-1].col)
                )
            return self._memory(ctx, item, body[1:-1], size, first.col, here)
        if len(body) == 1 and first.kind == "id" and first.value != "escaped":
            reg = register(first.text)
            if reg is not None:
                if size is not None and size != reg.size:
                    raise AsmError(
                        f"size mismatch: {reg.name} is {reg.size}-bit, not {_size_name(size)}",
                        _at(loc, first.col),
                    )
                return reg
        for t in body:
            if t.kind == "id" and t.value != "escaped" and register(t.text) is not None:
                raise AsmError(
                    f"register {t.text} cannot be part of an expression here "
                    "(memory operands use brackets: [rdi + 8])",
                    _at(loc, t.col),
                )
        node = parse_expr(body, loc)
        if node.kind == "float":
            raise AsmError(
                "a floating-point constant cannot be an instruction operand; use "
                "__float32__(...) or __float64__(...) for its bits, or load it from "
                "memory",
                _at(loc, node.col),
            )
        ev = Evaluator(
            loc,
            self._resolver(ctx, item.parent, loc),
            lambda: here,
            lambda: (item.chunk.base, None),
        )
        value = ev.number(node)
        label = _spell(body) if uses_symbols(node) else None
        return Imm(value, label)

    def _memory(
        self, ctx: FileCtx, item: InsnItem, toks: list[Token], size: int | None, col: int, here
    ) -> Mem:
        loc = item.loc
        rel = False
        if not toks:
            raise AsmError("empty memory operand []", _at(loc, col))
        while (
            toks
            and toks[0].kind == "id"
            and toks[0].text.lower() in ("rel", "abs") + tuple(SIZE_KEYWORDS)
        ):
            w = toks[0].text.lower()
            if w in SIZE_KEYWORDS:
                if size is not None and size != SIZE_KEYWORDS[w]:
                    raise AsmError("two different sizes", _at(loc, toks[0].col))
                size = SIZE_KEYWORDS[w]
            else:
                rel = w == "rel"
            toks = toks[1:]
        if len(toks) >= 2 and toks[1].is_op(":"):
            raise AsmError("segment registers are not supported", _at(loc, toks[0].col))
        if not toks:
            raise AsmError("address expected inside [ ]", _at(loc, col))
        node = parse_expr(toks, loc, allow_regs=True)
        ev = Evaluator(
            loc,
            self._resolver(ctx, item.parent, loc),
            lambda: here,
            lambda: (item.chunk.base, None),
        )
        terms, rest = linearize(node, ev)
        disp = 0
        for part in rest:
            disp += ev.number(part)
        regs = {r: k for r, k in terms.items() if k}
        for r in regs:
            if r.kind != "gpr" or r.size != 64:
                raise AsmError(
                    f"{r.name} cannot be used in an address (use 64-bit registers "
                    "such as rdi, rax, r8)",
                    _at(loc, col),
                )
        base: Reg | None = None
        index: Reg | None = None
        scale = 1
        items = list(regs.items())
        if any(k < 0 for _, k in items):
            raise AsmError("a register in an address cannot be subtracted", _at(loc, col))
        if len(items) > 2:
            raise AsmError(
                "an address can use at most two registers (base + index*scale)", _at(loc, col)
            )
        if len(items) == 1:
            r, k = items[0]
            if k == 1:
                base = r
            elif k in (2, 4, 8):
                index, scale = r, k
            elif k in (3, 5, 9):
                base, index, scale = r, r, k - 1
            else:
                raise AsmError(f"scale must be 1, 2, 4 or 8 (got {k})", _at(loc, col))
        elif len(items) == 2:
            (r1, k1), (r2, k2) = items
            if k1 != 1 and k2 != 1:
                raise AsmError("only one register in an address can be scaled", _at(loc, col))
            if k1 != 1:
                (r1, k1), (r2, k2) = (r2, k2), (r1, k1)
            if k2 not in (1, 2, 4, 8):
                raise AsmError(f"scale must be 1, 2, 4 or 8 (got {k2})", _at(loc, col))
            base, index, scale = r1, r2, k2
            if r2.num == 4:
                if scale != 1:
                    raise AsmError("rsp cannot be an index register", _at(loc, col))
                base, index = index, base
        if index is not None and index.num == 4:
            raise AsmError("rsp cannot be an index register", _at(loc, col))
        if rel and (base is not None or index is not None):
            raise AsmError("[rel ...] takes a label address without registers", _at(loc, col))
        disp &= M64
        sdisp = disp - (1 << 64) if disp >> 63 else disp
        if not rel and not -(1 << 31) <= sdisp < (1 << 31):
            raise AsmError(f"displacement {sdisp:#x} does not fit in 32 bits", _at(loc, col))
        return Mem(base, index, scale, sdisp if (base or index) else disp, size, rel, _spell(toks))

    # ---- data ---------------------------------------------------------------------------
    def _encode_data(self, ctx: FileCtx, item: DataItem, addr: int) -> bytes:
        out = bytearray()
        unit = item.unit
        for k in range(item.repeat):
            pos = addr + k * item.size_one
            for v in item.values:
                if isinstance(v, bytes):
                    out += v
                    pos += len(v)
                    continue
                if v.kind == "float":
                    try:
                        bitsv = floats.bits(v.value, unit * 8, v.op == "-")
                    except floats.FloatError as e:
                        raise AsmError(str(e), _at(item.loc, v.col)) from None
                    out += bitsv.to_bytes(unit, "little")
                    pos += unit
                    continue
                ev = Evaluator(
                    item.loc,
                    self._resolver(ctx, item.parent, item.loc),
                    _const(pos),
                    _const(item.chunk.base),
                )
                n = ev.number(v)
                bits = unit * 8
                if bits < 64 and not -(1 << (bits - 1)) <= n < (1 << bits):
                    raise AsmError(
                        f"value {n} does not fit in {unit} byte(s)", _at(item.loc, v.col)
                    )
                out += (n & ((1 << bits) - 1)).to_bytes(unit, "little")
                pos += unit
        return bytes(out)


def _const(v: int):
    """A `$`/`$$` callback for the evaluator that gives a known address."""
    return lambda: (v, None)


def _size_name(bits: int) -> str:
    return {8: "byte", 16: "word", 32: "dword", 64: "qword", 128: "oword"}.get(bits, f"{bits}-bit")


def _read(path: str) -> str:
    with open(path, encoding="utf-8") as f:
        return f.read()


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
