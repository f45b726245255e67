"""The machine: registers, memory, and the two execution tiers.

Step tier: one instruction at a time (`step()`), each compiled on first use
to a small Python function from its table template. Run tier (`run()`): the
same generated code concatenated per basic block, so a loop body is one
Python call. Both run the identical text produced by vm.codegen, so there is
one semantics. The machine never prints; the runtime writes the program's
output to the streams it was given, and observers (debugger, progress views)
attach through hooks.
"""

from __future__ import annotations

import re
import struct
import sys
from collections.abc import Callable
from typing import Any

from . import codegen, environment, runtier
from .accel import Twin, run_twin
from .errors import Exit, Fault
from .image import INSN_SIZE, Image, Insn
from .isa import flags as F
from .isa import softfloat, strings
from .isa.operands import GPR64, VEC_BYTES, Imm
from .memory import Memory
from .runtime import Runtime

M64 = (1 << 64) - 1
MAX_BLOCK = 64
SLICE = 1 << 16  # loop iterations between checks of stop_requested
AT_SYSCALL = "syscall"  # a block's third field: it ends in a syscall (see run())
SYNC = "sync"  # stop_requested value asking run() to publish rip/icount and go on
STACK_ARGS_MAX = 256 << 10  # room for argument/environment strings at the top of the stack
# auxiliary vector keys of the initial stack (as Linux lays it for a static binary)
AT_NULL, AT_PAGESZ, AT_ENTRY, AT_PLATFORM, AT_RANDOM, AT_EXECFN = 0, 6, 9, 15, 25, 31
_WORD = re.compile(r"\b[A-Za-z_]\w*\b")


# readers, writers and helpers: the same in every machine (vm.environment;
# importing vm.isa above registered the helpers)
_STATIC_ENV = environment.static_env()


