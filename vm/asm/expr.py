"""NASM expressions: parsing to a small tree, evaluating, and memory operands.

Precedence, lowest first (as NASM): || ^^ &&, comparisons, |, ^, &, << >>,
+ -, * / // % %%, unary - + ~ !. `/` and `%` are unsigned, `//` and `%%`
signed, `>>` is a logical shift; values wrap to 64 bits.

A value is (number, base): base is None for a plain number, or the section
piece a label lives in while the program is not yet laid out. Sums and
differences keep track of it, so `$ - msg` and `times 16 - ($ - $$)` work
before addresses are known (NASM's "critical expressions").
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

from ..errors import AsmError, SourceLoc
from ..isa.operands import Reg, register
from . import floats
from .lexer import Token

M64 = (1 << 64) - 1


def wrap(v: int) -> int:
    """A Python int as NASM's signed 64-bit value."""
    v &= M64
    return v - (1 << 64) if v >> 63 else v


@dataclass(frozen=True, slots=True)
class Node:
    kind: str  # num sym here base str reg float un bin chain fn
    col: int
    value: Any = None  # num: int; sym: name; str: bytes; reg: Reg; float: text;
    # chain: ((op, col), ...) between args[0], args[1], ... (left to right)
    op: str = ""
    args: tuple = ()


BINARY_LEVELS = (
    ("||", "^^"),
    ("&&",),
    ("==", "!=", "<>", "<", ">", "<=", ">=", "<=>"),
    ("|",),
    ("^",),
    ("&",),
    ("<<", ">>", "<<<", ">>>"),
    ("+", "-"),
    ("*", "/", "//", "%", "%%"),
)
FUNCTIONS = {
    "__float32__": 32,
    "__float64__": 64,
    "__float16__": 16,
    "__?float32?__": 32,
    "__?float64?__": 64,
    "__?float16?__": 16,
}


class Parser:
    def __init__(self, tokens: list[Token], loc: SourceLoc, allow_regs: bool = False):
        self.t = tokens
        self.i = 0
        self.loc = loc
        self.allow_regs = allow_regs

    def error(self, msg: str, col: int | None = None) -> AsmError:
        if col is None:
            col = (
                self.t[self.i].col
                if self.i < len(self.t)
                else (self.t[-1].col + len(self.t[-1].text) if self.t else 1)
            )
        return AsmError(msg, SourceLoc(self.loc.file, self.loc.line, col, self.loc.text))

    def peek(self) -> Token | None:
        return self.t[self.i] if self.i < len(self.t) else None

    def at_end(self) -> bool:
        return self.i >= len(self.t)

    def parse(self) -> Node:
        if self.at_end():
            raise self.error("expression expected")
        return self._level(0)

    def _level(self, k: int) -> Node:
        if k == len(BINARY_LEVELS):
            return self._unary()
        # a left-associative run `a + b - c ...` becomes one flat node, however
        # long (NASM accepts sums of any length; a nested tree would not be)
        operands = [self._level(k + 1)]
        ops: list[Token] = []
        while True:
            tok = self.peek()
            if tok is None or tok.kind != "op" or tok.text not in BINARY_LEVELS[k]:
                break
            self.i += 1
            ops.append(tok)
            operands.append(self._level(k + 1))
        if not ops:
            return operands[0]
        if len(ops) == 1:
            return Node("bin", ops[0].col, op=ops[0].text, args=tuple(operands))
        return Node("chain", ops[0].col, tuple((t.text, t.col) for t in ops), args=tuple(operands))

    def _unary(self) -> Node:
        tok = self.peek()
        if tok is not None and tok.kind == "op" and tok.text in ("-", "+", "~", "!"):
            self.i += 1
            inner = self._unary()
            if tok.text == "+":
                return inner
            if tok.text == "-" and inner.kind == "float":
                return Node("float", tok.col, inner.value, op="-" if inner.op != "-" else "")
            return Node("un", tok.col, op=tok.text, args=(inner,))
        return self._primary()

    def _primary(self) -> Node:
        tok = self.peek()
        if tok is None:
            raise self.error("expression ends too early")
        self.i += 1
        if tok.kind == "num":
            return Node("num", tok.col, tok.value)
        if tok.kind == "float":
            return Node("float", tok.col, tok.text)
        if tok.kind == "str":
            return Node("str", tok.col, tok.value)
        if tok.kind == "op" and tok.text == "(":
            inner = self._level(0)
            close = self.peek()
            if close is None or not close.is_op(")"):
                raise self.error("missing ')'")
            self.i += 1
            return inner
        if tok.kind == "id":
            low = tok.text.lower()
            if tok.text == "$":
                return Node("here", tok.col)
            if tok.text == "$$":
                return Node("base", tok.col)
            if low in FUNCTIONS:
                op = self.peek()
                if op is None or not op.is_op("("):
                    raise self.error(f"{tok.text} needs a parenthesised argument")
                self.i += 1
                arg = self._level(0)
                close = self.peek()
                if close is None or not close.is_op(")"):
                    raise self.error("missing ')'")
                self.i += 1
                return Node("fn", tok.col, low, args=(arg,))
            if low in floats.SPECIALS:
                return Node("float", tok.col, tok.text)
            if tok.value != "escaped":
                reg = register(tok.text)
                if reg is not None:
                    if not self.allow_regs:
                        raise self.error(f"register {tok.text} is not allowed here", tok.col)
                    return Node("reg", tok.col, reg)
                if low in (
                    "byte",
                    "word",
                    "dword",
                    "qword",
                    "oword",
                    "xmmword",
                    "tword",
                    "yword",
                    "rel",
                    "abs",
                    "strict",
                    "ptr",
                    "near",
                    "far",
                    "short",
                ):
                    raise self.error(f"'{tok.text}' is not allowed inside an expression", tok.col)
            return Node("sym", tok.col, tok.text)
        raise self.error(f"unexpected '{tok.text}' in expression", tok.col)


