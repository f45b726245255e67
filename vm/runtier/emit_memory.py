"""Memory accesses in the emitted code: checks (decided at compile time for
a constant address, hoisted out of a fast loop as range constraints when
the address is affine), and reads and writes through memoryviews where the
loop's range tests make them safe."""

from __future__ import annotations

import ast

from ..environment import ranges, reader, writer
from .emit_base import EmitterBase
from .pyast import Expr, Stmt, _add, _call, _ccall, _expr, _k, _n, _sub, fill_name, int_of, is_const
from .state import Aff, Constraint, State, View

M64 = (1 << 64) - 1


class MemoryAccess(EmitterBase):
    """The emitter's memory checks, reads and writes."""

    def check(self, ea: str, nbytes: int, write: bool, st: State, out: list[Stmt]) -> None:
        align = self.pending_align.pop(ea, 0)
        value = self.rx(_n(ea), st, out)
        if isinstance(value, ast.Constant):  # a fixed address: decide now
            a = int_of(value)
            if align and a % align:
                self._align_check(ea, align, st, out)
            if not any(lo <= a <= hi for lo, hi in ranges(self.block.layout, nbytes, write)):
                self._range_check(value, nbytes, write, st, out)
            return
        if self.mode == "fast" and self._guard(ea, nbytes, write, align, st, out):
            return
        if align:
            self._align_check(ea, align, st, out)
        self._range_check(value, nbytes, write, st, out)

    def _align_check(self, ea: str, align: int, st: State, out: list[Stmt]) -> None:
        v = self.rx(_n(ea), st, out)
        cold = self.store_state(st, cold=True) + [
            ast.Expr(value=_ccall("misaligned", v, _k(align), _k(self.addr), _k(self.k)))
        ]
        out.append(
            ast.If(
                test=ast.BinOp(left=v, op=ast.BitAnd(), right=_k(align - 1)), body=cold, orelse=[]
            )
        )

    def _range_check(self, v: Expr, nbytes: int, write: bool, st: State, out: list) -> None:
        (lo1, hi1), (lo2, hi2) = ranges(self.block.layout, nbytes, write)
        test = _expr(f"not ({lo1} <= _v <= {hi1} or {lo2} <= _v <= {hi2})")
        test = fill_name(test, "_v", v)
        cold = self.store_state(st, cold=True) + [
            ast.Expr(
                value=_ccall(
                    "bad_access",
                    v,
                    _k(nbytes),
                    _k("write" if write else "read"),
                    _k(self.addr),
                    _k(self.k),
                )
            )
        ]
        out.append(ast.If(test=test, body=cold, orelse=[]))

    def _guard(
        self, ea: str, nbytes: int, write: bool, align: int, st: State, out: list[Stmt]
    ) -> bool:
        """Fast loop: replace the check of this access by constraints tested
        once per iteration, if its address is affine in at most one register
        the loop changes."""
        a = st.aff.get(ea)
        if a is None:
            return False
        varying = {r for r, _ in a.terms if r not in self.block.invariant}
        for _lo, _hi, c in a.conds:
            varying |= {r for r, _ in c.terms if r not in self.block.invariant}
        if len(varying) > 1:
            return False
        bare = Aff(a.const, a.terms)
        cons = [Constraint(bare, nbytes=nbytes, write=write)]
        # a 64-bit wrap of the address itself is ruled out by the range check
        cons += [
            Constraint(c, lo=lo, hi=hi)
            for lo, hi, c in a.conds
            if not (c == bare and lo == 0 and hi == M64)
        ]
        if align:
            # aligned at the first iteration and moving by a multiple of align
            coef = dict(a.terms)
            if all(
                r in self.steps
                and not self.steps[r].terms
                and coef.get(r, 0) * self.steps[r].const % align == 0
                for r in varying
            ):
                cons.append(Constraint(bare, align=align))
            else:
                self._align_check(ea, align, st, out)
        for c in cons:
            self.constraints.setdefault(c.key(), c)
        node = self.assigned.get(ea)
        if (
            node is not None
            and isinstance(node.value, ast.BinOp)
            and isinstance(node.value.op, ast.BitAnd)
            and is_const(node.value.right, M64)
        ):
            node.value = node.value.left  # in range, so the 64-bit wrap cannot happen
        # memoryview access: address = invariant part + varying registers * scale
        terms = st.terms.get(ea)
        unit = nbytes if nbytes <= 8 else 4
        if terms is not None:
            const, ts = terms
            inv = [(r, s) for r, s in ts if r in self.block.invariant]
            var = [(r, s) for r, s in ts if r not in self.block.invariant]
            if all(r.startswith("r") and r[1:].isdigit() for r, _ in ts) and all(
                s % unit == 0 for _, s in var
            ):
                base = (unit, const, tuple(inv))
                kb = next((b for b, v in self.bases.items() if v == base), f"_kb{self.k}_{ea}")
                self.bases[kb] = base
                idx: Expr = _n(kb)
                for r, s in var:
                    term = (
                        _n(r)
                        if s == unit
                        else ast.BinOp(left=_n(r), op=ast.Mult(), right=_k(s // unit))
                    )
                    idx = ast.BinOp(left=idx, op=ast.Add(), right=term)
                ix = f"_ix_{ea}"
                self.before_write(ix, st, out)
                self.emit_assign(ix, idx, out)
                self.views[ea] = View(ix, unit)
        return True

    def memval_view(self, addr: Expr) -> tuple[View, int] | None:
        base, off = addr_parts(addr)
        if base is None or base not in self.views:
            return None
        return self.views[base], off

    def mem_read(
        self, fn: str, addr: Expr, st: State, out: list[Stmt], names: list[str] | None = None
    ):
        """A struct read of memory: element expressions (views) or the call."""
        read = reader(fn)
        if read is None:
            raise ValueError(f"run tier: {fn} is not a memory reader")
        view_name, w, count = read
        base, off = addr_parts(addr)
        v = self.views.get(base) if base is not None else None
        used = count if names is None else sum(1 for x in names if x != f"__{self.k}")
        if v is not None and v.unit == w and (off % w == 0) and (count <= 2 or used <= 2):
            return [_sub(view_name, _add(_n(v.ix), off // w + j)) for j in range(count)]
        call = _call(fn, _n("m"), self.rx(addr, st, out))
        if names is None:
            return [ast.Subscript(value=call, slice=_k(j), ctx=ast.Load()) for j in range(count)]
        return call

    def mem_write(self, fn: str, addr: Expr, value: Expr, st: State, out: list[Stmt]) -> None:
        val = self.rx(value, st, out)
        write = writer(fn)
        if write is None:
            raise ValueError(f"run tier: {fn} is not a memory writer")
        view_name, w = write
        base, off = addr_parts(addr)
        v = self.views.get(base) if base is not None else None
        if v is not None and v.unit == w and off % w == 0:
            out.append(
                ast.Assign(
                    targets=[_sub(view_name, _add(_n(v.ix), off // w), store=True)], value=val
                )
            )
        else:
            out.append(ast.Expr(value=_call(fn, _n("m"), self.rx(addr, st, out), val)))
        st.memsrc.clear()
        st.memvals.clear()


def addr_parts(addr: Expr) -> tuple[str | None, int]:
    """`_ea` -> ('_ea', 0); `_ea + 8` -> ('_ea', 8)."""
    if isinstance(addr, ast.Name):
        return addr.id, 0
    if (
        isinstance(addr, ast.BinOp)
        and isinstance(addr.op, ast.Add)
        and isinstance(addr.left, ast.Name)
        and isinstance(addr.right, ast.Constant)
    ):
        return addr.left.id, int_of(addr.right)
    return None, 0


def addr_terms(node: Expr) -> tuple[int, tuple] | None:
    """An address expression as (const, ((name, scale), ...)) over current names."""
    if (
        isinstance(node, ast.BinOp)
        and isinstance(node.op, ast.BitAnd)
        and is_const(node.right, M64)
    ):
        node = node.left
    const, terms = 0, []

    def add_terms(n: Expr, sign: int) -> bool:
        nonlocal const
        if isinstance(n, ast.Constant) and isinstance(n.value, int):
            const += sign * n.value
            return True
        if isinstance(n, ast.Name):
            terms.append((n.id, sign))
            return True
        if isinstance(n, ast.BinOp):
            if isinstance(n.op, ast.Add):
                return add_terms(n.left, sign) and add_terms(n.right, sign)
            if isinstance(n.op, ast.Sub):
                return add_terms(n.left, sign) and add_terms(n.right, -sign)
            if (
                isinstance(n.op, ast.Mult)
                and isinstance(n.left, ast.Name)
                and isinstance(n.right, ast.Constant)
                and isinstance(n.right.value, int)
            ):
                terms.append((n.left.id, sign * n.right.value))
                return True
        return False

    if not add_terms(node, 1):
        return None
    merged: dict[str, int] = {}
    for r, s in terms:
        merged[r] = merged.get(r, 0) + s
    if any(s <= 0 for s in merged.values()):
        return None
    return const, tuple(sorted(merged.items()))
