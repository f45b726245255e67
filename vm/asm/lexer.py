"""Tokens of one NASM source line.

A token remembers its 1-based column so that every error can point a caret
at the place it is about. Numbers follow NASM's spellings (0x1F, 1Fh, $1F,
0b101, 101b, 0o17, 17q, underscores as separators); a literal with a '.' or
an exponent is a floating-point literal, kept as text and converted
correctly rounded by vm.asm.floats when a directive gives it a width.
Strings: '...' and "..." are taken literally, `...` understands C escapes.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from ..errors import AsmError, SourceLoc


@dataclass(frozen=True)
class Token:
    kind: str  # 'id' 'num' 'float' 'str' 'op'
    text: str  # as written (for 'str': the decoded text is in value)
    col: int  # 1-based column in the source line
    value: Any = None  # int for 'num', bytes for 'str', 'escaped' for $name

    def is_op(self, *ops: str) -> bool:
        return self.kind == "op" and self.text in ops

    def is_id(self, *names: str) -> bool:
        return self.kind == "id" and self.text.lower() in names


_DIGITS = "0123456789"
_ID_START = re.compile(r"[A-Za-z_.?@$]")
_ID_CHARS = re.compile(r"[A-Za-z0-9_.?@$#~]*")
_NUMBER = re.compile(
    r"(?:\$[0-9][0-9A-Fa-f_]*)|(?:[0-9][0-9A-Za-z_]*(?:\.[0-9A-Za-z_]*)?"
    r"(?:(?<=[eEpP])[+-][0-9_]+)?)"
)
_OPS = (
    "<<<",
    ">>>",
    "<=>",
    "<<",
    ">>",
    "//",
    "%%",
    "==",
    "!=",
    "<>",
    "<=",
    ">=",
    "&&",
    "||",
    "^^",
    "[",
    "]",
    "(",
    ")",
    ",",
    ":",
    "+",
    "-",
    "*",
    "/",
    "%",
    "&",
    "|",
    "^",
    "~",
    "!",
    "<",
    ">",
    "=",
)
_ESCAPES = {
    "n": 10,
    "t": 9,
    "r": 13,
    "0": 0,
    "a": 7,
    "b": 8,
    "f": 12,
    "v": 11,
    "e": 27,
    "\\": 92,
    "'": 39,
    '"': 34,
    "`": 96,
    "?": 63,
}


def parse_int(text: str) -> int | None:
    """A NASM integer literal, or None if text is not one."""
    t = text.replace("_", "").lower()
    if not t:
        return None
    try:
        if t.startswith("$"):
            return int(t[1:], 16)
        if t.startswith(("0x", "0h")) and len(t) > 2:
            return int(t[2:], 16)
        if t.startswith(("0b", "0y")) and len(t) > 2:
            return int(t[2:], 2)
        if t.startswith(("0o", "0q")) and len(t) > 2:
            return int(t[2:], 8)
        if t.startswith(("0d", "0t")) and len(t) > 2:
            return int(t[2:], 10)
        if t[-1] in "hx" and t[0].isdigit():
            return int(t[:-1], 16)
        if t[-1] in "by" and all(c in "01" for c in t[:-1]):
            return int(t[:-1], 2)
        if t[-1] in "qo":
            return int(t[:-1], 8)
        if t[-1] in "dt" and t[:-1].isdigit():
            return int(t[:-1], 10)
        return int(t, 10)
    except ValueError:
        return None


def is_float_literal(text: str) -> bool:
    t = text.replace("_", "").lower()
    if t.startswith("0x"):
        return "." in t or "p" in t
    if parse_int(text) is not None:
        return False
    return bool(re.fullmatch(r"[0-9]+(\.[0-9]*)?(e[+-]?[0-9]+)?", t)) and ("." in t or "e" in t)


# Sources are read as UTF-8; bytes that are not (Latin-1 text in a comment or a
# string) are kept as lone surrogates and come back out as the same bytes.
SOURCE_ERRORS = "surrogateescape"


def decode_source(raw: bytes) -> str:
    return raw.decode("utf-8", SOURCE_ERRORS)


def printable(text: str) -> str:
    """text with each undecodable source byte shown as its Latin-1 character
    (safe to print; one character per byte, so columns still line up)."""
    if text.isascii() or not any("\udc80" <= c <= "\udcff" for c in text):
        return text
    return "".join(chr(ord(c) - 0xDC00) if "\udc80" <= c <= "\udcff" else c for c in text)


def _backquote(body: str, loc: SourceLoc, col: int) -> bytes:
    out = bytearray()
    i = 0
    while i < len(body):
        ch = body[i]
        if ch != "\\":
            out += ch.encode("utf-8", SOURCE_ERRORS)
            i += 1
            continue
        i += 1
        if i >= len(body):
            break
        e = body[i]
        if e in "xX":
            hexd = re.match(r"[0-9A-Fa-f]{1,2}", body[i + 1 :])
            if not hexd:
                raise AsmError("\\x needs hex digits", _at(loc, col))
            out.append(int(hexd.group(), 16))
            i += 1 + len(hexd.group())
        elif e in "01234567":
            octal = body[i : i + 3]
            octal = octal[
                : next((k for k, c in enumerate(octal) if c not in "01234567"), len(octal))
            ]
            out.append(int(octal, 8) & 255)
            i += len(octal)
        elif e in "uU":
            n = 4 if e == "u" else 8
            digits = body[i + 1 : i + 1 + n]
            try:
                out += chr(int(digits, 16)).encode()
            except (ValueError, UnicodeEncodeError):
                raise AsmError(
                    f"\\{e} needs {n} hex digits of a valid code point", _at(loc, col)
                ) from None
            i += 1 + n
        elif e in _ESCAPES:
            out.append(_ESCAPES[e])
            i += 1
        else:
            out += ("\\" + e).encode()
            i += 1
    return bytes(out)


def _at(loc: SourceLoc, col: int) -> SourceLoc:
    return SourceLoc(loc.file, loc.line, col, loc.text)


def strip_comment(line: str) -> str:
    """The line without its ';' comment (a ';' inside a string is kept)."""
    quote = None
    i = 0
    while i < len(line):
        ch = line[i]
        if quote:
            if ch == "\\" and quote == "`":
                i += 2
                continue
            if ch == quote:
                quote = None
        elif ch in "'\"`":
            quote = ch
        elif ch == ";":
            return line[:i]
        i += 1
    return line


def tokenize(text: str, loc: SourceLoc, col0: int = 1) -> list[Token]:
    """Tokens of text (a line without its comment). col0 is the column of text[0]."""
    out: list[Token] = []
    i, n = 0, len(text)
    while i < n:
        ch = text[i]
        col = col0 + i
        if ch in " \t\r\f\v":
            i += 1
            continue
        if ch in "'\"`":
            j = i + 1
            while j < n and text[j] != ch:
                j += 2 if (ch == "`" and text[j] == "\\") else 1
            if j >= n:
                raise AsmError("unterminated string (missing closing quote)", _at(loc, col))
            body = text[i + 1 : j]
            value = _backquote(body, loc, col) if ch == "`" else body.encode("utf-8", SOURCE_ERRORS)
            out.append(Token("str", text[i : j + 1], col, value))
            i = j + 1
            continue
        if ch in _DIGITS or (ch == "$" and i + 1 < n and text[i + 1] in _DIGITS):
            m = _NUMBER.match(text, i)
            assert m is not None  # starts with a digit (or $digit): always matches
            word = m.group()
            if is_float_literal(word):
                out.append(Token("float", word, col))
            else:
                v = parse_int(word)
                if v is None:
                    raise AsmError(f"invalid number '{word}'", _at(loc, col))
                out.append(Token("num", word, col, v))
            i = m.end()
            continue
        if _ID_START.match(ch):
            m = _ID_CHARS.match(text, i + 1)
            assert m is not None  # '*' pattern: always matches
            word = text[i : m.end()]
            if word.startswith("$") and len(word) > 1 and word not in ("$$",):
                if word[1] == "$":  # '$$' followed by text: section start, then id
                    out.append(Token("id", "$$", col))
                    i += 2
                    continue
                word = word[1:]  # $name: a symbol named like a keyword
                out.append(Token("id", word, col, "escaped"))
                i = m.end()
                continue
            out.append(Token("id", word, col))
            i = m.end()
            continue
        if (
            ch == "%"
            and i + 1 < n
            and (
                text[i + 1].isalpha() or text[i + 1] == "%" and i + 2 < n and text[i + 2].isalpha()
            )
        ):
            raise AsmError(
                f"unexpected '{text[i:].split()[0]}' (preprocessor directives must start a line)",
                _at(loc, col),
            )
        for op in _OPS:
            if text.startswith(op, i):
                out.append(Token("op", op, col))
                i += len(op)
                break
        else:
            if ch == "{":  # AVX-512 decorators: {k1} {z} {1to16} {rn-sae}
                raise AsmError(
                    "AVX-512 masking ({k1}, {z}), broadcast ({1to16}) and rounding "
                    "decorators are not supported: write the operation unmasked",
                    _at(loc, col),
                )
            raise AsmError(f"unexpected character {ch!r}", _at(loc, col))
    return out
