"""The lanes of one instruction as LLVM vector operations.

vm.codegen writes a packed instruction's template once per lane (`t0 = _af0 *
_bf0`, `if t0 != t0: ...`, `xf[4] = t0`, then the same for lane 1 with the
next register lane ...). find_groups() finds such runs in an instruction's
statements: N consecutive groups of L statements that are the same code except
for the lane number of their names (`t0` -> `t1`) and the register lanes they
name (`xf[4]` -> `xf[5]`), with no lane reading what another lane writes. The
translator then translates the first group once, on vectors of N lanes; that
computes what the N groups compute one after another, so the semantics are
still only the template's. LaneBuilder is the IR builder that makes this work
without a second set of translation rules: in vector mode an operation with a
vector operand splats its scalar ones (a lane-invariant value such as a
constant or an address) and an intrinsic becomes its vector form.
"""

from __future__ import annotations

import ast
import re

from llvmlite import ir

STATE_VIEWS = {"xf": 32, "xi": 32, "xq": 64, "xd": 64}  # register-file lane views, lane bits
MAX_GROUP = 8  # statements per lane (the FMA template has 6)
_LANE = re.compile(r"^(.*[A-Za-z_])(\d+)$")


def lane_name(name: str) -> tuple[str, int] | None:
    """`_af3` -> ('_af', 3): a name the code generator numbered by lane."""
    m = _LANE.match(name)
    return (m.group(1), int(m.group(2))) if m else None


def _shape(node, slots: list) -> object:
    """The statement with its lane numbers and register-lane indices taken out
    (appended to slots as ('L', base, ctx, suffix) / ('S', view, ctx, index))."""
    if isinstance(node, ast.Name):
        ln = lane_name(node.id)
        if ln is None:
            return ("N", node.id)
        ctx = type(node.ctx).__name__
        slots.append(("L", ln[0], ctx, ln[1]))
        return ("L", ln[0], ctx)
    if (
        isinstance(node, ast.Subscript)
        and isinstance(node.value, ast.Name)
        and node.value.id in STATE_VIEWS
        and isinstance(node.slice, ast.Constant)
        and type(node.slice.value) is int
    ):
        ctx = type(node.ctx).__name__
        slots.append(("S", node.value.id, ctx, node.slice.value))
        return ("S", node.value.id, ctx)
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
        args = tuple(_shape(a, slots) for a in node.args)
        kws = tuple((k.arg, _shape(k.value, slots)) for k in node.keywords)
        return ("F", node.func.id, args, kws)
    if isinstance(node, ast.AST):
        fields: list[tuple[str, object]] = []
        for name, value in ast.iter_fields(node):
            if isinstance(value, list):
                fields.append((name, tuple(_shape(v, slots) for v in value)))
            else:
                fields.append((name, _shape(value, slots)))
        return (type(node).__name__, tuple(fields))
    return repr(node)


def _positions(view: str, index: int) -> set[int]:
    """The 32-bit register-file lanes a view's lane occupies."""
    if STATE_VIEWS[view] == 32:
        return {index}
    return {2 * index, 2 * index + 1}


def _independent(slots: list[list]) -> bool:
    """No lane reads or writes what another lane writes (then running the
    lanes side by side equals running them one after another)."""
    first = slots[0]
    for s in first:
        if s[0] == "L" and s[2] == "Store":  # a lane-numbered name written: one suffix per lane
            if any(t[0] == "L" and t[1] == s[1] and t[3] != s[3] for t in first):
                return False
    n = len(slots)
    for q, s in enumerate(first):
        if s[0] != "S" or s[2] != "Store":
            continue
        wrote = [_positions(s[1], g[q][3]) for g in slots]
        for p, t in enumerate(first):
            if t[0] != "S":
                continue
            other = [_positions(t[1], g[p][3]) for g in slots]
            for j in range(n):
                for k in range(n):
                    if j != k and other[j] & wrote[k]:
                        return False
    return True


def _lanes_of(group0: list, group: list, j: int) -> bool:
    """group is lane j of group0's code."""
    for s0, s in zip(group0, group):
        if s0[0] != s[0] or s0[1] != s[1] or s0[2] != s[2]:
            return False
        if s0[0] == "L" and s[3] != s0[3] + j:
            return False
    return True


