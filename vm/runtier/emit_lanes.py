"""The xmm lane cache: lanes live in locals, a lane read twice is loaded
once, a lane written twice is stored once, and a lane whose bits were just
loaded from memory is read straight from memory in the wanted form."""

from __future__ import annotations

import ast

from .emit_base import EmitterBase
from .pyast import Expr, Stmt, _add, _k, _n, _sub
from .state import LANE_WIDTH, State, lane_local, lane_span


class LaneCache(EmitterBase):
    """The emitter's xmm lane cache."""

    def lane_read(self, key, st: State, out: list[Stmt]) -> str:
        name = lane_local(key)
        if key in st.lanes:
            return name
        src = self._lane_from_memory(key, st)
        if src is None:
            lo, hi = lane_span(key)
            for k2, dirty in list(st.lanes.items()):
                if dirty and lane_span(k2)[0] < hi and lo < lane_span(k2)[1]:
                    self.flush_lane(k2, st, out)
            src = _sub(key[0], _k(key[1]))
        self.before_write(name, st, out)
        self.emit_assign(name, src, out)
        st.lanes[key] = False
        return name

    def _lane_from_memory(self, key, st: State) -> Expr | None:
        """A 32-bit lane whose bits are still those of a memory operand
        loaded by a guarded access: read them from memory in the wanted form."""
        if key[0] not in ("xf", "xi") or not st.memsrc:
            return None
        lo, hi = lane_span(key)
        for k2, (view, off) in st.memsrc.items():
            lo2, hi2 = lane_span(k2)
            if k2 in st.lanes and lo2 <= lo and hi <= hi2 and view.unit % 4 == 0:
                byte = off + lo - lo2
                if byte % 4:
                    return None
                idx = (
                    _n(view.ix)
                    if view.unit == 4
                    else ast.BinOp(left=_n(view.ix), op=ast.Mult(), right=_k(view.unit // 4))
                )
                return _sub("mf" if key[0] == "xf" else "mI", _add(idx, byte // 4))
        return None

    def lane_write(self, key, value: Expr, st: State, out: list[Stmt]) -> None:
        v = self.rx(value, st, out)
        src = None
        if isinstance(v, ast.Name) and v.id in st.memvals:
            view, off, width = st.memvals[v.id]
            if width == LANE_WIDTH[key[0]]:
                src = (view, off)
        if src is not None and key[0] in ("xq", "xd") and src[0].unit % 4 == 0 and src[1] % 4 == 0:
            # 64 bits straight from memory: keep them as two 32-bit lanes read
            # from memory, so that a float32 write to one half later needs no
            # store of the whole 64 bits first
            view, off = src
            base = (
                _n(view.ix)
                if view.unit == 4
                else ast.BinOp(left=_n(view.ix), op=ast.Mult(), right=_k(view.unit // 4))
            )
            for half in (0, 1):
                self._lane_store(
                    ("xi", 2 * key[1] + half),
                    _sub("mI", _add(base, off // 4 + half)),
                    st,
                    out,
                    (view, off + 4 * half),
                )
            return
        self._lane_store(key, v, st, out, src)

    def _lane_store(self, key, v: Expr, st: State, out: list[Stmt], src) -> None:
        name = lane_local(key)
        if (
            key[0] != "xf"
            and type(v) is ast.Constant
            and key in st.lanes
            and name in st.consts
            and st.consts[name] == v.value
        ):
            return  # it already holds that value (a loop's zeroed lanes)
        lo, hi = lane_span(key)
        for k2 in list(st.lanes):
            if k2 != key:
                lo2, hi2 = lane_span(k2)
                if lo2 < hi and lo < hi2:
                    if st.lanes[k2] and not (lo <= lo2 and hi2 <= hi):
                        self.flush_lane(k2, st, out)
                    del st.lanes[k2]
                    st.memsrc.pop(k2, None)
        self.before_write(name, st, out)
        st.memsrc.pop(key, None)
        if key[0] == "xf":
            # a float32 lane: the store rounds; keep the rounded value
            out.append(ast.Assign(targets=[_sub("xf", _k(key[1]), store=True)], value=v))
            self.emit_assign(name, _sub("xf", _k(key[1])), out)
            st.lanes[key] = False
        else:
            self.emit_assign(name, v, out)
            st.lanes[key] = True
            if type(v) is ast.Constant:
                st.consts[name] = v.value
            if src is not None:
                st.memsrc[key] = src
