"""The emitter's state and the primitives every part of it uses: writing a
local, forgetting what an overwritten value implied, value widths and affine
forms, storing the locals into the machine at an exit."""

from __future__ import annotations

import ast
from collections.abc import Callable

from ..environment import VIEW_BITS
from .pyast import Expr, Stmt, _assign, _cstore, _expr, _k, _n, _sub, int_of
from .state import REG_LOCAL, Aff, Constraint, State, View, is_mask, lane_local
from .trace import Block


class EmitterBase:
    """What an Emitter holds while it compiles one trace body (see Emitter)."""

    def __init__(
        self,
        block: Block,
        mode: str,
        loop: bool,
        bounded: set | None = None,
        steps: dict | None = None,
    ):
        self.block = block
        self.mode = mode
        self.loop = loop  # inside the loop (faults report the iteration)
        self.constraints: dict[tuple, Constraint] = {}
        self.bases: dict[str, tuple] = {}  # _kb var -> (unit, const, inv terms)
        self.views: dict[str, View] = {}  # ea var -> View
        self.assigned: dict[str, ast.Assign] = {}
        self.pending_align: dict[str, int] = {}
        self.k = 0
        self.addr = 0
        self.snaps = 0
        # loop: called with the last `_n = ...` instead of assigning it
        self.on_branch: Callable[[Expr, State, list[Stmt]], None] | None = None
        self.expect: int | None = None  # the current item's expect
        self.last = False  # the current item is the trace's last
        self.it: Expr = _k(1)  # the iteration (loops: _it), for counts
        self.bounded = bounded or set()  # (fast) registers the range test bounds
        self.steps = steps or {}  # (fast) register -> its change per iteration

    def rx(self, node: Expr, st: State, out: list[Stmt]) -> Expr:
        """Rewrite an expression of the generated code for the current state
        (Emitter.rx)."""
        raise NotImplementedError

    def before_write(self, name: str, st: State, out: list[Stmt]) -> None:
        """`name` is about to change: keep what still refers to its old value."""
        p = st.flags
        if p is not None and name in p.names:
            snap = f"_s{self.k}_{self.snaps}"
            self.snaps += 1
            self.emit_assign(snap, _n(name), out)
            st.flags = p.renamed(name, snap)
        if name in st.copies:
            del st.copies[name]
        for v in [v for v, w in st.copies.items() if w == name]:
            del st.copies[v]
        st.consts.pop(name, None)
        if st.memvals:
            st.memvals.pop(name, None)
            for v in [v for v, src in st.memvals.items() if src[0].ix == name]:
                del st.memvals[v]
        if st.memsrc:
            for key in [key for key, src in st.memsrc.items() if src[0].ix == name]:
                del st.memsrc[key]
        if st.terms:
            st.terms.pop(name, None)
            for v in [v for v, (c, terms) in st.terms.items() if any(r == name for r, _ in terms)]:
                del st.terms[v]

    def emit_assign(self, name: str, value: Expr, out: list[Stmt]) -> ast.Assign:
        node = _assign(name, value)
        out.append(node)
        self.assigned[name] = node
        return node

    def width(self, node: Expr, st: State) -> int | None:
        """n such that the value of node is known to lie in [0, 2**n)."""
        t = type(node)
        if t is ast.Name:
            return 64 if REG_LOCAL.match(node.id) else st.width.get(node.id)
        if t is ast.Constant:
            v = node.value
            return v.bit_length() if type(v) is int and v >= 0 else None
        if t is ast.BinOp:
            op = type(node.op)
            a, b = self.width(node.left, st), self.width(node.right, st)
            if op is ast.BitAnd:
                known = [w for w in (a, b) if w is not None]
                return min(known) if known else None
            if a is None:
                return None
            if op is ast.RShift:
                if type(node.right) is ast.Constant and type(node.right.value) is int:
                    return max(a - node.right.value, 0)
                return a
            if b is None:
                return None
            if op in (ast.BitOr, ast.BitXor):
                return max(a, b)
            if op is ast.Add:
                return max(a, b) + 1
            if op is ast.Mult:
                return a + b
            if op is ast.LShift and type(node.right) is ast.Constant:
                return a + int_of(node.right)
            return None
        if t is ast.IfExp:
            a, b = self.width(node.body, st), self.width(node.orelse, st)
            return max(a, b) if a is not None and b is not None else None
        if t is ast.Subscript and type(node.value) is ast.Name:
            return VIEW_BITS.get(node.value.id)
        return None

    def affine(self, node: Expr, st: State) -> Aff | None:
        t = type(node)
        if t is ast.Constant:
            return Aff(node.value) if isinstance(node.value, int) else None
        if t is ast.Name:
            return st.aff.get(node.id)
        if t is ast.BinOp:
            op = type(node.op)
            if (
                op is ast.BitAnd
                and isinstance(node.right, ast.Constant)
                and is_mask(node.right.value)
            ):
                a = self.affine(node.left, st)
                return a.masked(node.right.value) if a is not None else None
            a, b = self.affine(node.left, st), self.affine(node.right, st)
            if a is None or b is None:
                return None
            if op is ast.Add:
                return a.plus(b)
            if op is ast.Sub:
                return a.plus(b, -1)
            if op is ast.Mult:
                if not a.terms and not a.conds:
                    return b.times(a.const)
                if not b.terms and not b.conds:
                    return a.times(b.const)
        return None

    def flush_lane(self, key, st: State, out: list[Stmt]) -> None:
        out.append(
            ast.Assign(targets=[_sub(key[0], _k(key[1]), store=True)], value=_n(lane_local(key)))
        )
        st.lanes[key] = False

    def store_state(self, st: State, cold: bool) -> list[Stmt]:
        """Statements that store what locals hold into the machine."""
        out: list[Stmt] = [
            ast.Assign(targets=[_sub("r", _k(i), store=True)], value=_n(f"r{i}"))
            for i in self.block.written
        ]
        if st.flags is not None:
            out.append(_cstore("fl", st.flags.as_tuple()))
        elif self.block.flags_written:
            out.append(_cstore("fl", _n("fl")))
        for key, dirty in sorted(st.lanes.items()):
            if dirty:
                out.append(
                    ast.Assign(
                        targets=[_sub(key[0], _k(key[1]), store=True)], value=_n(lane_local(key))
                    )
                )
        if cold and self.loop and not (isinstance(self.it, ast.Constant) and self.it.value == 1):
            out.append(_cstore("_fault_base", _expr(f"(_it - 1) * {len(self.block.items)}")))
        return out

    def count(self) -> Expr:
        """Instructions run so far when the current one completes."""
        return count_after(self.it, self.k, len(self.block.items))


def leave(em: EmitterBase, st: State, rip: int | Expr, count: Expr) -> list[Stmt]:
    """Store the state, return (next rip, instructions run)."""
    target = _k(rip) if isinstance(rip, int) else rip
    return em.store_state(st, cold=False) + [
        ast.Return(value=ast.Tuple(elts=[target, count], ctx=ast.Load()))
    ]


def count_after(it: Expr, k: int, n: int) -> Expr:
    """Instructions run after instruction k of iteration `it` of an n-long trace."""
    if isinstance(it, ast.Constant):
        return _k((int_of(it) - 1) * n + k + 1)
    if k + 1 == n:
        return ast.BinOp(left=it, op=ast.Mult(), right=_k(n))
    return _expr(f"{it.id} * {n} - {n - k - 1}")
