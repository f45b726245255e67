"""Expressions for print, set, x, watch, view and `break ... if`.

NASM-flavoured, with gdb conveniences:

    42  0x2a  0b101  1.5  1e-3  'a'         numbers and characters
    rax eax ax al ah r8d ... rip rflags      registers ($rax works too)
    zf cf sf of pf                           flags (0/1)
    xmm0.f32[1]  xmm3.f64[0]  xmm1.i32[2]   xmm lanes (also .u64, .i64, .u32)
    W1  train_epoch  train_epoch.batch       symbols are their addresses
    [rsp+8]  qword [rsp+8]                   memory (qword unless a type is given)
    f32 [X+4]  dword [rdi]  i8 [rsi]         typed memory: byte word dword qword,
    f32 W1[5]                                i8..i64, u8..u64, f32/float, f64/double;
                                             NAME[i] indexes an array of that type
    + - * / % << >> & | ^ ~ ! == != < <= > >= && ||   ( )

Integers are unbounded Python ints (registers read unsigned; use i64 [..]
or `signed(x)` views in print); an operation with a float gives a float.
Errors raise ExprError with a message meant for the user.
"""

from __future__ import annotations

import re
import struct
from dataclasses import dataclass

from vm.isa import flags as F
from vm.isa.operands import VEC_NAMES, register, vec_offset, vec_read, vec_write

M64 = (1 << 64) - 1

# type name -> (size in bytes, kind: 'u' unsigned, 'i' signed, 'f' float)
TYPES: dict[str, tuple[int, str]] = {
    "byte": (1, "u"),
    "word": (2, "u"),
    "dword": (4, "u"),
    "qword": (8, "u"),
    "u8": (1, "u"),
    "u16": (2, "u"),
    "u32": (4, "u"),
    "u64": (8, "u"),
    "i8": (1, "i"),
    "i16": (2, "i"),
    "i32": (4, "i"),
    "i64": (8, "i"),
    "f32": (4, "f"),
    "float": (4, "f"),
    "f64": (8, "f"),
    "double": (8, "f"),
}
_STRUCT = {
    (1, "u"): "<B",
    (2, "u"): "<H",
    (4, "u"): "<I",
    (8, "u"): "<Q",
    (1, "i"): "<b",
    (2, "i"): "<h",
    (4, "i"): "<i",
    (8, "i"): "<q",
    (4, "f"): "<f",
    (8, "f"): "<d",
}
LANES = {
    "f32": (4, "f", 4),
    "f64": (8, "f", 2),
    "i32": (4, "i", 4),
    "u32": (4, "u", 4),
    "i64": (8, "i", 2),
    "u64": (8, "u", 2),
    "i16": (2, "i", 8),
    "u16": (2, "u", 8),
    "i8": (1, "i", 16),
    "u8": (1, "u", 16),
}
FLAG_BITS = {"cf": F.CF_BIT, "pf": F.PF_BIT, "zf": F.ZF_BIT, "sf": F.SF_BIT, "of": F.OF_BIT}

_TOKEN = re.compile(
    r"""
    (?P<ws>\s+)
  | (?P<float>(?:\d+\.\d*|\.\d+)(?:[eE][-+]?\d+)?|\d+[eE][-+]?\d+)
  | (?P<int>0[xX][0-9a-fA-F_]+|0[bB][01_]+|\d[\d_]*)
  | (?P<char>'(?:\\.|[^'\\])')
  | (?P<name>\$?[A-Za-z_.][\w.@$]*)
  | (?P<op><<|>>|<=|>=|==|!=|&&|\|\||[-+*/%&|^~!<>()\[\]=,])
""",
    re.VERBOSE,
)


class ExprError(Exception):
    """A bad expression; str() is a one-line message for the user."""


@dataclass
class Place:
    """Where a value lives, for `set`: ('reg', name), ('mem', addr, type),
    ('xmm', num, lane type, lane), ('flag', name) or ('rip',)."""

    kind: str
    args: tuple


