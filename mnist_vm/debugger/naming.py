"""Naming things: routines, symbols and their extents, locations, the
annotation of the current instruction, expressions in the session's context,
and change tracking (what the views compare with at the next stop)."""

from __future__ import annotations

import bisect
import contextlib
import os
from collections.abc import Iterator

from vm.isa.flags import CONDITION_FUNCS, DF
from vm.isa.operands import Mem

from . import expr as E
from .core import SessionCore
from .model import M64, DebugError, MemView

_STRING_SIZES = {"b": 1, "w": 2, "d": 4, "q": 8}  # movsb, movsw, movsd, movsq ...


class Naming(SessionCore):
    """Naming things: routines, symbols, their extents, locations, the current
    instruction's annotation; and what changed since the last stop.

    A layer of Session (core.py lists them): it uses the state only.
    """

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

    def annotate(self) -> str:
        """pwndbg-style note on the instruction at rip, before it runs: the
        effective address of its memory operand and the value there, or for a
        conditional jump whether it will be taken."""
        m = self.machine
        insn = m.insns.get(m.rip)
        if insn is None:
            return ""
        d = insn.defn
        if not insn.operands:
            note = self._string_note(d.mnemonic)
            if note:
                return note
        if d.kind == "cond-jump" and d.cond is not None:
            taken = CONDITION_FUNCS[d.cond](m.fl)
            return "will jump" if taken else "will fall through"
        for i, op in enumerate(insn.operands):
            if isinstance(op, Mem) and d.mnemonic != "lea":
                ea = op.disp
                if op.base is not None and not op.rip_rel:
                    ea += m.r[op.base.num]
                if op.index is not None:
                    ea += m.r[op.index.num] * op.scale
                ea &= M64
                size = (op.size or insn.form.mem_size(i) or 64) // 8
                try:
                    raw = m.mem.read(ea, min(size, 8))
                except ValueError:
                    return f"[{self.addr_text(ea)}] is not mapped: this access will fault"
                v = int.from_bytes(raw, "little")
                return f"[{self.addr_text(ea)}] = {v:#x}"
        return ""

    def _string_note(self, mnemonic: str) -> str:
        """What a string instruction (movs, stos, lods, scas, cmps; rep'd or
        not) will do: how many elements, from and to where."""
        prefix, _, base = mnemonic.rpartition(" ")
        kind, size = base[:-1], _STRING_SIZES.get(base[-1:], 0)
        if kind not in ("movs", "stos", "lods", "scas", "cmps") or not size:
            return ""
        m = self.machine
        acc = {1: "al", 2: "ax", 4: "eax", 8: "rax"}[size]
        src, dst = f"[rsi = {self.addr_text(m.r[6])}]", f"[rdi = {self.addr_text(m.r[7])}]"
        what = {
            "movs": f"copies {src} to {dst}",
            "stos": f"stores {acc} = {m.r[0] & ((1 << 8 * size) - 1):#x} to {dst}",
            "lods": f"loads {acc} from {src}",
            "scas": f"compares {acc} with {dst}",
            "cmps": f"compares {src} with {dst}",
        }[kind]
        unit = f"{size} byte{'s' if size > 1 else ''}"
        down = ", backwards (DF=1)" if m.r[DF] else ""
        if not prefix:
            return f"{what}, {unit}{down}"
        n = m.r[1]
        if n == 0:
            return "rcx = 0: does nothing"
        count = f"{n:,}" if n < 1 << 32 else f"{n:#x}"
        elems = f"rcx = {count} element{'s' if n > 1 else ''} of {unit}"
        stop = {"repe": "while equal, ", "repz": "while equal, "}.get(prefix, "")
        stop = stop or {"repne": "until equal, ", "repnz": "until equal, "}.get(prefix, "")
        return f"{what}: {stop}{'up to ' if stop else ''}{elems}{down}"

    def extent(self, addr: int) -> tuple[str, int, int] | None:
        """The data symbol whose bytes hold addr: (name, start, size), its size
        from the assembler (resb/resd/times/db ...) or up to the next symbol."""
        i = bisect.bisect_right(self._data_keys, addr) - 1
        if i < 0:
            return None
        base, name = self._data[i]
        sym = self.image.symbols[name]
        size = sym.size
        if size is None:
            nxt = self._data[i + 1][0] if i + 1 < len(self._data) else None
            size = (nxt - base) if nxt is not None else None
        if size is None or not base <= addr < base + max(size, 1):
            return None
        return name, base, size

    def check_within(self, addr: int, nbytes: int, what: str, base: int | None = None) -> None:
        """Refuse a read of nbytes at addr that runs past the end of the data
        symbol holding `base` (default: addr), so a picture or view never
        shows the next symbol's bytes as if they were this one's."""
        ext = self.extent(addr if base is None else base)
        if ext is None:
            return
        name, base, size = ext
        if not base <= addr or addr + nbytes > base + size:
            raise DebugError(
                f"{what} reads {nbytes:,} bytes at offset {addr - base:,} of {name}, "
                f"which holds {size:,} bytes"
            )

    def addr_text(self, addr: int) -> str:
        """0x... <name+off>, or the bare address when no symbol covers it."""
        name = self.describe(addr)
        return f"{addr:#x}" if name == f"{addr:#x}" else f"{addr:#x} <{name}>"

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
        return f"{self.addr_text(addr)} {self.loc_text(addr)}  {text}"

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

    # -- change tracking ---------------------------------------------------------------------
    @contextlib.contextmanager
    def command_scope(self, name: str) -> Iterator[None]:
        """One user command: the state is remembered once at its start (so the
        views highlight everything it changed, over all the steps of `next 5`
        or `until`), and the status line names it."""
        if self._in_command:
            yield
            return
        self.mark()
        self._in_command = True
        self.last_command = name
        try:
            yield
        finally:
            self._in_command = False

    def mark(self) -> None:
        """Remember the current state: what the views compare with at the next stop."""
        if self._in_command:
            return
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
