"""The NASM-subset preprocessor: one source file in, tokenised lines out.

Directives: %define / %xdefine / %undef (object-like and NAME(a, b) macros),
%assign, %ifdef / %ifndef / %if / %elifdef / %elifndef / %elif / %else /
%endif, %include, %error, %warning. Defines are expanded token by token, so
every token of an expanded line keeps a column that points into the line
the user wrote. `-D NAME=VALUE` defines arrive before the first line, as
with `nasm -dNAME=VALUE`. Each top-level file starts with the same defines
(nasm assembles files one at a time).

%include "x" looks next to the including file, then in the include paths,
then in the current directory.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from ..errors import AsmError, SourceLoc
from . import limits
from .directives import find_file
from .expr import Evaluator, parse_expr
from .lexer import Token, printable, strip_comment, tokenize
from .macros import Frame, Macro, bind, parse_header, split_args

_TESTS = ("def", "idn", "idni", "empty", "num", "str", "id", "macro")
_WORD = re.compile(r"\s*([A-Za-z_.?@$][\w.?@$#~]*:?)\s*")
SUPPORTED = (
    "%define",
    "%xdefine",
    "%undef",
    "%assign",
    "%ifdef",
    "%ifndef",
    "%if",
    "%elifdef",
    "%elifndef",
    "%elif",
    "%else",
    "%endif",
    "%include",
    "%error",
    "%warning",
    "%macro",
    "%imacro",
    "%rmacro",
    "%endmacro",
    "%rotate",
    "%exitmacro",
    "%unmacro",
    "%rep",
    "%endrep",
    "%exitrep",
    "%ifidn",
    "%ifidni",
    "%ifempty",
    "%ifnum",
    "%ifstr",
    "%ifid",
    "%ifmacro",
)


@dataclass
class Line:
    loc: SourceLoc  # file, line, column 1, the source text
    tokens: list[Token]


@dataclass
class Define:
    params: tuple[str, ...] | None  # None: object-like
    body: str  # replacement text
    loc: SourceLoc | None


class _TooManyErrors(Exception):
    pass


class _Fatal(Exception):
    """An error after which nothing more is read (a limit was passed)."""

    def __init__(self, error: AsmError):
        self.error = error


class _Exit(Exception):
    """%exitrep / %exitmacro: leave the innermost %rep / macro call."""

    def __init__(self, what: str):
        self.what = what


BLOCKS = {
    "%macro": "%endmacro",
    "%imacro": "%endmacro",
    "%rmacro": "%endmacro",
    "%irmacro": "%endmacro",
    "%rep": "%endrep",
}
Physical = tuple[str, SourceLoc]  # a line without its comment, and where it is


class Preprocessor:
    def __init__(
        self,
        defines: dict[str, str],
        include_paths: list[str],
        read_file,
        warnings: list[str],
        exists=os.path.isfile,
        emit=None,
        budget: list[int] | None = None,
    ):
        self.defines: dict[str, Define] = {
            k: Define(None, str(v), None) for k, v in defines.items()
        }
        self.include_paths = include_paths
        self.read_file = read_file  # path -> text (raises OSError)
        self.exists = exists  # path -> bool
        self.sources: dict[str, list[str]] = {}
        self.warnings = warnings
        self.errors: list[AsmError] = []  # one per bad line; the file goes on
        self.out: list[Line] = []
        self.emit = emit if emit is not None else self.out.append  # Line -> None
        # [lines, bytes] this run may still process (shared by every file of a run)
        self.budget = (
            budget
            if budget is not None
            else [
                limits.MAX_PREPROCESSED_LINES,
                limits.MAX_PREPROCESSED_BYTES,
            ]
        )
        self.macros: dict[str, list[Macro]] = {}  # name (lower case for %imacro)
        self.calls = 0  # numbers macro calls for %%labels
        self.nesting = 0  # macro calls and %rep inside each other
        self.reps = 0  # of which %rep
        self.running: list[Macro] = []  # the macros being expanded, innermost last

    # ---- files ---------------------------------------------------------------
    def run_file(self, name: str, text: str) -> list[Line]:
        try:
            self._file(name, text, 0)
        except _TooManyErrors:
            pass
        except _Fatal as e:
            self.errors.append(e.error)
        return self.out

    def _find_include(self, target: str, including: str) -> str | None:
        return find_file(target, including, self.include_paths, self.exists)

    def _file(self, name: str, text: str, depth: int) -> None:
        if len(text) > limits.MAX_SOURCE_BYTES:
            raise AsmError(
                f"{name} is larger than {limits.MAX_SOURCE_BYTES:,} bytes, the limit for "
                "one source file"
            )
        raw = text.split("\n")
        if raw and raw[-1] == "":
            raw.pop()
        raw = [ln.rstrip("\r") for ln in raw]
        shown = [printable(ln) for ln in raw] if not text.isascii() else raw
        self.sources[name] = shown
        self._run(self._physical(name, raw, shown), depth, None, name)

    @staticmethod
    def _physical(name: str, raw: list[str], shown: list[str]) -> Iterator[Physical]:
        """Lines without comments, continuation lines (ending in \\) joined."""
        i = 0
        while i < len(raw):
            start = i
            body = strip_comment(raw[i])
            i += 1
            while body.rstrip().endswith("\\") and i < len(raw):
                body = body.rstrip()[:-1] + " " + strip_comment(raw[i])
                i += 1
            yield body, SourceLoc(name, start + 1, 1, shown[start])

    def _run(self, lines: Iterable[Physical], depth: int, frame: Frame | None, where: str) -> None:
        """Process lines (a file, a macro body, a %rep body) with their own %if stack."""
        # stack of [taking, any_branch_taken, else_seen, loc]
        conds: list[list] = []
        it = iter(lines)
        for body, loc in it:
            self._spend(body, loc)
            if frame is not None and "%" in body:
                body = frame.substitute(body)
                if body != loc.text:
                    loc = SourceLoc(loc.file, loc.line, 1, printable(body))
            try:
                self._line(body, loc, conds, depth, frame, it)
            except AsmError as e:  # report it, go on with the next line
                self.errors.append(e)
                if len(self.errors) >= limits.MAX_ERRORS:
                    raise _TooManyErrors() from None
        if conds:
            self.errors.append(
                AsmError(f"this %if has no matching %endif in {where}", conds[-1][3])
            )

    def _spend(self, body: str, loc: SourceLoc) -> None:
        budget = self.budget
        budget[0] -= 1
        budget[1] -= len(body)
        if budget[0] < 0 or budget[1] < 0:
            budget[0] = budget[1] = 1 << 62  # report once
            raise _Fatal(
                AsmError(
                    f"the program expands to more than {limits.MAX_PREPROCESSED_LINES:,} lines "
                    f"or {limits.MAX_PREPROCESSED_BYTES >> 20} MiB of text (%include, %rep "
                    "and macros together): stopped here",
                    loc,
                )
            )

    def _line(
        self,
        body: str,
        loc: SourceLoc,
        conds: list[list],
        depth: int,
        frame: Frame | None,
        rest: Iterator[Physical],
    ) -> None:
        active = all(c[0] for c in conds)
        stripped = body.lstrip()
        if stripped.startswith("%"):
            col = len(body) - len(stripped) + 1
            word, _, args = stripped.partition(" ")
            word_tab, _, args_tab = stripped.partition("\t")
            if len(word_tab) < len(word):
                word, args = word_tab, args_tab
            directive = word.lower()
            args_col = col + len(word) + 1
            if active and directive in BLOCKS:
                block = self._collect(directive, rest, SourceLoc(loc.file, loc.line, col, loc.text))
                self._block(directive, args, args_col, loc, col, block, depth, frame)
                return
            self._directive(directive, args, args_col, loc, col, conds, active, depth, frame)
            return
        if not active or not stripped:
            return
        if self.macros:
            call = self._macro_call(body)
            if call is not None:
                self._call(*call, body, loc, depth)
                return
        tokens = tokenize(body, loc)
        self.emit(Line(loc, self.expand(tokens, loc)))

    # ---- %macro and %rep ---------------------------------------------------------
    def _collect(self, opener: str, rest: Iterator[Physical], at: SourceLoc) -> list[Physical]:
        """The body of a %macro or %rep block, up to its matching end (nesting counted)."""
        closer = BLOCKS[opener]
        openers = [k for k, v in BLOCKS.items() if v == closer]
        level = 0
        body: list[Physical] = []
        for text, loc in rest:
            self._spend(text, loc)
            word = text.lstrip().split(None, 1)[0].lower() if text.strip() else ""
            if word in openers:
                level += 1
            elif word == closer:
                if level == 0:
                    return body
                level -= 1
            body.append((text, loc))
        raise AsmError(f"{opener} has no matching {closer}", at)

    def _block(
        self,
        directive: str,
        args: str,
        args_col: int,
        loc: SourceLoc,
        col: int,
        body: list[Physical],
        depth: int,
        frame: Frame | None,
    ) -> None:
        at = SourceLoc(loc.file, loc.line, col, loc.text)
        if directive.endswith("macro"):
            macro = parse_header(args.strip(), at, "i" in directive[1:3], "r" in directive[1:3])
            macro.body = body
            key = macro.name.lower() if macro.nocase else macro.name
            same = self.macros.setdefault(key, [])
            # a new definition with the same counts replaces the old one (as NASM)
            same[:] = [m for m in same if (m.low, m.high) != (macro.low, macro.high)] + [macro]
            return
        # %rep N
        count = self._number(args, args_col, loc)
        if count < 0:
            raise AsmError(f"%rep count is negative ({count})", at)
        self._enter(at)
        self.reps += 1
        try:
            for _ in range(count):
                try:
                    self._run(body, depth, frame, f"the %rep at line {loc.line}")
                except _Exit as e:
                    if e.what != "%exitrep":
                        raise
                    break
        finally:
            self.nesting -= 1
            self.reps -= 1

    def _enter(self, at: SourceLoc) -> None:
        self.nesting += 1
        if self.nesting > limits.MAX_MACRO_DEPTH:
            self.nesting -= 1
            raise AsmError(
                f"macros and %rep nested more than {limits.MAX_MACRO_DEPTH} deep "
                "(does a macro call itself without end?)",
                at,
            )

    def _macro_call(self, body: str) -> tuple[str, Macro, str, int] | None:
        """(label, macro, argument text, column of the macro name) if the line calls one."""
        m = _WORD.match(body)
        if m is None:
            return None
        found = self._macro_named(m.group(1))
        if found is not None:
            return "", found, body[m.end() :], m.start(1) + 1
        m2 = _WORD.match(body, m.end())
        if m2 is None:
            return None
        found = self._macro_named(m2.group(1))
        if found is None:
            return None
        return body[: m2.start(1)], found, body[m2.end() :], m2.start(1) + 1

    def _macro_named(self, word: str) -> Macro | None:
        word = word.rstrip(":")
        ms = self.macros.get(word) or [m for m in self.macros.get(word.lower(), []) if m.nocase]
        # as in NASM, a macro does not call itself unless defined with %rmacro
        ms = [m for m in ms if m.recursive or m not in self.running]
        return ms[-1] if ms else None

    def _call(
        self, label: str, macro: Macro, argtext: str, col: int, body: str, loc: SourceLoc, depth
    ) -> None:
        at = SourceLoc(loc.file, loc.line, col, loc.text)
        key = macro.name.lower() if macro.nocase else macro.name
        nargs = len(split_args(argtext)[0])
        chosen = next(
            (
                m
                for m in reversed(self.macros[key])
                if m.takes(nargs) and (m.recursive or m not in self.running)
            ),
            macro,
        )
        params = bind(chosen, argtext, at)
        if label.strip():
            label = label.rstrip()
            label += "" if label.endswith(":") else ":"
            self.emit(Line(loc, self.expand(tokenize(label, loc), loc)))
        self.calls += 1
        self._enter(at)
        self.running.append(chosen)
        try:
            self._run(
                chosen.body,
                depth,
                Frame(chosen, params, self.calls),
                f"macro '{chosen.name}'",
            )
        except _Exit as e:
            if e.what != "%exitmacro":
                raise
        finally:
            self.nesting -= 1
            self.running.pop()

    # ---- directives ------------------------------------------------------------
    def _directive(
        self,
        d: str,
        rest: str,
        rest_col: int,
        loc: SourceLoc,
        col: int,
        conds: list[list],
        active: bool,
        depth: int,
        frame: Frame | None,
    ) -> None:
        at = SourceLoc(loc.file, loc.line, col, loc.text)
        rest_stripped = rest.strip()
        rcol = rest_col + (len(rest) - len(rest.lstrip()))

        def arg_loc(c: int = rcol) -> SourceLoc:
            return SourceLoc(loc.file, loc.line, c, loc.text)

        if d.startswith("%if"):
            take = active and self._condition(d[3:], rest_stripped, rcol, loc, at)
            conds.append([take, take, False, at])
            return
        if d.startswith("%elif") or d in ("%else", "%endif"):
            if not conds:
                raise AsmError(f"{d} without a matching %if", at)
            top = conds[-1]
            outer = all(c[0] for c in conds[:-1])
            if d == "%endif":
                conds.pop()
            elif d == "%else":
                if top[2]:
                    raise AsmError("%else after %else", at)
                top[2] = True
                top[0] = outer and not top[1]
                top[1] = top[1] or top[0]
            else:
                if top[2]:
                    raise AsmError(f"{d} after %else", at)
                take = outer and not top[1] and self._condition(d[5:], rest_stripped, rcol, loc, at)
                top[0] = take
                top[1] = top[1] or take
            return
        if not active:
            return
        if d in ("%define", "%xdefine", "%idefine", "%xidefine"):
            self._define(rest, rest_col, loc, expand_now=d.startswith("%x"))
            return
        if d == "%undef":
            name = rest_stripped.split()[0] if rest_stripped else ""
            if not name:
                raise AsmError("%undef needs a name", arg_loc())
            self.defines.pop(name, None)
            return
        if d in ("%assign", "%iassign"):
            parts = rest_stripped.split(None, 1)
            if len(parts) < 2 or not _is_name(parts[0]):
                raise AsmError("%assign needs a name and a value: %assign N 5", arg_loc())
            name, text = parts
            ecol = rcol + rest_stripped.index(text, len(name))
            value = self._number(text, ecol, loc)
            self.defines[name] = Define(None, str(value), at)
            return
        if d == "%include":
            toks = tokenize(rest, loc, rest_col)
            if len(toks) != 1 or toks[0].kind != "str":
                raise AsmError('%include needs a quoted file name: %include "file.inc"', arg_loc())
            target = toks[0].value.decode("utf-8", "surrogateescape")
            path = self._find_include(target, loc.file)
            if path is None:
                raise AsmError(
                    f"cannot find include file '{target}' (looked next to "
                    f"{os.path.basename(loc.file)}"
                    + (", in " + ", ".join(self.include_paths) if self.include_paths else "")
                    + " and in the current directory)",
                    arg_loc(),
                )
            if depth >= limits.MAX_INCLUDE_DEPTH:
                raise AsmError("%include nested too deeply (does a file include itself?)", at)
            try:
                text = self.read_file(path)
            except (OSError, UnicodeDecodeError) as e:
                why = getattr(e, "strerror", None) or e
                raise AsmError(f"cannot read include file '{target}': {why}", arg_loc()) from None
            self._file(path, text, depth + 1)
            return
        if d == "%rotate":
            if frame is None:
                raise AsmError("%rotate belongs inside a macro", at)
            frame.rotate(self._number(rest, rest_col, loc))
            return
        if d in ("%exitrep", "%exitmacro"):
            inside = self.reps if d == "%exitrep" else self.nesting - self.reps
            if not inside:
                raise AsmError(f"{d} outside {'a %rep' if d == '%exitrep' else 'a macro'}", at)
            raise _Exit(d)
        if d in ("%endmacro", "%endrep"):
            raise AsmError(f"{d} without a matching {'%macro' if d == '%endmacro' else '%rep'}", at)
        if d in ("%unmacro", "%unimacro"):
            name = rest_stripped.split()[0] if rest_stripped else ""
            self.macros.pop(name if d == "%unmacro" else name.lower(), None)
            return
        if d == "%error":
            raise AsmError(_message_text(rest_stripped) or "%error", at)
        if d == "%warning":
            self.warnings.append(f"{loc.file}:{loc.line}: warning: {_message_text(rest_stripped)}")
            return
        if d in (
            "%local",
            "%push",
            "%pop",
            "%strlen",
            "%substr",
            "%defstr",
        ):
            raise AsmError(
                f"{d} is not supported by the mnist-vm assembler (supported: "
                f"{', '.join(SUPPORTED)})",
                at,
            )
        raise AsmError(
            f"unknown preprocessor directive '{d}' (supported: {', '.join(SUPPORTED)})", at
        )

    def _condition(self, kind: str, rest: str, col: int, loc: SourceLoc, at: SourceLoc) -> bool:
        """%if<kind>: '' (an expression), def, idn, idni, empty, num, str, id, macro;
        an 'n' before any of them negates it (%ifndef, %ifnidn)."""
        here = SourceLoc(loc.file, loc.line, col, loc.text)
        if kind == "":
            return self._number(rest, col, loc) != 0
        negate = kind.startswith("n") and kind[1:] in _TESTS
        test = kind[1:] if negate else kind
        if test not in _TESTS:
            raise AsmError(f"unknown preprocessor directive '%if{kind}'", at)
        if test == "def":
            names = rest.split()
            if len(names) != 1 or not _is_name(names[0]):
                raise AsmError(f"%if{kind} needs one name", here)
            result = names[0] in self.defines
        elif test == "macro":
            name = rest.split()[0] if rest.split() else ""
            result = self._macro_named(name) is not None
        else:
            toks = self.expand(tokenize(rest, loc, col), loc) if rest else []
            if test in ("idn", "idni"):
                comma = next((k for k, t in enumerate(toks) if t.is_op(",")), None)
                if comma is None:
                    raise AsmError(f"%if{kind} compares two things: %if{kind} %1, rax", here)
                a = [t.text for t in toks[:comma]]
                b = [t.text for t in toks[comma + 1 :]]
                if test == "idni":
                    a, b = [x.lower() for x in a], [x.lower() for x in b]
                result = a == b
            elif test == "empty":
                result = not toks
            else:
                kind_of = {"num": "num", "str": "str", "id": "id"}[test]
                result = len(toks) == 1 and toks[0].kind == kind_of
        return result != negate

    def _number(self, text: str, col: int, loc: SourceLoc) -> int:
        toks = self.expand(tokenize(text, loc, col), loc)
        if not toks:
            raise AsmError("expression expected", SourceLoc(loc.file, loc.line, col, loc.text))
        node = parse_expr(toks, loc)

        def no_symbols(name, node):
            raise AsmError(
                f"'{name}' is not a define; preprocessor expressions use only numbers "
                "and %define'd names",
                SourceLoc(loc.file, loc.line, node.col, loc.text),
            )

        def no_here():
            raise AsmError(
                "$ cannot be used in a preprocessor expression",
                SourceLoc(loc.file, loc.line, col, loc.text),
            )

        return Evaluator(loc, no_symbols, no_here, no_here).number(node)

    def _define(self, rest: str, rest_col: int, loc: SourceLoc, expand_now: bool) -> None:
        text = rest.lstrip()
        col = rest_col + len(rest) - len(text)
        i = 0
        while i < len(text) and (text[i].isalnum() or text[i] in "_.?@$#~"):
            i += 1
        name = text[:i]
        if not _is_name(name):
            raise AsmError(
                "%define needs a name: %define NAME value",
                SourceLoc(loc.file, loc.line, col, loc.text),
            )
        params = None
        body = text[i:]
        if body.startswith("("):
            close = body.find(")")
            if close < 0:
                raise AsmError(
                    "missing ')' in the parameter list",
                    SourceLoc(loc.file, loc.line, col + i, loc.text),
                )
            params = tuple(p.strip() for p in body[1:close].split(",") if p.strip())
            if not all(_is_name(p) for p in params):
                raise AsmError(
                    "macro parameters must be names",
                    SourceLoc(loc.file, loc.line, col + i, loc.text),
                )
            body = body[close + 1 :]
        body = body.strip()
        if expand_now and body:
            toks = self.expand(tokenize(body, loc, col), loc)
            body = " ".join(_spell(t) for t in toks)
        if len(body) > limits.MAX_DEFINE_BYTES:
            raise AsmError(
                f"the body of '{name}' is longer than {limits.MAX_DEFINE_BYTES:,} characters",
                SourceLoc(loc.file, loc.line, col, loc.text),
            )
        self.defines[name] = Define(params, body, loc)

    # ---- expansion -------------------------------------------------------------------
    def expand(
        self,
        tokens: list[Token],
        loc: SourceLoc,
        active: frozenset = frozenset(),
        budget: list | None = None,
    ) -> list[Token]:
        if budget is None:
            budget = [limits.MAX_DEFINE_EXPANSIONS]
        out: list[Token] = []
        i = 0
        while i < len(tokens):
            t = tokens[i]
            d = self.defines.get(t.text) if t.kind == "id" and t.value != "escaped" else None
            if d is None or t.text in active:
                out.append(t)
                i += 1
                continue
            budget[0] -= 1
            if budget[0] < 0:
                raise AsmError(
                    f"define '{t.text}' expands without end",
                    SourceLoc(loc.file, loc.line, t.col, loc.text),
                )
            i += 1
            body = d.body
            if d.params is not None:
                if i >= len(tokens) or not tokens[i].is_op("("):
                    out.append(t)  # a function-like define used without arguments
                    continue
                args, i = _macro_args(tokens, i, loc)
                if len(args) != len(d.params):
                    raise AsmError(
                        f"'{t.text}' takes {len(d.params)} argument(s), got {len(args)}",
                        SourceLoc(loc.file, loc.line, t.col, loc.text),
                    )
                try:
                    body_toks = tokenize(body, loc, t.col)
                except AsmError as e:
                    raise AsmError(
                        f"in the expansion of '{t.text}': {e.message}",
                        SourceLoc(loc.file, loc.line, t.col, loc.text),
                    ) from None
                sub: list[Token] = []
                for bt in body_toks:
                    if bt.kind == "id" and bt.text in d.params:
                        sub += [
                            Token(a.kind, a.text, t.col, a.value)
                            for a in args[d.params.index(bt.text)]
                        ]
                    else:
                        sub.append(Token(bt.kind, bt.text, t.col, bt.value))
                new = sub
            else:
                try:
                    new = [
                        Token(b.kind, b.text, t.col, b.value) for b in tokenize(body, loc, t.col)
                    ]
                except AsmError as e:
                    raise AsmError(
                        f"in the expansion of '{t.text}': {e.message}",
                        SourceLoc(loc.file, loc.line, t.col, loc.text),
                    ) from None
            out += self.expand(new, loc, active | {t.text}, budget)
            if len(out) > limits.MAX_LINE_TOKENS:
                raise AsmError(
                    f"define '{t.text}' expands to more than {limits.MAX_LINE_TOKENS:,} tokens",
                    SourceLoc(loc.file, loc.line, t.col, loc.text),
                )
        return out


def _macro_args(tokens: list[Token], i: int, loc: SourceLoc) -> tuple[list[list[Token]], int]:
    depth = 0
    args: list[list[Token]] = [[]]
    start = tokens[i]
    i += 1
    while i < len(tokens):
        t = tokens[i]
        if t.is_op("("):
            depth += 1
        elif t.is_op(")"):
            if depth == 0:
                return ([a for a in args if a] if args != [[]] else []), i + 1
            depth -= 1
        elif t.is_op(",") and depth == 0:
            args.append([])
            i += 1
            continue
        args[-1].append(t)
        i += 1
    raise AsmError(
        "missing ')' after the macro arguments", SourceLoc(loc.file, loc.line, start.col, loc.text)
    )


def _is_name(s: str) -> bool:
    return (
        bool(s)
        and (s[0].isalpha() or s[0] in "_.?@$")
        and all(c.isalnum() or c in "_.?@$#~" for c in s)
    )


def _spell(t: Token) -> str:
    return t.text


def _message_text(rest: str) -> str:
    rest = rest.strip()
    if len(rest) >= 2 and rest[0] == rest[-1] and rest[0] in "'\"`":
        return rest[1:-1]
    return rest
