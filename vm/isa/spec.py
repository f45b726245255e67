"""The instruction table's vocabulary: definitions, operand forms, matching.

Every instruction is defined exactly once with `insn(...)` (see integer.py and
sse.py). A definition names the mnemonic, its accepted operand forms, the
semantics as a short code template (expanded by vm.codegen), the flags it
reads/writes and a one-line description. The assembler validates operands
against the forms, the executor runs the semantics, and the disassembler,
debugger and `mnist-vm isa` print from the same record.

Operand-form tokens (Intel manual style):
  r8 r16 r32 r64        general register of that size
  m8 m16 m32 m64 m128   memory of that size; m = memory of any size (lea)
  r/m8 ... r/m64        register or memory
  imm8 imm16 imm32 imm64  immediate; imm32 in a 64-bit form is sign-extended
  xmm  xmm/m32  xmm/m64  xmm/m128   SSE register, or memory of that size
  ymm  ymm/m256  zmm  zmm/m512  m256  m512   AVX / AVX-512 registers and memory;
                        a form with a zmm operand is EVEX-encoded and alone may
                        name vector registers 16-31
  rel                   branch target (label or address)
  cl                    exactly the cl register (shift counts)
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Literal

from .operands import Imm, Mem, Operand, Reg

# Condition codes: canonical suffix -> (aliases, description of the test).
CONDITIONS: dict[str, tuple[tuple[str, ...], str]] = {
    "o": ((), "OF=1"),
    "no": ((), "OF=0"),
    "b": (("c", "nae"), "CF=1 (unsigned below)"),
    "ae": (("nc", "nb"), "CF=0 (unsigned above or equal)"),
    "e": (("z",), "ZF=1 (equal)"),
    "ne": (("nz",), "ZF=0 (not equal)"),
    "be": (("na",), "CF=1 or ZF=1 (unsigned below or equal)"),
    "a": (("nbe",), "CF=0 and ZF=0 (unsigned above)"),
    "s": ((), "SF=1 (negative)"),
    "ns": ((), "SF=0"),
    "p": (("pe",), "PF=1 (parity even)"),
    "np": (("po",), "PF=0"),
    "l": (("nge",), "SF!=OF (signed less)"),
    "ge": (("nl",), "SF=OF (signed greater or equal)"),
    "le": (("ng",), "ZF=1 or SF!=OF (signed less or equal)"),
    "g": (("nle",), "ZF=0 and SF=OF (signed greater)"),
}


@dataclass(frozen=True)
class OpType:
    token: str
    kinds: frozenset[str]  # subset of {'gpr', 'xmm', 'mem', 'imm', 'rel', 'cl'}
    size: int | None  # bits; None = any (m, rel)
    vsize: int = 0  # width of the vector register it accepts (128, 256, 512)


_TOKEN_RE = re.compile(r"^(r/m|r|m|imm|[xyz]mm/m|[xyz]mm|rel|cl)(\d*)$")
_VSIZE = {"x": 128, "y": 256, "z": 512}


def parse_token(tok: str) -> OpType:
    m = _TOKEN_RE.match(tok)
    if not m:
        raise ValueError(f"bad operand token {tok!r}")
    base, digits = m.group(1), m.group(2)
    size = int(digits) if digits else None
    kinds = {
        "r": {"gpr"},
        "m": {"mem"},
        "r/m": {"gpr", "mem"},
        "imm": {"imm"},
        "xmm": {"xmm"},
        "xmm/m": {"xmm", "mem"},
        "rel": {"rel"},
        "cl": {"cl"},
    }.get(base, set())
    vsize = 0
    if base[:3] in ("xmm", "ymm", "zmm"):  # alone or with /mN
        vsize = _VSIZE[base[0]]
        kinds = {"xmm", "mem"} if base.endswith("/m") else {"xmm"}
        if size is None:
            size = vsize
    if base == "cl":
        size = 8
    return OpType(tok, frozenset(kinds), size, vsize)


@dataclass(frozen=True)
class Form:
    tokens: tuple[str, ...]
    types: tuple[OpType, ...]

    def __str__(self) -> str:
        return ", ".join(self.tokens)

    @property
    def evex(self) -> bool:
        """An AVX-512 form (it has a zmm operand): the only kind that may name
        vector registers 16-31, as in the EVEX encoding."""
        return any(t.vsize == 512 for t in self.types)

    def mem_size(self, i: int) -> int | None:
        t = self.types[i]
        return t.size if "mem" in t.kinds else None


def parse_forms(spec: str) -> tuple[Form, ...]:
    """'r/m64, imm32 | r64, r/m64' -> forms. An empty spec means no operands."""
    forms = []
    for alt in spec.split("|"):
        alt = alt.strip()
        toks = tuple(t.strip() for t in alt.split(",")) if alt else ()
        forms.append(Form(toks, tuple(parse_token(t) for t in toks)))
    return tuple(forms)


def expand_sizes(spec: str, sizes=(8, 16, 32, 64)) -> str:
    """Expand 'r/mN, rN' into one alternative per size (N -> 8, 16, 32, 64).
    imm{N} becomes imm32 for the 64-bit size (sign-extended immediates)."""
    out = []
    for alt in (a.strip() for a in spec.split("|")):
        for n in sizes:
            imm = 32 if n == 64 else n
            out.append(alt.replace("immN", f"imm{imm}").replace("N", str(n)))
    return " | ".join(out)


# How an instruction changes control flow; everything that follows the
# program's path (the run tier's traces, the debugger's next/until/finish,
# the history's syscall bookkeeping) asks the table this, never a mnemonic.
#   ""          falls through to the next instruction
#   "jump"      always continues at its target (jmp)
#   "cond-jump" continues at its target or falls through (jcc, loop, jrcxz)
#   "call"      pushes the return address and jumps (call)
#   "ret"       pops its target (ret)
#   "syscall"   enters the runtime, which may change any state (syscall)
#   "hostcall"  a built-in routine of the runtime, returning like ret (hostcall)
Kind = Literal["", "jump", "cond-jump", "call", "ret", "syscall", "hostcall"]
KINDS: tuple[Kind, ...] = ("", "jump", "cond-jump", "call", "ret", "syscall", "hostcall")

# A template, or one template per form (keyed by the form's text, "r/m64, imm32").
Semantics = str | dict[str, str]


@dataclass
class InsnDef:
    """One instruction: the single source of truth for it."""

    mnemonic: str
    forms: tuple[Form, ...]
    sem: Semantics  # code template(s), see vm.codegen
    doc: str  # one-line description
    flags_read: str = ""  # subset of "CPZSO"
    flags_written: str = ""  # flags given a defined value
    flags_undefined: str = ""  # flags left architecturally undefined
    group: str = "integer"  # integer | sse | control | system | internal
    implicit: str = ""  # implicit registers, for docs ("rdx:rax")
    align: int = 0  # required alignment of the memory operand
    kind: Kind = ""  # control flow (see KINDS)
    # an rsp-based memory operand is addressed with rsp after the pop (the
    # CPU's order): pop's, by the size it pops (8, or 2 for a word)
    addr_after_pop: bool = False
    # bt/bts/btr/btc: with a register bit offset, the memory operand is a bit
    # string: its address moves by the offset's signed quotient by the operand
    # size (in operand-size units), the bit is the remainder (vm.codegen)
    bit_string: bool = False
    # the CPU feature each form needs (form text -> cpuinfo flag: "avx", "fma", ...)
    cpuid: dict[str, str] = field(default_factory=dict)
    cond: str | None = None  # condition code for jcc/setcc/cmovcc
    aliases: tuple[str, ...] = ()
    notes: str = ""  # longer explanation (edge cases)
    lockable: bool = False  # the lock prefix is allowed (with a memory destination)
    # operands the forms admit but the machine does not (enter with a nesting
    # level): returns why, and the assembler reports it as an error
    reject: Callable[[tuple[Operand, ...]], str | None] | None = None
    # the MXCSR-exact template(s) of a floating-point instruction: what runs
    # instead of `sem` in a program that reads or writes MXCSR (vm/isa/softfloat.py;
    # docs/machine.md, "MXCSR"); None for instructions MXCSR does not concern
    exact: Semantics | None = None
    # how the instruction accesses MXCSR itself: "load" (ldmxcsr), "store" (stmxcsr)
    mxcsr: str = ""

    @property
    def branch(self) -> bool:
        """Whether it may not fall through to the next instruction (ends a basic block)."""
        return self.kind != ""

    def semantics(self, form: Form) -> str:
        """The template of one form."""
        return self.sem if isinstance(self.sem, str) else self.sem[str(form)]

    def exact_semantics(self, form: Form) -> str:
        """The MXCSR-exact template of one form (the plain one if it has none)."""
        if self.exact is None:
            return self.semantics(form)
        return self.exact if isinstance(self.exact, str) else self.exact[str(form)]


TABLE: dict[str, InsnDef] = {}  # mnemonic (and aliases) -> definition


def insn(mnemonic: str, forms: str, sem: Semantics, doc: str, **kw) -> InsnDef:
    d = InsnDef(mnemonic, parse_forms(forms), sem, doc, **kw)
    if d.kind not in KINDS:
        raise ValueError(f"{mnemonic}: unknown kind {d.kind!r}")
    if isinstance(sem, dict) and set(sem) != {str(f) for f in d.forms}:
        raise ValueError(
            f"{mnemonic}: semantics given for {sorted(sem)}, forms are "
            f"{sorted(str(f) for f in d.forms)}"
        )
    if isinstance(d.exact, dict) and set(d.exact) != {str(f) for f in d.forms}:
        raise ValueError(f"{mnemonic}: exact semantics given for {sorted(d.exact)}")
    for name in (mnemonic, *d.aliases):
        if name in TABLE:
            raise ValueError(f"instruction {name} defined twice")
        TABLE[name] = d
    return d


def condition_reads(cc: str) -> str:
    """The flags a condition code tests, in "CPZSO" order (from its test text)."""
    test = CONDITIONS[cc][1].split(" (")[0]
    return "".join(f for f in "CPZSO" if f + "F" in test)


def conditional(prefix: str, forms: str, sem: str, doc: str, **kw) -> None:
    """Define prefix+cc for every condition code (jcc, setcc, cmovcc), with
    the standard aliases. `{cc}` in sem and doc is replaced by the canonical
    suffix; `{test}` in doc by the flag test. Each reads only the flags its
    condition tests."""
    for cc, (aliases, test) in CONDITIONS.items():
        insn(
            prefix + cc,
            forms,
            sem.replace("{cc}", cc),
            doc.replace("{cc}", cc).replace("{test}", test),
            cond=cc,
            aliases=tuple(prefix + a for a in aliases),
            flags_read=condition_reads(cc),
            **kw,
        )


def lookup(mnemonic: str) -> InsnDef | None:
    """The definition of a mnemonic; `lock x` is x if x takes a lock prefix
    (one thread: lock changes nothing else)."""
    name = mnemonic.lower()
    if name.startswith("lock "):
        d = TABLE.get(name[5:].strip())
        return d if d is not None and d.lockable else None
    return TABLE.get(name)


class MatchError(Exception):
    """Operands do not fit any form; the message says why and lists forms."""


class OperandError(MatchError):
    """Operands fit a form but the machine does not take them (InsnDef.reject)."""


def _imm_fits(value: int, bits: int, signed_only: bool) -> bool:
    if signed_only:
        return -(1 << (bits - 1)) <= value < (1 << (bits - 1))
    return -(1 << (bits - 1)) <= value < (1 << bits)


def operand_fits(t: OpType, op: Operand, form: Form, wide: bool = False) -> bool:
    if isinstance(op, Reg):
        if op.kind == "xmm":
            return "xmm" in t.kinds and op.size == t.vsize and (op.num < 16 or form.evex)
        if "cl" in t.kinds:
            return op.name == "cl"
        return "gpr" in t.kinds and op.size == t.size
    if isinstance(op, Mem):
        if "mem" not in t.kinds:
            return False
        return op.size is None or t.size is None or op.size == t.size
    if isinstance(op, Imm):
        if "rel" in t.kinds:
            return True
        if "imm" not in t.kinds:
            return False
        if op.size == 16 and len(form.types) == 1 and t.size != 16:
            return False  # `push word 5`: the 16-bit push
        first = form.types[0].size if form.types else None
        # imm32 that the CPU sign-extends to 64 bits (push imm32 too): no 0x80000000..
        signed_only = t.size == 32 and (first == 64 or len(form.types) == 1)
        if wide and signed_only and (1 << 31) <= op.value < (1 << 32):
            return True  # NASM's second chance: sign-extended, with a warning
        return _imm_fits(op.value, t.size or 64, signed_only)
    return False


def match(d: InsnDef, ops: tuple[Operand, ...]) -> tuple[Form, tuple[Operand, ...]]:
    """Pick the form of d that fits ops; fill in memory sizes from the form.

    Raises MatchError with a plain message when nothing fits or when a memory
    operand's size is ambiguous (as NASM: 'operation size not specified')."""
    candidates = _candidates(d, ops, False) or _candidates(d, ops, True)
    if not candidates:
        raise MatchError(_no_form_message(d, ops))
    for i, op in enumerate(ops):
        if isinstance(op, Mem) and op.size is None:
            sizes = {f.mem_size(i) for f in candidates}
            if len(sizes) > 1 and d.mnemonic != "lea":
                raise MatchError(
                    "operation size not specified: write byte, word, dword or "
                    f"qword before [{op.text or ''}]"
                    if op.text
                    else "operation size not specified"
                )
    form = candidates[0]
    fixed = tuple(_canonical(d, form, i, op) for i, op in enumerate(ops))
    why = d.reject(fixed) if d.reject is not None else None
    if why:
        raise OperandError(why)
    return form, fixed