@dataclass
class Value:
    v: int | float
    type: str | None = None  # 'f32', 'i64', 'qword' ... when known
    place: Place | None = None

    @property
    def is_float(self) -> bool:
        return isinstance(self.v, float)


class Context:
    """What an expression can see: a machine and its program's symbols.
    `local_scope` names the routine whose local labels (.loop) resolve."""

    def __init__(self, machine, local_scope: str | None = None, dry: bool = False):
        self.m = machine
        self.symbols = machine.image.symbols
        self.local_scope = local_scope
        self.dry = dry  # check names and syntax without reading memory

    # -- registers ---------------------------------------------------------------
    def reg_value(self, name: str) -> Value:
        m = self.m
        if name == "rip":
            return Value(m.rip, "qword", Place("rip", ()))
        if name in ("rflags", "eflags", "flags"):
            return Value(m.rflags, "qword", Place("rflags", ()))
        if name in FLAG_BITS:
            return Value(1 if m.rflags & FLAG_BITS[name] else 0, "u8", Place("flag", (name,)))
        r = register(name)
        if r is None:
            raise ExprError(f"unknown register {name}")
        if r.kind == "xmm":  # xmm, ymm or zmm: the register's low r.size bits
            return Value(
                int.from_bytes(vec_read(m.xb, r.num, r.size // 8), "little"),
                r.name[:3],
                Place("xmmall", (r.num, r.size // 8)),
            )
        full = m.r[r.num]
        if r.high8:
            v = (full >> 8) & 0xFF
        else:
            v = full & ((1 << r.size) - 1)
        return Value(v, {8: "u8", 16: "u16", 32: "u32", 64: "qword"}[r.size], Place("reg", (name,)))

    def lane(self, num: int, lane_type: str, i: int, nbytes: int = 16) -> Value:
        size, kind, count = LANES[lane_type]
        count = count * nbytes // 16
        if not 0 <= i < count:
            raise ExprError(f"{VEC_NAMES[8 * nbytes]}{num}.{lane_type} has lanes 0..{count - 1}")
        off = vec_offset(num, size * i)
        (v,) = struct.unpack(_STRUCT[(size, kind)], bytes(self.m.xb[off : off + size]))
        return Value(v, lane_type, Place("xmm", (num, lane_type, i)))

    # -- memory ----------------------------------------------------------------------
    def load(self, addr: int, type_name: str) -> Value:
        size, kind = TYPES[type_name]
        addr &= M64
        if self.dry:
            return Value(0.0 if kind == "f" else 0, type_name, Place("mem", (addr, type_name)))
        try:
            data = self.m.mem.read(addr, size)
        except ValueError:
            raise ExprError(
                f"cannot read {size} bytes at {addr:#x}: {self.m.mem.region(addr)} memory"
            ) from None
        (v,) = struct.unpack(_STRUCT[(size, kind)], data)
        return Value(v, type_name, Place("mem", (addr, type_name)))

    def symbol(self, name: str) -> int:
        s = self.symbols.get(name)
        if s is None and name.startswith(".") and self.local_scope:
            s = self.symbols.get(self.local_scope + name)
        if s is None:
            hint = _near(name, self.symbols)
            raise ExprError(
                f"no symbol or register named '{name}'"
                + (f" (did you mean {hint}?)" if hint else "")
            )
        return s.value


GDB_ALIASES = {"pc": "rip", "sp": "rsp", "fp": "rbp"}


def _near(name: str, symbols) -> str | None:
    """The closest symbol name: same letters with other digits (W9 -> W1),
    other case, or a close spelling."""
    import difflib

    names = [n for n in symbols if "." not in n.lstrip(".")] or list(symbols)
    low = name.lower()
    for n in names:
        if n.lower() == low:
            return n
    stem = low.rstrip("0123456789")
    if stem != low:
        same = sorted(n for n in names if n.lower().rstrip("0123456789") == stem)
        if same:
            return ", ".join(same[:3])
    found = difflib.get_close_matches(name, names, n=1, cutoff=0.75)
    return found[0] if found else None


# ---- parsing -------------------------------------------------------------------------
def tokenize(text: str) -> list[tuple[str, str]]:
    out = []
    pos = 0
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if m is None:
            raise ExprError(f"unexpected character {text[pos]!r} in '{text}'")
        pos = m.end()
        kind = m.lastgroup  # every alternative of _TOKEN is a named group
        if kind is not None and kind != "ws":
            out.append((kind, m.group()))
    return out


class _Parser:
    def __init__(self, text: str, ctx: Context):
        self.text = text
        self.toks = tokenize(text)
        self.i = 0
        self.ctx = ctx

    def peek(self, k: int = 0) -> tuple[str, str] | None:
        j = self.i + k
        return self.toks[j] if j < len(self.toks) else None

    def take(self) -> tuple[str, str]:
        t = self.peek()
        if t is None:
            raise ExprError(f"'{self.text}' ends too early")
        self.i += 1
        return t

    def accept(self, op: str) -> bool:
        t = self.peek()
        if t is not None and t[0] == "op" and t[1] == op:
            self.i += 1
            return True
        return False

    def expect(self, op: str) -> None:
        if not self.accept(op):
            t = self.peek()
            got = f"'{t[1]}'" if t else "the end"
            raise ExprError(f"expected '{op}' but found {got} in '{self.text}'")

    # precedence climbing
    _BINARY = [
        ("||",),
        ("&&",),
        ("==", "!=", "<", "<=", ">", ">="),
        ("|",),
        ("^",),
        ("&",),
        ("<<", ">>"),
        ("+", "-"),
        ("*", "/", "%"),
    ]

    def parse(self) -> Value:
        v = self.binary(0)
        extra = self.peek()
        if extra is not None:
            raise ExprError(f"unexpected '{extra[1]}' in '{self.text}'")
        return v

    def binary(self, level: int) -> Value:
        if level == len(self._BINARY):
            return self.unary()
        left = self.binary(level + 1)
        while True:
            t = self.peek()
            if t is None or t[0] != "op" or t[1] not in self._BINARY[level]:
                return left
            self.i += 1
            right = self.binary(level + 1)
            left = Value(_apply(t[1], left.v, right.v))

    def unary(self) -> Value:
        t = self.peek()
        if t and t[0] == "op" and t[1] in ("-", "+", "~", "!", "*", "&"):
            self.i += 1
            v = self.unary()
            if t[1] == "&":  # C's address-of: a symbol is its address already
                if v.place is not None and v.place.kind == "mem":
                    return Value(v.place.args[0])
                if v.place is not None:
                    raise ExprError("& takes a symbol or memory, not a register")
                return Value(v.v)
            if t[1] == "-":
                return Value(-v.v)
            if t[1] == "+":
                return v
            if t[1] == "!":
                return Value(int(not v.v))
            if t[1] == "*":
                return self.ctx.load(_as_int(v.v, "an address"), "qword")
            return Value(~_as_int(v.v, "~"))
        if t and t[0] == "name" and t[1].lower() in TYPES:
            nxt = self.peek(1)
            if nxt is not None and (nxt[1] in ("[", "(") or nxt[0] in ("name", "int")):
                self.i += 1
                return self.typed(t[1].lower())
        return self.postfix()

    def typed(self, type_name: str) -> Value:
        size = TYPES[type_name][0]
        if self.accept("["):
            addr = self.binary(0)
            self.expect("]")
            return self.ctx.load(_as_int(addr.v, "an address"), type_name)
        base = self.primary()
        if self.accept("["):
            idx = self.binary(0)
            self.expect("]")
            return self.ctx.load(
                _as_int(base.v, "an address") + size * _as_int(idx.v, "an index"), type_name
            )
        return self.ctx.load(_as_int(base.v, "an address"), type_name)

    def postfix(self) -> Value:
        v = self.primary()
        t = self.peek()
        if t and t[1] == "[":
            raise ExprError("say which type to index with, e.g. f32 W1[5] or dword X[3]")
        return v

    def primary(self) -> Value:
        kind, text = self.take()
        if kind == "int":
            return Value(int(text.replace("_", ""), 0))
        if kind == "float":
            return Value(float(text))
        if kind == "char":
            body = text[1:-1]
            return Value(ord(body.encode().decode("unicode_escape")))
        if kind == "op":
            if text == "(":
                v = self.binary(0)
                self.expect(")")
                return Value(v.v)
            if text == "[":
                addr = self.binary(0)
                self.expect("]")
                return self.ctx.load(_as_int(addr.v, "an address"), "qword")
            raise ExprError(f"unexpected '{text}' in '{self.text}'")
        name = text[1:] if text.startswith("$") else text
        if text.startswith("$") and name.lower() in GDB_ALIASES:
            name = GDB_ALIASES[name.lower()]  # gdb's $pc $sp $fp
        low = name.lower()
        lane = re.fullmatch(r"([xyz]mm\d+)\.(\w+)", low)
        if lane:
            r = register(lane.group(1))
            if r is None or lane.group(2) not in LANES:
                raise ExprError(
                    f"use xmmN.f32[i], .f64[i], .i32[i], .u32[i], .i64[i] or .u64[i], not {name}"
                )
            self.expect("[")
            idx = self.binary(0)
            self.expect("]")
            return self.ctx.lane(r.num, lane.group(2), _as_int(idx.v, "a lane"), r.size // 8)
        if low in ("rip", "rflags", "eflags", "flags") or low in FLAG_BITS or register(low):
            if name in self.ctx.symbols:
                return Value(self.ctx.symbols[name].value)
            return self.ctx.reg_value(low)
        return Value(self.ctx.symbol(name))


def _as_int(v, what: str) -> int:
    if isinstance(v, float):
        if v != v or v in (float("inf"), float("-inf")) or v != int(v):
            raise ExprError(f"{what} must be a whole number, not {v!r}")
        return int(v)
    return v


def _apply(op: str, a, b):
    if op in ("&&", "||"):
        return int(bool(a) and bool(b)) if op == "&&" else int(bool(a) or bool(b))
    if op in ("==", "!=", "<", "<=", ">", ">="):
        return int(
            {"==": a == b, "!=": a != b, "<": a < b, "<=": a <= b, ">": a > b, ">=": a >= b}[op]
        )
    if op in ("|", "^", "&", "<<", ">>", "%") or (
        op == "/" and not (isinstance(a, float) or isinstance(b, float))
    ):
        x, y = _as_int(a, f"the left side of {op}"), _as_int(b, f"the right side of {op}")
        if op in ("/", "%") and y == 0:
            raise ExprError("division by zero")
        if op in ("<<", ">>") and y < 0:
            raise ExprError("negative shift count")
        if op in ("/", "%"):
            q = abs(x) // abs(y)
            q = q if (x >= 0) == (y >= 0) else -q  # truncate like C
            return q if op == "/" else x - q * y
        return {"|": x | y, "^": x ^ y, "&": x & y, "<<": x << y, ">>": x >> y}[op]
    if op == "/":
        if b == 0:
            raise ExprError("division by zero")
        return a / b
    return {"+": a + b, "-": a - b, "*": a * b}[op]


def evaluate(text: str, ctx: Context) -> Value:
    """The value of an expression; raises ExprError."""
    text = text.strip()
    if not text:
        raise ExprError("an expression is missing")
    try:
        return _Parser(text, ctx).parse()
    except RecursionError:
        raise ExprError("expression nested too deeply") from None
    except OverflowError as e:
        raise ExprError(f"number too large ({e})") from None


def check(text: str, ctx: Context) -> None:
    """Raise ExprError if text is not a valid expression (names are checked,
    memory is not read): for `break ... if COND` before it is ever evaluated."""
    dry = Context(ctx.m, ctx.local_scope, dry=True)
    try:
        evaluate(text, dry)
    except ExprError as e:
        if "division by zero" not in str(e):
            raise


def address(text: str, ctx: Context) -> int:
    """An expression used as an address (a symbol, a register, arithmetic)."""
    v = evaluate(text, ctx)
    return _as_int(v.v, "an address") & M64


# ---- writing -----------------------------------------------------------------------------
def assign(place: Place, value, ctx: Context) -> None:
    """Store value at place (for `set`); raises ExprError."""
    m = ctx.m
    if place.kind == "reg":
        (name,) = place.args
        r = register(name)
        if r is None:
            raise ExprError(f"unknown register {name}")
        v = _as_int(value, f"a value for {name}") & ((1 << r.size) - 1)
        if r.high8:
            m.r[r.num] = (m.r[r.num] & ~0xFF00) | (v << 8)
        elif r.size == 64:
            m.r[r.num] = v
        elif r.size == 32:
            m.r[r.num] = v  # zero-extends, as the CPU does
        else:
            mask = (1 << r.size) - 1
            m.r[r.num] = (m.r[r.num] & ~mask & M64) | v
    elif place.kind == "rip":
        v = _as_int(value, "a value for rip") & M64
        if v not in m.insns:
            raise ExprError(f"no instruction at {v:#x}; rip must point at an instruction")
        m.rip = v
    elif place.kind in ("rflags", "flag"):
        rf = m.rflags
        if place.kind == "rflags":
            rf = _as_int(value, "a value for rflags")
        else:
            bit = FLAG_BITS[place.args[0]]
            rf = rf | bit if _as_int(value, "a flag value") else rf & ~bit
        m.fl = (
            F.RAW,
            0,
            0,
            0,
            (rf & (F.CF_BIT | F.PF_BIT | F.ZF_BIT | F.SF_BIT | F.OF_BIT)) | F.FIXED,
        )
    elif place.kind == "xmm":
        num, lane_type, i = place.args
        size, kind, _ = LANES[lane_type]
        data = _pack(value, size, kind, f"xmm{num}.{lane_type}[{i}]")
        off = vec_offset(num, size * i)
        m.xb[off : off + size] = data
    elif place.kind == "xmmall":
        num, nbytes = place.args
        v = _as_int(value, f"a value for {VEC_NAMES[8 * nbytes]}{num}") & ((1 << 8 * nbytes) - 1)
        vec_write(m.xb, num, v.to_bytes(nbytes, "little"))
    elif place.kind == "mem":
        addr, type_name = place.args
        size, kind = TYPES[type_name]
        data = _pack(value, size, kind, f"{type_name} [{addr:#x}]")
        try:
            m.mem.write(addr, data)
        except ValueError:
            raise ExprError(
                f"cannot write {size} bytes at {addr:#x}: "
                f"{m.mem.region(addr)} memory is not writable"
            ) from None
    else:
        raise ExprError("that cannot be assigned to")


def _pack(value, size: int, kind: str, what: str) -> bytes:
    if kind == "f":
        try:
            return struct.pack(_STRUCT[(size, "f")], float(value))
        except OverflowError:
            raise ExprError(f"{value!r} does not fit in {what}") from None
    v = _as_int(value, f"a value for {what}")
    return (v & ((1 << (8 * size)) - 1)).to_bytes(size, "little")


def place_of(text: str, ctx: Context) -> Place:
    """The assignable place an lvalue expression names (`set X = ...`)."""
    v = evaluate(text, ctx)
    if v.place is None:
        raise ExprError(
            f"'{text}' is a value, not a register or memory; write e.g. "
            f"'set dword [{text}] = 1' or 'set f32 [{text}] = 0.5'"
        )
    return v.place
