"""Python syntax trees for the run-tier compiler: constructors, walking,
renaming and constant folding.

The constructors have one-letter names on purpose (the compiler writes one
on nearly every line): _n(name) reads a name, _st(name) is a store target,
_k(value) is a constant, _sub(base, i) is base[i]. Expression nodes are
shared between trees, never changed in place (subst copies what changes).
"""

from __future__ import annotations

import ast
import operator
from collections.abc import Callable, Iterator
from typing import Any

# AST nodes are handled generically here (which fields a node has depends on
# its class, checked at run time), so annotations use these loose aliases.
Node = Any
Expr = Any
Stmt = Any

# ---- small AST constructors -------------------------------------------------


def _n(name: str) -> ast.Name:
    return ast.Name(id=name, ctx=ast.Load())


def _st(name: str) -> ast.Name:
    return ast.Name(id=name, ctx=ast.Store())


def _k(value) -> ast.Constant:
    return ast.Constant(value=value)


def _assign(name: str, value: Expr) -> ast.Assign:
    return ast.Assign(targets=[_st(name)], value=value)


def _sub(base: str, index: Expr, store: bool = False) -> ast.Subscript:
    return ast.Subscript(value=_n(base), slice=index, ctx=ast.Store() if store else ast.Load())


def _call(func: str, *args: Expr) -> ast.Call:
    return ast.Call(func=_n(func), args=list(args), keywords=[])


def _ccall(method: str, *args: Expr) -> ast.Call:
    return ast.Call(
        func=ast.Attribute(value=_n("c"), attr=method, ctx=ast.Load()), args=list(args), keywords=[]
    )


def _cstore(attr: str, value: Expr) -> ast.Assign:
    return ast.Assign(
        targets=[ast.Attribute(value=_n("c"), attr=attr, ctx=ast.Store())], value=value
    )


def _add(a: Expr, b: Expr | int) -> Expr:
    if isinstance(b, int):
        if b == 0:
            return a
        if isinstance(a, ast.Constant) and isinstance(a.value, int):
            return _k(a.value + b)
        return ast.BinOp(left=a, op=ast.Add() if b > 0 else ast.Sub(), right=_k(abs(b)))
    return ast.BinOp(left=a, op=ast.Add(), right=b)


_EXPRS: dict[str, Expr] = {}


def _expr(src: str) -> Expr:
    """A parsed expression (cached: expression nodes are shared, never changed)."""
    e = _EXPRS.get(src)
    if e is None:
        if len(_EXPRS) > 4096:
            _EXPRS.clear()
        e = _EXPRS[src] = ast.parse(src, mode="eval").body
    return e


def _stmts(src: str) -> list[Stmt]:
    return ast.parse(src).body


def _comment(text: str) -> ast.Expr:
    return ast.Expr(value=_k(text))  # a bare string: shown by source(), compiles to nothing


def int_of(node: Expr) -> int:
    """The int in a constant node the generated code holds there (a register
    number, a lane index, a size, an address)."""
    return node.value


def id_of(node: Expr) -> str:
    """The name of a Name node the generated code holds there."""
    return node.id


def is_flags_attr(node: Node) -> bool:
    return (
        isinstance(node, ast.Attribute)
        and node.attr == "fl"
        and isinstance(node.value, ast.Name)
        and node.value.id == "c"
    )


def _push_children(stack: list[Node], n: Node) -> None:
    for f in n._fields:
        v = getattr(n, f, None)
        if isinstance(v, ast.AST):
            stack.append(v)
        elif isinstance(v, list):
            stack.extend(x for x in v if isinstance(x, ast.AST))


def walk(node: Node) -> Iterator[Node]:
    """All nodes of a tree (ast.walk, without its generators)."""
    stack = [node]
    while stack:
        n = stack.pop()
        yield n
        _push_children(stack, n)


def names_in(node: Node) -> set[str]:
    return {x.id for x in walk(node) if type(x) is ast.Name}


