"""Expand instruction templates into Python source.

Each table entry's `sem` is a few lines of Python over a small vocabulary
(in the spirit of Spike's decode macros). This module specialises it for one
assembled instruction - its registers, memory operands and immediates - and
the machine compiles the result, either alone (step tier) or concatenated
with its basic block (run tier). Both tiers run the same generated text, so
there is one semantics.

Template vocabulary (operand letters A, B, C = operands 0, 1, 2):
  A B C            unsigned integer value of the operand (its size)
  SA SB SC         the same, signed
  EA EB            effective address of a memory operand
  AF0..AF3         float32 lanes of an xmm/memory operand (Python float);
                   ymm/zmm operands have AF0..AF7 / AF0..AF15
  AD0 AD1          float64 lanes;  AI0..AI3 uint32 lanes;  AQ0 AQ1 uint64 lanes
                   (likewise up to AD7, AI15, AQ7 for the wider registers)
  D, DF0 ...       a fourth operand (vinsertf128's imm8 ...), as A B C
  WA = e           write operand A (masked; 32-bit register writes zero-extend,
                   8/16-bit writes merge); likewise WB, WAF0 = e, WAI2 = e ...
  @                in a line: repeat the line for lanes 0..3 (packed ops)
  N NB NC          operand size in bits;  M: mask of A;  SGN: sign bit of A
  IP NEXT          this instruction's address, the next one's
  CF               current carry flag (0/1);  COND: this insn's condition
  FLAGS(k, a, b, r)  record flags lazily (k in ADD ADC SUB SBB LOGIC INC DEC)
  FLAGSRAW(x)      set RFLAGS to x
  JUMP(x)          continue at address x (ends the block)
  PUSH(x)          push a qword;   v = POP()   pop one
  PUSHW(x)         push a word;    v = POPW()  pop one (push ax, pop ax)
  r[16]            the direction flag DF (0/1), kept beside the GPRs (vm.isa.flags.DF)
  FAULT(kind, msg) stop the machine with a fault at this instruction
  FPCHECK()        MXCSR-exact templates (InsnDef.exact) only: OR the flags the
                   helpers raised (accumulated in `fx`, which starts at 0) into
                   MXCSR and fault (#XM, 'simd-exception') if one is unmasked;
                   the template's writes before it are made after it, so a
                   faulting instruction changes no operand, as on the CPU
  c.mxcsr          the MXCSR register (ldmxcsr/stmxcsr, the exact helpers' mode)
Reads are taken once, before the body runs, so a template may write an
operand and still use its old value. Every memory operand is checked
(mapped, writable if written, aligned if the table says so) before anything
changes.
"""

from __future__ import annotations

import re

from .environment import LANE_WIDTH, Layout, int_reader, int_writer, lane_reader, ranges
from .image import INSN_SIZE, Insn
from .isa import flags as F
from .isa.operands import Imm, Mem, Reg, vec_index

