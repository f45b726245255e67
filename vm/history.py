"""Reverse execution for one Machine: an undo log plus checkpoints.

Two mechanisms, one timeline (positions are instruction counts, `icount`):

* **Undo records** for instructions executed one at a time (`step()`): the
  registers that changed, the old bytes of every memory write (the traced
  tier calls `machine.wlog(addr, n)` before each write) and, for a
  `syscall`, the runtime's open files and brk. Undoing one is O(1).
* **Checkpoints** for runs (`run()`), which stay in the untraced Run tier:
  every `interval` instructions the full register state, the open files and
  the memory pages that changed since the previous checkpoint (found by
  comparing memory with a shadow copy, 64 KiB chunks then 4 KiB pages; the
  old contents are kept, all-zero pages as a marker). Going back to a
  position restores the nearest checkpoint at or before it and re-executes
  forward, which is exact because execution is deterministic: the runtime's
  files are restored with their offsets, and program output produced while
  re-executing already-executed instructions is dropped (it was shown the
  first time).

The interval adapts so that taking checkpoints costs about 4% of run time.
Memory is bounded by `budget` bytes (shadow copy + page diffs + undo
records); when it is exceeded the oldest checkpoints are dropped, so the
reachable history shrinks from its old end, never from the present.
`depth` tells how far back one can go.

What cannot be undone: output already written (it is not printed twice) and
bytes written to host files. Changing the machine from outside (a debugger
`set`, a fast-mode run with twins) is not part of the timeline: call
`reset()` afterwards; history then starts at that point.

`find_last()` searches backwards, segment by segment, for the last time a
breakpoint was reached (with an optional condition) or a watched range was
written; older segments whose page diff shows the watched bytes unchanged are
skipped. The machine stays free of any UI: this module never prints.
"""

from __future__ import annotations

import os
import time
from collections import deque
from collections.abc import Callable, Sequence
from collections.abc import Set as AbstractSet
from dataclasses import dataclass

from . import cpu
from .errors import Exit, Fault, VMError
from .image import INSN_SIZE, PAGE

DEFAULT_BUDGET = 512 << 20  # bytes of history memory (shadow + diffs + undo records)
UNDO_SHARE = 4  # undo records may use 1/UNDO_SHARE of the budget
MIN_INTERVAL = 20_000
MAX_INTERVAL = 5_000_000
WINDOW = 512  # instructions re-stepped with undo records after a jump back
_CHUNK = 1 << 16
# traced legs finish their last instructions one step at a time (longer than any block)
MAX_BLOCK = max(256, cpu.MAX_BLOCK)
_ZERO_PAGE = bytes(PAGE)


class HistoryError(VMError):
    """A position outside the recorded history (the message says which range exists)."""


class Interrupted(VMError):
    """machine.stop_requested cut a history operation short; the machine is at a
    valid position (machine.icount)."""


# ---- machine state pieces ------------------------------------------------------------
@dataclass
class Registers:
    r: tuple
    xb: bytes
    fl: tuple  # (RFLAGS record, MXCSR): see _flags
    rip: int
    icount: int
    exit_status: int | None
    brk: int

    @classmethod
    def of(cls, m) -> Registers:
        return cls(tuple(m.r), bytes(m.xb), _flags(m), m.rip, m.icount, m.exit_status, m.mem.brk)

    def restore(self, m) -> None:
        m.r[:] = self.r
        m.xb[:] = self.xb
        _set_flags(m, self.fl)
        m.rip = self.rip
        m.icount = self.icount
        m.exit_status = self.exit_status
        _set_brk(m, self.brk)


def _flags(m) -> tuple:
    """The status flags and MXCSR (its sticky exception flags change like
    RFLAGS does, and ldmxcsr sets it), saved and restored together."""
    return m.fl, m.mxcsr


def _set_flags(m, saved: tuple) -> None:
    m.fl, m.mxcsr = saved


