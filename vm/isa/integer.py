"""Integer, control-flow and system instructions.

Each entry is the whole truth about one instruction: forms, semantics (a
template, see vm/codegen.py for the vocabulary), flags and a one-line doc.
"""

from .flags import DF, STATUS
from .operands import Imm
from .spec import conditional, insn
from .spec import expand_sizes as sizes

ALU = sizes("r/mN, rN | rN, r/mN | r/mN, immN")

# ---- data movement ---------------------------------------------------------
insn(
    "mov",
    sizes("r/mN, rN | rN, r/mN | r/mN, immN") + " | r64, imm64",
    "WA = B",
    "Copy src to dst. A 32-bit register destination zero-extends into the 64-bit register; "
    "8/16-bit destinations leave the other bits alone.",
)
insn(
    "movzx",
    "r16, r/m8 | r32, r/m8 | r64, r/m8 | r32, r/m16 | r64, r/m16",
    "WA = B",
    "Copy a byte or word, zero-extended to the destination size.",
)
insn(
    "movsx",
    "r16, r/m8 | r32, r/m8 | r64, r/m8 | r32, r/m16 | r64, r/m16 | r64, r/m32",
    "WA = SB",
    "Copy a byte or word (or a dword into a 64-bit register, as movsxd), sign-extended to "
    "the destination size.",
)
insn("movsxd", "r64, r/m32", "WA = SB", "Copy a dword, sign-extended to 64 bits.")
insn(
    "lea",
    "r16, m | r32, m | r64, m",
    "WA = EB",
    "Load effective address: dst = the address the memory operand names (no memory access).",
)
insn(
    "xchg",
    sizes("r/mN, rN | rN, r/mN"),
    "WA = B\nWB = A",
    "Exchange the two operands.",
    lockable=True,
)
conditional(
    "cmov",
    "r16, r/m16 | r32, r/m32 | r64, r/m64",
    "WA = B if COND else A",
    "Conditional move if {test}. The source is read either way; a 32-bit destination "
    "is zero-extended even when the condition is false.",
)
conditional("set", "r/m8", "WA = 1 if COND else 0", "Set byte to 1 if {test}, else 0.")

# ---- arithmetic --------------------------------------------------------------
insn(
    "add",
    ALU,
    "t = A + B\nWA = t\nFLAGS(ADD, A, B, t)",
    "Integer add: dst = dst + src.",
    flags_written="CPZSO",
    lockable=True,
)
insn(
    "adc",
    ALU,
    "t = A + B + CF\nWA = t\nFLAGS(ADC, A, B, t)",
    "Add with carry: dst = dst + src + CF.",
    flags_read="C",
    flags_written="CPZSO",
    lockable=True,
)
insn(
    "sub",
    ALU,
    "t = A - B\nWA = t\nFLAGS(SUB, A, B, t)",
    "Integer subtract: dst = dst - src.",
    flags_written="CPZSO",
    lockable=True,
)
insn(
    "sbb",
    ALU,
    "t = A - B - CF\nWA = t\nFLAGS(SBB, A, B, t)",
    "Subtract with borrow: dst = dst - src - CF.",
    flags_read="C",
    flags_written="CPZSO",
    lockable=True,
)
insn(
    "cmp",
    ALU,
    "FLAGS(SUB, A, B, A - B)",
    "Compare: set flags as for dst - src, discard the result.",
    flags_written="CPZSO",
)
insn(
    "inc",
    sizes("r/mN"),
    "t = A + 1\nWA = t\nFLAGS(INC, A, CF, t)",
    "Increment by 1. CF is left unchanged.",
    flags_written="PZSO",
    lockable=True,
)
insn(
    "dec",
    sizes("r/mN"),
    "t = A - 1\nWA = t\nFLAGS(DEC, A, CF, t)",
    "Decrement by 1. CF is left unchanged.",
    flags_written="PZSO",
    lockable=True,
)
insn(
    "neg",
    sizes("r/mN"),
    "t = -A\nWA = t\nFLAGS(SUB, 0, A, t)",
    "Two's-complement negate: dst = 0 - dst. CF = (dst != 0).",
    flags_written="CPZSO",
    lockable=True,
)
insn("not", sizes("r/mN"), "WA = ~A", "Bitwise NOT. Flags unchanged.", lockable=True)
insn(
    "and",
    ALU,
    "t = A & B\nWA = t\nFLAGS(LOGIC, 0, 0, t)",
    "Bitwise AND. CF = OF = 0.",
    flags_written="CPZSO",
    flags_undefined="",
    lockable=True,
)
insn(
    "or",
    ALU,
    "t = A | B\nWA = t\nFLAGS(LOGIC, 0, 0, t)",
    "Bitwise OR. CF = OF = 0.",
    flags_written="CPZSO",
    lockable=True,
)
insn(
    "xor",
    ALU,
    "t = A ^ B\nWA = t\nFLAGS(LOGIC, 0, 0, t)",
    "Bitwise exclusive OR. CF = OF = 0. `xor eax, eax` is the usual way to zero rax.",
    flags_written="CPZSO",
    lockable=True,
)
insn(
    "test",
    sizes("r/mN, rN | r/mN, immN"),
    "FLAGS(LOGIC, 0, 0, A & B)",
    "Set flags as for dst AND src, discard the result.",
    flags_written="CPZSO",
)

