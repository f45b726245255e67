"""Moving forward (step, next, finish, continue, until) and backward
(reverse-step/next/finish/continue, goto, last-write), and the stops they report."""

from __future__ import annotations

import os
import struct
import time

from vm import Exit, Fault
from vm.history import Event, HistoryError, Interrupted
from vm.image import INSN_SIZE
from vm.isa.operands import Imm

from . import expr as E
from .frames import Frames
from .model import (
    M64,
    DebugError,
    Stop,
    Watchpoint,
    _signed,
)


class Motion(Frames):
    """Moving forward and backward in time, and the stops that report it.

    A layer of Session (core.py lists them): it uses Frames and below.
    """

    # -- moving forward ------------------------------------------------------------------------
    def _check_can_run(self) -> None:
        m = self.machine
        if m.exit_status is not None:
            raise DebugError(
                f"the program has exited (status {m.exit_status}); use "
                "reverse-step / reverse-continue, restart, load or call"
            )

    def step(self, n: int = 1) -> Stop:
        self._check_can_run()
        self.mark()
        m, h = self.machine, self.history
        self.code_focus = None
        for _ in range(max(1, n)):
            if m.stop_requested:
                m.stop_requested = False
                return self._set(Stop("interrupt", f"interrupted at {self.where()}"))
            try:
                rec = h.step()
            except Exit as e:
                return self._set(self._exit_stop(e.status))
            except Fault as f:
                return self._set(self._fault_stop(f))
            hit = self._watch_hit(rec.written)
            if hit is not None:
                return self._set(self._watch_stop(hit, rec))
            if self._call_returned():
                return self._set(self._finish_call())
        return self._set(Stop("step", self.where()))

    def next(self, n: int = 1) -> Stop:
        """Step over calls."""
        self._check_can_run()
        self.mark()
        m = self.machine
        stop = Stop("step", "")
        for _ in range(max(1, n)):
            insn = m.insns.get(m.rip)
            if insn is not None and insn.defn.mnemonic == "call":
                sp = m.r[4]
                stop = self._resume(
                    {m.rip + INSN_SIZE: (lambda mm, sp=sp: mm.r[4] == sp, "step", "")}
                )
            else:
                stop = self.step()
            if stop.kind != "step":
                return stop
        stop.text = self.where()
        return self._set(stop)

    def finish(self) -> Stop:
        self._check_can_run()
        frames = self.frames()
        if len(frames) < 2:
            raise DebugError(
                f"finish: {frames[0].routine} is the outermost routine; "
                "there is no caller to return to"
            )
        f0, f1 = frames[0], frames[1]
        ret = f1.returns_to
        sp_after = f0.sp_after_return
        self.mark()
        stop = self._resume(
            {ret: (lambda mm: mm.r[4] == sp_after, "finish", f"returned from {f0.routine} to")}
        )
        if stop.kind == "finish":
            stop.detail = [self._return_values()]
        return self._set(stop)

    def cont(self, fast: bool = False) -> Stop:
        self._check_can_run()
        self.mark()
        if fast:
            return self._set(self._continue_fast())
        return self._resume({})

    def until(self, location: str | None = None) -> Stop:
        self._check_can_run()
        m = self.machine
        temps = self._frame_exit_temps(location)
        if location:
            addr, _ = self.resolve_location(location)
            temps[addr] = (None, "finish", f"reached {location.strip()}:")
        else:
            insn = m.insns.get(m.rip)
            tgt = insn.operands[0] if insn and insn.operands else None
            backward = (
                insn is not None
                and insn.defn.kind in ("jump", "cond-jump")
                and isinstance(tgt, Imm)
                and (tgt.value & M64) <= m.rip
            )
            if not backward:
                return self.next()
            sp = m.r[4]
            temps[m.rip + INSN_SIZE] = (lambda mm, sp=sp: mm.r[4] == sp, "step", "")
        self.mark()
        return self._resume(temps)

    def advance(self, location: str) -> Stop:
        if not location.strip():
            raise DebugError("advance needs a location, e.g. advance softmax_xent")
        return self.until(location)

    def _frame_exit_temps(self, location: str | None) -> dict:
        frames = self.frames()
        if len(frames) < 2:
            return {}
        sp_after = frames[0].sp_after_return
        why = f" before reaching {location.strip()}" if location else ""
        return {
            frames[1].returns_to: (
                lambda mm: mm.r[4] == sp_after,
                "finish",
                f"{frames[0].routine} returned{why}; now at",
            )
        }

    def _resume(self, temps: dict) -> Stop:
        """Run until a breakpoint (conditions checked), a watchpoint, one of
        the temporary stops (addr -> (condition or None, stop kind, text)),
        exit, fault, or an interrupt."""
        m, h = self.machine, self.history
        self.code_focus = None
        extra = set(temps)
        if self.pending_call is not None:
            extra.add(self.pending_call["ret"])
        self._sync_breakpoints(extra)
        try:
            while True:
                try:
                    why = h.run(watches=self.watch_ranges())
                except Fault as f:
                    return self._set(self._fault_stop(f))
                if why == "exit":
                    return self._set(self._exit_stop(m.exit_status))
                if why == "stop":
                    return self._set(Stop("interrupt", f"interrupted at {self.where()}"))
                if why == "watch":
                    rec = h.undo[-1] if h.undo else None
                    return self._set(self._watch_stop(self._watch_event(h.event), rec))
                if why != "break":
                    continue
                if self._call_returned():
                    return self._set(self._finish_call())
                stop = self._at_breakpoint(temps)
                if stop is not None:
                    return self._set(stop)
        finally:
            self._sync_breakpoints()

    def _at_breakpoint(self, temps: dict) -> Stop | None:
        m = self.machine
        rip = m.rip
        if rip in temps:
            cond, kind, text = temps[rip]
            if cond is None or cond(m):
                return Stop(kind, (text + " " if text else "") + self.where())
        hit = []  # as gdb: every breakpoint here whose condition holds is hit
        for bp in sorted(self.breakpoints.values(), key=lambda b: b.num):
            if not bp.enabled or bp.addr != rip:
                continue
            if bp.cond:
                try:
                    ok = E.evaluate(bp.cond, self.ctx()).v
                except E.ExprError as e:
                    bp.hits += 1
                    return Stop(
                        "breakpoint",
                        f"breakpoint {bp.num}: error in its condition "
                        f"'{bp.cond}': {e}; stopped at {self.where()}",
                    )
                if not ok:
                    continue
            bp.hits += 1
            hit.append(bp)
        if not hit:
            return None
        for bp in hit:
            if bp.temporary:  # a temporary breakpoint goes away once hit
                del self.breakpoints[bp.num]
        first = hit[0]
        kind = "temporary breakpoint" if first.temporary else "breakpoint"
        return Stop("breakpoint", f"{kind} {first.num}, {self.where()}")

    def _continue_fast(self) -> Stop:
        """continue --fast: twins stand in for routines until a breakpoint
        or watchpoint (routines that hold a breakpoint stay interpreted)."""
        from vm.accel import attach, detach_all

        from ..kernels import twins as all_twins

        m = self.machine
        tw = all_twins()
        kept = []
        for name in list(tw):
            rng = self.routine_range(name)
            if rng and any(
                rng[0] <= bp.addr < rng[1] for bp in self.breakpoints.values() if bp.enabled
            ):
                del tw[name]
                kept.append(name)
        attachment = attach(m, tw)
        attached = attachment.attached
        watches = self.watch_ranges()
        snap = {w: self.machine.mem.read(w[0], w[1] - w[0]) for w in watches}
        changed: list = []

        def hook(machine, rip, icount):
            for w, old in snap.items():
                if machine.mem.buf[w[0] : w[1]] != old:
                    changed.append((w, old))
                    raise StopIteration

        calls0 = m.accel_calls
        t0 = time.perf_counter()
        try:
            while True:
                try:
                    status = m.run(block_hook=hook if watches else None)
                except Fault as f:
                    return self._fault_stop(f)
                if status is not None or m.exit_status is not None:
                    self.history.exit_rip()
                    stop = self._exit_stop(m.exit_status)
                    break
                if changed:
                    (lo, hi), old = changed[0]
                    wp = self._watchpoint_at(lo, hi - lo)
                    wp.hits += 1
                    stop = Stop(
                        "watchpoint",
                        f"watchpoint {wp.num}: {wp.what} changed "
                        f"(fast mode: noticed before {self.where()})",
                        detail=self._value_change(wp, old),
                    )
                    break
                if m.rip in m.breakpoints:
                    hit = self._at_breakpoint({})
                    if hit is None:
                        continue
                    stop = hit
                    break
                stop = Stop("interrupt", f"interrupted at {self.where()}")
                break
        finally:
            detach_all(m)
            self.history.reset()
        dt = time.perf_counter() - t0
        stop.detail.append(
            f"fast mode: {m.accel_calls - calls0:,} calls ran as twins "
            f"({', '.join(attached) or 'none'}) in {dt:.1f} s"
            + (f"; kept interpreted for breakpoints: {', '.join(kept)}" if kept else "")
            + "; history restarts here"
        )
        stop.detail.extend(attachment.messages())
        return stop

    # -- moving backward -------------------------------------------------------------------------
    def reverse_step(self, n: int = 1) -> Stop:
        m, h = self.machine, self.history
        if m.icount <= h.start:
            raise DebugError(
                f"at the start of the recorded history (instruction {h.start:,}); "
                "cannot go back further"
            )
        self.mark()
        self.code_focus = None
        target = max(h.start, m.icount - max(1, n))
        try:
            h.goto(target)
        except Interrupted as e:
            return self._set(Stop("interrupt", f"{e}; at {self.where()}"))
        if target == h.start and m.icount - n < h.start:
            return self._set(
                Stop(
                    "history-start",
                    f"reached the start of the recorded history "
                    f"(instruction {h.start:,}) at {self.where()}",
                )
            )
        return self._set(Stop("step", self.where()))

    def goto(self, target: int) -> Stop:
        """Instruction count `target`: inside the recorded history exactly as it
        was; past its frontier by stepping forward (breakpoints do not stop it)."""
        m, h = self.machine, self.history
        if target < h.start:
            raise DebugError(
                f"instruction {target:,} is before the recorded history (it starts at {h.start:,})"
            )
        self.mark()
        self.code_focus = None
        try:
            h.goto(min(target, h.frontier))
        except Interrupted as e:
            return self._set(Stop("interrupt", f"{e}; at {self.where()}"))
        if m.icount < target:
            stop = self.step(target - m.icount)
            if stop.kind != "step":
                return stop
        return self._set(Stop("step", f"at instruction {m.icount:,}: {self.where()}"))

    def reverse_continue(self) -> Stop:
        bps = {bp.addr for bp in self.breakpoints.values() if bp.enabled}
        return self._reverse_search(bps, self._bp_condition, self.watch_ranges())

    def reverse_next(self) -> Stop:
        m = self.machine
        rip0, sp0 = m.rip, m.r[4]
        stop = self.reverse_step()
        insn = m.insns.get(m.rip)
        if (
            stop.kind == "step"
            and insn is not None
            and insn.defn.mnemonic == "ret"
            and self.routine_at(m.rip) != self.routine_at(rip0)
        ):
            call_at = rip0 - INSN_SIZE
            return self._reverse_search({call_at}, lambda mm: mm.r[4] == sp0, [], mark=False)
        return stop

    def reverse_finish(self) -> Stop:
        frames = self.frames()
        if len(frames) < 2:
            raise DebugError(f"reverse-finish: {frames[0].routine} is the outermost routine")
        call_at, sp = frames[1].pc, frames[0].sp_after_return
        return self._reverse_search({call_at}, lambda mm: mm.r[4] == sp, [], kind="finish")

    def _reverse_search(
        self, bps, cond, watches, mark: bool = True, kind: str | None = None
    ) -> Stop:
        m, h = self.machine, self.history
        if m.icount <= h.start:
            raise DebugError(f"at the start of the recorded history (instruction {h.start:,})")
        if mark:
            self.mark()
        self.code_focus = None
        here = m.icount
        try:
            ev = h.find_last(here, bps, cond, watches)
            if ev is None:
                h.goto(h.start)
                return self._set(
                    Stop(
                        "history-start",
                        "reached the start of the recorded "
                        f"history (instruction {h.start:,}) at {self.where()}",
                    )
                )
            if ev.kind == "watch":
                h.goto(ev.icount)
                wp = self._watch_event(ev)
                wp.hits += 1
                before = self._range_bytes(wp)
                h.step()
                after = self._range_bytes(wp)
                h.back(1)
                return self._set(
                    Stop(
                        "watchpoint",
                        f"watchpoint {wp.num}: {wp.what} is written "
                        f"by the next instruction, {self.where()}",
                        detail=self._value_lines(wp, before, after),
                    )
                )
            h.goto(ev.icount)
        except Interrupted as e:
            self._back_to(here)
            return self._set(Stop("interrupt", f"{e}; back at {self.where()}"))
        except Fault as f:
            return self._set(self._fault_stop(f))
        if kind == "finish":
            return self._set(Stop("finish", f"back at the call: {self.where()}"))
        for bp in sorted(self.breakpoints.values(), key=lambda b: b.num):
            if bp.enabled and bp.addr == m.rip and bp.num:
                bp.hits += 1
                return self._set(Stop("breakpoint", f"breakpoint {bp.num}, {self.where()}"))
        return self._set(Stop("step", self.where()))

    def _back_to(self, here: int) -> None:
        """After an interrupted search of the history: back to instruction
        `here`, unless a second interrupt stops that too (the caller reports
        the interrupt and where it is either way)."""
        try:
            self.history.goto(here)
        except (Interrupted, HistoryError):
            pass

    def last_write(self, what: str, length: int | None = None) -> list[str]:
        """Which instruction, at which step, last wrote ADDR."""
        ctx = self.ctx()
        val = E.evaluate(what, ctx)
        if val.place is not None and val.place.kind == "mem":
            addr, type_name = val.place.args
            size = E.TYPES[type_name][0]
        elif val.place is not None:
            raise DebugError("last-write looks at memory; give an address or symbol")
        else:
            addr = E.address(what, ctx)
            sym = self.image.symbols.get(what.strip())
            size = sym.size if sym is not None and sym.size else 1
        if length is not None:
            size = length
        m, h = self.machine, self.history
        here = m.icount
        try:
            ev = h.find_last(here, set(), None, [(addr, addr + size)])
            if ev is None:
                h.goto(here)
                start = (
                    "the program's start"
                    if h.start == 0
                    else f"instruction {h.start:,} (where the history starts)"
                )
                return [
                    f"{self.describe(addr)} ({size} bytes) was not written between {start} "
                    f"and now (instruction {here:,})"
                    + (
                        "; its value comes from the program image (db/dd/...) or is zero"
                        if h.start == 0
                        else ""
                    )
                ]
            h.goto(ev.icount)
            insn_at = self.where()
            probe = Watchpoint(0, addr, size, what)
            before = self._range_bytes(probe)
            h.step()
            after = self._range_bytes(probe)
            h.goto(here)
        except Interrupted as e:
            self._back_to(here)
            raise DebugError(f"last-write {e}") from None
        ago = here - ev.icount
        lines = [
            f"{self.describe(addr)} was last written at instruction {ev.icount:,} "
            f"({ago:,} instruction{'s' if ago != 1 else ''} ago) by",
            f"  {insn_at}",
        ]
        lines += ["  " + x for x in self._value_lines(probe, before, after)]
        return lines

    # -- stops ---------------------------------------------------------------------------------------
    def _set(self, stop: Stop) -> Stop:
        self.stop = stop
        return stop

    def _exit_stop(self, status) -> Stop:
        return Stop(
            "exit",
            f"the program exited with status {status} after {self.machine.icount:,} instructions",
        )

    def _fault_stop(self, f: Fault) -> Stop:
        where = f" at {f.rip:#x}" if f.rip is not None else ""
        if f.insn_text:
            where += f" `{f.insn_text}`"
        if f.loc:
            where += f" in {os.path.basename(f.loc.file)}:{f.loc.line}"
        detail = []
        if f.loc and f.loc.text:
            detail.append(f"    {f.loc.text.strip()}")
        return Stop("fault", f"fault ({f.kind}): {f.message}{where}", fault=f, detail=detail)

    def _watch_event(self, ev: Event | None) -> Watchpoint:
        """The watchpoint a 'watch' event of the history wrote."""
        if ev is None or ev.addr is None:
            raise DebugError("the history reported a watched write without its address")
        return self._watchpoint_at(ev.addr, ev.length)

    def _watchpoint_at(self, addr: int, length: int) -> Watchpoint:
        """The watchpoint a write of LENGTH bytes at ADDR touched (one was)."""
        wp = self._watch_hit([(addr, length)])
        if wp is None:
            raise DebugError(f"no watchpoint covers the write at {addr:#x}")
        return wp

    def _watch_hit(self, written: list[tuple[int, int]]) -> Watchpoint | None:
        for a, n in written:
            for w in self.watchpoints.values():
                if w.enabled and a < w.addr + w.length and a + n > w.addr:
                    return w
        return None

    def _watch_stop(self, wp: Watchpoint, rec) -> Stop:
        wp.hits += 1
        after = self._range_bytes(wp)
        before = bytearray(after)
        if rec is not None:
            for a, old in reversed(rec.writes):
                data = bytes(old)  # an int is a run of that many zero bytes
                for k, b in enumerate(data[: wp.addr + len(before) - a]):
                    j = a + k - wp.addr
                    if 0 <= j < len(before):
                        before[j] = b
        insn = self.machine.insns.get(rec.rip) if rec is not None else None
        by = f" by {rec.rip:#x} {self.loc_text(rec.rip)} `{insn.text()}`" if insn else ""
        return Stop(
            "watchpoint",
            f"watchpoint {wp.num}: {wp.what} written{by}; now at {self.where()}",
            detail=self._value_lines(wp, bytes(before), after),
        )

    def _range_bytes(self, wp: Watchpoint) -> bytes:
        n = min(wp.length, 64)
        try:
            return self.machine.mem.read(wp.addr, n)
        except ValueError:
            return b""

    def _value_change(self, wp: Watchpoint, old: bytes) -> list[str]:
        return self._value_lines(wp, old[:64], self._range_bytes(wp))

    def _value_lines(self, wp: Watchpoint, before: bytes, after: bytes) -> list[str]:
        if before == after:
            return ["value unchanged (the same bytes were written)"]
        if len(before) == 4:
            fb, fa = struct.unpack("<f", before)[0], struct.unpack("<f", after)[0]
            ib, ia = int.from_bytes(before, "little"), int.from_bytes(after, "little")
            return [
                f"old: {ib:#010x} (f32 {fb:.7g}, i32 {_signed(ib, 32)})",
                f"new: {ia:#010x} (f32 {fa:.7g}, i32 {_signed(ia, 32)})",
            ]
        if len(before) == 8:
            ib, ia = int.from_bytes(before, "little"), int.from_bytes(after, "little")
            db, da = struct.unpack("<d", before)[0], struct.unpack("<d", after)[0]
            return [
                f"old: {ib:#018x} (i64 {_signed(ib, 64)}, f64 {db:.10g})",
                f"new: {ia:#018x} (i64 {_signed(ia, 64)}, f64 {da:.10g})",
            ]
        diff = [i for i in range(min(len(before), len(after))) if before[i] != after[i]]
        lines = [f"{len(diff)} of the first {len(after)} bytes changed"]
        if diff:
            i = diff[0] & ~3
            lines.append(
                f"at +{i:#x}: {before[i : i + 16].hex(' ')} -> {after[i : i + 16].hex(' ')}"
            )
        return lines