def _set_brk(m, brk: int) -> None:
    if m.mem.brk != brk:
        old = m.mem.layout().hi
        m.mem.brk = brk
        if m.mem.layout().hi != old:
            m.invalidate()  # generated bounds checks embed the mapped range


class Files:
    """The runtime's open files at one moment: program fd -> (a private dup of
    the host fd, its offset). Restoring gives the runtime fresh dups positioned
    at the saved offsets."""

    __slots__ = ("fds", "next_fd")

    def __init__(self, runtime):
        self.fds: dict[int, tuple[int, int | None]] = {}
        for pfd, host in runtime.fds.items():
            try:
                off = os.lseek(host, 0, os.SEEK_CUR)
            except OSError:
                off = None
            self.fds[pfd] = (os.dup(host), off)
        self.next_fd = runtime.next_fd

    def restore(self, runtime) -> None:
        for host in runtime.fds.values():
            try:
                os.close(host)
            except OSError:
                pass
        runtime.fds = {}
        for pfd, (dup, off) in self.fds.items():
            host = os.dup(dup)
            if off is not None:
                os.lseek(host, off, os.SEEK_SET)
            runtime.fds[pfd] = host
        runtime.next_fd = self.next_fd

    def close(self) -> None:
        for dup, _ in self.fds.values():
            try:
                os.close(dup)
            except OSError:
                pass
        self.fds = {}

    def __del__(self):
        self.close()


class Undo:
    """How to go back over one stepped instruction."""

    __slots__ = ("icount", "rip", "gprs", "xmm", "fl", "writes", "files", "brk", "size")

    def __init__(self, icount, rip, gprs, xmm, fl, writes, files, brk):
        self.icount, self.rip, self.gprs, self.xmm, self.fl = icount, rip, gprs, xmm, fl
        self.writes, self.files, self.brk = writes, files, brk
        self.size = (
            160
            + 32 * len(gprs)
            + sum(48 + len(d) for _, d in xmm)
            + sum(56 + (len(d) if isinstance(d, bytes) else 0) for _, d in writes)
        )

    def apply(self, m) -> None:
        buf = m.mem.buf
        for addr, old in reversed(self.writes):
            if isinstance(old, int):  # a long all-zero run, stored as its length
                buf[addr : addr + old] = bytes(old)
            else:
                buf[addr : addr + len(old)] = old
        r = m.r
        for i, v in self.gprs:
            r[i] = v
        for off, data in self.xmm:
            m.xb[off : off + len(data)] = data
        _set_flags(m, self.fl)
        m.rip = self.rip
        m.icount = self.icount
        m.exit_status = None
        if self.brk is not None:
            _set_brk(m, self.brk)
        if self.files is not None:
            self.files.restore(m.runtime)

    @property
    def written(self) -> list[tuple[int, int]]:
        """(address, length) of each memory write the instruction made."""
        return [(a, d if isinstance(d, int) else len(d)) for a, d in self.writes]


class Checkpoint:
    __slots__ = ("regs", "files", "undo", "size")

    def __init__(self, regs: Registers, files: Files):
        self.regs, self.files = regs, files
        self.undo: dict[int, bytes | None] | None = None  # pages as they were here, for
        self.size = 400  # going back from the next one

    @property
    def icount(self) -> int:
        return self.regs.icount

    def set_undo(self, pages: dict[int, bytes | None]) -> None:
        self.undo = pages
        self.size = 400 + sum(64 + (PAGE if d is not None else 0) for d in pages.values())


@dataclass
class Event:
    """What find_last() found: the position just before the instruction that
    reached a breakpoint ('break') or wrote a watched range ('watch')."""

    icount: int
    kind: str
    rip: int
    addr: int | None = None  # for 'watch': the first watched byte written
    length: int = 0


class _Gate:
    """The program's output stream, silent while history re-executes."""

    def __init__(self, stream, history: History):
        self.stream, self.h = stream, history

    def write(self, data) -> int:
        if self.h.replaying:
            return len(data)
        return self.stream.write(data)

    def flush(self) -> None:
        if hasattr(self.stream, "flush"):
            self.stream.flush()


