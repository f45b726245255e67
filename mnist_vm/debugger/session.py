"""The debugger's session core: one machine, its history, breakpoints,
watchpoints, the views' settings, and every action a command can take.

Session is built in layers, one file each, every layer using only the ones
below it (so each is type-checked on its own): core.py (the state),
naming.py (symbols, locations, the current instruction's annotation, change
tracking), points.py (breakpoints, watchpoints), frames.py (the call stack),
motion.py (moving forward and backward, stops); model.py holds the plain
data. This file is the top layer: construction, edits, `call`, states,
profile and status.

No UI here: the Textual app and the line REPL both drive a Session through
the command table (commands.py) and draw what it exposes. Every user error
is a DebugError (or an ExprError from expr.py) with a one-line message.
"""

from __future__ import annotations

import os
import struct
from collections import defaultdict

from vm import Fault, Machine
from vm.history import History, Interrupted, Registers
from vm.image import Image
from vm.isa.operands import Reg

from . import expr as E
from .model import (
    M64,
    Breakpoint,
    DebugError,
    Frame,
    MemView,
    Output,
    Picture,
    Stop,
    Watchpoint,
    _signed,
)
from .motion import Motion

__all__ = [
    "VEC_VIEWS",
    "XMM_MODES",
    "Breakpoint",
    "DebugError",
    "Frame",
    "MemView",
    "Output",
    "Picture",
    "Session",
    "Stop",
    "Watchpoint",
    "format_value",
]

XMM_MODES = ("f32", "f64", "hex", "i32")
VEC_VIEWS = ("auto", "xmm", "ymm", "zmm")  # register view: auto = as wide as the program uses


def vector_use(image: Image) -> tuple[int, tuple[int, ...]]:
    """The widest vector register view the program's instructions name (128,
    256 or 512 bits) and the register numbers named in ymm/zmm operands."""
    widest, nums = 128, set()
    for insn in image.insns:
        for op in insn.operands:
            if isinstance(op, Reg) and op.kind == "xmm" and op.size > 128:
                widest = max(widest, op.size)
                nums.add(op.num)
    return widest, tuple(sorted(nums))


# ---- the session --------------------------------------------------------------------------
class Session(Motion):
    """A debugging session over one program (or one saved machine state)."""

    def __init__(
        self,
        image: Image,
        root: str = ".",
        state_path: str | None = None,
        machine: Machine | None = None,
        budget: int | None = None,
        label: str = "",
    ):
        super().__init__(image, root, state_path, budget, label)
        self.vec_use = vector_use(image)
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
        out.clock = s._icount
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
        insn = m.insns.get(m.rip)
        if insn is not None and insn.loc.file.startswith("<") and "main" in self.image.symbols:
            return (
                f"ready at {self.describe(m.rip)}, the start-up code of {insn.loc.file} "
                "(it calls main); `start` runs to main"
            )
        return f"ready at {self.describe(m.rip)} ({self.loc_text(m.rip)})"

    # -- edits, calls, states -------------------------------------------------------------------------------
    def set_value(self, target: str, value_text: str) -> str:
        """An edit. While replaying, the history ahead would be lost: the first
        such `set` only says so; the same `set` again confirms it."""
        ctx = self.ctx()
        place = E.place_of(target, ctx)
        value = E.evaluate(value_text, ctx).v
        m, h = self.machine, self.history
        ahead = h.frontier - m.icount
        request = (target.strip(), value_text.strip(), m.icount)
        if ahead > 0 and self._confirm_set != request:
            self._confirm_set = request
            raise DebugError(
                f"you are {ahead:,} instructions behind the newest point; an edit here "
                f"discards them. Repeat the same set to edit anyway, or goto {h.frontier} first"
            )
        self._confirm_set = None
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
        name = routine.strip()
        self.pending_call = {"saved": saved, "sp": sp + 8, "ret": ret, "name": name}
        self.edited()
        # As gdb: a breakpoint at the routine's first instruction stops the call
        # there (the run would otherwise start past it), a tbreak going away.
        stop = self._at_breakpoint({})
        if stop is not None:
            self._sync_breakpoints()
            self._set(stop)
        else:
            stop = self._resume({})
        if self.pending_call is not None and stop.kind not in ("exit", "fault"):
            stop.detail.append(
                f"stopped inside {name}, called from the debugger: continue or finish "
                "runs it to its return and restores the registers"
            )
        return stop

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
        self.output = Output(clock=self._icount)
        m = st.machine(root=self.root, stdout=self.output, stderr=self.output)
        self._replace(st.image, m, state_path=path)
        return self._start_text()

    def restart(self) -> str:
        if self.state_path:
            return self.load(self.state_path)
        self.output = Output(clock=self._icount)
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
                self._back_to(here)
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
        if not bits and 0 <= x <= M64:
            bits = 64  # as gdb: p/d 0xffffffffffffffff is -1
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