SHIFT_FORMS = sizes("r/mN, imm8 | r/mN, cl")
_SHIFT = """n_ = B & {cm}
if n_:
    {result}
    WA = t
    FLAGSRAW({flags})
else:
    WA = A"""  # a count of 0 still writes: a 32-bit destination is zero-extended
_SHIFT_OPS = {  # the result t, then RFLAGS (vm/isa/helpers.py)
    "shl": ("t = (A << n_) & M", "shl_flags(A, n_, N, t)"),
    "shr": ("t = A >> n_", "shr_flags(A, n_, N, t)"),
    "sar": ("t = (SA >> n_) & M", "sar_flags(A, n_, N, t)"),
    "rol": ("t, f_ = rol(A, n_, N, c.fl)", "f_"),
    "ror": ("t, f_ = ror(A, n_, N, c.fl)", "f_"),
}
for _name, _doc, _w, _u in (
    ("shl", "Shift left; CF = last bit shifted out.", "CPZSO", "O"),
    ("shr", "Logical shift right (zeros in); CF = last bit shifted out.", "CPZSO", "O"),
    (
        "sar",
        "Arithmetic shift right (sign bit copied in); CF = last bit shifted out.",
        "CPZSO",
        "O",
    ),
    ("rol", "Rotate left; CF = the bit rotated into bit 0.", "CO", "O"),
    ("ror", "Rotate right; CF = the bit rotated into the top bit.", "CO", "O"),
):
    insn(
        _name,
        SHIFT_FORMS,
        {
            f: _SHIFT.format(
                cm=63 if "64" in f else 31, result=_SHIFT_OPS[_name][0], flags=_SHIFT_OPS[_name][1]
            )
            for f in SHIFT_FORMS.split(" | ")
        },
        _doc + " The count is masked to 5 bits (6 for 64-bit operands); a masked count of 0 "
        "leaves the flags unchanged.",
        flags_written=_w,
        flags_undefined=_u,
        notes="OF is defined only for 1-bit shifts/rotates. For larger counts the VM follows "
        "the Intel rule measured natively (shl: the 1-bit formula on the original operand; "
        "shr: its top bit; sar: 0; rotates: the 1-bit formula on the result); see "
        "docs/machine.md, Flags. For 8/16-bit operands a count >= the operand size leaves CF "
        "undefined on hardware.",
    )

# ---- multiply / divide ---------------------------------------------------------
_MUL1 = {
    "r/m8": "t = A * (r[0] & 255)\nr[0] = (r[0] & ~0xFFFF) | (t & 0xFFFF)\n"
    "FLAGSRAW(mul_flags(t >> 8 != 0, t, 8))",
    "r/m16": "t = A * (r[0] & 0xFFFF)\nr[0] = (r[0] & ~0xFFFF) | (t & 0xFFFF)\n"
    "r[2] = (r[2] & ~0xFFFF) | (t >> 16)\nFLAGSRAW(mul_flags(t >> 16 != 0, t, 16))",
    "r/m32": "t = A * (r[0] & 0xFFFFFFFF)\nr[0] = t & 0xFFFFFFFF\nr[2] = t >> 32\n"
    "FLAGSRAW(mul_flags(t >> 32 != 0, t, 32))",
    "r/m64": "t = A * r[0]\nr[0] = t & 0xFFFFFFFFFFFFFFFF\nr[2] = t >> 64\n"
    "FLAGSRAW(mul_flags(t >> 64 != 0, t, 64))",
}
insn(
    "mul",
    " | ".join(_MUL1),
    _MUL1,
    "Unsigned multiply: rdx:rax = rax * src (edx:eax, dx:ax; ax = al * src for bytes). "
    "CF = OF = (upper half != 0).",
    implicit="rax, rdx",
    flags_written="CO",
    flags_undefined="PZS",
    notes="SF, ZF, PF are undefined; the VM follows the Intel rule measured natively "
    "(SF = top bit of the low half, ZF = 0, PF = parity of its low byte); see docs/machine.md.",
)


