"""printf and scanf format strings, as glibc interprets them.

`printf_format` splits a format into literal text and conversion specs,
fetches each argument with the type the spec asks for (the caller supplies
the argument source: System V varargs in vm/libc.py) and renders each spec
with the host C library's own snprintf through ctypes, one spec at a time
and with arguments of exactly the types the spec expects, so on a glibc host
the text is glibc's to the byte (rounding of %f/%e/%g, `-nan`, `(nil)`,
`(null)`). Without a loadable C library, Python's `%` operator renders it
(C-like, not guaranteed identical at the edges).

`Scanner` implements scanf's directives over a byte source with one byte of
look-ahead, as glibc's vfscanf does (whitespace, literals, %d %i %u %x %o %c
%s %[set] %f %e %g %n with widths, `*` and length modifiers).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import re
from collections.abc import Callable
from dataclasses import dataclass

M64 = (1 << 64) - 1

_SPEC = re.compile(rb"%([-+ #0']*)(\*|\d+)?(?:\.(\*|\d*))?(hh|h|ll|l|L|q|j|z|Z|t)?(.)", re.S)
INT_CONV = b"diouxX"
FLOAT_CONV = b"fFeEgGaA"
INT_BITS = {b"hh": 8, b"h": 16, None: 32, b"l": 64, b"ll": 64, b"q": 64, b"j": 64}
INT_BITS.update({b"z": 64, b"Z": 64, b"t": 64})


class FormatError(Exception):
    """A conversion the VM does not support (%n, %Lf, wide characters)."""


def _load_libc():
    try:
        lib = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        fn = lib.snprintf
    except (OSError, AttributeError):
        return None
    fn.restype = ctypes.c_int
    return fn


_SNPRINTF = _load_libc()


class Args:
    """Where printf's arguments come from, in order (System V varargs)."""

    def __init__(self, next_int: Callable[[], int], next_float: Callable[[], float]):
        self.next_int, self.next_float = next_int, next_float


def _signed(v: int, bits: int) -> int:
    v &= (1 << bits) - 1
    return v - (1 << bits) if v >> (bits - 1) else v


def _render(spec: bytes, arg) -> bytes:
    """One conversion through the host's snprintf (or Python's % without one)."""
    if _SNPRINTF is not None:
        size = 512
        while True:
            buf = ctypes.create_string_buffer(size)
            n = _SNPRINTF(buf, size, spec, arg)
            if n < 0:
                raise FormatError(f"the C library rejected {spec.decode(errors='replace')}")
            if n < size:
                return buf.raw[:n]
            size = n + 1
    pyspec = spec.decode("latin-1").replace("ll", "").replace("'", "")
    value = arg.value if hasattr(arg, "value") else arg
    if pyspec.endswith("p"):
        return b"(nil)" if not value else (pyspec[:-1] + "#x").encode() % value
    if isinstance(value, bytes):
        return pyspec.encode("latin-1") % value
    return (pyspec % value).encode("latin-1")


