"""The debugger's session core: one machine, its history, breakpoints,
watchpoints, the views' settings, and every action a command can take.

No UI here: the Textual app and the line REPL both drive a Session through
the command table (commands.py) and draw what it exposes. Every user error
is a DebugError (or an ExprError from expr.py) with a one-line message.
"""

from __future__ import annotations

import bisect
import os
import struct
import time
from collections import defaultdict
from dataclasses import dataclass, field

from vm import Exit, Fault
from vm.history import History, HistoryError, Interrupted, Registers
from vm.image import INSN_SIZE, Image
from vm.isa.operands import Imm

from . import expr as E

M64 = (1 << 64) - 1


class DebugError(Exception):
    """A command that cannot be done; str() is the one-line reason."""


# ---- small records ---------------------------------------------------------------------
@dataclass
class Breakpoint:
    num: int
    addr: int
    where: str  # as the user gave it (re-resolved after `load`)
    cond: str | None = None
    enabled: bool = True
    hits: int = 0
    temporary: bool = False


@dataclass
class Watchpoint:
    num: int
    addr: int
    length: int
    what: str
    enabled: bool = True
    hits: int = 0


@dataclass
class Stop:
    """Why the machine last stopped. kind: start step breakpoint watchpoint
    exit fault interrupt finish history-start returned edit."""

    kind: str
    text: str = ""
    fault: Fault | None = None
    detail: list[str] = field(default_factory=list)


@dataclass
class Frame:
    level: int
    routine: str
    pc: int  # rip (frame 0) or the call instruction (callers)
    slot: int | None = None  # where the return address into this frame's caller lives


@dataclass
class MemView:
    """What the memory panel shows: `view EXPR [as TYPE[RxC]]`."""

    expr: str
    addr: int
    type: str = "hex"  # hex, i8, u8, i16, i32, u32, i64, u64, f32, f64
    rows: int | None = None  # a shaped view has rows x cols elements
    cols: int | None = None
    top: int = 0  # first row / column shown (scrolling)
    left: int = 0
    prev: bytes | None = None  # the bytes at the previous stop (change highlighting)
    prev_addr: int | None = None

    @property
    def elem(self) -> int:
        return 1 if self.type == "hex" else E.TYPES[self.type][0]

    @property
    def nbytes(self) -> int:
        if self.rows is None:
            return 4096
        return self.rows * self.cols * self.elem


@dataclass
class Picture:
    """`show digit` / `heatmap`: a matrix of numbers drawn as an image."""

    title: str
    values: list[float]
    rows: int
    cols: int
    kind: str = "heatmap"  # 'digit' (0..1 or 0..255, grey) or 'heatmap' (diverging)
    caption: str = ""


class Output:
    """The program's stdout and stderr, kept for the output panel."""

    def __init__(self, limit: int = 1 << 20):
        self.data = bytearray()
        self.limit = limit
        self.seen = 0  # for line mode: how much was already printed

    def write(self, data) -> int:
        self.data += bytes(data)
        if len(self.data) > self.limit:
            cut = len(self.data) - self.limit // 2
            del self.data[:cut]
            self.seen = max(0, self.seen - cut)
        return len(data)

    def flush(self) -> None:
        pass

    def text(self) -> str:
        return self.data.decode(errors="replace")

    def take_new(self) -> str:
        new = self.data[self.seen :]
        self.seen = len(self.data)
        return new.decode(errors="replace")


XMM_MODES = ("f32", "f64", "hex", "i32")
VEC_VIEWS = ("auto", "xmm", "ymm", "zmm")  # register view: auto = as wide as the program uses


def vector_use(image: Image) -> tuple[int, tuple[int, ...]]:
    """The widest vector register view the program's instructions name (128,
    256 or 512 bits) and the register numbers named in ymm/zmm operands."""
    widest, nums = 128, set()
    for insn in image.insns:
        for op in insn.operands:
            if getattr(op, "kind", None) == "xmm" and op.size > 128:
                widest = max(widest, op.size)
                nums.add(op.num)
    return widest, tuple(sorted(nums))