def find_groups(stmts: list) -> dict[int, tuple[int, int, list[list]]]:
    """Runs of lanes in an instruction's statements: start -> (L statements
    per lane, N lanes, the slots of each lane)."""
    shapes, slots = [], []
    for s in stmts:
        sl: list = []
        shapes.append(_shape(s, sl))
        slots.append(sl)
    out: dict[int, tuple[int, int, list[list]]] = {}
    p = 0
    while p < len(stmts):
        best: tuple[int, int, list[list]] | None = None
        for size in range(1, MAX_GROUP + 1):
            if p + 2 * size > len(stmts):
                break
            head = shapes[p : p + size]
            first = [x for sl in slots[p : p + size] for x in sl]
            if not any(x[0] in "LS" for x in first):
                continue
            lanes = [first]
            while True:
                q = p + len(lanes) * size
                if q + size > len(stmts) or shapes[q : q + size] != head:
                    break
                nxt = [x for sl in slots[q : q + size] for x in sl]
                if not _lanes_of(first, nxt, len(lanes)):
                    break
                lanes.append(nxt)
            if len(lanes) >= 2 and _independent(lanes):
                if best is None or len(lanes) * size > best[0] * best[1]:
                    best = (size, len(lanes), lanes)
        if best is None:
            p += 1
            continue
        out[p] = best
        p += best[0] * best[1]
    return out


def _vec(t, n: int):
    return t if isinstance(t, ir.VectorType) else ir.VectorType(t, n)


def splat(b: ir.IRBuilder, x, n: int):
    """x as an n-lane vector (unchanged if it is one)."""
    if isinstance(x.type, ir.VectorType):
        return x
    if isinstance(x, ir.Constant):
        return ir.Constant(ir.VectorType(x.type, n), [x.constant] * n)
    one = ir.IRBuilder.insert_element(
        b, ir.Constant(_vec(x.type, n), ir.Undefined), x, ir.Constant(ir.IntType(32), 0)
    )
    zeros = ir.Constant(ir.VectorType(ir.IntType(32), n), [0] * n)
    return ir.IRBuilder.shuffle_vector(b, one, one, zeros)


def _width(*xs) -> int:
    """The lane count of the vector operands (0: all scalar)."""
    for x in xs:
        if isinstance(x.type, ir.VectorType):
            return x.type.count
    return 0


def _binary(name: str):
    base = getattr(ir.IRBuilder, name)

    def op(self, lhs, rhs, name="", **kw):
        n = _width(lhs, rhs)
        if n:
            lhs, rhs = splat(self, lhs, n), splat(self, rhs, n)
        return base(self, lhs, rhs, name, **kw)

    return op


def _compare(name: str):
    base = getattr(ir.IRBuilder, name)

    def op(self, cmpop, lhs, rhs, name="", **kw):
        n = _width(lhs, rhs)
        if n:
            lhs, rhs = splat(self, lhs, n), splat(self, rhs, n)
        return base(self, cmpop, lhs, rhs, name, **kw)

    return op


def _cast(name: str):
    base = getattr(ir.IRBuilder, name)

    def op(self, value, typ, name=""):
        n = _width(value)
        return base(self, value, _vec(typ, n) if n else typ, name)

    return op


class LaneBuilder(ir.IRBuilder):
    """An IRBuilder whose operations accept a mix of scalars and vectors of
    one lane count: scalars are splatted, cast targets and intrinsics
    (llvm.sqrt.f32 -> llvm.sqrt.v4f32) follow their vector operand."""

    for _n in ("add", "sub", "mul", "udiv", "urem", "shl", "lshr", "ashr", "and_", "or_", "xor"):
        locals()[_n] = _binary(_n)
    for _n in ("fadd", "fsub", "fmul", "fdiv"):
        locals()[_n] = _binary(_n)
    for _n in ("icmp_signed", "icmp_unsigned", "fcmp_ordered", "fcmp_unordered"):
        locals()[_n] = _compare(_n)
    for _n in ("trunc", "zext", "sext", "fptrunc", "fpext", "bitcast", "fptosi", "sitofp"):
        locals()[_n] = _cast(_n)
    del _n

    def select(self, cond, lhs, rhs, name="", flags=()):
        n = _width(cond, lhs, rhs)
        if n:
            lhs, rhs = splat(self, lhs, n), splat(self, rhs, n)
            if isinstance(cond.type, ir.VectorType):
                cond = splat(self, cond, n)
        return ir.IRBuilder.select(self, cond, lhs, rhs, name, flags)

    def call(self, fn, args, name="", **kw):
        n = _width(*args)
        if n and fn.name.startswith("llvm."):
            fn, args = self._vector_intrinsic(fn, args, n)
        return ir.IRBuilder.call(self, fn, args, name, **kw)

    def _vector_intrinsic(self, fn, args, n: int):
        """llvm.X.<type> over vectors of n lanes: the arguments of the
        overloaded type become vectors (ctlz's i1 flag stays a scalar)."""
        fty = fn.function_type
        over = fty.return_type
        params = [_vec(t, n) if t == over else t for t in fty.args]
        base, suffix = fn.name.rsplit(".", 1)
        name = f"{base}.v{n}{suffix}"
        module = fn.module
        vfn = module.globals.get(name)
        if vfn is None:
            vfn = ir.Function(module, ir.FunctionType(_vec(over, n), params), name=name)
        args = [splat(self, a, n) if p == _vec(over, n) else a for a, p in zip(args, params)]
        return vfn, args
