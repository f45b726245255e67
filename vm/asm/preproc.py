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
from dataclasses import dataclass

from ..errors import AsmError, SourceLoc
from .expr import Evaluator, parse_expr
from .lexer import Token, strip_comment, tokenize

MAX_INCLUDE_DEPTH = 32
MAX_EXPANSION = 10_000
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


class Preprocessor:
    def __init__(
        self,
        defines: dict[str, str],
        include_paths: list[str],
        read_file,
        warnings: list[str],
        exists=os.path.isfile,
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

    # ---- files ---------------------------------------------------------------
    def run_file(self, name: str, text: str) -> list[Line]:
        self._file(name, text, 0)
        return self.out

    def _find_include(self, target: str, including: str) -> str | None:
        candidates = []
        if os.path.isabs(target):
            candidates.append(target)
        else:
            here = os.path.dirname(including)
            candidates.append(os.path.join(here, target) if here else target)
            candidates += [os.path.join(p, target) for p in self.include_paths]
            candidates.append(target)
        for c in candidates:
            if self.exists(c):
                return os.path.normpath(c)
        return None

    def _file(self, name: str, text: str, depth: int) -> None:
        lines = text.split("\n")
        if lines and lines[-1] == "":
            lines.pop()
        lines = [ln.rstrip("\r") for ln in lines]
        self.sources[name] = lines
        # stack of [taking, any_branch_taken, else_seen, loc]
        conds: list[list] = []
        i = 0
        while i < len(lines):
            start = i
            raw = lines[i]
            i += 1
            body = strip_comment(raw)
            while body.rstrip().endswith("\\") and i < len(lines):  # line continuation
                body = body.rstrip()[:-1] + " " + strip_comment(lines[i])
                i += 1
            loc = SourceLoc(name, start + 1, 1, raw)
            try:
                self._line(body, loc, conds, depth)
            except AsmError as e:  # report it, go on with the next line
                self.errors.append(e)
                if len(self.errors) >= 20:
                    return
        if conds:
            self.errors.append(AsmError("this %if has no matching %endif", conds[-1][3]))

    def _line(self, body: str, loc: SourceLoc, conds: list[list], depth: int) -> None:
        active = all(c[0] for c in conds)
        stripped = body.lstrip()
        if stripped.startswith("%"):
            col = len(body) - len(stripped) + 1
            word, _, rest = stripped.partition(" ")
            word_tab, _, rest_tab = stripped.partition("\t")
            if len(word_tab) < len(word):
                word, rest = word_tab, rest_tab
            directive = word.lower()
            rest_col = col + len(word) + 1
            self._directive(directive, rest, rest_col, loc, col, conds, active, depth)
            return
        if not active or not stripped:
            return
        tokens = tokenize(body, loc)
        self.out.append(Line(loc, self.expand(tokens, loc)))

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
    ) -> None:
        at = SourceLoc(loc.file, loc.line, col, loc.text)
        rest_stripped = rest.strip()
        rcol = rest_col + (len(rest) - len(rest.lstrip()))

        def arg_loc(c: int = rcol) -> SourceLoc:
            return SourceLoc(loc.file, loc.line, c, loc.text)

        if d in ("%if", "%ifdef", "%ifndef"):
            take = active and self._condition(d[1:], rest_stripped, rcol, loc)
            conds.append([take, take, False, at])
            return
        if d in ("%elif", "%elifdef", "%elifndef", "%else", "%endif"):
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
                take = outer and not top[1] and self._condition(d[3:], rest_stripped, rcol, loc)
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
        if d == "%assign":
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
            target = toks[0].value.decode()
            path = self._find_include(target, loc.file)
            if path is None:
                raise AsmError(
                    f"cannot find include file '{target}' (looked next to "
                    f"{os.path.basename(loc.file)}"
                    + (", in " + ", ".join(self.include_paths) if self.include_paths else "")
                    + " and in the current directory)",
                    arg_loc(),
                )
            if depth >= MAX_INCLUDE_DEPTH:
                raise AsmError("%include nested too deeply (does a file include itself?)", at)
            try:
                text = self.read_file(path)
            except (OSError, UnicodeDecodeError) as e:
                raise AsmError(f"cannot read include file '{target}': {e}", arg_loc()) from None
            self._file(path, text, depth + 1)
            return
        if d == "%error":
            raise AsmError(_message_text(rest_stripped) or "%error", at)
        if d == "%warning":
            self.warnings.append(f"{loc.file}:{loc.line}: warning: {_message_text(rest_stripped)}")
            return
        if d in (
            "%macro",
            "%imacro",
            "%endmacro",
            "%rep",
            "%endrep",
            "%rotate",
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

    def _condition(self, kind: str, rest: str, col: int, loc: SourceLoc) -> bool:
        if kind in ("ifdef", "ifndef"):
            names = rest.split()
            if len(names) != 1 or not _is_name(names[0]):
                raise AsmError(
                    f"%{kind} needs one name", SourceLoc(loc.file, loc.line, col, loc.text)
                )
            defined = names[0] in self.defines
            return defined if kind == "ifdef" else not defined
        return self._number(rest, col, loc) != 0

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
            budget = [MAX_EXPANSION]
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