# ---- the session --------------------------------------------------------------------------
class Session:
    """A debugging session over one program (or one saved machine state)."""

    def __init__(
        self,
        image: Image,
        root: str = ".",
        state_path: str | None = None,
        machine=None,
        budget: int | None = None,
        label: str = "",
    ):
        self.image = image
        self.root = root
        self.state_path = state_path
        self.label = label
        self.budget = budget
        self.output = Output()
        self.breakpoints: dict[int, Breakpoint] = {}
        self.watchpoints: dict[int, Watchpoint] = {}
        self._next_num = 1
        self.view: MemView | None = None
        self._default_view = MemView("rsp", 0, "hex")
        self.picture: Picture | None = None
        self.panel = "memory"  # the memory panel shows: memory | picture
        self.xmm_mode = "f32"
        self.vec_view = "auto"  # VEC_VIEWS
        self.vec_use = vector_use(image)
        self.code_focus: int | None = None  # an address `list` asked for (else rip)
        self.notes: list[str] = []  # extra lines for the console after a command
        self.pending_call: dict | None = None
        self._profile: tuple[int, int, dict] | None = None
        self._index_image(image)
        self._install(machine if machine is not None else self._new_machine())
        self.stop = Stop("start", self._start_text())

    # -- construction ----------------------------------------------------------------
    @classmethod
    def from_files(
        cls,
        files: list[str],
        defines: dict[str, str] | None = None,
        root: str = ".",
        label: str = "",
        budget: int | None = None,
    ) -> Session:
        from vm import assemble

        image = assemble(files, defines=defines or {})
        return cls(image, root=root, label=label, budget=budget)

    @classmethod
    def from_state(cls, path: str, root: str = ".", budget: int | None = None) -> Session:
        from vm.state import load_state

        st = load_state(path)
        out = Output()
        m = st.machine(root=root, stdout=out, stderr=out)
        s = cls(
            st.image,
            root=root,
            state_path=path,
            machine=m,
            budget=budget,
            label=os.path.basename(path),
        )
        s.output = out
        s.stop = Stop("start", s._start_text())
        return s

    def _new_machine(self):
        from vm import Machine

        return Machine(
            self.image,
            root=self.root,
            stdout=self.output,
            stderr=self.output,
            argv0=self.label or "prog",
        )

    def _install(self, machine) -> None:
        self.machine = machine
        kw = {} if self.budget is None else {"budget": self.budget}
        self.history = History(machine, **kw)
        self._sync_breakpoints()
        self.mark()

    def _start_text(self) -> str:
        m = self.machine
        if m.exit_status is not None:
            return (
                f"loaded a machine that has exited (status {m.exit_status}) after "
                f"{m.icount:,} instructions; `call ROUTINE` runs a routine of it "
                "(e.g. call evaluate), `restart` starts the program over"
            )
        if self.state_path:
            return f"loaded state {self.state_path} at instruction {m.icount:,}"
        return f"ready at {self.describe(m.rip)} ({self.loc_text(m.rip)})"

    def _index_image(self, image: Image) -> None:
        code, data = [], []
        for name, s in image.symbols.items():
            if s.section is None or "." in name.lstrip("."):
                continue
            (code if s.section == ".text" else data).append((s.value, name))
        self._code = sorted(code)
        self._data = sorted(data)
        self._code_keys = [a for a, _ in self._code]
        self._data_keys = [a for a, _ in self._data]
        self._lines: dict[tuple[str, int], int] = {}
        for insn in image.insns:
            self._lines.setdefault((insn.loc.file, insn.loc.line), insn.addr)
        self._text_end = max((i.addr for i in image.insns), default=0) + INSN_SIZE

    # -- naming things ---------------------------------------------------------------------
    def routine_at(self, addr: int) -> tuple[int, str] | None:
        i = bisect.bisect_right(self._code_keys, addr) - 1
        if i < 0 or addr >= self._text_end:
            return None
        return self._code[i]

    def routine_range(self, name: str) -> tuple[int, int] | None:
        sym = self.image.symbols.get(name)
        if sym is None or sym.section != ".text":
            return None
        i = bisect.bisect_right(self._code_keys, sym.value)
        end = self._code[i][0] if i < len(self._code) else self._text_end
        return sym.value, end

    def describe(self, addr: int) -> str:
        """name+0xoff for code and data addresses, else the hex address."""
        if addr in self.machine.insns or (self._code and self._code[0][0] <= addr < self._text_end):
            r = self.routine_at(addr)
            if r:
                off = addr - r[0]
                return r[1] + (f"+{off:#x}" if off else "")
        i = bisect.bisect_right(self._data_keys, addr) - 1
        if i >= 0:
            base, name = self._data[i]
            sym = self.image.symbols[name]
            size = sym.size if sym.size is not None else 1 << 30
            if addr < base + max(size, 1):
                off = addr - base
                return name + (f"+{off:#x}" if off else "")
        return f"{addr:#x}"

    def loc_text(self, addr: int) -> str:
        insn = self.machine.insns.get(addr)
        if insn is None:
            return f"{addr:#x}"
        return f"{os.path.basename(insn.loc.file)}:{insn.loc.line}"

    def where(self, addr: int | None = None) -> str:
        """One line: address <routine+off> file:line  instruction."""
        m = self.machine
        addr = m.rip if addr is None else addr
        insn = m.insns.get(addr)
        text = insn.text() if insn else "(no instruction)"
        return f"{addr:#x} <{self.describe(addr)}> {self.loc_text(addr)}  {text}"

    def ctx(self) -> E.Context:
        r = self.routine_at(self.machine.rip)
        return E.Context(self.machine, r[1] if r else None)

    def eval(self, text: str) -> E.Value:
        return E.evaluate(text, self.ctx())

    def resolve_location(self, text: str) -> tuple[int, str]:
        """An instruction address for break/until/advance/list: LABEL, FILE:LINE,
        LINE (in the current file), *ADDR or an address expression."""
        text = text.strip()
        if not text:
            raise DebugError("a location is missing (a label, FILE:LINE, a line number or *ADDR)")
        m = self.machine
        if ":" in text and not text.startswith("*"):
            fname, _, line = text.rpartition(":")
            if line.strip().isdigit():
                return self._line_addr(fname.strip(), int(line)), text
        if text.isdigit():
            cur = m.insns.get(m.rip) or m.insns.get(self.image.entry)
            return self._line_addr(cur.loc.file, int(text), exact_file=True), text
        expr_text = text[1:] if text.startswith("*") else text
        sym = self.image.symbols.get(expr_text)
        r = self.routine_at(m.rip)
        if sym is None and expr_text.startswith(".") and r:
            sym = self.image.symbols.get(r[1] + expr_text)
        if sym is not None and sym.section not in (".text", None):
            raise DebugError(
                f"{expr_text} is data ({sym.section}); `watch {expr_text}` stops when it is written"
            )
        addr = E.address(expr_text, self.ctx())
        if addr not in m.insns:
            raise DebugError(f"no instruction at {addr:#x} ({self.describe(addr)})")
        return addr, text

    def _line_addr(self, fname: str, line: int, exact_file: bool = False) -> int:
        files = list(self.image.sources)
        if exact_file:
            matches = [fname]
        else:
            matches = [
                f
                for f in files
                if f == fname or os.path.basename(f) == fname or f.endswith("/" + fname)
            ]
        if not matches:
            names = ", ".join(sorted({os.path.basename(f) for f in files}))
            raise DebugError(f"no source file {fname} in this program (files: {names})")
        f = matches[0]
        nlines = len(self.image.sources.get(f, []))
        for ln in range(line, max(line, nlines) + 1):
            a = self._lines.get((f, ln))
            if a is not None:
                return a
        raise DebugError(f"no instruction at or after {os.path.basename(f)}:{line}")

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
        elif val.place is not None:
            raise DebugError(
                "watchpoints watch memory; registers change at every step "
                "(use break ... if to stop on a register value)"
            )
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

    def _sync_breakpoints(self, extra: set[int] = frozenset()) -> None:
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

    # -- change tracking ---------------------------------------------------------------------
    def mark(self) -> None:
        """Remember the current state: what the views compare with at the next stop."""
        m = self.machine
        self.prev_regs = (tuple(m.r), bytes(m.xb), m.rflags, m.rip)
        v = self.current_view()
        v.prev, v.prev_addr = self._view_bytes(v), v.addr

    def _view_bytes(self, v: MemView) -> bytes | None:
        mem = self.machine.mem
        n = v.nbytes
        while n > 0 and not mem.mapped(v.addr, n):
            n //= 2
        return mem.read(v.addr, n) if n else None

    def current_view(self) -> MemView:
        """The memory panel's view, its address expression evaluated now."""
        v = self.view or self._default_view
        try:
            v.addr = E.address(v.expr, self.ctx())
        except E.ExprError:
            pass
        return v

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
            if self.pending_call and self._call_returned():
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
        ret = f1.pc + INSN_SIZE
        sp_after = f0.slot + 8
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
                and insn.defn.branch
                and isinstance(tgt, Imm)
                and insn.defn.mnemonic not in ("call", "ret")
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
        sp_after = frames[0].slot + 8
        why = f" before reaching {location.strip()}" if location else ""
        return {
            frames[1].pc + INSN_SIZE: (
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
                    ev = h.event
                    rec = h.undo[-1] if h.undo else None
                    return self._set(self._watch_stop(self._watch_hit([(ev.addr, ev.length)]), rec))
                if why != "break":
                    continue
                if self.pending_call and self._call_returned():
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
            if bp.temporary:
                del self.breakpoints[bp.num]
            return Stop("breakpoint", f"breakpoint {bp.num}, {self.where()}")
        return None

    def _continue_fast(self) -> Stop:
        """continue --fast: numpy twins stand in for routines until a breakpoint
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
        attached = attach(m, tw)
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
                    wp = self._watch_hit([(lo, hi - lo)])
                    wp.hits += 1
                    stop = Stop(
                        "watchpoint",
                        f"watchpoint {wp.num}: {wp.what} changed "
                        f"(fast mode: noticed before {self.where()})",
                        detail=self._value_change(wp, old),
                    )
                    break
                if m.rip in m.breakpoints:
                    stop = self._at_breakpoint({})
                    if stop is not None:
                        break
                    continue
                stop = Stop("interrupt", f"interrupted at {self.where()}")
                break
        finally:
            detach_all(m)
            self.history.reset()
        dt = time.perf_counter() - t0
        stop.detail.append(
            f"fast mode: {m.accel_calls - calls0:,} calls ran as numpy twins "
            f"({', '.join(attached) or 'none'}) in {dt:.1f} s"
            + (f"; kept interpreted for breakpoints: {', '.join(kept)}" if kept else "")
            + "; history restarts here"
        )
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
        call_at, sp = frames[1].pc, frames[0].slot + 8
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
                wp = self._watch_hit([(ev.addr, ev.length)])
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
            try:
                h.goto(here)
            except (Interrupted, HistoryError):
                pass
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
            try:
                h.goto(here)
            except (Interrupted, HistoryError):
                pass
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

    def _watch_hit(self, written) -> Watchpoint | None:
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

    def _return_values(self) -> str:
        m = self.machine
        return (
            f"rax = {m.r[0]:#x} ({_signed(m.r[0], 64)})   xmm0.f32[0] = {m.xf[0]:.7g}   "
            f"xmm0.f64[0] = {m.xd[0]:.10g}"
        )

    # -- the call stack ------------------------------------------------------------------------------------
    def frames(self) -> list[Frame]:
        """Frames from the return addresses on the stack: each qword above rsp
        that points just after a `call` whose target is the routine of the
        frame below it (or an indirect call) is a caller."""
        m = self.machine
        r = self.routine_at(m.rip)
        frames = [Frame(0, r[1] if r else f"{m.rip:#x}", m.rip)]
        cur = r[0] if r else None
        sp = m.r[4]
        mem = m.mem
        if not (mem.stack_lo <= sp < mem.top):
            return frames
        stop_at = min(mem.top, sp + (1 << 16))
        data = bytes(mem.buf[sp:stop_at])
        for off in range(0, len(data) - 7, 8):
            q = int.from_bytes(data[off : off + 8], "little")
            call = m.insns.get(q - INSN_SIZE)
            if call is None or call.defn.mnemonic != "call":
                continue
            tgt = call.operands[0] if call.operands else None
            if isinstance(tgt, Imm):
                t = self.routine_at(tgt.value & M64)
                if t is None or cur is None or t[0] != cur:
                    continue
            rr = self.routine_at(call.addr)
            frames[-1].slot = sp + off
            frames.append(Frame(len(frames), rr[1] if rr else f"{call.addr:#x}", call.addr))
            cur = rr[0] if rr else None
        if self.pending_call is not None:
            frames.append(
                Frame(len(frames), "<called from the debugger>", self.pending_call["saved"].rip)
            )
        return frames

    # -- edits, calls, states -------------------------------------------------------------------------------
    def edited(self) -> str:
        """The state was changed from outside the program: history restarts."""
        h = self.history
        had = h.depth > 0
        h.reset()
        self.code_focus = None
        return (
            "history restarts here (changes made by the debugger cannot be reversed)" if had else ""
        )

    def set_value(self, target: str, value_text: str) -> str:
        ctx = self.ctx()
        place = E.place_of(target, ctx)
        value = E.evaluate(value_text, ctx).v
        self.mark()
        E.assign(place, value, ctx)
        if place.kind == "mem" or place.kind == "rip":
            self.machine.invalidate()
        note = self.edited()
        shown = E.evaluate(target, self.ctx())
        return f"{target.strip()} = {format_value(shown)}" + (f"  ({note})" if note else "")

    def call(self, routine: str, args: list[str]) -> Stop:
        """Call ROUTINE(args...) as the program would (System V integer
        arguments in rdi, rsi, rdx, rcx, r8, r9); stop at its breakpoints,
        restore the registers when it returns."""
        if self.pending_call is not None:
            raise DebugError("a call is already in progress (finish or continue it first)")
        m = self.machine
        addr, _ = self.resolve_location(routine)
        if len(args) > 6:
            raise DebugError("call takes at most 6 integer arguments")
        values = [E.address(a, self.ctx()) for a in args]
        saved = Registers.of(m)
        self.mark()
        sp = ((m.r[4] - 256) & ~0xF) - 8
        ret = m.rip if m.rip in m.insns else self.image.entry
        m.mem.write(sp, ret.to_bytes(8, "little"))
        for reg, v in zip((7, 6, 2, 1, 8, 9), values):
            m.r[reg] = v & M64
        m.r[4] = sp
        m.rip = addr
        m.exit_status = None
        self.pending_call = {"saved": saved, "sp": sp + 8, "ret": ret, "name": routine.strip()}
        self.edited()
        return self._resume({})

    def _call_returned(self) -> bool:
        pc = self.pending_call
        m = self.machine
        return m.rip == pc["ret"] and m.r[4] == pc["sp"]

    def _finish_call(self) -> Stop:
        pc = self.pending_call
        self.pending_call = None
        m = self.machine
        values = self._return_values()
        icount = m.icount
        pc["saved"].restore(m)
        m.icount = icount
        self.edited()
        return Stop("returned", f"{pc['name']} returned; registers restored", detail=[values])

    def save(self, path: str) -> str:
        from vm.state import save_state

        if not path.strip():
            raise DebugError("save needs a file name, e.g. save /tmp/here.state")
        path = os.path.expanduser(path.strip())
        meta = {
            "saved_by": "mnist-vm debug",
            "breakpoints": [bp.where for bp in self.breakpoints.values()],
        }
        try:
            save_state(self.machine, path, meta)
        except OSError as e:
            raise DebugError(f"cannot save to {path}: {e.strerror or e}") from None
        return f"saved the machine at instruction {self.machine.icount:,} to {path}"

    def load(self, path: str) -> str:
        from vm.state import StateError, load_state

        path = os.path.expanduser(path.strip())
        if not path:
            raise DebugError("load needs a state file, e.g. load /tmp/here.state")
        try:
            st = load_state(path)
        except StateError as e:
            raise DebugError(str(e).splitlines()[0]) from None
        self.output = Output()
        m = st.machine(root=self.root, stdout=self.output, stderr=self.output)
        self._replace(st.image, m, state_path=path)
        return self._start_text()

    def restart(self) -> str:
        if self.state_path:
            return self.load(self.state_path)
        self.output = Output()
        self._replace(self.image, self._new_machine(), None)
        return "restarted: " + self._start_text()

    def _replace(self, image: Image, machine, state_path) -> None:
        old_bps = list(self.breakpoints.values())
        self.image = image
        self.state_path = state_path
        self.pending_call = None
        self._profile = None
        self._index_image(image)
        self.breakpoints = {}
        lost = []
        for bp in old_bps:
            try:
                addr, _ = self.resolve_location(bp.where) if machine else (bp.addr, "")
            except (DebugError, E.ExprError):
                lost.append(bp.where)
                continue
            bp.addr = addr
            self.breakpoints[bp.num] = bp
        self.machine = machine
        self._install(machine)
        self.stop = Stop("start", self._start_text())
        if lost:
            self.notes.append("breakpoints not found in the loaded program: " + ", ".join(lost))

    # -- profile ---------------------------------------------------------------------------------------------
    def profile(self) -> tuple[int, int, list[tuple[str, int]]]:
        """Instructions per routine over the recorded history, by re-executing
        it with a counting hook (nothing is counted while running)."""
        m, h = self.machine, self.history
        here = m.icount
        start = h.start
        cached = self._profile
        counts: dict[int, int] = defaultdict(int)
        begin = start
        if cached and cached[0] == start and cached[1] <= here:
            begin = cached[1]
            counts.update(cached[2])
        if begin < here:
            try:
                h.goto(begin)
                prev = [m.rip, m.icount]

                def hook(machine, rip, icount):
                    counts[prev[0]] += icount - prev[1]
                    prev[0], prev[1] = rip, icount

                why = h.run(until=here, block_hook=hook, breakpoints=False)
                counts[prev[0]] += m.icount - prev[1]
                if why not in ("limit", "exit"):
                    raise Interrupted(f"interrupted at instruction {m.icount:,}")
            except Interrupted as e:
                try:
                    h.goto(here)
                except (Interrupted, HistoryError):
                    pass
                raise DebugError(f"profile {e}") from None
            except Fault as f:
                raise DebugError(f"profile: the replay faulted ({f.kind})") from None
        self._profile = (start, here, dict(counts))
        per: dict[str, int] = defaultdict(int)
        for rip, n in counts.items():
            r = self.routine_at(rip)
            per[r[1] if r else f"{rip:#x}"] += n
        ranked = sorted(per.items(), key=lambda kv: -kv[1])
        return start, here, ranked

    # -- status ---------------------------------------------------------------------------------------------------
    def mode_text(self) -> str:
        m, h = self.machine, self.history
        if m.exit_status is not None:
            return "exited"
        if self.stop.kind == "fault":
            return "faulted"
        if m.icount < h.frontier:
            return f"replaying ({h.frontier - m.icount:,} behind)"
        return "live"

    def is_quick(self, command: str, args: str) -> bool:
        """Will this movement finish at once (one instruction, or one undo
        record)? The full-screen UI runs quick ones without a worker thread."""
        m, h = self.machine, self.history
        if args.strip():
            return False
        if command == "step":
            return True
        if command == "next":
            insn = m.insns.get(m.rip)
            return insn is None or insn.defn.mnemonic != "call"
        if command == "reverse-step":
            return bool(h.undo) and h.undo[-1].icount == m.icount - 1
        return False

    def interrupt(self) -> None:
        self.machine.stop_requested = True


def _signed(v: int, bits: int) -> int:
    v &= (1 << bits) - 1
    return v - (1 << bits) if v >> (bits - 1) else v


def format_value(v: E.Value, fmt: str | None = None) -> str:
    """A value as print shows it: hex and decimal for integers, the shortest
    round-trip text for floats (with the f32 rounding made explicit)."""
    x = v.v
    if fmt == "x":
        if isinstance(x, float):
            bits = (
                struct.unpack("<I", struct.pack("<f", x))[0]
                if v.type == "f32"
                else struct.unpack("<Q", struct.pack("<d", x))[0]
            )
            return f"{bits:#x}"
        return f"{x & M64:#x}" if x < 0 else f"{x:#x}"
    if fmt == "d":
        if isinstance(x, float):
            return str(int(x))
        bits = {"u8": 8, "u16": 16, "u32": 32, "qword": 64}.get(v.type or "", 0)
        return str(_signed(x, bits) if bits else x)
    if fmt == "t":
        return bin(x & M64 if isinstance(x, int) and x < 0 else int(x))
    if fmt == "c" and isinstance(x, int):
        return repr(chr(x & 0xFF))
    if isinstance(x, float):
        if v.type == "f32":
            return f"{x:.9g} (f32)"
        return repr(x)
    if v.type in ("xmm", "ymm", "zmm"):
        n = {"xmm": 16, "ymm": 32, "zmm": 64}[v.type]
        b = x.to_bytes(n, "little")
        f = struct.unpack(f"<{n // 4}f", b)
        d = struct.unpack(f"<{n // 8}d", b)
        return (
            f"{{f32 = [{', '.join(f'{t:.7g}' for t in f)}], "
            f"f64 = [{', '.join(f'{t:.10g}' for t in d)}], hex = {x:#0{2 * n + 2}x}}}"
        )
    if v.type in ("i8", "i16", "i32", "i64"):
        bits = int(v.type[1:])
        return f"{x} ({x & ((1 << bits) - 1):#x})"
    if x < 0:
        return f"{x} ({x & M64:#x})"
    bits = {"u8": 8, "u16": 16, "u32": 32, "qword": 64, "byte": 8, "word": 16, "dword": 32}.get(
        v.type or "", 0
    )
    s = _signed(x, bits) if bits else x
    return f"{x:#x} ({x}" + (f", signed {s}" if s != x else "") + ")"