def _candidates(d: InsnDef, ops: tuple[Operand, ...], wide: bool) -> list[Form]:
    return [
        f
        for f in d.forms
        if len(f.types) == len(ops)
        and all(operand_fits(t, op, f, wide) for t, op in zip(f.types, ops))
    ]


# Instructions NASM encodes with a sign-extended imm8 when the value allows
# (its warning text for a too-large dword differs with the encoding).
_IMM8_ENCODED = {"add", "or", "adc", "sbb", "and", "sub", "xor", "cmp", "imul", "push"}


def imm_warnings(d: InsnDef, form: Form, ops: tuple[Operand, ...]) -> list[str]:
    """NASM's warnings for an immediate in 0x80000000..0xFFFFFFFF that a
    64-bit operation sign-extends (`and rax, 0xFFFFFFFF` means
    `and rax, -1`), with NASM's words."""
    out = []
    for t, op in zip(form.types, ops):
        if isinstance(op, Imm) and t.size == 32 and (1 << 31) <= op.value < (1 << 32):
            first = form.types[0].size if form.types else None
            if first == 64 or len(form.types) == 1:
                if d.mnemonic in _IMM8_ENCODED and op.value >= (1 << 32) - 128:
                    out.append("signed dword value exceeds bounds [-w+number-overflow]")
                else:
                    out.append("signed dword immediate exceeds bounds [-w+number-overflow]")
                    out.append("dword data exceeds bounds [-w+number-overflow]")
    return out