def _imul1(bits: int) -> str:
    lo = {8: "r[0] & 255", 16: "r[0] & 0xFFFF", 32: "r[0] & 0xFFFFFFFF", 64: "r[0]"}[bits]
    s = 1 << (bits - 1)
    head = f"t = SA * ((({lo}) ^ {s}) - {s})\nlow = t & {(1 << bits) - 1}\n"
    ovf = f"FLAGSRAW(mul_flags(t != ((low ^ {s}) - {s}), low, {bits}))"
    if bits == 8:
        return head + "r[0] = (r[0] & ~0xFFFF) | (t & 0xFFFF)\n" + ovf
    if bits == 16:
        return (
            head + "r[0] = (r[0] & ~0xFFFF) | low\n"
            "r[2] = (r[2] & ~0xFFFF) | ((t >> 16) & 0xFFFF)\n" + ovf
        )
    if bits == 32:
        return head + "r[0] = low\nr[2] = (t >> 32) & 0xFFFFFFFF\n" + ovf
    return head + "r[0] = low\nr[2] = (t >> 64) & 0xFFFFFFFFFFFFFFFF\n" + ovf


_IMUL2 = "t = SA * SB\nlow = t & M\nWA = low\nFLAGSRAW(mul_flags(t != ((low ^ SGN) - SGN), low, N))"
_IMUL3 = "t = SB * SC\nlow = t & M\nWA = low\nFLAGSRAW(mul_flags(t != ((low ^ SGN) - SGN), low, N))"
_imul_forms = {f"r/m{b}": _imul1(b) for b in (8, 16, 32, 64)}
_imul_forms.update({f"r{b}, r/m{b}": _IMUL2 for b in (16, 32, 64)})
_imul_forms.update({f"r{b}, r/m{b}, imm{min(b, 32)}": _IMUL3 for b in (16, 32, 64)})
_imul_forms.update({f"r{b}, imm{min(b, 32)}": _IMUL2 for b in (16, 32, 64)})  # NASM: imul r, r, imm
insn(
    "imul",
    " | ".join(_imul_forms),
    _imul_forms,
    "Signed multiply. One operand: rdx:rax = rax * src. Two: dst = dst * src "
    "(`imul r, imm` is NASM's shorthand for imul r, r, imm). Three: dst = src * imm. CF = OF = (the result was truncated).",
    flags_written="CO",
    flags_undefined="PZS",
    notes="SF, ZF, PF are undefined; the VM follows the Intel rule measured natively "
    "(SF = top bit of the low half, ZF = 0, PF = parity of its low byte); see docs/machine.md.",
)


def _div(bits: int, signed: bool) -> str:
    m = (1 << bits) - 1
    if bits == 8:
        num, put = "r[0] & 0xFFFF", "r[0] = (r[0] & ~0xFFFF) | ((rm & 255) << 8) | (q & 255)"
    elif bits == 16:
        num = "((r[2] & 0xFFFF) << 16) | (r[0] & 0xFFFF)"
        put = "r[0] = (r[0] & ~0xFFFF) | (q & 0xFFFF)\nr[2] = (r[2] & ~0xFFFF) | (rm & 0xFFFF)"
    elif bits == 32:
        num = "((r[2] & 0xFFFFFFFF) << 32) | (r[0] & 0xFFFFFFFF)"
        put = "r[0] = q & 0xFFFFFFFF\nr[2] = rm & 0xFFFFFFFF"
    else:
        num = "(r[2] << 64) | r[0]"
        put = "r[0] = q & 0xFFFFFFFFFFFFFFFF\nr[2] = rm & 0xFFFFFFFFFFFFFFFF"
    if not signed:
        return (
            f"d = A\nif d == 0:\n    FAULT('divide-error', 'division by zero')\n"
            f"x = {num}\nq, rm = divmod(x, d)\n"
            f"if q > {m}:\n    FAULT('divide-error', 'quotient too large for the destination')\n"
            + put
        )
    s2 = 1 << (2 * bits - 1)
    return (
        f"d = SA\nif d == 0:\n    FAULT('divide-error', 'division by zero')\n"
        f"x = (({num}) ^ {s2}) - {s2}\n"
        "q = abs(x) // abs(d)\nq = -q if (x < 0) != (d < 0) else q\nrm = x - q * d\n"
        f"if not {-(1 << (bits - 1))} <= q <= {(1 << (bits - 1)) - 1}:\n"
        "    FAULT('divide-error', 'quotient too large for the destination')\n" + put
    )


