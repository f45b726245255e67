"""Linking, as `ld` does it for these programs: which file's symbol a name
means, where every section piece goes, symbol values and the entry point.

Layout: every file's .text (in the order the files are given), then the
built-in libm routines the program declares extern, then .rodata, .data and
.bss, each section starting on a new page; .text starts at 0x401000.
"""

from __future__ import annotations

import difflib
import os

from ..errors import AsmError, SourceLoc
from ..image import INSN_SIZE, PAGE, TEXT_BASE, Insn, Symbol
from .expr import M64, Evaluator, Node
from .operands import at
from .records import Equ, FileCtx, Label

SECTIONS = (".text", ".rodata", ".data", ".bss")
LIBM = ("exp", "log", "expf", "logf")


class Linker:
    def __init__(self, files: list[FileCtx], errors, warnings: list[str]):
        self.files = files
        self.errors = errors  # .add(AsmError)
        self.warnings = warnings
        self.stubs: dict[str, int] = {}  # libm routine -> address
        self.global_defs: dict[str, tuple[FileCtx, Label | Equ]] = {}
        self.section_ranges: dict[str, tuple[int, int]] = {}

    def check_declarations(self) -> None:
        for ctx in self.files:
            for name, loc in ctx.globals.items():
                d = ctx.labels.get(name) or ctx.equs.get(name)
                if d is None:
                    if name in ctx.externs:
                        continue
                    self.errors.add(
                        AsmError(f"'{name}' is declared global but not defined in this file", loc)
                    )
                    continue
                prev = self.global_defs.get(name)
                if prev is not None:
                    other = prev[1].loc
                    self.errors.add(
                        AsmError(
                            f"global symbol '{name}' is defined twice (also "
                            f"at {other.file}:{other.line})",
                            d.loc,
                        )
                    )
                    continue
                self.global_defs[name] = (ctx, d)
        for ctx in self.files:
            for name in ctx.externs:
                if name in ctx.labels or name in ctx.equs or name in self.global_defs:
                    continue
                if name in LIBM:
                    self.stubs.setdefault(name, 0)

    def layout(self) -> None:
        addr = TEXT_BASE
        self.section_ranges: dict[str, tuple[int, int]] = {}
        for sec in SECTIONS:
            if sec != ".text":
                addr = (addr + PAGE - 1) & ~(PAGE - 1)
            start = addr
            for ctx in self.files:
                c = ctx.chunks.get(sec)
                if c is None:
                    continue
                addr = (addr + c.align - 1) & ~(c.align - 1)
                c.base = addr
                addr += c.size
            if sec == ".text":
                addr = (addr + INSN_SIZE - 1) & ~(INSN_SIZE - 1)
                for name in sorted(self.stubs, key=LIBM.index):
                    self.stubs[name] = addr
                    addr += INSN_SIZE
            self.section_ranges[sec] = (start, addr)

    def resolver(self, ctx: FileCtx, parent: str, loc: SourceLoc):
        def resolve(name: str, n: Node):
            full = parent + name if name.startswith(".") and not name.startswith("..@") else name
            v = self._value_in(ctx, full, loc, n)
            if v is None:
                raise AsmError(self._undefined_message(ctx, name, full), at(loc, n.col))
            return v, None

        return resolve

    def _value_in(self, ctx: FileCtx, name: str, loc: SourceLoc, n: Node) -> int | None:
        lab = ctx.labels.get(name)
        if lab is not None:
            return lab.chunk.base + lab.offset
        equ = ctx.equs.get(name)
        if equ is not None:
            return self.equ_value(ctx, equ, loc, n)
        if name in ctx.externs or name in ctx.globals:
            g = self.global_defs.get(name)
            if g is not None:
                gctx, d = g
                if isinstance(d, Label):
                    return d.chunk.base + d.offset
                return self.equ_value(gctx, d, loc, n)
            if name in self.stubs:
                return self.stubs[name]
        return None

    def equ_value(self, ctx: FileCtx, equ: Equ, loc: SourceLoc, n: Node) -> int:
        if equ.value is not None:
            return equ.value
        if equ.busy:
            raise AsmError(f"'{equ.name}' is defined in terms of itself", at(loc, n.col))
        equ.busy = True
        try:
            here = equ.here[1].base + equ.here[0]
            ev = Evaluator(
                equ.loc,
                self.resolver(ctx, equ.parent, equ.loc),
                lambda: (here, None),
                lambda: (equ.here[1].base, None),
            )
            equ.value = ev.number(equ.node)
        finally:
            equ.busy = False
        return equ.value

    def _undefined_message(self, ctx: FileCtx, name: str, full: str) -> str:
        if name.startswith("."):
            return (
                f"undefined local label '{name}' (looked for '{full}'; local labels belong "
                "to the last label without a dot)"
            )
        if name in ctx.externs:
            return (
                f"undefined symbol '{name}': declared extern, but no file defines it as "
                f"global (built in: {', '.join(LIBM)})"
            )
        for other in self.files:
            if other is not ctx and (name in other.labels or name in other.equs):
                hint = (
                    f"; add 'extern {name}' here"
                    if name in other.globals
                    else f"; it is in {other.name}: add 'global {name}' there and "
                    f"'extern {name}' here"
                )
                return f"undefined symbol '{name}'{hint}"
        if name in LIBM:
            return f"undefined symbol '{name}' (add 'extern {name}' to use the built-in libm)"
        close = difflib.get_close_matches(name, list(ctx.labels) + list(ctx.equs), n=1)
        return f"undefined symbol '{name}'" + (f" (did you mean {close[0]}?)" if close else "")

    def symbols(self) -> dict[str, Symbol]:
        out: dict[str, Symbol] = {}
        for ctx in self.files:
            per_chunk: dict[int, list[Label]] = {}
            for lab in ctx.labels.values():
                per_chunk.setdefault(id(lab.chunk), []).append(lab)
            for labs in per_chunk.values():
                labs.sort(key=lambda lb: lb.offset)
                for k, lab in enumerate(labs):
                    if lab.chunk.absolute:  # a struc field: a constant, like equ
                        sym = Symbol(lab.name, lab.offset, None, lab.name in ctx.globals, lab.loc)
                        self._add_symbol(out, ctx, sym)
                        continue
                    if not lab.chunk.loaded:  # in a dropped (note, debug) section
                        continue
                    nxt = labs[k + 1].offset if k + 1 < len(labs) else lab.chunk.size
                    is_global = lab.name in ctx.globals
                    sym = Symbol(
                        lab.name,
                        lab.chunk.base + lab.offset,
                        lab.chunk.section,
                        is_global,
                        lab.loc,
                        nxt - lab.offset,
                    )
                    self._add_symbol(out, ctx, sym)
            for equ in ctx.equs.values():
                try:
                    v = self.equ_value(ctx, equ, equ.loc, Node("sym", equ.loc.column))
                except AsmError as e:
                    self.errors.add(e)
                    continue
                self._add_symbol(
                    out, ctx, Symbol(equ.name, v & M64, None, equ.name in ctx.globals, equ.loc)
                )
        for name, addr in self.stubs.items():
            if name not in out:
                out[name] = Symbol(name, addr, ".text", True, None, INSN_SIZE)
        return out

    @staticmethod
    def _add_symbol(out: dict[str, Symbol], ctx: FileCtx, sym: Symbol) -> None:
        if sym.name in out and not sym.is_global:
            sym.name = f"{os.path.basename(ctx.name)}:{sym.name}"
        elif sym.name in out:  # a global wins the plain name
            old = out.pop(sym.name)
            old.name = f"{os.path.basename(old.loc.file) if old.loc else '?'}:{old.name}"
            out[old.name] = old
        out[sym.name] = sym

    def entry(self, symbols: dict[str, Symbol], insns: list[Insn]) -> int:
        if not insns:
            raise AsmError("the program has no instructions (section .text is empty)")
        start = symbols.get("_start")
        if start is not None and start.section == ".text":
            if not start.is_global:
                self.warnings.append(
                    "warning: _start is not declared global (ld would not "
                    "find it); add 'global _start'"
                )
            return start.value
        self.warnings.append(
            "warning: no _start label: execution starts at the beginning of "
            ".text, as ld does (add 'global _start' and a '_start:' label)"
        )
        return insns[0].addr