def _noop_wlog(addr: int, n: int) -> None:
    pass


# ---- the history -----------------------------------------------------------------------
class _Tail(Exception):
    """Internal: a traced leg reached its last block; finish it one step at a time."""


class History:
    """The timeline of `machine` from now on (see the module docstring)."""

    def __init__(self, machine, budget: int = DEFAULT_BUDGET, window: int = WINDOW):
        self.m = machine
        self.budget = budget
        self.window = window
        self.replaying = False
        self.interval = 500_000
        self.event: Event | None = None  # what stopped the last run() with 'watch'
        self._speed = 5e6  # instructions per second of the Run tier, measured
        rt = machine.runtime
        if not isinstance(rt.stdout, _Gate):
            rt.stdout = _Gate(rt.stdout, self)
            rt.stderr = _Gate(rt.stderr, self)
        else:
            rt.stdout.h = rt.stderr.h = self
        self._syscalls = {i.addr for i in machine.image.insns if i.defn.kind == "syscall"}
        self.checkpoints: list[Checkpoint] = []
        self.reset()

    # -- bookkeeping ------------------------------------------------------------
    def reset(self) -> None:
        """Forget everything: history starts at the machine's current state."""
        m = self.m
        self.undo: deque[Undo] = deque()
        self.undo_bytes = 0
        self.frontier = m.icount
        mem = m.mem
        self._regions = [(mem.data, _page_up(mem.brk)), (mem.stack_lo, mem.top)]
        self._shadow = {lo: bytearray(mem.buf[lo:hi]) for lo, hi in self._regions}
        for c in self.checkpoints:
            c.files.close()
        self.checkpoints = [Checkpoint(Registers.of(m), Files(m.runtime))]

    def _grow(self) -> None:
        """Track heap pages brk has mapped since (they were zero before)."""
        (lo, hi), stack = self._regions
        new_hi = _page_up(self.m.mem.brk)
        if new_hi > hi:
            self._shadow[lo].extend(bytes(new_hi - hi))
            self._regions = [(lo, new_hi), stack]

    @property
    def start(self) -> int:
        """The earliest reachable position."""
        return self.checkpoints[0].icount

    @property
    def depth(self) -> int:
        """How many instructions back from the present (the frontier) one can go."""
        return self.frontier - self.start

    @property
    def used(self) -> int:
        """Bytes of memory the history holds."""
        return (
            sum(len(s) for s in self._shadow.values())
            + sum(c.size for c in self.checkpoints)
            + self.undo_bytes
        )

    # -- forward ------------------------------------------------------------------
    def step(self, on_write: Callable[[int, int], None] | None = None) -> Undo:
        """Execute one instruction with an undo record (raises Fault or Exit as
        Machine.step does; a faulting instruction leaves no trace). Returns the
        record; its `written` lists the memory it wrote. on_write(addr, n) is
        called before each write."""
        m = self.m
        if m.exit_status is not None:
            raise Exit(m.exit_status)
        buf = m.mem.buf
        writes: list = []

        def wlog(addr: int, n: int) -> None:
            old = buf[addr : addr + n]
            if n > 256 and old.count(0) == n:
                writes.append((addr, n))
            else:
                writes.append((addr, old))
            if on_write is not None:
                on_write(addr, n)

        r0, xb0, fl0, rip0, ic0 = list(m.r), bytes(m.xb), _flags(m), m.rip, m.icount
        files = brk = None
        if rip0 in self._syscalls:
            files, brk = Files(m.runtime), m.mem.brk
        m.wlog = wlog
        self.replaying = ic0 < self.frontier
        try:
            m.step(trace=True)
        except Fault:
            Undo(
                ic0, rip0, _gpr_diff(r0, m.r), _xmm_diff(xb0, m.xb), fl0, writes, files, brk
            ).apply(m)
            raise
        except Exit:
            self._push(
                Undo(ic0, rip0, _gpr_diff(r0, m.r), _xmm_diff(xb0, m.xb), fl0, writes, files, brk)
            )
            raise
        finally:
            m.wlog = _noop_wlog
            self.replaying = False
        rec = Undo(ic0, rip0, _gpr_diff(r0, m.r), _xmm_diff(xb0, m.xb), fl0, writes, files, brk)
        self._push(rec)
        return rec

    def _push(self, rec: Undo) -> None:
        if self.undo and self.undo[-1].icount != rec.icount - 1:
            self._drop_undo()
        self.undo.append(rec)
        self.undo_bytes += rec.size
        limit = self.budget // UNDO_SHARE
        while self.undo_bytes > limit and len(self.undo) > 1:
            self.undo_bytes -= self.undo.popleft().size
        self.frontier = max(self.frontier, self.m.icount)
        self._maybe_checkpoint()

    def _drop_undo(self) -> None:
        self.undo.clear()
        self.undo_bytes = 0

    def run(
        self,
        until: int | None = None,
        block_hook: Callable | None = None,
        watches: Sequence[tuple[int, int]] = (),
        on_write: Callable | None = None,
        breakpoints: bool = True,
    ) -> str:
        """Run forward, taking checkpoints. Returns why it stopped:
          'limit'  reached icount `until`
          'break'  rip is in machine.breakpoints (not checked at the start)
          'watch'  an instruction wrote into one of `watches` ((lo, hi) byte
                   ranges); the machine is just after it, self.event says which
          'stop'   machine.stop_requested, or block_hook raised StopIteration
          'exit'   the program exited
        Raises Fault. Without block_hook, watches and on_write this is the
        untraced Run tier; otherwise traced blocks, with block_hook(machine,
        rip, icount) before each block and on_write(addr, n) before each
        write. Instructions below the frontier are re-executed silently."""
        m = self.m
        traced = block_hook is not None or bool(watches) or on_write is not None
        first = True
        while True:
            if m.exit_status is not None:
                return "exit"
            if until is not None and m.icount >= until:
                return "limit"
            if not first and breakpoints and m.rip in m.breakpoints:
                return "break"
            first = False
            if m.icount < self.frontier:
                end = self.frontier
            else:
                end = max(self.checkpoints[-1].icount + self.interval, m.icount + MIN_INTERVAL)
            if until is not None:
                end = min(end, until)
            t0, ic0 = time.perf_counter(), m.icount
            if traced:
                why = self._traced_leg(end, block_hook, watches, on_write, breakpoints)
            else:
                why = self._leg(end, breakpoints)
            dt = time.perf_counter() - t0
            if dt > 0.02 and not traced:
                self._speed = 0.7 * self._speed + 0.3 * (m.icount - ic0) / dt
            self.frontier = max(self.frontier, m.icount)
            self._maybe_checkpoint()
            if why != "leg":
                return why

    def _leg(self, end: int, breakpoints: bool) -> str:
        m = self.m
        self.replaying = m.icount < self.frontier
        try:
            status = m.run(max_steps=end - m.icount, stop_at_breakpoints=breakpoints)
        except Fault as f:
            if f.kind == "step-limit":
                # max_steps stops exactly at `end`; Machine.run's bookkeeping may leave
                # icount at the start of the last block, so set it from what we know
                m.icount = end
                return "leg"
            self.frontier = max(self.frontier, m.icount)
            raise
        finally:
            self.replaying = False
        if status is not None or m.exit_status is not None:
            self.exit_rip()
            return "exit"
        if breakpoints and m.rip in m.breakpoints:
            return "break"
        return "stop"

    def exit_rip(self) -> None:
        """After an exit inside a block, Machine.run leaves rip at the block's
        start; Machine.step leaves it at the syscall. Use the syscall (it ends
        its block) so that a position has one state whichever way it was reached."""
        m = self.m
        a = m.rip
        for _ in range(4096):
            if a in self._syscalls:
                m.rip = a
                return
            if a not in m.insns:
                return
            a += INSN_SIZE

    def _traced_leg(self, end: int, block_hook, watches, on_write, breakpoints: bool) -> str:
        m = self.m
        buf = m.mem.buf
        stop_at = end - MAX_BLOCK
        hit = False
        blk: list = []
        writes: list = []

        def wlog(addr: int, n: int) -> None:
            nonlocal hit
            if watches:
                writes.append((addr, buf[addr : addr + n]))
                for lo, hi in watches:
                    if addr < hi and addr + n > lo:
                        hit = True
            if on_write is not None:
                on_write(addr, n)

        def hook(machine, rip: int, icount: int) -> None:
            if hit:
                raise StopIteration
            if icount >= stop_at:
                raise _Tail
            if watches:
                blk[:] = (icount, rip, list(machine.r), bytes(machine.xb), _flags(machine))
                writes.clear()
            if block_hook is not None:
                block_hook(machine, rip, icount)

        self.replaying = m.icount < self.frontier
        m.wlog = wlog
        tail = False
        try:
            status = m.run(stop_at_breakpoints=breakpoints, block_hook=hook)
        except _Tail:
            tail = True
            status = None
        finally:
            m.wlog = _noop_wlog
            self.replaying = False
        self.frontier = max(self.frontier, m.icount)
        if status is not None or m.exit_status is not None:
            self.exit_rip()
            return "exit"
        if hit:
            return self._rewind_block(blk, writes, watches)
        if not tail:
            if breakpoints and m.rip in m.breakpoints:
                return "break"
            return "stop"
        # the last few instructions before `end`, one at a time
        first = True
        while m.icount < end:
            if not first and breakpoints and m.rip in m.breakpoints:
                return "break"
            first = False
            if m.stop_requested:
                m.stop_requested = False
                return "stop"
            if block_hook is not None:
                try:
                    block_hook(m, m.rip, m.icount)
                except StopIteration:
                    return "stop"
            ic, rip = m.icount, m.rip
            try:
                rec = self.step(on_write=on_write)
            except Exit:
                return "exit"
            ev = _first_hit(rec, watches, ic, rip)
            if ev is not None:
                self.event = ev
                return "watch"
        return "leg"

    def _rewind_block(self, blk: list, writes: list, watches) -> str:
        """A block wrote a watched range: go back to its start, then step to
        just after the first instruction that wrote it."""
        m = self.m
        ic, rip, r, xb, fl = blk
        span = range(rip, rip + INSN_SIZE * (m.icount - ic), INSN_SIZE)
        if any(a in self._syscalls for a in span):
            self.goto(ic)  # a syscall changed the runtime: re-execute exactly
        else:
            buf = m.mem.buf
            for addr, old in reversed(writes):
                buf[addr : addr + len(old)] = old
            m.r[:] = r
            m.xb[:] = xb
            _set_flags(m, fl)
            m.rip, m.icount = rip, ic
        while True:
            ic, rip = m.icount, m.rip
            rec = self.step()
            ev = _first_hit(rec, watches, ic, rip)
            if ev is not None:
                self.event = ev
                return "watch"

    # -- checkpoints ----------------------------------------------------------------
    def _maybe_checkpoint(self) -> None:
        m = self.m
        last = self.checkpoints[-1]
        if m.icount < self.frontier or m.icount - last.icount < self.interval:
            return
        t0 = time.perf_counter()
        self._checkpoint()
        cost = time.perf_counter() - t0
        # keep checkpoints at about 4% of run time (growing at most 2x at a time)
        want = 25 * cost * self._speed
        self.interval = int(min(MAX_INTERVAL, 2 * self.interval, max(MIN_INTERVAL, want)))

    def _checkpoint(self) -> None:
        m = self.m
        self._grow()
        pages: dict[int, bytes | None] = {}
        buf = m.mem.buf
        for lo, _hi in self._regions:
            shadow = self._shadow[lo]
            for off in _changed(buf, lo, shadow):
                old = bytes(shadow[off : off + PAGE])
                pages[lo + off] = None if old == _ZERO_PAGE else old
                shadow[off : off + PAGE] = buf[lo + off : lo + off + PAGE]
        self.checkpoints[-1].set_undo(pages)
        self.checkpoints.append(Checkpoint(Registers.of(m), Files(m.runtime)))
        self._enforce_budget()

    def _enforce_budget(self) -> None:
        while self.used > self.budget and len(self.checkpoints) > 2:
            self.checkpoints.pop(0).files.close()

    def _restore(self, index: int) -> None:
        """Make the machine exactly the state of checkpoint `index`."""
        m = self.m
        self._grow()
        buf = m.mem.buf
        for lo, _hi in self._regions:
            shadow = self._shadow[lo]
            for off in _changed(buf, lo, shadow):
                buf[lo + off : lo + off + PAGE] = shadow[off : off + PAGE]
        for c in reversed(self.checkpoints[index:-1]):
            assert c.undo is not None  # set on every checkpoint but the newest
            for addr, data in c.undo.items():
                buf[addr : addr + PAGE] = data if data is not None else _ZERO_PAGE
        c = self.checkpoints[index]
        c.regs.restore(m)
        c.files.restore(m.runtime)

    # -- backward ---------------------------------------------------------------------
    def back(self, n: int = 1) -> None:
        """Go back n instructions (exactly)."""
        self.goto(self.m.icount - n)

    def goto(self, target: int) -> None:
        """Put the machine in the exact state it had at position `target`
        (start <= target <= frontier). Raises HistoryError outside that range,
        Interrupted if machine.stop_requested cut the re-execution short."""
        m = self.m
        if target < self.start or target > self.frontier:
            raise HistoryError(self.range_text(target))
        while m.icount > target and self.undo and self.undo[-1].icount == m.icount - 1:
            rec = self.undo.pop()
            self.undo_bytes -= rec.size
            rec.apply(m)
        if m.icount == target:
            return
        index = self._index_at(target)
        if m.icount > target or self.checkpoints[index].icount > m.icount:
            self._restore(index)  # the nearest checkpoint (behind or ahead of us)
            self._drop_undo()
        self._forward_to(max(m.icount, target - self.window))
        while m.icount < target:
            try:
                self.step()
            except Exit:
                break  # the exit syscall: its position is the frontier

    def _forward_to(self, target: int) -> None:
        m = self.m
        if m.icount >= target:
            return
        why = self.run(until=target, breakpoints=False)
        if why not in ("limit", "exit") or m.icount != target:
            raise Interrupted(f"interrupted at instruction {m.icount:,}")

    def _index_at(self, icount: int) -> int:
        """Index of the latest checkpoint at or before icount."""
        lo, hi = 0, len(self.checkpoints) - 1
        while lo < hi:
            mid = (lo + hi + 1) // 2
            if self.checkpoints[mid].icount <= icount:
                lo = mid
            else:
                hi = mid - 1
        return lo

    def range_text(self, target: int | None = None) -> str:
        where = (
            "" if target is None else (f"instruction {target:,} is outside the recorded history; ")
        )
        return f"{where}history covers instructions {self.start:,} to {self.frontier:,}"

    # -- searching backwards ----------------------------------------------------------------
    def find_last(
        self,
        end: int,
        breakpoints: AbstractSet[int] = frozenset(),
        cond: Callable | None = None,
        watches: Sequence[tuple[int, int]] = (),
    ) -> Event | None:
        """The last event in [start, end): reaching an address in `breakpoints`
        (for which cond(machine) is true, if given) or executing an instruction
        that writes into one of `watches` ((lo, hi) byte ranges). Leaves the
        machine at an unspecified position; the caller goes where it wants.
        Raises Interrupted on machine.stop_requested."""
        index = self._index_at(max(self.start, end - 1))
        hi = end
        while True:
            c = self.checkpoints[index]
            whole = index + 1 < len(self.checkpoints) and self.checkpoints[index + 1].icount == hi
            skip = (
                whole
                and not breakpoints
                and c.undo is not None
                and not any(_overlaps_pages(c.undo, lo, h) for lo, h in watches)
            )
            if c.icount < hi and not skip:
                self.goto(c.icount)
                ev = self._scan(hi, breakpoints, cond, watches)
                if ev is not None:
                    return ev
            if index == 0:
                return None
            hi = c.icount
            index -= 1

    def _scan(self, end: int, bps: AbstractSet[int], cond, watches) -> Event | None:
        """Run from the current position to `end`; the last event seen."""
        m = self.m
        last: Event | None = None
        hits: list[tuple[int, int]] = []
        block = [m.icount, m.rip]

        def check_bp() -> None:
            nonlocal last
            if m.icount < end and m.rip in bps and (cond is None or cond(m)):
                last = Event(m.icount, "break", m.rip)

        def on_write(addr: int, n: int) -> None:
            for lo, hi in watches:
                if addr < hi and addr + n > lo:
                    if not hits or hits[-1][0] != block[0]:
                        hits.append((block[0], block[1]))
                    return

        def hook(machine, rip: int, icount: int) -> None:
            block[0], block[1] = icount, rip

        saved = m.breakpoints
        if bps - saved:
            m.breakpoints = set(saved) | set(bps)
            m.invalidate()  # blocks must end at the new addresses
        try:
            check_bp()
            while m.icount < end:
                if watches:
                    why = self.run(until=end, block_hook=hook, on_write=on_write)
                else:
                    why = self.run(until=end)
                if why == "break":
                    check_bp()
                elif why == "stop":
                    raise Interrupted(f"interrupted at instruction {m.icount:,}")
                elif why != "limit":
                    break
        finally:
            m.breakpoints = saved
        if hits:
            ev = self._last_write_in_block(hits[-1][0], end, watches)
            if ev is not None and (last is None or ev.icount >= last.icount):
                return ev
        return last

    def _last_write_in_block(self, block_ic: int, end: int, watches) -> Event | None:
        """Step through the block starting at block_ic: the last instruction
        in it (before end) that wrote a watched range."""
        m = self.m
        self.goto(block_ic)
        found = None
        for _ in range(MAX_BLOCK + 1):
            if m.icount >= end:
                break
            insn = m.insns.get(m.rip)
            ic, rip = m.icount, m.rip
            try:
                rec = self.step()
            except (Exit, Fault):
                break
            for a, n in rec.written:
                for lo, hi in watches:
                    if a < hi and a + n > lo:
                        found = Event(ic, "watch", rip, max(a, lo), n)
            if insn is None or insn.defn.branch:
                break
        return found


