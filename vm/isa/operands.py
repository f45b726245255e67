"""Operands of assembled instructions, and the register file's names.

An assembled instruction carries fully resolved operands: every label and
expression has been evaluated by the assembler, so the executor only sees
registers, integers and effective-address recipes.
"""

from __future__ import annotations

from dataclasses import dataclass

# General-purpose registers in hardware encoding order.
GPR64 = (
    "rax",
    "rcx",
    "rdx",
    "rbx",
    "rsp",
    "rbp",
    "rsi",
    "rdi",
    "r8",
    "r9",
    "r10",
    "r11",
    "r12",
    "r13",
    "r14",
    "r15",
)
GPR_NUM = {name: num for num, name in enumerate(GPR64)}  # rax -> 0 ... r15 -> 15
GPR32 = (
    "eax",
    "ecx",
    "edx",
    "ebx",
    "esp",
    "ebp",
    "esi",
    "edi",
    "r8d",
    "r9d",
    "r10d",
    "r11d",
    "r12d",
    "r13d",
    "r14d",
    "r15d",
)
GPR16 = (
    "ax",
    "cx",
    "dx",
    "bx",
    "sp",
    "bp",
    "si",
    "di",
    "r8w",
    "r9w",
    "r10w",
    "r11w",
    "r12w",
    "r13w",
    "r14w",
    "r15w",
)
GPR8 = (
    "al",
    "cl",
    "dl",
    "bl",
    "spl",
    "bpl",
    "sil",
    "dil",
    "r8b",
    "r9b",
    "r10b",
    "r11b",
    "r12b",
    "r13b",
    "r14b",
    "r15b",
)
GPR8H = ("ah", "ch", "dh", "bh")  # bits 8..15 of rax, rcx, rdx, rbx
XMM = tuple(f"xmm{i}" for i in range(16))
# AVX / AVX-512 views of the 32 vector registers: xmmN is bits 0-127 of zmmN,
# ymmN bits 0-255. Registers 16-31 are reachable by EVEX (AVX-512) forms only.
VEC_NAMES = {128: "xmm", 256: "ymm", 512: "zmm"}
VREGS = 32
VEC_BYTES = VREGS * 64  # machine.xb


RAX, RCX, RDX, RBX, RSP, RBP, RSI, RDI = range(8)
R8, R9, R10, R11, R12, R13, R14, R15 = range(8, 16)

SIZE_NAMES = {
    8: "byte",
    16: "word",
    32: "dword",
    64: "qword",
    128: "oword",
    256: "yword",
    512: "zword",
}
SIZE_KEYWORDS = {
    "byte": 8,
    "word": 16,
    "dword": 32,
    "qword": 64,
    "oword": 128,
    "xmmword": 128,
    "yword": 256,
    "ymmword": 256,
    "zword": 512,
    "zmmword": 512,
}


def vec_offset(num: int, byte: int) -> int:
    """Where byte `byte` (0-63) of vector register `num` lives in machine.xb.

    The file is stored in 128-bit slices, slice-major: bytes 0-511 hold bits
    0-127 of registers 0-31, bytes 512-1023 bits 128-255, and so on. So the
    first 256 bytes are xmm0-15 exactly as a machine without AVX stored them
    (older saved states are a prefix), and xmm0-15 stay at 16 * N."""
    return 512 * (byte >> 4) + 16 * num + (byte & 15)


def vec_index(num: int, lane: int, width: int) -> int:
    """Index of lane `lane` of a `width`-byte element view (xf, xd, xi, xq) of
    register `num` (a lane never straddles a 128-bit slice)."""
    return vec_offset(num, lane * width) // width


def vec_read(xb, num: int, nbytes: int) -> bytes:
    """The low nbytes (16, 32 or 64) of vector register num, in memory order."""
    return b"".join(
        bytes(xb[vec_offset(num, o) : vec_offset(num, o) + 16]) for o in range(0, nbytes, 16)
    )


def vec_write(xb, num: int, data: bytes) -> None:
    """Set the low len(data) bytes (a multiple of 16) of vector register num."""
    for o in range(0, len(data), 16):
        xb[vec_offset(num, o) : vec_offset(num, o) + 16] = data[o : o + 16]


@dataclass(frozen=True, slots=True)
class Reg:
    """A register operand. kind is 'gpr' or 'xmm' (any vector register: xmm,
    ymm or zmm by size 128/256/512); num is the hardware number; size is in
    bits; high8 marks ah/ch/dh/bh (bits 8..15 of register num)."""

    name: str
    kind: str
    num: int
    size: int
    high8: bool = False

    def __str__(self) -> str:
        return self.name


@dataclass(frozen=True, slots=True)
class Imm:
    """An immediate (already evaluated; may be negative as written)."""

    value: int
    label: str | None = None  # the symbol it came from, for listings
    size: int | None = None  # a size keyword written before it (`push word 5`)

    def __str__(self) -> str:
        if self.label:
            return self.label
        return hex(self.value) if abs(self.value) > 9 else str(self.value)


@dataclass(frozen=True, slots=True)
class Mem:
    """A memory operand: address = base + index*scale + disp (mod 2**64).

    size is the access size in bits, or None when the source did not say and
    the instruction form decides. rip_rel records `[rel x]` for listings: the
    displacement already holds the absolute address of x."""

    base: Reg | None = None
    index: Reg | None = None
    scale: int = 1
    disp: int = 0
    size: int | None = None
    rip_rel: bool = False
    text: str | None = None  # source spelling, for listings

    def with_size(self, size: int) -> Mem:
        return Mem(self.base, self.index, self.scale, self.disp, size, self.rip_rel, self.text)

    def __str__(self) -> str:
        if self.text:
            inner = self.text
        else:
            parts = []
            if self.rip_rel:
                parts.append("rel ")
            if self.base:
                parts.append(self.base.name)
            if self.index:
                parts.append(("+" if parts else "") + f"{self.index.name}*{self.scale}")
            if self.disp or not parts:
                d = self.disp
                if parts:
                    parts.append(f"{'-' if d < 0 else '+'}{hex(abs(d))}")
                else:
                    parts.append(hex(d))
            inner = "".join(parts)
        prefix = f"{SIZE_NAMES[self.size]} " if self.size else ""
        return f"{prefix}[{inner}]"


Operand = Reg | Imm | Mem


def _build_registers() -> dict[str, Reg]:
    regs: dict[str, Reg] = {}
    for size, names in ((64, GPR64), (32, GPR32), (16, GPR16), (8, GPR8)):
        for num, name in enumerate(names):
            regs[name] = Reg(name, "gpr", num, size)
    for num, name in enumerate(GPR8H):
        regs[name] = Reg(name, "gpr", num, 8, high8=True)
    for size, prefix in VEC_NAMES.items():
        for num in range(VREGS):
            regs[f"{prefix}{num}"] = Reg(f"{prefix}{num}", "xmm", num, size)
    return regs


REGISTERS: dict[str, Reg] = _build_registers()


def register(name: str) -> Reg | None:
    """The register called name (case-insensitive), or None."""
    return REGISTERS.get(name.lower())
