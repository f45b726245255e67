"""Breakpoints and watchpoints: numbering, conditions, enabling, the set
the machine stops at."""

from __future__ import annotations

from collections.abc import Collection

from . import expr as E
from .model import (
    M64,
    Breakpoint,
    DebugError,
    Watchpoint,
)
from .naming import Naming


class Points(Naming):
    """Breakpoints and watchpoints.

    A layer of Session (core.py lists them): it uses Naming and the state.
    """

    # -- breakpoints and watchpoints ---------------------------------------------------------
    def add_breakpoint(
        self, location: str, cond: str | None = None, temporary: bool = False
    ) -> Breakpoint:
        addr, where = self.resolve_location(location)
        if cond:
            E.check(cond, self.ctx())
        bp = Breakpoint(self._take_num(), addr, where, cond or None, temporary=temporary)
        self.breakpoints[bp.num] = bp
        self._sync_breakpoints()
        return bp

    def add_watchpoint(self, what: str, length: int | None = None) -> Watchpoint:
        text = what.strip()
        if not text:
            raise DebugError("watch what? give an address or symbol, e.g. watch W1+16 4")
        ctx = self.ctx()
        val = E.evaluate(text, ctx)
        if val.place is not None and val.place.kind == "mem":
            addr, type_name = val.place.args
            size = E.TYPES[type_name][0]
        elif val.place is not None and length is None:
            raise DebugError(
                "watchpoints watch memory; registers change at every step "
                "(watch REG N watches N bytes at the address in REG; "
                "break ... if stops on a register value)"
            )
        elif (
            val.place is not None and length is not None
        ):  # `watch rsp 8`: the memory the register points at
            addr, size = int(val.v) & M64, length
        else:
            addr = E.address(text, ctx)
            sym = self.image.symbols.get(text)
            size = sym.size if sym is not None and sym.size else 8
        if length is not None:
            size = length
        if size <= 0:
            raise DebugError("a watchpoint needs a length of at least 1 byte")
        if not self.machine.mem.mapped(addr, size, write=True):
            raise DebugError(
                f"{addr:#x}..{addr + size:#x} is not writable memory "
                f"({self.machine.mem.region(addr)}); nothing can write it"
            )
        wp = Watchpoint(self._take_num(), addr, size, text)
        self.watchpoints[wp.num] = wp
        return wp

    def _take_num(self) -> int:
        n = self._next_num
        self._next_num += 1
        return n

    def numbered(self, nums: list[int] | None):
        """Breakpoints and watchpoints by number (all when nums is None)."""
        if nums is None:
            return list(self.breakpoints.values()) + list(self.watchpoints.values())
        out = []
        for n in nums:
            item = self.breakpoints.get(n) or self.watchpoints.get(n)
            if item is None:
                raise DebugError(f"no breakpoint or watchpoint number {n} (see info breakpoints)")
            out.append(item)
        return out

    def delete(self, nums: list[int] | None) -> int:
        items = self.numbered(nums)
        for it in items:
            if isinstance(it, Breakpoint):
                del self.breakpoints[it.num]
            else:
                del self.watchpoints[it.num]
        self._sync_breakpoints()
        return len(items)

    def enable(self, nums: list[int] | None, on: bool) -> int:
        items = self.numbered(nums)
        for it in items:
            it.enabled = on
        self._sync_breakpoints()
        return len(items)

    def toggle_breakpoint_here(self) -> str:
        """The `b` key: a breakpoint at the current line, or remove the one there."""
        addr = self.machine.rip
        if addr not in self.machine.insns:
            raise DebugError("rip does not point at an instruction")
        for bp in list(self.breakpoints.values()):
            if bp.addr == addr:
                del self.breakpoints[bp.num]
                self._sync_breakpoints()
                return f"deleted breakpoint {bp.num} at {self.where(addr)}"
        bp = self.add_breakpoint(f"*{addr:#x}")
        bp.where = self.loc_text(addr)
        return f"breakpoint {bp.num} at {self.where(addr)}"

    def _sync_breakpoints(self, extra: Collection[int] = ()) -> None:
        m = self.machine
        want = {bp.addr for bp in self.breakpoints.values() if bp.enabled} | set(extra)
        if want != m.breakpoints:
            added = want - m.breakpoints
            m.breakpoints = want
            if added:
                m.invalidate()  # compiled blocks must end at the new addresses

    def watch_ranges(self) -> list[tuple[int, int]]:
        return [(w.addr, w.addr + w.length) for w in self.watchpoints.values() if w.enabled]

    def _bp_condition(self, machine) -> bool:
        """At a breakpoint address: is any enabled breakpoint there satisfied?"""
        for bp in self.breakpoints.values():
            if bp.enabled and bp.addr == machine.rip:
                if bp.cond is None:
                    return True
                try:
                    if E.evaluate(bp.cond, self.ctx()).v:
                        return True
                except E.ExprError:
                    return True
        return False
