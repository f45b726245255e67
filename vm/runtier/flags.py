"""Flags of a record whose kind is known at compile time, as Python tests
over its operands, and the flags record the compiler keeps pending."""

from __future__ import annotations

import ast

from ..isa.flags import ADC, ADD, DEC, INC, LOGIC, RAW, SBB, SUB
from .pyast import Expr, _expr, _k, _n, fold_all, names_in, subst

# ---- flags of a known record -------------------------------------------------
# A record is (kind, n, a, b, r) as vm.isa.flags describes. For a record whose
# kind is known at compile time, each condition (and CF) is an expression over
# a, b and r. tests/test_flags.py checks every entry against the definition.


def cond_source(cc: str, kind: int, n: int) -> str | None:
    """Condition `cc` of a record of this kind as Python over a, b, r (None:
    use the generic cc_ function on the built tuple)."""
    s, m = 1 << (n - 1) if n else 0, (1 << n) - 1
    if kind == SUB:
        return {
            "e": "a == b",
            "ne": "a != b",
            "b": "a < b",
            "ae": "a >= b",
            "be": "a <= b",
            "a": "a > b",
            "l": f"(a ^ {s}) < (b ^ {s})",
            "ge": f"(a ^ {s}) >= (b ^ {s})",
            "le": f"(a ^ {s}) <= (b ^ {s})",
            "g": f"(a ^ {s}) > (b ^ {s})",
            "s": f"r & {s} != 0",
            "ns": f"r & {s} == 0",
        }.get(cc)
    if kind == LOGIC:
        return {
            "e": "r == 0",
            "ne": "r != 0",
            "s": f"r & {s} != 0",
            "ns": f"r & {s} == 0",
            "l": f"r & {s} != 0",
            "ge": f"r & {s} == 0",
            "le": f"(r == 0 or r & {s} != 0)",
            "g": f"(r != 0 and r & {s} == 0)",
            "be": "r == 0",
            "a": "r != 0",
            "b": "False",
            "ae": "True",
            "o": "False",
            "no": "True",
        }.get(cc)
    if kind in (ADD, ADC, SBB, INC, DEC):
        out = {
            "e": f"r & {m} == 0",
            "ne": f"r & {m} != 0",
            "s": f"r & {s} != 0",
            "ns": f"r & {s} == 0",
        }
        if kind in (ADD, ADC):
            out.update({"b": f"r >> {n} != 0", "ae": f"r >> {n} == 0"})
        elif kind == SBB:
            out.update({"b": "r < 0", "ae": "r >= 0"})
        else:
            out.update({"b": "b != 0", "ae": "b == 0"})
        return out.get(cc)
    if kind == RAW:
        sxo = "(r >> 7 ^ r >> 11) & 1"
        return {
            "o": "r & 2048 != 0",
            "no": "r & 2048 == 0",
            "b": "r & 1 != 0",
            "ae": "r & 1 == 0",
            "e": "r & 64 != 0",
            "ne": "r & 64 == 0",
            "be": "r & 65 != 0",
            "a": "r & 65 == 0",
            "s": "r & 128 != 0",
            "ns": "r & 128 == 0",
            "p": "r & 4 != 0",
            "np": "r & 4 == 0",
            "l": f"{sxo} != 0",
            "ge": f"{sxo} == 0",
            "le": f"(r & 64 != 0 or {sxo} != 0)",
            "g": f"(r & 64 == 0 and {sxo} == 0)",
        }.get(cc)
    return None


def cf_source(kind: int, n: int) -> str:
    """CF of a record of this kind, as Python over a, b, r."""
    if kind in (ADD, ADC):
        return f"(r >> {n}) & 1"
    if kind in (SUB, SBB):
        return "(1 if r < 0 else 0)"
    if kind == LOGIC:
        return "0"
    if kind == RAW:
        return "r & 1"
    return "b"  # INC/DEC keep the CF they found


_TEMPLATE_CACHE: dict[str, Expr] = {}


def _fill(src: str, comps: dict[str, Expr]) -> Expr:
    tree = _TEMPLATE_CACHE.get(src)
    if tree is None:
        tree = _TEMPLATE_CACHE[src] = _expr(src)
    return subst(tree, comps)


class Pending:
    """A flags record not built yet: its components are expressions over
    locals that keep their values while the record is pending."""

    __slots__ = ("kind", "n", "a", "b", "r", "names", "_key")

    def __init__(self, kind: int, n: int, a: Expr, b: Expr, r: Expr):
        self.kind, self.n, self.a, self.b, self.r = kind, n, a, b, r
        self.names = names_in(a) | names_in(b) | names_in(r)
        self._key: tuple | None = None

    def comps(self) -> dict[str, Expr]:
        return {"a": self.a, "b": self.b, "r": self.r}

    def as_tuple(self) -> ast.Tuple:
        return ast.Tuple(elts=[_k(self.kind), _k(self.n), self.a, self.b, self.r], ctx=ast.Load())

    def key(self) -> tuple:
        if self._key is None:
            self._key = (self.kind, self.n, ast.dump(self.a), ast.dump(self.b), ast.dump(self.r))
        return self._key

    def test(self, src: str) -> Expr:
        """`src` (cond_source, cf_source) over this record's a, b and r, folded."""
        return fold_all(_fill(src, self.comps()))

    def renamed(self, old: str, new: str) -> Pending:
        m = {old: _n(new)}
        return Pending(self.kind, self.n, subst(self.a, m), subst(self.b, m), subst(self.r, m))