def _canonical(d: InsnDef, form: Form, i: int, op: Operand) -> Operand:
    """Memory operands get the form's size; an immediate narrower than 64 bits
    is stored as the CPU sees it: its low bits, sign-extended (so `add rax, -1`
    and `mov qword [x], 0xFFFFFFFF`-style encodings mean what the hardware
    does). ret's imm16 is an unsigned byte count, int's imm8 a vector number."""
    if isinstance(op, Mem) and op.size is None:
        return op.with_size(form.mem_size(i) or 64)
    if isinstance(op, Imm):
        t = form.types[i]
        if "imm" in t.kinds and t.size and t.size < 64 and d.mnemonic not in ("ret", "int"):
            s = 1 << (t.size - 1)
            v = ((op.value & ((1 << t.size) - 1)) ^ s) - s
            if v != op.value:
                return Imm(v, op.label, op.size)
    return op


def describe_operand(op: Operand) -> str:
    if isinstance(op, Reg):
        if op.kind == "xmm":
            what = op.name[:3] if op.num < 16 else f"{op.name[:3]} (EVEX-only)"
            return f"{what} register {op.name}"
        return f"{op.size}-bit register {op.name}"
    if isinstance(op, Mem):
        return f"{op.size}-bit memory" if op.size else "memory"
    return f"immediate {op.value}"