insn(
    "div",
    " | ".join(f"r/m{b}" for b in (8, 16, 32, 64)),
    {f"r/m{b}": _div(b, False) for b in (8, 16, 32, 64)},
    "Unsigned divide rdx:rax by src: rax = quotient, rdx = remainder (edx:eax, dx:ax; "
    "ax / src -> al, ah for bytes). Divide error (#DE) on zero or a quotient that does not fit.",
    implicit="rax, rdx",
    flags_undefined="CPZSO",
    notes="Flags are architecturally undefined after div; the VM leaves them unchanged.",
)
insn(
    "idiv",
    " | ".join(f"r/m{b}" for b in (8, 16, 32, 64)),
    {f"r/m{b}": _div(b, True) for b in (8, 16, 32, 64)},
    "Signed divide rdx:rax by src, truncating toward zero: rax = quotient, rdx = remainder "
    "(sign of the dividend). #DE on zero or overflow (e.g. INT_MIN / -1).",
    implicit="rax, rdx",
    flags_undefined="CPZSO",
    notes="Flags are architecturally undefined after idiv; the VM leaves them unchanged.",
)
insn(
    "cqo",
    "",
    "r[2] = 0xFFFFFFFFFFFFFFFF if r[0] >> 63 else 0",
    "Sign-extend rax into rdx:rax (before idiv).",
    implicit="rax, rdx",
)
insn(
    "cdq",
    "",
    "r[2] = 0xFFFFFFFF if r[0] & 0x80000000 else 0",
    "Sign-extend eax into edx:eax (upper halves of rdx zeroed).",
    implicit="eax, edx",
)
insn(
    "cdqe",
    "",
    "r[0] = ((r[0] & 0xFFFFFFFF) ^ 0x80000000) - 0x80000000 & 0xFFFFFFFFFFFFFFFF",
    "Sign-extend eax into rax.",
    implicit="rax",
)

# ---- control flow -------------------------------------------------------------
insn("jmp", "rel | r/m64", "JUMP(A)", "Jump to the target.", group="control", kind="jump")
conditional(
    "j", "rel", "JUMP(A if COND else NEXT)", "Jump if {test}.", group="control", kind="cond-jump"
)
insn(
    "call",
    "rel | r/m64",
    "t = A\nPUSH(NEXT)\nJUMP(t)",
    "Push the return address and jump to the routine.",
    group="control",
    kind="call",
    implicit="rsp",
)
insn(
    "ret",
    " | imm16",
    {
        "": "t = POP()\nJUMP(t)",
        "imm16": "t = POP()\nr[4] = (r[4] + A) & 0xFFFFFFFFFFFFFFFF\nJUMP(t)",
    },
    "Pop the return address and jump to it (ret N also drops N bytes of arguments).",
    group="control",
    kind="ret",
    implicit="rsp",
)
insn(
    "push",
    "r/m64 | imm32 | r/m16 | imm16",
    {"r/m64": "PUSH(A)", "imm32": "PUSH(A)", "r/m16": "PUSHW(A)", "imm16": "PUSHW(A)"},
    "rsp -= 8; store the qword at [rsp] (an immediate is sign-extended). A memory source "
    "addressed through rsp is read before the decrement. `push ax` and `push word 5` push "
    "a word (rsp -= 2).",
    implicit="rsp",
)
insn(
    "pop",
    "r/m64 | r/m16",
    {"r/m64": "t = POP()\nWA = t", "r/m16": "t = POPW()\nWA = t"},
    "Load the qword at [rsp] into dst; rsp += 8. A memory destination addressed through "
    "rsp uses rsp after the increment (`pop qword [rsp]` overwrites the next slot). "
    "`pop ax` and `pop word [x]` pop a word (rsp += 2).",
    implicit="rsp",
    addr_after_pop=True,
)
insn(
    "pushf",
    "",
    f"PUSH(rflags(c.fl) | (r[{DF}] << 10))",
    "Push RFLAGS (the status flags, DF, and IF and bit 1 as set in user mode).",
    aliases=("pushfq",),
    implicit="rsp",
    flags_read="CPZSO",
)
insn(
    "popf",
    "",
    f"t = POP()\nFLAGSRAW((t & {STATUS:#x}) | 0x202)\nr[{DF}] = (t >> 10) & 1",
    "Pop RFLAGS: the status flags (CF, PF, AF, ZF, SF, OF) and DF.",
    aliases=("popfq",),
    implicit="rsp",
    flags_written="CPZSO",
    notes="The system flags are not modelled: TF, AC, NT and ID in the popped value are "
    "ignored (on hardware TF would trap and AC would enable alignment checks).",
)
insn(
    "enter",
    "imm16, imm8",
    "PUSH(r[5])\nr[5] = r[4]\nr[4] = (r[4] - (A & 0xFFFF)) & 0xFFFFFFFFFFFFFFFF",
    "Make a stack frame: push rbp; mov rbp, rsp; sub rsp, size (nesting level 0 only).",
    implicit="rsp, rbp",
    reject=lambda ops: (
        "enter with a nesting level other than 0 is not supported "
        "(write push rbp; mov rbp, rsp; sub rsp, N)"
        if isinstance(ops[1], Imm) and ops[1].value & 0xFF
        else None
    ),
)
insn(
    "xlatb",
    "",
    "t = (r[3] + (r[0] & 0xFF)) & 0xFFFFFFFFFFFFFFFF\nCHECK(t, 1, 'read')\n"
    "r[0] = (r[0] & ~0xFF) | RB1(m, t)[0]",
    "Table look-up: al = byte [rbx + al].",
    aliases=("xlat",),
    implicit="al, rbx",
)
insn(
    "leave",
    "",
    "r[4] = r[5]\nt = POP()\nr[5] = t",
    "Tear down a stack frame: mov rsp, rbp; pop rbp.",
    implicit="rsp, rbp",
)
insn("nop", "", "pass", "Do nothing.")
for _m, _what in (
    ("pause", "a spin-wait hint"),
    ("lfence", "a load fence"),
    ("sfence", "a store fence"),
    ("mfence", "a memory fence"),
):
    insn(_m, "", "pass", f"Do nothing: {_what}, with one thread and in-order memory here.")