M64 = (1 << 64) - 1
# a template's lane kind -> (lanes in an xmm register, the lane view, lane width)
_LANES = {
    kind: (16 // LANE_WIDTH[view], view, LANE_WIDTH[view])
    for kind, view in (("F", "xf"), ("D", "xd"), ("I", "xi"), ("Q", "xq"))
}
_LETTERS = "ABCD"

_KINDS = {name.upper(): i for i, name in enumerate(F.KIND_NAMES)}

_TOKEN = re.compile(r"\b(S[ABCD]|E[ABCD]|[ABCD][FDIQ]1?\d|[ABCD]|N[BCD]?|M|SGN|IP|NEXT|CF|COND)\b")
_WRITE = re.compile(r"^(\s*)W([ABCD])([FDIQ]1?\d)?\s*=(?!=)\s*(.+)$")
_MACRO = re.compile(r"^(\s*)(FLAGS|FLAGSRAW|JUMP|PUSHW|PUSH|FAULT|FPCHECK)\((.*)\)\s*$")
_POP = re.compile(r"^(\s*)(\w+)\s*=\s*(POPW?)\(\)\s*$")


def _is_lane(t: str) -> bool:
    """A lane token: operand letter, lane kind, lane number (AF0, BQ7, CI15)."""
    return len(t) >= 3 and t[0] in _LETTERS and t[1] in "FDIQ" and t[2:].isdigit()


class TemplateError(Exception):
    """A table entry's template does not fit an operand form (a table bug)."""


def _mask(bits: int) -> int:
    return (1 << bits) - 1


class _Gen:
    def __init__(self, insn: Insn, layout: Layout, k: int, trace: bool, exact: bool = False):
        self.insn, self.layout, self.k, self.trace = insn, layout, k, trace
        self.exact = exact
        self.ops = insn.operands
        self.pro: list[str] = []
        self.body: list[str] = []
        self.jumps = False
        self.n0 = self._size(0) if self.ops else 64

    # -- operand facts --------------------------------------------------
    def _op(self, letter: str):
        i = _LETTERS.index(letter)
        if i >= len(self.ops):
            raise TemplateError(f"{self.insn.mnemonic}: template uses operand {letter}")
        return self.ops[i]

    def _size(self, i: int) -> int:
        op = self.ops[i]
        if isinstance(op, Reg):
            return op.size
        if isinstance(op, Mem):
            return op.size or 64
        return self.n0 if i else 64

    def _ea_expr(self, mem: Mem) -> str:
        parts = []
        disp = mem.disp
        if mem.base is not None:
            parts.append(f"r[{mem.base.num}]")
            if mem.base.num == 4:  # pop [rsp+d]: the CPU addresses with rsp after the pop
                disp += (mem.size or 64) // 8 if self.insn.defn.addr_after_pop else 0
        if mem.index is not None:
            parts.append(f"r[{mem.index.num}]" + (f" * {mem.scale}" if mem.scale != 1 else ""))
        if self.insn.defn.bit_string and len(self.ops) == 2 and isinstance(self.ops[1], Reg):
            parts.append(self._bit_string_offset(self.ops[1]))
        if not parts:
            return str(disp & M64)
        if disp:
            parts.append(str(disp))
        return f"({' + '.join(parts)}) & {M64}"

    def _bit_string_offset(self, off: Reg) -> str:
        """bt [m], reg: the bytes the signed bit offset moves the operand by
        (offset // N units of N / 8 bytes, N the operand size)."""
        n = off.size
        s = 1 << (n - 1)
        value = f"r[{off.num}]" if n == 64 else f"(r[{off.num}] & {_mask(n)})"
        return f"((({value} ^ {s}) - {s}) >> {n.bit_length() - 1} << {(n // 8).bit_length() - 1})"

    def _check(self, ea: str, nbytes: int, write: bool, indent: str = "") -> list[str]:
        return [f"{indent}CHECK({ea}, {nbytes}, '{'write' if write else 'read'}')"]

    def _wlog(self, ea: str, nbytes: int, indent: str) -> list[str]:
        return [f"{indent}c.wlog({ea}, {nbytes})"] if self.trace else []

    # -- code -------------------------------------------------------------
    def generate(self) -> list[str]:
        d, form = self.insn.defn, self.insn.form
        sem = d.exact_semantics(form) if self.exact else d.semantics(form)
        lines: list[str] = []
        for line in sem.strip("\n").split("\n"):
            if "@" in line:
                lines.extend(line.replace("@", str(i)) for i in range(4))
            else:
                lines.append(line)
        if "FPCHECK()" in lines:
            lines = _defer_writes(lines)
        used: set[str] = set()
        writes = set()
        for line in lines:
            w = _WRITE.match(line)
            if w:
                writes.add(w.group(2))
                line = w.group(4)
            used.update(m.group(1) for m in _TOKEN.finditer(line))
        self._prologue(used, writes)
        for line in lines:
            self.body.extend(self._statement(line))
        return self.pro + self.body

    def _prologue(self, used: set[str], writes: set[str]) -> None:
        d = self.insn.defn
        for i, op in enumerate(self.ops):
            letter = _LETTERS[i]
            if not isinstance(op, Mem):
                continue
            ea = f"_e{letter.lower()}"
            self.pro.append(f"{ea} = {self._ea_expr(op)}")
            reads = any(
                u == letter or u == "S" + letter or (_is_lane(u) and u[0] == letter) for u in used
            )
            nbytes = (op.size or 64) // 8
            align = nbytes if d.align < 0 else d.align  # < 0: its own size (vmovaps)
            if align and nbytes >= align:
                self.pro.append(f"ALIGN({ea}, {align})")
            if reads or letter in writes:
                self.pro.extend(self._check(ea, nbytes, letter in writes))
        # operand reads, each bound once
        for u in sorted(used):
            if u[0] in _LETTERS and len(u) == 1:
                self.pro.append(f"_{u.lower()} = {self._int_read(u)}")
            elif u[0] == "S" and len(u) == 2:
                if u[1] not in used:
                    self.pro.append(f"_{u[1].lower()} = {self._int_read(u[1])}")
                bits = self._size(_LETTERS.index(u[1]))
                s = 1 << (bits - 1)
                self.pro.append(f"_s{u[1].lower()} = (_{u[1].lower()} ^ {s}) - {s}")
        lane_groups: dict[tuple[str, str], set[int]] = {}
        for u in used:
            if _is_lane(u):
                lane_groups.setdefault((u[0], u[1]), set()).add(int(u[2:]))
        for (letter, kind), lanes in sorted(lane_groups.items()):
            op = self._op(letter)
            _, view, width = _LANES[kind]
            names = {j: f"_{letter.lower()}{kind.lower()}{j}" for j in lanes}
            if isinstance(op, Reg) and op.kind == "xmm":
                if max(lanes) * width >= op.size // 8:
                    raise TemplateError(f"{self.insn.mnemonic}: lane {max(lanes)} of {op.name}")
                for j in sorted(lanes):
                    self.pro.append(f"{names[j]} = {view}[{vec_index(op.num, j, width)}]")
            elif isinstance(op, Mem):
                avail = (op.size or 128) // (8 * width)
                if max(lanes) >= avail:
                    raise TemplateError(
                        f"{self.insn.mnemonic}: lane {max(lanes)} of a {op.size}-bit memory operand"
                    )
                fmt = lane_reader(kind)
                targets = ", ".join(names.get(j, "_") for j in range(avail))
                self.pro.append(f"{targets}, = {fmt}{avail}(m, _e{letter.lower()})")
            else:
                raise TemplateError(f"{self.insn.mnemonic}: lanes of a non-xmm operand")

    def _int_read(self, letter: str) -> str:
        op = self._op(letter)
        i = _LETTERS.index(letter)
        if isinstance(op, Imm):
            return str(op.value & _mask(self._size(i)))
        if isinstance(op, Mem):
            return f"{int_reader(op.size or 64)}1(m, _e{letter.lower()})[0]"
        if op.kind != "gpr":
            raise TemplateError(f"{self.insn.mnemonic}: integer read of {op.name}")
        n = op.num
        if op.high8:
            return f"(r[{n}] >> 8) & 255"
        if op.size == 64:
            return f"r[{n}]"
        return f"r[{n}] & {_mask(op.size)}"

    def _subst(self, text: str) -> str:
        def rep(m: re.Match) -> str:
            t = m.group(1)
            if t in ("A", "B", "C", "D"):
                return f"_{t.lower()}"
            if t[0] == "S" and len(t) == 2:
                return f"_s{t[1].lower()}"
            if t[0] == "E":
                return f"_e{t[1].lower()}"
            if _is_lane(t):
                return f"_{t[0].lower()}{t[1].lower()}{t[2:]}"
            if t == "N":
                return str(self.n0)
            if t in ("NB", "NC", "ND"):
                return str(self._size(_LETTERS.index(t[1])))
            if t == "M":
                return str(_mask(self.n0))
            if t == "SGN":
                return str(1 << (self.n0 - 1))
            if t == "IP":
                return str(self.insn.addr)
            if t == "NEXT":
                return str(self.insn.addr + INSN_SIZE)
            if t == "CF":
                return "cf(c.fl)"
            if t == "COND":
                return f"cc_{self.insn.defn.cond}(c.fl)"
            raise TemplateError(t)

        return _TOKEN.sub(rep, text)

    def _statement(self, line: str) -> list[str]:
        w = _WRITE.match(line)
        if w:
            indent, letter, lane, expr = w.groups()
            return self._write(indent, letter, lane, self._subst(expr))
        m = _MACRO.match(line)
        if m:
            indent, name, args = m.groups()
            args = self._subst(args)
            if name == "FLAGS":
                kind, rest = args.split(",", 1)
                return [f"{indent}c.fl = ({_KINDS[kind.strip()]}, {self.n0}, {rest.strip()})"]
            if name == "FLAGSRAW":
                return [f"{indent}c.fl = ({F.RAW}, 0, 0, 0, {args})"]
            if name == "JUMP":
                self.jumps = True
                return [f"{indent}_n = {args}"]
            if name == "FAULT":
                return [f"{indent}c.fault({args}, {self.insn.addr}, {self.k})"]
            if name == "FPCHECK":
                return [
                    f"{indent}_x = c.mxcsr_raise(fx)",
                    f"{indent}if _x:",
                    f"{indent}    c.fault('simd-exception', _x, {self.insn.addr}, {self.k})",
                ]
            if name in ("PUSH", "PUSHW"):
                n = 8 if name == "PUSH" else 2
                wr = f"{int_writer(8 * n)}1"
                v = args if n == 8 else f"({args}) & 0xFFFF"
                out = [f"{indent}_v = {v}", f"{indent}_sp = (r[4] - {n}) & {M64}"]
                out += self._check("_sp", n, True, indent)
                out += self._wlog("_sp", n, indent)
                out += [f"{indent}{wr}(m, _sp, _v)", f"{indent}r[4] = _sp"]
                return out
        p = _POP.match(line)
        if p:
            indent, var, what = p.groups()
            n = 8 if what == "POP" else 2
            rd = f"{int_reader(8 * n)}1"
            out = [f"{indent}_sp = r[4]"]
            out += self._check("_sp", n, False, indent)
            out += [f"{indent}{var} = {rd}(m, _sp)[0]", f"{indent}r[4] = (_sp + {n}) & {M64}"]
            return out
        return [self._subst(line)]

    def _write(self, indent: str, letter: str, lane: str | None, expr: str) -> list[str]:
        op = self._op(letter)
        if lane is None:
            if isinstance(op, Mem):
                size = op.size or 64
                ea = f"_e{letter.lower()}"
                return self._wlog(ea, size // 8, indent) + [
                    f"{indent}{int_writer(size)}1(m, {ea}, ({expr}) & {_mask(size)})"
                ]
            if not isinstance(op, Reg) or op.kind != "gpr":
                raise TemplateError(f"{self.insn.mnemonic}: integer write to {op}")
            n = op.num
            if op.high8:
                return [f"{indent}r[{n}] = (r[{n}] & {M64 ^ 0xFF00}) | ((({expr}) & 255) << 8)"]
            if op.size == 64:
                return [f"{indent}r[{n}] = ({expr}) & {M64}"]
            if op.size == 32:
                return [f"{indent}r[{n}] = ({expr}) & {_mask(32)}"]
            m = _mask(op.size)
            return [f"{indent}r[{n}] = (r[{n}] & {M64 ^ m}) | (({expr}) & {m})"]
        kind, j = lane[0], int(lane[1:])
        _, view, width = _LANES[kind]
        if isinstance(op, Reg) and op.kind == "xmm":
            if j * width >= 64:  # a write may go past the operand (VEX zeroing), not the register
                raise TemplateError(f"{self.insn.mnemonic}: lane write {lane} to {op.name}")
            return [f"{indent}{view}[{vec_index(op.num, j, width)}] = {expr}"]
        if isinstance(op, Mem) and kind in "IQ":
            ea = f"_e{letter.lower()}"
            addr = f"{ea} + {j * width}" if j else ea
            fmt = f"{int_writer(8 * width)}1"
            return self._wlog(addr, width, indent) + [f"{indent}{fmt}(m, {addr}, {expr})"]
        raise TemplateError(f"{self.insn.mnemonic}: lane write {lane} to {op}")


def _defer_writes(lines: list[str]) -> list[str]:
    """An MXCSR-exact template: `fx = 0` first, and the operand writes before
    its FPCHECK() moved after it (their values computed in place), so that an
    unmasked exception leaves every operand as it was."""
    at = len(lines) - 1 - lines[::-1].index("FPCHECK()")
    before: list[str] = ["fx = 0"]
    later: list[str] = []
    for line in lines[:at]:
        w = _WRITE.match(line)
        if w and not w.group(1):
            tmp = f"_w{len(later)}"
            before.append(f"{tmp} = {w.group(4)}")
            later.append(f"W{w.group(2)}{w.group(3) or ''} = {tmp}")
        else:
            before.append(line)
    return before + ["FPCHECK()"] + later + lines[at + 1 :]


# ---- memory checks ------------------------------------------------------------
# The generated code names its memory checks with two pseudo-statements,
#   CHECK(ea, nbytes, 'read'|'write')   the access [ea, ea+nbytes) is mapped
#                                        (and writable); else a fault
#   ALIGN(ea, align)                     ea is a multiple of align; else a fault
# which lower() turns into plain Python for one instruction (step tier) and
# vm.runtier compiles per block (run tier), hoisting them out of loops where
# it can prove them.


_PSEUDO = re.compile(r"^(\s*)(CHECK|ALIGN)\((\w+), (\d+)(?:, '(\w+)')?\)$")


def lower(lines: list[str], addr: int, k: int, layout: Layout) -> list[str]:
    """Replace CHECK/ALIGN pseudo-statements by their Python code."""
    out = []
    for line in lines:
        m = _PSEUDO.match(line)
        if m is None:
            out.append(line)
            continue
        indent, what, ea, n = m.group(1), m.group(2), m.group(3), int(m.group(4))
        if what == "ALIGN":
            out.append(f"{indent}if {ea} & {n - 1}: c.misaligned({ea}, {n}, {addr}, {k})")
            continue
        kind = m.group(5)
        (lo1, hi1), (lo2, hi2) = ranges(layout, n, kind == "write")
        out.append(
            f"{indent}if not ({lo1} <= {ea} <= {hi1} or {lo2} <= {ea} <= {hi2}): "
            f"c.bad_access({ea}, {n}, '{kind}', {addr}, {k})"
        )
    return out


def generate(
    insn: Insn, layout: Layout, k: int = 0, trace: bool = False, exact: bool = False
) -> tuple[list[str], bool]:
    """Python statements for one instruction; and whether it assigns `_n`
    (the next RIP). Without a jump, execution falls through to insn.addr + 4.
    k is the instruction's index in its block (reported by faults); exact:
    the MXCSR-exact variant of its template (InsnDef.exact)."""
    g = _Gen(insn, layout, k, trace, exact)
    lines = g.generate()
    return lines, g.jumps