def subst(node: Expr, mapping: dict[str, Expr]) -> Expr:
    """node with names replaced; unchanged subtrees are shared, not copied."""
    if type(node) is ast.Name:
        return mapping.get(node.id, node)
    changed = False
    fields = {}
    for f in node._fields:
        v = getattr(node, f, None)
        if isinstance(v, ast.expr):
            nv = subst(v, mapping)
            changed |= nv is not v
            fields[f] = nv
        elif isinstance(v, list):
            nl = [subst(x, mapping) if isinstance(x, ast.expr) else x for x in v]
            changed |= any(a is not b for a, b in zip(nl, v))
            fields[f] = nl
        else:
            fields[f] = v
    return type(node)(**fields) if changed else node


def locate(node: Node) -> None:
    """Give nodes built here a source position (compile() wants one). Parsed
    subtrees have theirs; new nodes are never put under parsed ones."""
    stack = [node]
    while stack:
        n = stack.pop()
        if "lineno" in n._attributes:
            if hasattr(n, "lineno"):
                continue
            n.lineno = n.end_lineno = 1
            n.col_offset = n.end_col_offset = 0
        _push_children(stack, n)


def is_const(node: Expr, value) -> bool:
    return isinstance(node, ast.Constant) and node.value == value


def fill_name(tree: Expr, name: str, value: Expr) -> Expr:
    return subst(tree, {name: value})


_FOLDABLE = (ast.BinOp, ast.UnaryOp, ast.Compare, ast.BoolOp)


_BIN: dict[type[ast.operator], Callable[[Any, Any], Any]] = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.BitAnd: operator.and_,
    ast.BitOr: operator.or_,
    ast.BitXor: operator.xor,
    ast.LShift: operator.lshift,
    ast.RShift: operator.rshift,
    ast.FloorDiv: operator.floordiv,
    ast.Mod: operator.mod,
}
_CMP: dict[type[ast.cmpop], Callable[[Any, Any], Any]] = {
    ast.Eq: operator.eq,
    ast.NotEq: operator.ne,
    ast.Lt: operator.lt,
    ast.LtE: operator.le,
    ast.Gt: operator.gt,
    ast.GtE: operator.ge,
}
_UNARY: dict[type[ast.unaryop], Callable[[Any], Any]] = {
    ast.USub: operator.neg,
    ast.Invert: operator.invert,
    ast.Not: operator.not_,
    ast.UAdd: operator.pos,
}


def fold(node: Expr) -> Expr:
    """Evaluate an operation on constants (left as is if Python would raise,
    or the result is not worth a constant)."""
    try:
        t = type(node)
        if t is ast.BinOp:
            a, b = node.left.value, node.right.value
            if type(node.op) is ast.LShift and b > 256:
                return node
            value = _BIN[type(node.op)](a, b)
        elif t is ast.UnaryOp:
            value = _UNARY[type(node.op)](node.operand.value)
        elif t is ast.Compare:
            vals = [node.left.value] + [c.value for c in node.comparators]
            value = all(_CMP[type(op)](x, y) for op, x, y in zip(node.ops, vals, vals[1:]))
        elif t is ast.BoolOp:
            vals = [v.value for v in node.values]
            if isinstance(node.op, ast.And):
                value = next((v for v in vals if not v), vals[-1])
            else:
                value = next((v for v in vals if v), vals[-1])
        else:
            return node
    except Exception:  # noqa: BLE001 - e.g. a negative shift count: keep the expression
        return node
    if isinstance(value, int) and abs(value) > (1 << 200):
        return node
    return _k(value)


def fold_all(node: Expr) -> Expr:
    """Fold every operation whose operands are constants (a new tree)."""
    if not isinstance(node, _FOLDABLE):
        return node
    fields: dict[str, Any] = {}
    for f in node._fields:
        v = getattr(node, f, None)
        if isinstance(v, ast.expr):
            v = fold_all(v)
        elif isinstance(v, list):
            v = [fold_all(x) if isinstance(x, ast.expr) else x for x in v]
        fields[f] = v
    new = type(node)(**fields)
    kids = [
        x
        for f in new._fields
        for x in (getattr(new, f) if isinstance(getattr(new, f), list) else [getattr(new, f)])
        if isinstance(x, ast.expr)
    ]
    if all(isinstance(x, ast.Constant) for x in kids):
        return fold(new)
    return new


def loaded_names(node: Node) -> set[str]:
    return {x.id for x in walk(node) if type(x) is ast.Name and type(x.ctx) is ast.Load}


def is_comment(s: Stmt) -> bool:
    return isinstance(s, ast.Expr) and isinstance(s.value, ast.Constant)
