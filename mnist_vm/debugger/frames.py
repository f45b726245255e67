"""The call stack found from return addresses, and the end of a routine
called from the debugger (`call` itself is in session.py)."""

from __future__ import annotations

from vm.image import INSN_SIZE
from vm.isa.operands import Imm

from .model import M64, DebugError, Frame, Stop, _signed
from .points import Points


class Frames(Points):
    """The call stack (with a routine called from the debugger at its
    bottom), and what a returning routine gives back.

    A layer of Session (core.py lists them): it uses Points and below.
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

    def _call_returned(self) -> bool:
        """Has the routine called from the debugger (if any) just returned?"""
        pc = self.pending_call
        m = self.machine
        return pc is not None and m.rip == pc["ret"] and m.r[4] == pc["sp"]

    def _finish_call(self) -> Stop:
        """The called routine returned: its return values, the registers restored."""
        pc = self.pending_call
        if pc is None:
            raise DebugError("no routine called from the debugger is running")
        self.pending_call = None
        m = self.machine
        values = self._return_values()
        icount = m.icount
        pc["saved"].restore(m)
        m.icount = icount
        self.edited()
        return Stop("returned", f"{pc['name']} returned; registers restored", detail=[values])

    def _return_values(self) -> str:
        m = self.machine
        return (
            f"rax = {m.r[0]:#x} ({_signed(m.r[0], 64)})   xmm0.f32[0] = {m.xf[0]:.7g}   "
            f"xmm0.f64[0] = {m.xd[0]:.10g}"
        )
