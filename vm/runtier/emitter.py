"""The emitter: rewrites a trace's generated statements for the state the
compiler tracks (see vm.runtier)."""

from __future__ import annotations

import ast

from ..environment import CLOBBERS, COLD, SYNC, VIEW_BITS, reader, writer
from .emit_base import leave
from .emit_lanes import LaneCache
from .emit_memory import MemoryAccess, addr_terms
from .flags import Pending, cf_source, cond_source
from .pyast import (
    Expr,
    Stmt,
    _assign,
    _call,
    _comment,
    _expr,
    _k,
    _n,
    _st,
    _sub,
    fold,
    id_of,
    int_of,
    is_flags_attr,
    names_in,
)
from .state import LANE_WIDTH, REG_LOCAL, Aff, Constraint, State, is_mask


class Emitter(MemoryAccess, LaneCache):
    """Compiles a trace's body once, from a given State. mode: 'plain' (every
    access checked), 'fast' (a loop body whose guarded accesses are checked by
    the loop's range tests instead) or 'checked' (a loop body, every access
    checked)."""

    def body(self, st: State, out: list[Stmt]) -> None:
        last = len(self.block.items) - 1
        for k, it in enumerate(self.block.items):
            self.k, self.addr, self.snaps = k, it.addr, 0
            self.expect = it.expect
            out.append(_comment(f"{it.addr:#x}: {it.text}"))
            self.last = k == last
            for s in it.stmts:
                self.stmt(s, st, out)
            for ea, align in list(self.pending_align.items()):
                self._align_check(ea, align, st, out)
            self.pending_align.clear()

    def stmt(self, s: Stmt, st: State, out: list[Stmt]) -> None:
        if isinstance(s, ast.Assign):
            tgt, value = s.targets[0], s.value
            if isinstance(tgt, ast.Name):
                if tgt.id == "_n":
                    return self.next_rip(value, st, out)
                return self.var_write(tgt.id, self.rx(value, st, out), st, out)
            if isinstance(tgt, ast.Tuple):
                return self.tuple_write(tgt, value, st, out)
            if isinstance(tgt, ast.Subscript) and isinstance(tgt.value, ast.Name):
                base, idx = tgt.value.id, int_of(tgt.slice)
                if base == "r":
                    return self.var_write(f"r{idx}", self.rx(value, st, out), st, out)
                if base in LANE_WIDTH:
                    return self.lane_write((base, idx), value, st, out)
            if is_flags_attr(tgt):
                return self.flags_write(value, st, out)
        elif isinstance(s, ast.Expr) and isinstance(s.value, ast.Call):
            call = s.value
            f = call.func
            if isinstance(f, ast.Name):
                if f.id == "CHECK":
                    ea, n, kind = call.args
                    write = isinstance(kind, ast.Constant) and kind.value == "write"
                    return self.check(id_of(ea), int_of(n), write, st, out)
                if f.id == "ALIGN":
                    self.pending_align[id_of(call.args[0])] = int_of(call.args[1])
                    return
                if writer(f.id) is not None:
                    return self.mem_write(f.id, call.args[1], call.args[2], st, out)
            elif isinstance(f, ast.Attribute):
                self.machine_call(call, st, out)
                return
        elif isinstance(s, ast.If):
            return self.if_stmt(s, st, out)
        elif isinstance(s, ast.Pass):
            return
        raise ValueError(f"run tier: unexpected generated statement {ast.unparse(s)!r}")

    def if_stmt(self, s: ast.If, st: State, out: list[Stmt]) -> None:
        test = self.rx(s.test, st, out)
        if isinstance(test, ast.Constant):
            for x in s.body if test.value else s.orelse:
                self.stmt(x, st, out)
            return
        st1, o1 = st.clone(), list[Stmt]()
        for x in s.body:
            self.stmt(x, st1, o1)
        st2, o2 = st.clone(), list[Stmt]()
        for x in s.orelse:
            self.stmt(x, st2, o2)
        self.merge(st, st1, o1, st2, o2)
        out.append(ast.If(test=test, body=o1 or [ast.Pass()], orelse=o2))

    def merge(self, st: State, a: State, oa: list, b: State, ob: list) -> None:
        lanes = {}
        for key in set(a.lanes) | set(b.lanes):
            if key in a.lanes and key in b.lanes:
                lanes[key] = a.lanes[key] or b.lanes[key]
            else:
                one, o = (a, oa) if key in a.lanes else (b, ob)
                if one.lanes[key]:
                    self.flush_lane(key, one, o)
        st.lanes = lanes
        fa = a.flags.key() if a.flags else None
        fb = b.flags.key() if b.flags else None
        if fa == fb:
            st.flags = a.flags
        else:
            for one, o in ((a, oa), (b, ob)):
                if one.flags is not None:
                    o.append(_assign("fl", one.flags.as_tuple()))
            st.flags = None
        for attr in ("memsrc", "memvals", "consts", "copies", "aff", "terms", "width"):
            da, db = getattr(a, attr), getattr(b, attr)
            setattr(st, attr, {k: v for k, v in da.items() if k in db and db[k] == v})

    def rx(self, node: Expr, st: State, out: list[Stmt]) -> Expr:
        """Rewrite an expression of the generated code for the current state."""
        t = type(node)
        if t is ast.Constant:
            return node
        if t is ast.Name:
            v = node.id
            if v in st.consts:
                return _k(st.consts[v])
            if v in st.copies:
                return _n(st.copies[v])
            return _n(v)
        if t is ast.Subscript:
            base = node.value
            if isinstance(base, ast.Name) and isinstance(node.slice, ast.Constant):
                if base.id == "r":
                    return _n(f"r{int_of(node.slice)}")
                if base.id in LANE_WIDTH:
                    return _n(self.lane_read((base.id, int_of(node.slice)), st, out))
            if (
                isinstance(base, ast.Call)
                and isinstance(base.func, ast.Name)
                and reader(base.func.id)
                and isinstance(node.slice, ast.Constant)
            ):
                return self.mem_read(base.func.id, base.args[1], st, out)[int_of(node.slice)]
            value, index = self.rx(base, st, out), self.rx(node.slice, st, out)
            if isinstance(value, ast.Tuple) and isinstance(index, ast.Constant):
                return value.elts[int_of(index)]
            return ast.Subscript(value=value, slice=index, ctx=ast.Load())
        if t is ast.Attribute:
            if is_flags_attr(node):
                return _n(self.flags_local(st, out))
            return node
        if t is ast.Call:
            f = node.func
            if isinstance(f, ast.Name) and len(node.args) == 1 and is_flags_attr(node.args[0]):
                if f.id.startswith("cc_"):
                    return self.cond(f.id[3:], st, out)
                if f.id == "cf":
                    return self.cf(st, out)
            return ast.Call(func=f, args=[self.rx(a, st, out) for a in node.args], keywords=[])
        if t is ast.BinOp:
            left, right = self.rx(node.left, st, out), self.rx(node.right, st, out)
            if type(node.op) is ast.BitAnd and type(right) is ast.Constant and is_mask(right.value):
                w = self.width(left, st)
                if w is not None and w <= right.value.bit_length():
                    return left  # the value already fits the mask
            res: Expr = ast.BinOp(left=left, op=node.op, right=right)
            return (
                fold(res)
                if isinstance(left, ast.Constant) and isinstance(right, ast.Constant)
                else res
            )
        if t is ast.UnaryOp:
            operand = self.rx(node.operand, st, out)
            res = ast.UnaryOp(op=node.op, operand=operand)
            return fold(res) if isinstance(operand, ast.Constant) else res
        if t is ast.Compare:
            left = self.rx(node.left, st, out)
            comps = [self.rx(c, st, out) for c in node.comparators]
            res = ast.Compare(left=left, ops=node.ops, comparators=comps)
            if isinstance(left, ast.Constant) and all(isinstance(c, ast.Constant) for c in comps):
                return fold(res)
            return res
        if t is ast.BoolOp:
            vals = [self.rx(v, st, out) for v in node.values]
            res = ast.BoolOp(op=node.op, values=vals)
            return fold(res) if all(isinstance(v, ast.Constant) for v in vals) else res
        if t is ast.IfExp:
            test = self.rx(node.test, st, out)
            if isinstance(test, ast.Constant):
                return self.rx(node.body if test.value else node.orelse, st, out)
            return ast.IfExp(
                test=test, body=self.rx(node.body, st, out), orelse=self.rx(node.orelse, st, out)
            )
        if t is ast.Tuple:
            return ast.Tuple(elts=[self.rx(e, st, out) for e in node.elts], ctx=ast.Load())
        raise ValueError(f"run tier: unexpected expression {ast.unparse(node)!r}")

    def var_write(self, name: str, value: Expr, st: State, out: list[Stmt]) -> None:
        width = self.width(value, st)
        if self.mode == "fast":
            aff = self.affine(value, st)
            terms = (
                addr_terms(value)
                if name.startswith(("_e", "_sp")) and name not in names_in(value)
                else None
            )
            if REG_LOCAL.match(name):
                value = self._unmask(value, st)
        self.before_write(name, st, out)
        if isinstance(value, ast.Constant):
            st.consts[name] = value.value
        elif isinstance(value, ast.Name) and value.id != name and not REG_LOCAL.match(name):
            st.copies[name] = value.id
        if width is not None:
            st.width[name] = width
        else:
            st.width.pop(name, None)
        if self.mode == "fast":
            st.aff[name] = aff
            if terms is not None:
                st.terms[name] = terms
        self.emit_assign(name, value, out)

    def _unmask(self, value: Expr, st: State) -> Expr:
        """Fast loop: `(x + c) & mask` written to a register, x a register the
        loop's range test already bounds: bound it so that the sum cannot
        wrap, and drop the mask."""
        if not (
            type(value) is ast.BinOp
            and type(value.op) is ast.BitAnd
            and type(value.right) is ast.Constant
            and is_mask(value.right.value)
        ):
            return value
        a = self.affine(value.left, st)
        if a is None:
            return value
        varying = {r for r, _ in a.terms if r not in self.block.invariant}
        for _lo, _hi, c in a.conds:
            varying |= {r for r, _ in c.terms if r not in self.block.invariant}
        if len(varying) != 1 or not varying <= self.bounded:
            return value
        for c in [Constraint(Aff(a.const, a.terms), lo=0, hi=int_of(value.right))] + [
            Constraint(c, lo=lo, hi=hi) for lo, hi, c in a.conds
        ]:
            self.constraints.setdefault(c.key(), c)
        return value.left

    def tuple_write(self, tgt: ast.Tuple, value: Expr, st: State, out: list[Stmt]) -> None:
        names = [id_of(e) for e in tgt.elts]
        read = (
            reader(value.func.id)
            if isinstance(value, ast.Call) and isinstance(value.func, ast.Name)
            else None
        )
        if read is None:
            return self._tuple_assign(names, self.rx(value, st, out), st, out)
        view_name, w, _ = read
        src = self.memval_view(value.args[1])
        res = self.mem_read(value.func.id, value.args[1], st, out, names)
        if isinstance(res, list):
            for name, e in zip(names, res):
                if name != f"__{self.k}":
                    self.var_write(name, e, st, out)
        else:
            self._tuple_assign(names, res, st, out)
        for j, name in enumerate(names):
            if VIEW_BITS.get(view_name):
                st.width[name] = VIEW_BITS[view_name]
            if src is not None:
                st.memvals[name] = (src[0], src[1] + j * w, w)

    def _tuple_assign(self, names: list[str], value: Expr, st: State, out: list[Stmt]) -> None:
        for name in names:
            self.before_write(name, st, out)
            st.width.pop(name, None)
            if self.mode == "fast":
                st.aff[name] = None
        out.append(
            ast.Assign(
                targets=[ast.Tuple(elts=[_st(x) for x in names], ctx=ast.Store())], value=value
            )
        )

    def flags_write(self, value: Expr, st: State, out: list[Stmt]) -> None:
        # the components stay expressions (a helper call such as mul_flags is
        # only made where the record is built or read)
        elts = [self.rx(e, st, out) for e in value.elts]
        st.flags = Pending(elts[0].value, elts[1].value, *elts[2:])

    def flags_local(self, st: State, out: list[Stmt]) -> str:
        if st.flags is not None:
            out.append(_assign("fl", st.flags.as_tuple()))
            st.flags = None
        return "fl"

    def cond(self, cc: str, st: State, out: list[Stmt]) -> Expr:
        p = st.flags
        if p is not None:
            src = cond_source(cc, p.kind, p.n)
            if src is not None:
                return p.test(src)
        return _call(f"cc_{cc}", _n(self.flags_local(st, out)))

    def cf(self, st: State, out: list[Stmt]) -> Expr:
        p = st.flags
        if p is not None:
            return p.test(cf_source(p.kind, p.n))
        return _call("cf", _n(self.flags_local(st, out)))

    def machine_call(
        self, call: ast.Call, st: State, out: list[Stmt], result: str | None = None
    ) -> None:
        """A call of a machine method from generated code: everything is
        stored first; after one that may change anything, reloaded."""
        if not isinstance(call.func, ast.Attribute):
            raise ValueError(f"run tier: not a machine call {ast.unparse(call)!r}")
        name = call.func.attr
        if name not in COLD | SYNC | CLOBBERS:
            raise ValueError(
                f"run tier: unknown machine call c.{name}(): "
                "add it to vm/environment.py's COLD, SYNC or CLOBBERS"
            )
        args = [self.rx(a, st, out) for a in call.args]
        node = ast.Call(func=call.func, args=args, keywords=[])
        if name in COLD:
            out.extend(self.store_state(st, cold=True))
            out.append(ast.Expr(value=node))
            return
        out.extend(self.store_state(st, cold=False))
        for key in st.lanes:
            st.lanes[key] = False
        out.append(_assign(result, node) if result else ast.Expr(value=node))
        if name in CLOBBERS:
            for i in self.block.used:
                self.var_write(f"r{i}", _sub("r", _k(i)), st, out)
                if self.mode == "fast":
                    st.aff[f"r{i}"] = None
            out.append(_assign("fl", _expr("c.fl")))
            st.flags = None
            st.lanes.clear()
            st.memsrc.clear()
            st.memvals.clear()

    def next_rip(self, value: Expr, st: State, out: list[Stmt]) -> None:
        if isinstance(value, ast.Call) and isinstance(value.func, ast.Attribute):
            return self.machine_call(value, st, out, result="_n")
        v = self.rx(value, st, out)
        if self.on_branch is not None and self.last:
            return self.on_branch(v, st, out)
        if self.expect is not None and not self.last:
            return self.side_exit(v, st, out)
        self.emit_assign("_n", v, out)

    def side_exit(self, v: Expr, st: State, out: list[Stmt]) -> None:
        """A branch inside a trace: go on to the next instruction (item.expect)
        or leave the trace with the other target."""
        if isinstance(v, ast.Constant):
            if v.value != self.expect:
                out.extend(leave(self, st.clone(), v.value, self.count()))
            return
        if (
            isinstance(v, ast.IfExp)
            and isinstance(v.body, ast.Constant)
            and isinstance(v.orelse, ast.Constant)
        ):
            if v.orelse.value == self.expect:
                test, target = v.test, v.body.value
            elif v.body.value == self.expect:
                test, target = ast.UnaryOp(op=ast.Not(), operand=v.test), v.orelse.value
            else:
                raise ValueError("run tier: a trace goes on where its branch does not lead")
            out.append(
                ast.If(test=test, body=leave(self, st.clone(), target, self.count()), orelse=[])
            )
            return
        raise ValueError(f"run tier: a trace continues after a computed jump {ast.unparse(v)}")