def printf_format(fmt: bytes, args: Args, read_string: Callable[[int, int | None], bytes]) -> bytes:
    """The bytes printf(fmt, ...) writes. read_string(addr, limit) reads a C
    string from the guest (at most limit bytes when a precision bounds %s)."""
    out = bytearray()
    pos = 0
    while True:
        k = fmt.find(b"%", pos)
        if k < 0:
            out += fmt[pos:]
            return bytes(out)
        out += fmt[pos:k]
        m = _SPEC.match(fmt, k)
        if m is None:  # a lone % at the end
            out += fmt[k:]
            return bytes(out)
        pos = m.end()
        flags, width, prec, length, conv = m.groups()
        if conv == b"%":
            out += b"%"
            continue
        if width == b"*":
            w = _signed(args.next_int(), 32)
            if w < 0:
                flags += b"-"
            width = str(abs(w)).encode()
        if prec == b"*":
            p = _signed(args.next_int(), 32)
            prec = str(p).encode() if p >= 0 else None
        head = b"%" + flags + (width or b"") + (b"." + prec if prec is not None else b"")
        if conv in INT_CONV:
            bits = INT_BITS[length]
            raw = args.next_int()
            arg: ctypes.c_longlong | ctypes.c_ulonglong
            if conv in b"di":
                arg = ctypes.c_longlong(_signed(raw, bits))
            else:
                arg = ctypes.c_ulonglong(raw & ((1 << bits) - 1))
            out += _render(head + b"ll" + conv, arg)
        elif conv in FLOAT_CONV:
            if length == b"L":
                raise FormatError("long double conversions (%Lf) are not supported")
            out += _render(head + conv, ctypes.c_double(args.next_float()))
        elif conv == b"c":
            if length == b"l":
                raise FormatError("wide characters (%lc) are not supported")
            out += _render(head + b"c", ctypes.c_int(args.next_int() & 0xFF))
        elif conv == b"s":
            if length == b"l":
                raise FormatError("wide strings (%ls) are not supported")
            addr = args.next_int()
            limit = int(prec) if prec not in (None, b"") else None
            text = None if addr == 0 else read_string(addr, limit)
            out += _render(head + b"s", ctypes.c_char_p(text))
        elif conv == b"p":
            out += _render(head + b"p", ctypes.c_void_p(args.next_int() or None))
        elif conv == b"n":
            raise FormatError("%n is not supported")
        else:  # unknown conversion: glibc prints the spec as it is
            out += m.group(0)


# ---- scanf ---------------------------------------------------------------------------

_SPACE = b" \t\n\v\f\r"
_SCAN = re.compile(rb"%(\*)?(\d+)?(hh|h|ll|l|L|q|j|z|t)?(\[\^?\]?[^\]]*\]|.)", re.S)


@dataclass
class Store:
    """One assignment scanf makes: kind 'int' (size bytes), 'float' (4/8) or
    'bytes' (a string, NUL added for %s/%[)."""

    kind: str
    size: int
    value: int | float | bytes  # int for 'int', float for 'float', bytes for 'bytes'


class Scanner:
    """scanf over a byte source: peek() -> int | None (EOF), take() consumes."""

    def __init__(self, peek: Callable[[], int | None], take: Callable[[], None]):
        self.peek, self.take = peek, take
        self.consumed = 0

    def _get(self) -> int | None:
        c = self.peek()
        if c is not None:
            self.take()
            self.consumed += 1
        return c

    def _skip_space(self) -> bool:
        """Skip whitespace; False at end of input."""
        while True:
            c = self.peek()
            if c is None:
                return False
            if c not in _SPACE:
                return True
            self._get()

    def _chars(self, ok: Callable[[bytes, int], bool], width: int) -> bytes:
        """The longest run of bytes (at most width) that ok(prefix, c) accepts."""
        got = bytearray()
        while len(got) < width:
            c = self.peek()
            if c is None or not ok(bytes(got), c):
                break
            got.append(c)
            self._get()
        return bytes(got)

    def scan(
        self, fmt: bytes, pointers: Callable[[], int], store: Callable[[int, Store], None]
    ) -> int:
        """Run the format; pointers() gives the next destination address,
        store(addr, what) writes it. Returns scanf's result."""
        count, pos, failed_input = 0, 0, False
        while pos < len(fmt):
            ch = fmt[pos]
            if ch in _SPACE:
                self._skip_space()
                pos += 1
                continue
            if ch != ord("%") or fmt[pos : pos + 2] == b"%%":
                if ch == ord("%"):
                    self._skip_space()
                    pos += 1
                c = self.peek()
                if c is None:
                    failed_input = True
                    break
                if c != fmt[pos]:
                    break
                self._get()
                pos += 1
                continue
            m = _SCAN.match(fmt, pos)
            if m is None:
                break
            pos = m.end()
            suppress, width_s, length, conv = m.groups()
            width = int(width_s) if width_s else None
            if conv == b"n":
                if not suppress:
                    store(pointers(), Store("int", _int_size(length), self.consumed))
                continue
            if conv not in (b"c",) and not conv.startswith(b"["):
                if not self._skip_space():
                    failed_input = True
                    break
            elif self.peek() is None:
                failed_input = True
                break
            item = self._convert(conv, width, length)
            if item is None:
                break
            if not suppress:
                store(pointers(), item)
                count += 1
        if failed_input and count == 0:
            return -1
        return count

    def _convert(self, conv: bytes, width: int | None, length: bytes | None) -> Store | None:
        big = 1 << 30
        if conv in (b"d", b"i", b"u", b"x", b"X", b"o"):
            base = {b"d": 10, b"u": 10, b"i": 0, b"x": 16, b"X": 16, b"o": 8}[conv]
            text = self._chars(_number_ok(base), width or big)
            value = _parse_int(text, base)
            if value is None:
                return None
            lo, hi = (-(1 << 63), (1 << 63) - 1) if conv in (b"d", b"i") else (-M64, M64)
            value = max(lo, min(hi, value))
            return Store("int", _int_size(length), value)
        if conv in (b"f", b"e", b"g", b"E", b"G", b"a", b"F"):
            text = self._chars(_float_ok, width or big)
            number = parse_float(text)
            if number is None:
                return None
            return Store("float", 8 if length in (b"l", b"L") else 4, number)
        if conv == b"s":
            text = self._chars(lambda _p, c: c not in _SPACE, width or big)
            return Store("bytes", 0, text + b"\0")
        if conv == b"c":
            text = self._chars(lambda _p, c: True, width or 1)
            return Store("bytes", 0, text) if text else None
        if conv.startswith(b"["):
            body = conv[1:-1]
            negate = body.startswith(b"^")
            allowed = _scanset(body[1:] if negate else body)
            text = self._chars(lambda _p, c: (c in allowed) != negate, width or big)
            return Store("bytes", 0, text + b"\0") if text else None
        return None