def parse_expr(tokens: list[Token], loc: SourceLoc, allow_regs: bool = False) -> Node:
    p = Parser(tokens, loc, allow_regs)
    node = p.parse()
    if not p.at_end():
        raise p.error(f"unexpected '{p.t[p.i].text}' after the expression")
    return node


# ---- evaluation -------------------------------------------------------------------

Value = tuple[int, object]  # (number, base or None)


class Evaluator:
    """Evaluates nodes. resolve(name, node) -> Value; here() -> Value of '$';
    base() -> Value of '$$'."""

    def __init__(
        self,
        loc: SourceLoc,
        resolve: Callable[[str, Node], Value],
        here: Callable[[], Value],
        base: Callable[[], Value],
    ):
        self.loc, self.resolve, self.here, self.base = loc, resolve, here, base

    def error(self, msg: str, node: Node) -> AsmError:
        return AsmError(msg, SourceLoc(self.loc.file, self.loc.line, node.col, self.loc.text))

    def number(self, node: Node) -> int:
        v, b = self.eval(node)
        if b is not None:
            raise self.error(
                "an address is not known yet here (only numbers and "
                "differences of labels in one section can be used)",
                node,
            )
        return v

    def eval(self, node: Node) -> Value:
        k = node.kind
        if k == "num":
            return wrap(node.value), None
        if k == "str":
            b = node.value
            if len(b) > 8:
                raise self.error("a string used as a number may have at most 8 characters", node)
            return wrap(int.from_bytes(b, "little")), None
        if k == "sym":
            return self.resolve(node.value, node)
        if k == "here":
            return self.here()
        if k == "base":
            return self.base()
        if k == "float":
            raise self.error(
                "a floating-point constant is only allowed in dd/dq (or inside "
                "__float32__(...) / __float64__(...))",
                node,
            )
        if k == "reg":
            raise self.error(f"register {node.value.name} is not allowed here", node)
        if k == "fn":
            arg = node.args[0]
            width = FUNCTIONS[node.value]
            if arg.kind == "float":
                try:
                    return wrap(floats.bits(arg.value, width, arg.op == "-")), None
                except floats.FloatError as e:
                    raise self.error(str(e), arg) from None
            v = self.number(arg)
            return wrap(floats.round_fraction(_frac(v), *floats.FORMATS[width], width)), None
        if k == "un":
            v, b = self.eval(node.args[0])
            if b is not None:
                raise self.error(f"'{node.op}' cannot be applied to an address", node)
            if node.op == "-":
                return wrap(-v), None
            if node.op == "~":
                return wrap(~v), None
            return (0 if v else 1), None
        if k == "chain":
            acc = self.eval(node.args[0])
            for (op, col), arg in zip(node.value, node.args[1:]):
                acc = self._binary(op, acc, self.eval(arg), Node("bin", col, op=op))
            return acc
        return self._binary(node.op, self.eval(node.args[0]), self.eval(node.args[1]), node)

    def _binary(self, op: str, left: Value, right: Value, node: Node) -> Value:
        (lv, lb), (rv, rb) = left, right
        if op == "+":
            if lb is not None and rb is not None:
                raise self.error("cannot add two addresses", node)
            return wrap(lv + rv), lb if lb is not None else rb
        if op == "-":
            if rb is not None and rb != lb:
                raise self.error(
                    "cannot subtract an address from a number or from an address "
                    "in another section",
                    node,
                )
            return wrap(lv - rv), (lb if rb is None else None)
        if lb is not None or rb is not None:
            raise self.error(f"'{op}' cannot be applied to an address (only + and - can)", node)
        return _binop(op, lv, rv, self, node), None