def _no_form_message(d: InsnDef, ops: tuple[Operand, ...]) -> str:
    given = ", ".join(describe_operand(o) for o in ops) or "no operands"
    forms = "; ".join(f"{d.mnemonic} {f}".strip() for f in d.forms)
    hint = (
        " (registers 16-31 exist only in AVX-512 forms, which here take zmm operands)"
        if any(isinstance(o, Reg) and o.kind == "xmm" and o.num >= 16 for o in ops)
        else ""
    )
    return f"operand form not supported: {d.mnemonic} with {given}{hint}. Supported forms: {forms}"


# ---- table self-test (in the manner of Spike's opcode-overlap check) --------------
# `match` takes the first form that fits, so two forms of one mnemonic that
# can both fit the same operands must mean the same thing, or the order of
# the forms silently decides what a program does. Forms whose templates are
# identical are harmless (mov r64, r/m64 and mov r/m64, r64 for two
# registers); any other overlap must be listed here with the reason.
OVERLAP_ALLOWED: dict[tuple[str, str, str], str] = {
    ("push", "imm32", "imm16"): "`push 5` is the 8-byte push (imm32, first); only `push word 5` "
    "(an immediate sized word) fits imm16 alone (operand_fits)",
}


def _types_overlap(a: OpType, b: OpType) -> bool:
    """Whether some operand fits both tokens (operand_fits' rules; an unsized
    memory operand fitting two sizes is an 'operation size' error, not a
    choice)."""
    if {"imm", "rel"} & a.kinds and {"imm", "rel"} & b.kinds:
        return True  # a small immediate (or a label) fits every immediate size
    if "cl" in a.kinds | b.kinds:
        other = b if "cl" in a.kinds else a
        return "cl" in other.kinds or ("gpr" in other.kinds and other.size == 8)
    if "xmm" in a.kinds & b.kinds and a.vsize == b.vsize:
        return True  # vector registers of one width (xmm, ymm or zmm)
    if "gpr" in a.kinds & b.kinds and a.size == b.size:
        return True
    return "mem" in a.kinds & b.kinds and (a.size is None or b.size is None or a.size == b.size)


def forms_overlap(a: Form, b: Form) -> bool:
    """Whether one operand list could fit both forms."""
    return len(a.types) == len(b.types) and all(
        _types_overlap(x, y) for x, y in zip(a.types, b.types)
    )


def table_problems(defs: Iterable[InsnDef] | None = None) -> list[str]:
    """Every overlap of two forms of one mnemonic with different semantics
    that OVERLAP_ALLOWED does not explain (empty when the table is sound)."""
    problems = []
    seen: set[int] = set()
    for d in TABLE.values() if defs is None else defs:
        if id(d) in seen:
            continue
        seen.add(id(d))
        for i, a in enumerate(d.forms):
            for b in d.forms[i + 1 :]:
                if not forms_overlap(a, b) or d.semantics(a) == d.semantics(b):
                    continue
                if (d.mnemonic, str(a), str(b)) not in OVERLAP_ALLOWED:
                    problems.append(
                        f"{d.mnemonic}: forms '{a}' and '{b}' both fit some operands but "
                        "have different semantics (the first would always win)"
                    )
    return problems