def _int_size(length: bytes | None) -> int:
    return {b"hh": 1, b"h": 2, None: 4}.get(length, 8)


def _number_ok(base: int):
    def ok(prefix: bytes, c: int) -> bool:
        body = prefix.lstrip(b"+-")
        if not prefix and c in b"+-":
            return True
        digits = b"0123456789abcdefABCDEF"
        b = base
        if base == 0:
            b = 16 if body[:2].lower() == b"0x" else 8 if body[:1] == b"0" else 10
        if base in (0, 16) and body in (b"0",) and c in b"xX":
            return True
        return c in digits[: b if b <= 10 else 10 + 2 * (b - 10)] if b > 10 else c in digits[:b]

    return ok


def _parse_int(text: bytes, base: int) -> int | None:
    s = text.decode()
    if not s.lstrip("+-"):
        return None
    try:
        if base == 0:
            sign, body = (s[0], s[1:]) if s[0] in "+-" else ("", s)
            if body[:2].lower() == "0x":
                v = int(body[2:], 16)
            elif body.startswith("0") and len(body) > 1:
                v = int(body, 8)
            else:
                v = int(body, 10)
            return -v if sign == "-" else v
        if base == 16 and s.lstrip("+-")[:2].lower() == "0x":
            sign = "-" if s.startswith("-") else ""
            return int(sign + s.lstrip("+-")[2:], 16)
        return int(s, base)
    except ValueError:
        return None


_FLOAT_PREFIX = re.compile(
    rb"[+-]?(\d*\.?\d*(e[+-]?\d*)?|0(x[\da-f]*\.?[\da-f]*(p[+-]?\d*)?)?"
    rb"|i(n(f(i(n(i(t(y)?)?)?)?)?)?)?|n(a(n)?)?)"
)


def _float_ok(prefix: bytes, c: int) -> bool:
    """Whether prefix + c can still begin a strtod number (decimal, hex, inf, nan)."""
    return bool(_FLOAT_PREFIX.fullmatch((prefix + bytes([c])).lower()))


def parse_float(text: bytes) -> float | None:
    s = text.decode().lower()
    try:
        if "0x" in s:
            sign = -1.0 if s.startswith("-") else 1.0
            body = s.lstrip("+-")
            return sign * float.fromhex(body if "p" in body else body + "p0")
        return float(s)
    except (ValueError, OverflowError):
        return None


def _scanset(body: bytes) -> set[int]:
    out: set[int] = set()
    i = 0
    while i < len(body):
        if i + 2 < len(body) and body[i + 1] == ord("-"):
            out.update(range(body[i], body[i + 2] + 1))
            i += 3
        else:
            out.add(body[i])
            i += 1
    return out