def _frac(v: int) -> Fraction:
    return Fraction(v)


def _binop(op: str, a: int, b: int, ev: Evaluator, node: Node) -> int:
    ua, ub = a & M64, b & M64
    if op in ("/", "//", "%", "%%") and b == 0:
        raise ev.error("division by zero in expression", node)
    if op == "*":
        return wrap(a * b)
    if op == "/":
        return wrap(ua // ub)
    if op == "%":
        return wrap(ua % ub)
    if op == "//":
        q = abs(a) // abs(b)
        return wrap(q if (a < 0) == (b < 0) else -q)
    if op == "%%":
        q = abs(a) // abs(b)
        q = q if (a < 0) == (b < 0) else -q
        return wrap(a - q * b)
    if op in ("<<", "<<<"):
        return wrap(ua << (ub & 63)) if ub < 64 else 0
    if op == ">>":
        return wrap(ua >> ub) if ub < 64 else 0
    if op == ">>>":
        return wrap(a >> min(ub, 63))
    if op == "&":
        return wrap(a & b)
    if op == "|":
        return wrap(a | b)
    if op == "^":
        return wrap(a ^ b)
    if op == "&&":
        return int(bool(a) and bool(b))
    if op == "||":
        return int(bool(a) or bool(b))
    if op == "^^":
        return int(bool(a) != bool(b))
    if op == "==":
        return int(a == b)
    if op in ("!=", "<>"):
        return int(a != b)
    if op == "<":
        return int(a < b)
    if op == ">":
        return int(a > b)
    if op == "<=":
        return int(a <= b)
    if op == ">=":
        return int(a >= b)
    if op == "<=>":
        return (a > b) - (a < b)
    raise ev.error(f"unknown operator {op}", node)


def uses_here(node: Node) -> bool:
    """Whether node's value depends on where it stands ($, or a symbol that may)."""
    return node.kind in ("here", "sym") or any(uses_here(a) for a in node.args)


def uses_symbols(node: Node) -> list[str]:
    if node.kind == "sym":
        return [node.value]
    out: list[str] = []
    for a in node.args:
        out += uses_symbols(a)
    return out


# ---- memory operands ---------------------------------------------------------------


def linearize(node: Node, ev: Evaluator) -> tuple[dict[Reg, int], list[Node]]:
    """Split an address expression into register terms {reg: coefficient}
    and the register-free rest, as a list of (sign-carrying) nodes to sum."""
    regs: dict[Reg, int] = {}
    rest: list[Node] = []

    def has_reg(n: Node) -> bool:
        return n.kind == "reg" or any(has_reg(a) for a in n.args)

    def walk(n: Node, sign: int) -> None:
        if n.kind == "chain":  # back to a (short: it has registers) left-deep tree
            left = n.args[0]
            for (op, col), arg in zip(n.value, n.args[1:]):
                left = Node("bin", col, op=op, args=(left, arg))
            n = left
        if not has_reg(n):
            rest.append(n if sign > 0 else Node("un", n.col, op="-", args=(n,)))
            return
        if n.kind == "reg":
            regs[n.value] = regs.get(n.value, 0) + sign
            return
        if n.kind == "bin" and n.op in ("+", "-"):
            walk(n.args[0], sign)
            walk(n.args[1], sign if n.op == "+" else -sign)
            return
        if n.kind == "un" and n.op == "-":
            walk(n.args[0], -sign)
            return
        if n.kind == "bin" and n.op == "*":
            a, b = n.args
            if has_reg(a) and has_reg(b):
                raise ev.error("registers cannot be multiplied together", n)
            reg_side, k_side = (a, b) if has_reg(a) else (b, a)
            k = ev.number(k_side)
            if reg_side.kind != "reg":
                raise ev.error("scale a single register, e.g. [rdi + rcx*4]", n)
            regs[reg_side.value] = regs.get(reg_side.value, 0) + sign * k
            return
        raise ev.error(
            "an address is base + index*scale + displacement; "
            f"'{n.op or n.kind}' cannot be used with registers",
            n,
        )

    walk(node, 1)
    return regs, rest