# ---- helpers ---------------------------------------------------------------------------
def _gpr_diff(before: list[int], after: list[int]) -> tuple:
    if before == after:
        return ()
    return tuple((i, v) for i, (v, w) in enumerate(zip(before, after)) if v != w)


def _xmm_diff(before: bytes, after: bytearray) -> tuple:
    if before == after:
        return ()
    return tuple(
        (o, before[o : o + 16])
        for o in range(0, len(after), 16)
        if before[o : o + 16] != after[o : o + 16]
    )


def _changed(buf, lo: int, shadow: bytearray) -> list[int]:
    """Offsets of the pages of buf[lo:lo+len(shadow)] that differ from shadow."""
    out: list[int] = []
    n = len(shadow)
    for off in range(0, n, _CHUNK):
        end = min(n, off + _CHUNK)
        if buf[lo + off : lo + end] != shadow[off:end]:
            out.extend(
                p
                for p in range(off, end, PAGE)
                if buf[lo + p : lo + p + PAGE] != shadow[p : p + PAGE]
            )
    return out


def _page_up(x: int) -> int:
    return (x + PAGE - 1) & ~(PAGE - 1)


def _first_hit(rec: Undo, watches, icount: int, rip: int) -> Event | None:
    for a, n in rec.written:
        for lo, hi in watches:
            if a < hi and a + n > lo:
                return Event(icount, "watch", rip, max(a, lo), n)
    return None


def _overlaps_pages(pages: dict, lo: int, hi: int) -> bool:
    first = lo & ~(PAGE - 1)
    return any(p in pages for p in range(first, hi, PAGE))
