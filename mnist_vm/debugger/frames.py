"""The call stack found from return addresses, and calling a routine from
the debugger."""

from __future__ import annotations

from vm.history import Registers
from vm.image import INSN_SIZE
from vm.isa.operands import Imm

from . import expr as E
from .model import (
    M64,
    DebugError,
    Frame,
    Stop,
)


class Frames:
    """The call stack, and calling a routine from the debugger.

    One part of Session (session.py): the methods use its attributes and
    each other's, as one class would.
    """

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
        pending = self.pending_call
        if pending is not None:  # the routine called from the debugger is the outermost
            stop_at = min(stop_at, max(sp, pending["sp"] - 8))
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
        if pending is not None:
            frames[-1].slot = pending["sp"] - 8
            frames.append(
                Frame(
                    len(frames),
                    "<called from the debugger>",
                    pending["saved"].rip,
                    resume=pending["ret"],
                )
            )
        return frames

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