# loop counts rcx down (flags unchanged) and jumps while it is not zero.
_LOOP = "t = (r[1] - 1) & 0xFFFFFFFFFFFFFFFF\nr[1] = t\nJUMP(A if t{cond} else NEXT)"
for _m, _cond, _doc, _read in (
    ("loop", "", "Decrement rcx; jump if rcx != 0.", ""),
    ("loope", " and cc_e(c.fl)", "Decrement rcx; jump if rcx != 0 and ZF = 1.", "Z"),
    ("loopne", " and cc_ne(c.fl)", "Decrement rcx; jump if rcx != 0 and ZF = 0.", "Z"),
):
    insn(
        _m,
        "rel",
        _LOOP.format(cond=_cond),
        _doc + " Flags are unchanged.",
        group="control",
        kind="cond-jump",
        flags_read=_read,
        implicit="rcx",
        aliases={"loope": ("loopz",), "loopne": ("loopnz",)}.get(_m, ()),
    )
insn(
    "jrcxz",
    "rel",
    "JUMP(A if r[1] == 0 else NEXT)",
    "Jump if rcx = 0.",
    group="control",
    kind="cond-jump",
    implicit="rcx",
)
insn(
    "jecxz",
    "rel",
    "JUMP(A if r[1] & 0xFFFFFFFF == 0 else NEXT)",
    "Jump if ecx = 0.",
    group="control",
    kind="cond-jump",
    implicit="ecx",
)
insn(
    "syscall",
    "",
    "c.syscall(NEXT)",
    "Linux system call: number in rax, arguments in rdi, rsi, rdx, r10, r8, r9; result in "
    "rax (-errno on failure). rcx = the next instruction's address, r11 = RFLAGS.",
    group="system",
    kind="syscall",
    implicit="rax, rcx, r11",
)
insn(
    "int",
    "imm8",
    "if A != 0x80:\n"
    "    FAULT('unsupported', 'only int 0x80 (32-bit Linux system calls) is supported')\n"
    "c.syscall(NEXT, 0x80)",
    "Software interrupt; only `int 0x80` is supported: a 32-bit Linux system call (i386 "
    "numbers in eax, arguments in ebx, ecx, edx, esi, edi, ebp; result in eax, sign-extended "
    "into rax; 32-bit pointers). Any other vector stops the program with a fault.",
    group="system",
    kind="syscall",
    implicit="rax, rbx, rcx, rdx, rsi, rdi, rbp",
)
insn(
    "hostcall",
    "",
    "JUMP(c.hostcall(IP))",
    "Built-in routine of the runtime (libm exp/log/expf/logf), reached with call; not "
    "written in source.",
    group="internal",
    kind="hostcall",
)