class Machine:
    """An x86-64 (subset) machine loaded with one program image."""

    def __init__(
        self,
        image: Image,
        root: str = ".",
        stdout=None,
        stderr=None,
        stdin=None,
        argv0: str = "prog",
        argv: list[str] | None = None,
        envp: list[str] | None = None,
    ):
        self.image = image
        self.r: list[int] = [0] * 17  # rax..r15, then DF (vm.isa.flags.DF)
        self.xb = bytearray(VEC_BYTES)  # zmm0-31, laid out as vec_offset says
        xv = memoryview(self.xb)
        self.xf, self.xd, self.xi, self.xq = xv.cast("f"), xv.cast("d"), xv.cast("I"), xv.cast("Q")
        self.fl = F.INITIAL
        self.mxcsr = softfloat.DEFAULT
        # MXCSR-exact mode: a program that can read or write MXCSR runs its
        # floating-point instructions through the MXCSR-aware templates
        # (InsnDef.exact), in the step and run tiers only: no native traces,
        # no fast-mode twins (see docs/machine.md, "MXCSR")
        self.mxcsr_exact = any(i.defn.mxcsr for i in image.insns)
        self.mem = Memory(image)
        self.rip = image.entry
        self.icount = 0
        self.exit_status: int | None = None
        self.insns: dict[int, Insn] = {i.addr: i for i in image.insns}
        self.runtime = Runtime(
            self,
            root,
            stdout if stdout is not None else sys.stdout.buffer,
            stderr if stderr is not None else sys.stderr.buffer,
            stdin,
        )
        self.accel: dict[int, Twin] = {}  # routine address -> Twin (vm.accel)
        self.observers: dict[int, list[Callable]] = {}  # routine address -> on-call hooks
        self.accel_calls = 0
        self.breakpoints: set[int] = set()
        self.stop_requested: bool | str = False  # set from another thread or a signal handler
        self.wlog: Callable[[int, int], None] = lambda addr, n: None
        self._steps: dict[int, Callable] = {}
        self._traced: dict[int, Callable] = {}
        self._blocks: dict[int, tuple[Callable, int, bool | str]] = {}
        self._tblocks: dict[int, tuple[Callable, int, bool | str]] = {}
        self._heat: dict[tuple[int, bool], int] = {}  # block -> runs before optimising
        self._edges: dict[tuple[int, int], int] = {}  # (branch, next rip) -> times seen
        self._fault_base = 0
        self._fault_k = 0
        self.sfault: tuple[str, str] | None = None  # set by string_op
        self._native: dict[int, object] = {}  # loop start -> vm.native.NativeTrace
        self._setup_stack(list(argv) if argv else [argv0], list(envp or []))

    # ---- state -----------------------------------------------------------
    def _setup_stack(self, argv: list[str], envp: list[str]) -> None:
        """The stack at entry as Linux lays it for a static binary: at the top
        8 zero bytes, the program name (AT_EXECFN), the environment and
        argument strings, the platform string and 16 AT_RANDOM bytes; below,
        16-byte aligned at rsp: argc, argv[0..argc-1], NULL, envp..., NULL,
        and the auxiliary vector ending with AT_NULL."""
        buf, top = self.mem.buf, self.mem.top
        p = top - 8  # the end marker: 8 zero bytes

        def put(data: bytes) -> int:
            nonlocal p
            p -= len(data)
            if p < top - STACK_ARGS_MAX:
                raise ValueError(
                    f"program arguments and environment exceed {STACK_ARGS_MAX >> 10} KiB"
                )
            buf[p : p + len(data)] = data
            return p

        execfn = put(argv[0].encode() + b"\0")
        env_at = [put(e.encode() + b"\0") for e in reversed(envp)][::-1]
        arg_at = [put(a.encode() + b"\0") for a in reversed(argv)][::-1]
        p &= ~0xF
        platform = put(b"x86_64\0")
        random16 = put(bytes(range(0x10, 0x20)))  # fixed, so runs are reproducible
        auxv = [
            (AT_PAGESZ, 4096),
            (AT_ENTRY, self.image.entry),
            (AT_RANDOM, random16),
            (AT_PLATFORM, platform),
            (AT_EXECFN, execfn),
            (AT_NULL, 0),
        ]
        words = [len(argv), *arg_at, 0, *env_at, 0, *(w for pair in auxv for w in pair)]
        sp = (p - 8 * len(words)) & ~0xF
        struct.pack_into(f"<{len(words)}Q", buf, sp, *words)
        self.r[4] = sp

    @property
    def rflags(self) -> int:
        return F.rflags(self.fl)

    def reg(self, name: str) -> int:
        return self.r[GPR64.index(name)]

    def set_reg(self, name: str, value: int) -> None:
        self.r[GPR64.index(name)] = value & M64

    def symbol(self, name: str) -> int:
        return self.image.symbols[name].value

    def set_mxcsr(self, value: int) -> None:
        """Set MXCSR from outside the program (a state file, the debugger); a
        value other than the default switches to MXCSR-exact mode."""
        if not 0 <= value <= softfloat.WRITABLE:
            raise ValueError(f"MXCSR value {value:#x} has reserved bits (16-31) set")
        self.mxcsr = value
        if value != softfloat.DEFAULT and not self.mxcsr_exact:
            self.mxcsr_exact = True
            self.invalidate()

    def mxcsr_load(self, value: int) -> None:
        """ldmxcsr (its template has checked the reserved bits)."""
        self.mxcsr = value

    def mxcsr_raise(self, flags: int) -> str:
        """Called by an MXCSR-exact instruction (FPCHECK): OR its exception
        flags into MXCSR; the #XM message if one of them is unmasked, else ''."""
        self.mxcsr |= flags
        unmasked = flags & ~(self.mxcsr >> softfloat.MASK_SHIFT) & 0x3F
        if not unmasked:
            return ""
        return (
            f"unmasked SIMD floating-point exception (#XM): {softfloat.describe(unmasked)}; "
            f"MXCSR = {self.mxcsr:#06x} (natively the process dies of SIGFPE)"
        )

    def invalidate(self) -> None:
        """Forget compiled code (after the memory map, twins or breakpoints change)."""
        self._steps.clear()
        self._traced.clear()
        self._blocks.clear()
        self._tblocks.clear()
        self._native.clear()
        self.__dict__.pop("_native_chain", None)  # vm.native.chain: the compiled traces' table

    # ---- compilation -------------------------------------------------------
    def _env(self) -> dict[str, object]:
        views = self.__dict__.get("_mem_views")
        if views is None or views[0] is not self.mem.buf:
            mv = memoryview(self.mem.buf)
            views = self._mem_views = (
                self.mem.buf,
                {name: mv.cast(fmt) for name, fmt in environment.MEM_VIEWS.items()},
            )
        return {
            **_STATIC_ENV,
            "r": self.r,
            **{name: getattr(self, name) for name in environment.LANE_VIEWS},
            "m": self.mem.buf,
            "c": self,
            **views[1],
        }

    def _insn(self, addr: int) -> Insn:
        insn = self.insns.get(addr)
        if insn is None:
            self.rip = addr
            raise Fault(
                "bad-jump",
                f"no instruction at {addr:#x}"
                + (
                    ""
                    if self.mem.region(addr) == "text"
                    else f" (address is in {self.mem.region(addr)} memory)"
                ),
                addr,
            )
        return insn

    def _lines(self, insn: Insn, k: int, trace: bool) -> tuple[list[str], bool]:
        target = insn.operands[0] if insn.operands else None
        if insn.defn.kind == "call" and isinstance(target, Imm):
            t = target.value & M64
            pre = [f"c.observe({t})"] if t in self.observers else []
            if t in self.accel and not self.mxcsr_exact:
                return pre + [f"_n = c.accel_call({t}, {insn.addr}, {k})"], True
            if pre:
                lines, jumps = codegen.generate(insn, self.mem.layout(), k, trace)
                return pre + lines, jumps
        return codegen.generate(insn, self.mem.layout(), k, trace, self.mxcsr_exact)

    def _compile(
        self, insns: list[Insn], trace: bool, name: str, block: bool = False
    ) -> tuple[Callable, bool]:
        """Compile instructions to one function. Without `block`: the
        instructions' generated code as it is, returning the next RIP (the
        step tier, and blocks before they are hot). With it: a trace optimised
        by vm.runtier (run tier): instructions in execution order, a branch
        in the middle going on to the next one (else the trace exits there).
        Returns (fn, counted): a counted trace is fn(max_iterations) ->
        (next_rip, instructions run); it loops when it ends by branching back
        to its start."""
        env = self._env()
        layout = self.mem.layout()
        if not block:
            lines, jumps = [], False
            for k, insn in enumerate(insns):
                code, jumps = self._lines(insn, k, trace)
                lines += codegen.lower(code, insn.addr, k, layout)
            if not jumps:
                lines.append(f"_n = {insns[-1].addr + INSN_SIZE}")
            body = "\n".join("    " + line for line in lines + ["return _n"])
            used = set(_WORD.findall(body))
            params = ", ".join(f"{k}={k}" for k in env if k in used)
            src = f"def {name}({params}):\n{body}"
            ns: dict[str, Any] = dict(env)
            exec(compile(src, f"<{name}>", "exec"), ns)
            fn: Callable[..., int] = ns[name]
            fn.source = src  # type: ignore[attr-defined]
            return fn, False
        items, jumps = [], False
        for k, insn in enumerate(insns):
            lines, jumps = self._lines(insn, k, trace)
            item = runtier.parse_item(insn.addr, insn.text(), k, lines)
            if k + 1 < len(insns) and insn.defn.branch:
                item.expect = insns[k + 1].addr  # goes on there, else exits
            items.append(item)
        last = insns[-1]
        start = insns[0].addr
        loop = self._is_loop(insns, trace)
        counted = loop or any(it.expect is not None for it in items)
        tree = runtier.compile_block(
            items,
            layout,
            start,
            None if jumps else last.addr + INSN_SIZE,
            loop,
            name,
            list(env),
            counted,
        )
        ns = dict(env)
        exec(compile(tree, f"<{name}>", "exec"), ns)
        fn = ns[name]
        fn.tree = tree  # type: ignore[attr-defined]
        return fn, counted

    def _is_loop(self, insns: list[Insn], trace: bool) -> bool:
        last, start = insns[-1], insns[0].addr
        target = last.operands[0] if last.operands else None
        return (
            last.defn.kind in ("jump", "cond-jump")
            and isinstance(target, Imm)
            and (
                target.value == start
                or (last.defn.kind == "cond-jump" and last.addr + INSN_SIZE == start)
            )
            and start not in self.breakpoints
            and not trace
        )

    def _successor(self, insn: Insn) -> int | None:
        """Where a trace goes on after a branch: a static target, or the way a
        conditional branch went most often while its block was cold (None:
        unknown, or a return or indirect jump - the trace ends)."""
        d, target = insn.defn, insn.operands[0] if insn.operands else None
        if not isinstance(target, Imm):
            return None
        t = target.value & M64
        if d.kind == "jump":
            return t
        if d.kind == "call":
            return None if t in self.accel or t in self.observers else t
        if d.kind == "cond-jump":
            taken = self._edges.get((insn.addr, t), 0)
            fall = self._edges.get((insn.addr, insn.addr + INSN_SIZE), 0)
            if taken == fall == 0:
                return None
            return t if taken > fall else insn.addr + INSN_SIZE
        return None

    def _trace(self, addr: int, block: list[Insn]) -> list[Insn]:
        """The instructions a hot block's trace runs: the block, then on along
        the way its branches usually go, until it comes back to its start (a
        loop), reaches an instruction it already has, a return or indirect
        jump, a system or host call, a breakpoint, or MAX_BLOCK instructions."""
        path: list[Insn] = []
        seen: set[int] = set()
        a = addr
        while len(path) < MAX_BLOCK:
            insn = self.insns.get(a)
            if (
                insn is None
                or a in seen
                or (path and (a in self.breakpoints or a in self.observers))
            ):
                break
            if path and insn.defn.kind in ("syscall", "hostcall"):
                break
            path.append(insn)
            seen.add(a)
            if not insn.defn.branch:
                a += INSN_SIZE
                continue
            nxt = self._successor(insn)
            if nxt is None or nxt == addr:
                break
            a = nxt
        return path if len(path) > len(block) else block

    def _step_fn(self, addr: int, trace: bool = False) -> Callable:
        cache = self._traced if trace else self._steps
        fn = cache.get(addr)
        if fn is None:
            fn = cache[addr] = self._compile([self._insn(addr)], trace, f"i_{addr:x}")[0]
        return fn

    # Blocks start as their instructions' plain code; one that keeps running
    # is recompiled by the optimiser (vm.runtier): a loop block after its
    # first run, any other block after hot_block runs. Optimising costs a few
    # milliseconds, which code that runs once never pays back.
    hot_loop = 1
    hot_block = 16
    # Execution tier of run(): "native" (loop traces that ran native_after
    # instructions are compiled to machine code by vm.native, when llvmlite
    # is there), "run" (Python only) or "step" (one instruction at a time).
    tier = "native"
    native_after = 20_000

    def _block(self, addr: int, trace: bool = False) -> tuple[Callable, int, bool | str]:
        insns = [self._insn(addr)]
        a = addr
        while not insns[-1].defn.branch and len(insns) < MAX_BLOCK:
            a += INSN_SIZE
            nxt = self.insns.get(a)
            if nxt is None or a in self.breakpoints or a in self.observers:
                break
            insns.append(nxt)
        cache = self._tblocks if trace else self._blocks
        limit = self.hot_loop if self._is_loop(insns, trace) else self.hot_block
        if self._heat.get((addr, trace), 0) < limit:
            fn, _ = self._compile(insns, trace, f"b0_{addr:x}")
            warm, edges, branch = fn, self._edges, insns[-1].addr

            def fn() -> int:  # counts runs and where the block went, then hands on
                key = (addr, trace)
                heat = self._heat[key] = self._heat.get(key, 0) + 1
                if heat >= limit:
                    cache.pop(addr, None)
                nxt = warm()
                edges[branch, nxt] = edges.get((branch, nxt), 0) + 1
                return nxt

            ends_in_syscall = insns[-1].defn.kind == "syscall"
            b = cache[addr] = (fn, len(insns), AT_SYSCALL if ends_in_syscall else False)
            return b
        if not trace:
            insns = self._trace(addr, insns)
        counted: bool | str  # a block's third field: AT_SYSCALL, or whether fn counts
        fn, counted = self._compile(insns, trace, f"b_{addr:x}", block=True)
        if not counted and insns[-1].defn.kind == "syscall":
            counted = AT_SYSCALL  # run() publishes the exact icount for the syscall
        b = cache[addr] = (fn, len(insns), counted)
        if (
            not trace
            and self.tier == "native"
            and counted is not AT_SYSCALL
            and not self.mxcsr_exact
        ):
            from . import native

            if native.available():
                b = cache[addr] = native.warm(self, addr, insns, b, cache)
        return b

    # ---- execution -----------------------------------------------------------
    def step(self, trace: bool = False) -> None:
        """Execute one instruction (raises Fault or Exit)."""
        if self.exit_status is not None:
            raise Exit(self.exit_status)
        fn = self._step_fn(self.rip, trace)
        try:
            self.rip = fn()
        except Fault as f:
            self._decorate(f)
            raise
        except Exit as e:
            self.icount += 1
            self.exit_status = e.status
            raise
        self.icount += 1

    def run(
        self,
        max_steps: int | None = None,
        stop_at_breakpoints: bool = True,
        block_hook: Callable | None = None,
    ) -> int | None:
        """Run until exit (returns the status), a breakpoint or a stop request
        (returns None with rip at a block boundary), or a fault (raises Fault). max_steps bounds the instructions
        executed by this call (a 'step-limit' fault when reached).

        With block_hook, blocks are the traced variant (memory writes call
        self.wlog first, no loop blocks) and block_hook(machine, rip, icount)
        runs before each basic block; it may raise StopIteration to stop there."""
        if self.exit_status is not None:
            return self.exit_status
        if self.tier == "step" and block_hook is None:
            return self._run_steps(max_steps, stop_at_breakpoints)
        blocks = self._tblocks if block_hook else self._blocks
        bps = self.breakpoints if stop_at_breakpoints else ()
        limit = None if max_steps is None else self.icount + max_steps
        rip, n, first, ln = self.rip, self.icount, True, 0
        self._fault_k = self._fault_base = 0
        never = 1 << 62
        try:
            while True:
                if not first and (rip in bps or self.stop_requested):
                    if self.stop_requested is SYNC and rip not in bps:
                        self.stop_requested = False  # only publish where we are
                        self.rip, self.icount = rip, n
                    else:
                        self.stop_requested = False
                        return None
                first = False
                b = blocks.get(rip)
                if b is None:
                    self.rip = rip
                    b = self._block(rip, block_hook is not None)
                fn, ln, loop = b
                if block_hook is not None:
                    self.rip, self.icount = rip, n
                    try:
                        block_hook(self, rip, n)
                    except StopIteration:
                        return None
                if limit is not None and n + ln > limit:
                    break  # the last few one at a time (below)
                if loop is AT_SYSCALL:
                    # the block ends in a syscall: what it writes is stamped with
                    # the exact instruction count (the debugger's output pane)
                    self.icount = n + ln - 1
                    rip = fn()
                    n += ln
                elif loop:
                    # a counted trace; in slices, so that a stop request is seen while a loop spins
                    rip, count = fn(min(SLICE, never if limit is None else (limit - n) // ln))
                    n += count
                else:
                    rip = fn()
                    n += ln
        except Fault as f:
            n += self._fault_base + self._fault_k
            rip = f.rip if f.rip is not None else rip
            self._decorate(f)
            raise
        except Exit as e:
            n += ln
            rip += (ln - 1) * INSN_SIZE  # at the syscall, as step() leaves it
            self.exit_status = e.status
            return e.status
        finally:
            self.rip, self.icount = rip, n
        return self._finish_steps(limit, block_hook is not None)

    def _run_steps(self, max_steps: int | None, stop_at_breakpoints: bool) -> int | None:
        """run() in the step tier: one instruction at a time (the reference)."""
        bps = self.breakpoints if stop_at_breakpoints else ()
        limit = None if max_steps is None else self.icount + max_steps
        first = True
        try:
            while limit is None or self.icount < limit:
                if not first and (self.rip in bps or self.stop_requested):
                    stop = self.rip in bps or self.stop_requested is not SYNC
                    self.stop_requested = False
                    if stop:
                        return None
                first = False
                self.step()
        except Exit as e:
            return e.status
        return self._finish_steps(limit)

    def _finish_steps(self, limit: int, trace: bool = False) -> int | None:
        try:
            while self.icount < limit:
                self.step(trace)
        except Exit as e:
            return e.status
        raise self._decorate(
            Fault(
                "step-limit",
                f"step limit reached after {self.icount} instructions (raise it with --max-steps)",
                self.rip,
            )
        )

    def request_sync(self) -> None:
        """Ask a running run() (in another thread) to bring self.icount and
        self.rip up to date at its next block boundary, without stopping.
        Costs the run loop nothing: it already checks stop_requested there."""
        if self.stop_requested is False:
            self.stop_requested = SYNC

    # ---- faults ----------------------------------------------------------------
    def _decorate(self, f: Fault) -> Fault:
        if f.rip is None:
            f.rip = self.rip
        insn = self.insns.get(f.rip)
        if insn is not None:
            f.insn_text = insn.text()
            f.loc = insn.loc
        f.registers = {name: self.r[i] for i, name in enumerate(GPR64)}
        f.registers["rip"] = f.rip
        return f

    def _raise(self, kind: str, msg: str, ip: int, k: int):
        self._fault_k = k
        self.rip = ip
        raise Fault(kind, msg, ip)

    def bad_access(self, ea: int, n: int, what: str, ip: int, k: int):
        self._raise(*self.access_fault(ea, n, what), ip, k)

    def access_fault(self, ea: int, n: int, what: str) -> tuple[str, str]:
        """The kind and message of a fault on an access of n bytes at ea."""
        region = self.mem.region(ea)
        if what == "write" and region in ("text", "rodata"):
            kind = "write-to-code" if region == "text" else "segfault"
            msg = f"write of {n} bytes to read-only {region} at {ea:#x}"
        elif self.mem.stack_lo - (1 << 20) <= ea < self.mem.stack_lo:
            kind, msg = (
                "stack-overflow",
                (
                    f"{what} of {n} bytes at {ea:#x}, below the "
                    f"{(self.mem.top - self.mem.stack_lo) >> 20} MiB stack"
                ),
            )
        else:
            kind = "segfault"
            hint = " (null pointer?)" if ea < 0x1000 else ""
            msg = f"{what} of {n} bytes at unmapped address {ea:#x}{hint}"
        return kind, msg

    def misaligned(self, ea: int, align: int, ip: int, k: int):
        self._raise(
            "misaligned",
            f"memory operand at {ea:#x} is not {align}-byte aligned "
            "(use the unaligned form, e.g. movups)",
            ip,
            k,
        )

    def fault(self, kind: str, msg: str, ip: int, k: int):
        self._raise(kind, msg, ip, k)

    # ---- runtime entry points (called from generated code) ------------------------
    def syscall(self, next_ip: int, vector: int | None = None) -> None:
        """`syscall` (vector None) or `int vector`; next_ip: the instruction after it."""
        self.runtime.syscall(next_ip, vector)

    def hostcall(self, ip: int) -> int:
        name = self.insns[ip].host
        assert name is not None
        nxt = self.runtime.hostcall(name)
        if nxt is not None:  # the C start-up jumps to main
            return nxt
        sp = self.r[4]
        ret = struct.unpack_from("<Q", self.mem.buf, sp)[0]
        self.r[4] = (sp + 8) & M64
        return ret

    def string_op(self, op: str, size: int, rep: str) -> None:
        """A string instruction (vm.isa.strings); a fault it meets is left in
        self.sfault for the generated code to raise at the instruction."""
        self.sfault = strings.execute(self, op, size, rep)

    def observe(self, target: int) -> None:
        for hook in self.observers.get(target, ()):
            hook(self)

    def accel_call(self, target: int, ip: int, k: int) -> int:
        """Run the twin attached to the routine at target instead of calling it."""
        try:
            run_twin(self, self.accel[target])
        except Fault as f:
            self._fault_k = k
            self.rip = f.rip = ip
            raise
        self.accel_calls += 1
        return ip + INSN_SIZE
