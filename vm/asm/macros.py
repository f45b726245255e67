"""NASM multi-line macros: `%macro NAME N[-M][+] [defaults]` ... `%endmacro`.

`%imacro` matches its name in any case; `%rmacro` may call itself (a plain
macro's own name inside its body is not a call, as in NASM).

A macro is a list of body lines kept as written. A call (`NAME a, b` at the
start of a line, after an optional label) makes a Frame: the arguments,
the defaults for those left out, and a number unique to the call. Each body
line is substituted when it is reached, so `%rotate` inside a `%rep` in
the body sees the parameters as they are at that point:

    %1 .. %N, %{N}   the N-th parameter (empty past the last one)
    %0               how many parameters there are (defaults included)
    %%name           a label of this call only: ..@<call>.name

Arguments are split at commas outside quotes and braces; `{a, b}` is one
argument (its braces removed). With a greedy `+`, the last parameter takes
the rest of the line, commas and all.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from ..errors import AsmError, SourceLoc

UNLIMITED = 1 << 30  # `N-*`

_SPEC = re.compile(r"(\d+)(?:-(\d+|\*))?(\+)?(\.nolist)?$", re.IGNORECASE)


@dataclass
class Macro:
    name: str
    low: int  # fewest parameters
    high: int  # most parameters (UNLIMITED for N-*)
    greedy: bool  # the last parameter takes the rest of the line
    defaults: list[str]  # for parameters low+1 .. high
    loc: SourceLoc
    body: list[tuple[str, SourceLoc]] = field(default_factory=list)
    nocase: bool = False  # %imacro
    recursive: bool = False  # %rmacro: may call itself

    def __eq__(self, other: object) -> bool:
        return self is other

    __hash__ = object.__hash__

    def takes(self, n: int) -> bool:
        return self.low <= n <= self.high or (self.greedy and n > self.high)

    def arity(self) -> str:
        if self.high == self.low:
            return f"{self.low}" + ("+" if self.greedy else "")
        return f"{self.low}-{'*' if self.high == UNLIMITED else self.high}"


def parse_header(rest: str, loc: SourceLoc, nocase: bool, recursive: bool = False) -> Macro:
    """`NAME spec [defaults]` of a %macro line."""
    parts = rest.split(None, 2)
    if len(parts) < 2 or not re.match(r"[A-Za-z_.?@$][\w.?@$#~]*$", parts[0]):
        raise AsmError(
            "%macro needs a name and a parameter count: %macro print 2 (or 1-3, 1+, 0-*)", loc
        )
    m = _SPEC.match(parts[1])
    if m is None:
        raise AsmError(
            f"bad parameter count '{parts[1]}' (write N, N-M, N-*, or N+ for a greedy last one)",
            loc,
        )
    low = int(m.group(1))
    high = low if m.group(2) is None else (UNLIMITED if m.group(2) == "*" else int(m.group(2)))
    if high < low:
        raise AsmError(f"parameter range {low}-{high} is backwards", loc)
    defaults = split_args(parts[2])[0] if len(parts) > 2 else []
    if high != UNLIMITED and len(defaults) > high - low:
        raise AsmError(
            f"{len(defaults)} default(s) given for {high - low} optional parameter(s)", loc
        )
    return Macro(
        parts[0], low, high, bool(m.group(3)), defaults, loc, nocase=nocase, recursive=recursive
    )


def split_args(text: str) -> tuple[list[str], list[int]]:
    """Arguments of a call and where each starts in text (for a greedy rest)."""
    args: list[str] = []
    starts: list[int] = []
    if not text.strip():
        return args, starts
    depth = 0
    quote = ""
    start = 0
    for i, ch in enumerate(text):
        if quote:
            if ch == quote:
                quote = ""
        elif ch in "'\"`":
            quote = ch
        elif ch == "{":
            depth += 1
        elif ch == "}":
            depth -= 1
        elif ch == "," and depth == 0:
            args.append(_unbrace(text[start:i]))
            starts.append(start)
            start = i + 1
    args.append(_unbrace(text[start:]))
    starts.append(start)
    return args, starts


def _unbrace(arg: str) -> str:
    arg = arg.strip()
    if arg.startswith("{") and arg.endswith("}"):
        return arg[1:-1].strip()
    return arg


class Frame:
    """One call of a macro: its parameters (rotated by %rotate) and unique number."""

    def __init__(self, macro: Macro, args: list[str], uid: int):
        self.macro = macro
        self.params = args
        self.uid = uid

    def rotate(self, n: int) -> None:
        if self.params:
            k = n % len(self.params)
            self.params = self.params[k:] + self.params[:k]

    def substitute(self, text: str) -> str:
        """text with %1, %{1}, %0 and %%name replaced (not inside strings)."""
        if "%" not in text:
            return text
        out: list[str] = []
        i, n = 0, len(text)
        quote = ""
        while i < n:
            ch = text[i]
            if quote:
                out.append(ch)
                if ch == quote:
                    quote = ""
                i += 1
                continue
            if ch in "'\"`":
                quote = ch
                out.append(ch)
                i += 1
                continue
            if ch != "%" or i + 1 >= n:
                out.append(ch)
                i += 1
                continue
            nxt = text[i + 1]
            if nxt == "%" and i + 2 < n and (text[i + 2].isalpha() or text[i + 2] in "_.?@$"):
                j = i + 2
                while j < n and (text[j].isalnum() or text[j] in "_.?@$#~"):
                    j += 1
                out.append(f"..@{self.uid}.{text[i + 2 : j]}")
                i = j
                continue
            m = re.match(r"%(?:\{(\d+)\}|(\d+))", text[i:])
            if m:
                k = int(m.group(1) or m.group(2))
                if k == 0:
                    out.append(str(len(self.params)))
                elif k <= len(self.params):
                    out.append(self.params[k - 1])
                i += m.end()
                continue
            out.append(ch)
            i += 1
        return "".join(out)


def bind(macro: Macro, text: str, loc: SourceLoc) -> list[str]:
    """The parameters of a call of macro with argument text (defaults filled in)."""
    args, starts = split_args(text)
    if macro.greedy and len(args) > macro.high:
        cut = max(macro.high, 1) - 1
        args = args[:cut] + [text[starts[cut] :].strip()] if macro.high else []
    if not macro.takes(len(args)):
        raise AsmError(
            f"macro '{macro.name}' takes {macro.arity()} parameter(s), got {len(args)} "
            f"(defined at {macro.loc.file}:{macro.loc.line})",
            loc,
        )
    missing = macro.high - len(args) if macro.high != UNLIMITED else 0
    if missing > 0:
        given_optional = len(args) - macro.low
        args = args + macro.defaults[given_optional:][:missing]
    return args
