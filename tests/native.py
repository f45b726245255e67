"""Differential-testing harness: the same NASM source on the real CPU and in the VM.

The real x86-64 CPU is the oracle. A test writes assembly, builds it with
`nasm -felf64` + `ld` (dynamically against libm when the program calls
exp/log/expf/logf), runs the executable, runs the same source in the VM
(`vm.assemble` + `vm.Machine`) and compares stdout and the exit status byte
for byte.

Register-level tests use a *state dump* the program writes itself (no pushf:
it is not in the subset): the 16 GPRs, five flags (via setcc), the 16 xmm
registers and a scratch memory area, DUMP_SIZE bytes per test case. Many
cases are batched into one program (`Case`, `batch_program`, `run_cases`):
each case loads its initial state from a record in .data (GPRs, xmm, scratch
and two bytes whose 8-bit add/sub gives the initial flags), runs its body,
dumps, and writes the dump with write(1, ...). One nasm + ld run serves the
whole batch.

Things that legitimately differ between native and VM and are therefore never
compared: code and data addresses (the VM gives every instruction 4 bytes of
text, so .data moves), rsp (compared as the distance from its value at
_start), rcx/r11 after syscall, return addresses pushed by call, and
architecturally undefined flags.
"""

from __future__ import annotations

import io
import os
import platform
import random
import shutil
import struct
import subprocess
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

# ---------------------------------------------------------------------------
# toolchain

NASM = shutil.which("nasm")
LD = shutil.which("ld")
GCC = shutil.which("gcc")
DYNAMIC_LINKER = "/lib64/ld-linux-x86-64.so.2"

Source = str | os.PathLike | tuple[str, str]  # a path, or (file name, text)


def have_nasm() -> bool:
    return NASM is not None


def native_skip_reason() -> str | None:
    """Why native tests cannot run here, or None when they can."""
    if NASM is None:
        return "nasm not installed: apt-get install nasm"
    if LD is None:
        return "ld not installed: apt-get install binutils"
    if platform.system() != "Linux" or platform.machine() not in ("x86_64", "AMD64"):
        return f"native runs need x86-64 Linux (this is {platform.system()} {platform.machine()})"
    return None


def require_native() -> None:
    """pytest.skip with a clear reason when nasm/ld or an x86-64 Linux host is missing."""
    import pytest

    reason = native_skip_reason()
    if reason:
        pytest.skip(reason)


class BuildError(AssertionError):
    """nasm or ld rejected a program (the harness or the test wrote bad assembly)."""


def _materialize(sources: Sequence[Source], workdir: Path) -> list[Path]:
    paths = []
    for src in sources:
        if isinstance(src, tuple):
            name, text = src
            p = workdir / name
            p.parent.mkdir(parents=True, exist_ok=True)
            p.write_text(text)
            paths.append(p)
        else:
            paths.append(Path(src))
    return paths


def _run_tool(cmd: list[str], what: str) -> None:
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        raise BuildError(f"{what} failed ({' '.join(cmd)}):\n{proc.stderr}{proc.stdout}")


def build_native(
    sources: Sequence[Source],
    defines: dict[str, object] | None = None,
    libm: bool = False,
    workdir: str | os.PathLike = ".",
    name: str = "prog",
) -> Path:
    """Assemble each source with `nasm -felf64` (+ -dNAME=VAL) and link.

    Without libm: a static `ld` link (no libc; _start is the entry).
    With libm: a non-PIE dynamic link against libm/libc (still entered at
    _start, no C runtime startup; ld.so initialises libc and TLS first)."""
    workdir = Path(workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    objs = []
    for i, path in enumerate(_materialize(sources, workdir)):
        obj = workdir / f"{name}.{i}.{path.stem}.o"
        cmd = [NASM or "nasm", "-felf64", "-w-all", "-I", f"{path.parent}/"]
        cmd += [f"-d{k}={v}" for k, v in (defines or {}).items()]
        cmd += ["-o", str(obj), str(path)]
        _run_tool(cmd, "nasm")
        objs.append(str(obj))
    exe = workdir / name
    if not libm:
        _run_tool([LD or "ld", "-static", "-o", str(exe), *objs], "ld")
    elif os.path.exists(DYNAMIC_LINKER):
        _run_tool(
            [LD or "ld", "-dynamic-linker", DYNAMIC_LINKER, "-o", str(exe), *objs, "-lm", "-lc"],
            "ld",
        )
    else:
        _run_tool([GCC or "gcc", "-nostartfiles", "-no-pie", "-o", str(exe), *objs, "-lm"], "gcc")
    return exe


def run_native(
    exe: str | os.PathLike, cwd: str | os.PathLike | None = None, timeout: float = 120
) -> tuple[bytes, int]:
    """Run a native executable: (stdout bytes, status). The status is the exit
    code, or minus the signal number when a signal killed it (-8 SIGFPE,
    -11 SIGSEGV), as subprocess reports."""
    proc = subprocess.run(
        [str(exe)], cwd=cwd, stdin=subprocess.DEVNULL, capture_output=True, timeout=timeout
    )
    return proc.stdout, proc.returncode


def run_vm(
    sources: Sequence[Source],
    defines: dict[str, object] | None = None,
    root: str | os.PathLike = ".",
    max_steps: int = 200_000_000,
) -> tuple[bytes, int]:
    """Assemble and run in the VM: (stdout bytes, exit status). Faults propagate
    as vm.Fault, assembler errors as vm.AsmError."""
    from vm import Machine, assemble

    srcs = [s if isinstance(s, tuple) else str(s) for s in sources]
    image = assemble(srcs, defines={k: str(v) for k, v in (defines or {}).items()})
    out, err = io.BytesIO(), io.BytesIO()
    m = Machine(image, root=str(root), stdout=out, stderr=err)
    status = m.run(max_steps=max_steps)
    return out.getvalue(), status


def assert_same(
    sources: Sequence[Source],
    workdir: str | os.PathLike,
    defines: dict[str, object] | None = None,
    libm: bool = False,
    root: str | os.PathLike | None = None,
    max_steps: int = 200_000_000,
    decode=None,
) -> tuple[bytes, int]:
    """Build natively and in the VM, run both, assert identical stdout and
    status. decode(stdout) -> str renders outputs in the failure message
    (default: a hex dump of the first differing region). Returns (stdout, status)."""
    exe = build_native(sources, defines, libm, workdir)
    n_out, n_status = run_native(exe, cwd=root or workdir)
    v_out, v_status = run_vm(sources, defines, root or workdir, max_steps)
    if n_out != v_out or n_status != v_status:
        render = decode or hexdiff
        raise AssertionError(
            f"native and VM differ\n  status: native {n_status}, vm {v_status}\n"
            + render(n_out, v_out)
        )
    return n_out, n_status


def hexdiff(a: bytes, b: bytes, context: int = 32) -> str:
    """A short rendering of where two byte strings first differ."""
    if a == b:
        return "  stdout identical"
    i = next((k for k in range(min(len(a), len(b))) if a[k] != b[k]), min(len(a), len(b)))
    lo = max(0, i - context)
    lines = [f"  stdout lengths: native {len(a)}, vm {len(b)}; first difference at byte {i}"]
    for label, s in (("native", a), ("vm    ", b)):
        chunk = s[lo : i + context]
        lines.append(f"  {label} [{lo}:]: {chunk.hex(' ')}")
        lines.append(f"  {label} text : {chunk!r}")
    return "\n".join(lines)


# ---------------------------------------------------------------------------
# registers

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
GPR8H = ("ah", "ch", "dh", "bh")
GPR_BY_SIZE = {64: GPR64, 32: GPR32, 16: GPR16, 8: GPR8}
RSP = 4

# name -> (number, size in bits, high8)
REG_INFO: dict[str, tuple[int, int, bool]] = {}
for _size, _names in GPR_BY_SIZE.items():
    for _n, _name in enumerate(_names):
        REG_INFO[_name] = (_n, _size, False)
for _n, _name in enumerate(GPR8H):
    REG_INFO[_name] = (_n, 8, True)

# registers that cannot appear in an instruction that also uses ah/ch/dh/bh
NEEDS_REX = (
    frozenset(GPR64)
    | {"spl", "bpl", "sil", "dil"}
    | {n for size in (8, 16, 32) for n in GPR_BY_SIZE[size][8:]}
)

FLAG_ORDER = "OCZSP"  # dump byte order (seto, setc, setz, sets, setp)
ALL_FLAGS = "CPZSO"  # the table's spelling
M64 = (1 << 64) - 1

# ---------------------------------------------------------------------------
# dump layout

SCRATCH_SIZE = 128  # bytes of scratch memory every case can use (16-aligned)
DUMP_GPR, DUMP_FLAGS, DUMP_XMM, DUMP_SCRATCH = 0, 128, 136, 392
DUMP_SIZE = DUMP_SCRATCH + SCRATCH_SIZE  # 520 bytes per case
REC_GPR, REC_XMM, REC_SCRATCH, REC_FLAGS = 0, 128, 384, 512
REC_SIZE = 528  # initial-state record in .data


def f32(bits: int) -> float:
    return struct.unpack("<f", struct.pack("<I", bits & 0xFFFFFFFF))[0]


def f64(bits: int) -> float:
    return struct.unpack("<d", struct.pack("<Q", bits & M64))[0]


def fmt_f32(bits: int) -> str:
    bits &= 0xFFFFFFFF
    if (bits >> 23) & 0xFF == 0xFF and bits & 0x7FFFFF:
        kind = "qnan" if bits & 0x400000 else "snan"
        return f"{'-' if bits >> 31 else ''}{kind}:{bits:08x}"
    return f"{f32(bits)!r}"


def fmt_f64(bits: int) -> str:
    bits &= M64
    if (bits >> 52) & 0x7FF == 0x7FF and bits & ((1 << 52) - 1):
        kind = "qnan" if bits & (1 << 51) else "snan"
        return f"{'-' if bits >> 63 else ''}{kind}:{bits:016x}"
    return f"{f64(bits)!r}"


def fmt_xmm(b: bytes) -> str:
    lanes = struct.unpack("<4I", b)
    q = struct.unpack("<2Q", b)
    return (
        f"{q[1]:016x}_{q[0]:016x}  f32[{', '.join(fmt_f32(x) for x in lanes)}]"
        f"  f64[{', '.join(fmt_f64(x) for x in q)}]"
    )


@dataclass
class Dump:
    """One case's state dump as the program wrote it."""

    gprs: list[int]  # rsp slot = rsp - (rsp at _start)
    flags: dict[str, int]  # 'C', 'P', 'Z', 'S', 'O' -> 0/1
    xmm: list[bytes]  # 16 x 16 bytes
    scratch: bytes

    @classmethod
    def parse(cls, b: bytes) -> Dump:
        assert len(b) == DUMP_SIZE, len(b)
        gprs = list(struct.unpack_from("<16Q", b, DUMP_GPR))
        flags = {f: b[DUMP_FLAGS + i] for i, f in enumerate(FLAG_ORDER)}
        xmm = [bytes(b[DUMP_XMM + 16 * i : DUMP_XMM + 16 * i + 16]) for i in range(16)]
        return cls(gprs, flags, xmm, bytes(b[DUMP_SCRATCH : DUMP_SCRATCH + SCRATCH_SIZE]))

    def render(self) -> str:
        lines = []
        for i in range(0, 16, 4):
            lines.append(
                "  "
                + "  ".join(
                    f"{GPR64[j] if j != RSP else 'rsp-rsp0':>8}={self.gprs[j]:016x}"
                    for j in range(i, i + 4)
                )
            )
        lines.append("  flags: " + " ".join(f"{f}F={self.flags[f]}" for f in ALL_FLAGS))
        for i in range(16):
            lines.append(f"  xmm{i:<2} {fmt_xmm(self.xmm[i])}")
        for i in range(0, SCRATCH_SIZE, 32):
            lines.append(f"  scratch+{i:<3} {self.scratch[i : i + 32].hex(' ')}")
        return "\n".join(lines)


def split_dumps(out: bytes) -> list[Dump]:
    if len(out) % DUMP_SIZE:
        raise AssertionError(
            f"output of {len(out)} bytes is not a whole number of {DUMP_SIZE}-byte dumps"
        )
    return [Dump.parse(out[i : i + DUMP_SIZE]) for i in range(0, len(out), DUMP_SIZE)]


# ---------------------------------------------------------------------------
# initial flags: an 8-bit add or sub of two bytes reaches 19 of the 32 states
# (ZF=1 forces SF=0; those are all states real code can produce)


def _flags8(op: str, a: int, b: int) -> str:
    if op == "add":
        r = a + b
        c, r = r >> 8, r & 255
        o = (~(a ^ b) & (a ^ r) & 0x80) != 0
    else:
        r = (a - b) & 255
        c = int(a < b)
        o = ((a ^ b) & (a ^ r) & 0x80) != 0
    bits = {
        "C": c,
        "P": int(bin(r).count("1") % 2 == 0),
        "Z": int(r == 0),
        "S": r >> 7,
        "O": int(o),
    }
    return "".join(f for f in ALL_FLAGS if bits[f])


def _flag_recipes() -> dict[str, tuple[str, int, int]]:
    out: dict[str, tuple[str, int, int]] = {}
    rng = random.Random(1)
    for op in ("sub", "add"):
        pairs = [(a, b) for a in range(256) for b in range(256)]
        rng.shuffle(pairs)
        for a, b in pairs:
            out.setdefault(_flags8(op, a, b), (op, a, b))
    return out


FLAG_RECIPES: dict[str, tuple[str, int, int]] = _flag_recipes()  # "CZ" -> (op, a, b)
FLAG_STATES: tuple[str, ...] = tuple(sorted(FLAG_RECIPES, key=lambda s: (len(s), s)))

# ---------------------------------------------------------------------------
# edge values


def int_edges(bits: int) -> list[int]:
    """Interesting unsigned values of an operand of `bits` bits."""
    m = (1 << bits) - 1
    h = 1 << (bits - 1)
    vals = {
        0,
        1,
        2,
        3,
        7,
        m,
        m - 1,
        h,
        h - 1,
        h + 1,
        0x7F,
        0x80,
        0xFF,
        0x100,
        0x7FFF,
        0x8000,
        0xFFFF,
        0x10000,
        0x7FFFFFFF,
        0x80000000,
        0xFFFFFFFF,
        0x100000000,
        0x5555555555555555,
        0xAAAAAAAAAAAAAAAA,
        0x0123456789ABCDEF,
        0xFEDCBA9876543210,
    }
    return sorted({v & m for v in vals})


def sext(v: int, bits: int) -> int:
    s = 1 << (bits - 1)
    v &= (1 << bits) - 1
    return (v ^ s) - s


F32_EDGES = [
    0x00000000,
    0x80000000,  # +0, -0
    0x3F800000,
    0xBFC00000,  # 1.0, -1.5
    0x40000000,
    0x3F000000,
    0xBF000000,  # 2.0, 0.5, -0.5
    0x3FC00000,
    0x40200000,
    0xC0200000,  # 1.5, 2.5, -2.5
    0x3DCCCCCD,
    0x3EAAAAAB,  # 0.1, 1/3
    0x3F800001,
    0x33800000,
    0x33800001,  # 1 + 2^-23, 2^-24, just above 2^-24
    0x34000000,
    0x4B800000,
    0x4B7FFFFF,  # 2^-23, 2^24, 2^24 - 1
    0x00000001,
    0x80000001,
    0x007FFFFF,  # smallest denormals, largest denormal
    0x00800000,
    0x80800000,  # FLT_MIN
    0x7F7FFFFF,
    0xFF7FFFFF,  # FLT_MAX
    0x7F800000,
    0xFF800000,  # +inf, -inf
    0x7FC00000,
    0xFFC00000,
    0x7FC12345,  # quiet NaNs (with payload)
    0x7F800001,
    0xFFA00005,  # signalling NaNs
    0x4F000000,
    0xCF000000,
    0x4EFFFFFF,  # 2^31, -2^31, largest float below 2^31
    0xCF000001,  # just below -2^31
    0x5F000000,
    0xDF000000,
    0x5EFFFFFF,  # 2^63, -2^63, below 2^63
    0x3EFFFFFF,
    0xBF7FFFFF,
    0x3F7FFFFF,  # 0.49999997, -0.99999994, 0.99999994
    0x42F60000,
    0xC2C80000,
    0x501502F9,  # 123, -100, 1e10
    0x1E3CE508,
    0x7149F2CA,  # 1e-20, 1e30
]

F64_EDGES = [
    0x0000000000000000,
    0x8000000000000000,  # +0, -0
    0x3FF0000000000000,
    0xBFF8000000000000,  # 1.0, -1.5
    0x4000000000000000,
    0x3FE0000000000000,
    0xBFE0000000000000,  # 2, 0.5, -0.5
    0x3FF8000000000000,
    0x4004000000000000,
    0xC004000000000000,  # 1.5, 2.5, -2.5
    0x3FB999999999999A,
    0x3FD5555555555555,  # 0.1, 1/3
    0x3FF0000000000001,
    0x3CA0000000000000,  # 1 + 2^-52, 2^-53
    0x3FF0000010000000,
    0x3FF0000030000000,  # 1 + 2^-24, 1 + 3*2^-24 (float32 ties)
    0x3FF0000010000001,
    0x3FF000000FFFFFFF,  # just above / below the tie
    0x0000000000000001,
    0x8000000000000001,  # smallest denormals
    0x000FFFFFFFFFFFFF,
    0x0010000000000000,  # largest denormal, DBL_MIN
    0x7FEFFFFFFFFFFFFF,
    0xFFEFFFFFFFFFFFFF,  # DBL_MAX
    0x7FF0000000000000,
    0xFFF0000000000000,  # +inf, -inf
    0x7FF8000000000000,
    0xFFF8000000000000,
    0x7FF8000000012345,  # quiet NaNs
    0x7FF0000000000001,
    0xFFF4000000000005,  # signalling NaNs
    0x47EFFFFFE0000000,
    0x47EFFFFFF0000000,  # FLT_MAX, FLT_MAX + half ulp (tie)
    0x47EFFFFFEFFFFFFF,
    0x47F0000000000000,  # just below the tie, 2^128
    0x36A0000000000000,
    0x3690000000000000,  # 2^-149 (smallest float denormal), 2^-150
    0x3698000000000000,
    0x36A8000000000000,  # 1.5 * 2^-150, 1.5 * 2^-149
    0x3810000000000000,
    0x380FFFFFFFFFFFFF,  # FLT_MIN, just below
    0x41DFFFFFFFC00000,
    0x41DFFFFFFFE00000,  # 2^31 - 1, 2^31 - 0.5
    0x41E0000000000000,
    0xC1E0000000000000,  # 2^31, -2^31
    0xC1E0000000100000,
    0xC1E0000000200000,  # -2^31 - 0.5, -2^31 - 1
    0x43E0000000000000,
    0xC3E0000000000000,  # 2^63, -2^63
    0x43DFFFFFFFFFFFFF,
    0xC3E0000000000001,  # below 2^63, below -2^63
    0x3FEFFFFFFFFFFFFF,
    0xBFEFFFFFFFFFFFFF,  # +-0.9999999999999999
    0x405EC00000000000,
    0xC059000000000000,  # 123, -100
    0x7E37E43C8800759C,
    0x01A56E1FC2F8F359,  # 1e300, 1e-300
]


def f32_of(x: float) -> int:
    return struct.unpack("<I", struct.pack("<f", x))[0]


def f64_of(x: float) -> int:
    return struct.unpack("<Q", struct.pack("<d", x))[0]


def random_f32(rng: random.Random) -> int:
    r = rng.random()
    if r < 0.5:
        return rng.choice(F32_EDGES)
    if r < 0.8:
        return f32_of(rng.uniform(-1000, 1000) * 2.0 ** rng.randint(-30, 30))
    if r < 0.9:
        return f32_of(float(rng.randint(-(1 << 40), 1 << 40)))
    return rng.getrandbits(32)


def random_f64(rng: random.Random) -> int:
    r = rng.random()
    if r < 0.5:
        return rng.choice(F64_EDGES)
    if r < 0.7:
        return f64_of(rng.uniform(-1000, 1000) * 2.0 ** rng.randint(-60, 60))
    if r < 0.8:
        # exactly representable in float32 or a float32 tie: exercises narrowing
        return f64_of(f32(random_f32(rng))) ^ (rng.choice((0, 1 << 28, 1)))
    if r < 0.9:
        return f64_of(float(rng.randint(-(1 << 64), 1 << 64)))
    return rng.getrandbits(64)


def random_int(rng: random.Random, bits: int) -> int:
    r = rng.random()
    if r < 0.55:
        return rng.choice(int_edges(bits))
    if r < 0.75:
        return rng.randrange(-300, 300) & ((1 << bits) - 1)
    return rng.getrandbits(bits)


def random_gpr_background(rng: random.Random) -> int:
    """A 64-bit value for a register: upper bits set, so sub-register writes
    that wrongly clear (or fail to clear) them show."""
    r = rng.random()
    if r < 0.7:
        return rng.getrandbits(64)
    if r < 0.85:
        return rng.choice(int_edges(64))
    return sext(rng.choice(int_edges(32)), 32) & M64


# ---------------------------------------------------------------------------
# cases


@dataclass
class State:
    """A case's initial machine state."""

    gprs: list[int]
    xmm: list[bytearray]
    scratch: bytearray
    flags: str = ""  # initial flags (one of FLAG_STATES), e.g. "CZ"

    @classmethod
    def random(cls, rng: random.Random) -> State:
        gprs = [random_gpr_background(rng) for _ in range(16)]
        xmm = []
        for _ in range(16):
            kind = rng.random()
            if kind < 0.4:
                b = struct.pack("<4I", *(random_f32(rng) for _ in range(4)))
            elif kind < 0.8:
                b = struct.pack("<2Q", *(random_f64(rng) for _ in range(2)))
            else:
                b = rng.randbytes(16)
            xmm.append(bytearray(b))
        scratch = bytearray(rng.randbytes(SCRATCH_SIZE))
        return cls(gprs, xmm, scratch, rng.choice(FLAG_STATES))

    # -- writers used by generators --
    def set_reg(self, name: str, value: int) -> None:
        """Write the low bits of a register (ah..bh: bits 8-15), leaving the rest."""
        num, size, high = REG_INFO[name]
        m = (1 << size) - 1
        shift = 8 if high else 0
        old = self.gprs[num]
        self.gprs[num] = (old & ~(m << shift) | ((value & m) << shift)) & M64

    def get_reg(self, name: str) -> int:
        num, size, high = REG_INFO[name]
        return (self.gprs[num] >> (8 if high else 0)) & ((1 << size) - 1)

    def set_mem(self, off: int, value: int, nbytes: int) -> None:
        self.scratch[off : off + nbytes] = (value & ((1 << 8 * nbytes) - 1)).to_bytes(
            nbytes, "little"
        )

    def set_xmm(self, n: int, value: int, nbytes: int = 16, at: int = 0) -> None:
        self.xmm[n][at : at + nbytes] = (value & ((1 << 8 * nbytes) - 1)).to_bytes(nbytes, "little")

    def record(self) -> bytes:
        op, a, b = FLAG_RECIPES[self.flags]
        gprs = list(self.gprs)
        gprs[RSP] = 0
        out = struct.pack("<16Q", *gprs) + b"".join(bytes(x) for x in self.xmm)
        out += bytes(self.scratch) + bytes([a, b]) + bytes(REC_SIZE - REC_FLAGS - 2)
        assert len(out) == REC_SIZE
        return out

    def render(self, regs: Iterable[str] = ()) -> str:
        """The parts of the state a reader needs: the named registers (or all)."""
        regs = list(regs)
        parts = [f"flags in: {self.flags or '-'} ({FLAG_RECIPES[self.flags][0]})"]
        gp = [r for r in regs if r in REG_INFO]
        xm = [r for r in regs if r.startswith("xmm")]
        for r in gp:
            parts.append(f"{r}={self.get_reg(r):#x}")
        out = "  initial: " + "  ".join(parts)
        for r in xm:
            out += f"\n  initial {r}: {fmt_xmm(bytes(self.xmm[int(r[3:])]))}"
        if "scratch" in regs:
            out += f"\n  initial scratch: {bytes(self.scratch[:64]).hex(' ')} ..."
        return out


@dataclass
class Case:
    """One test case: initial state, the code under test, and what to compare.

    body/setup lines may contain `{L}`, replaced by a label prefix unique to the
    case (for local jumps). setup runs after the state is loaded (flags are
    live) and before body; e.g. `lea rbx, [rel scratch]` for base-register
    addressing, with rbx listed in `rebase` so it is dumped as an offset
    from scratch."""

    name: str
    body: list[str]
    state: State
    setup: list[str] = field(default_factory=list)
    flags: str = ALL_FLAGS  # flags compared after the body
    ignore: frozenset[str] = frozenset()  # GPR64 names, 'xmmN' or 'scratch' not compared
    rebase: tuple[str, ...] = ()  # 64-bit registers that hold scratch addresses

    def asm(self) -> str:
        lines = [ln.replace("{L}", "L_") for ln in self.setup + self.body]
        return "\n".join("    " + ln if not ln.endswith(":") else ln for ln in lines)

    def mentioned(self) -> list[str]:
        """Registers (and 'scratch') the body's text names, for failure messages."""
        import re

        text = " ".join(self.setup + self.body)
        words = re.findall(r"[a-z0-9]+", text)
        regs = [
            w
            for w in dict.fromkeys(words)
            if w in REG_INFO or (w.startswith("xmm") and w[3:].isdigit())
        ]
        if "scratch" in text:
            regs.append("scratch")
        return regs


PRELUDE = f"""\
; generated by tests/native.py: batched state-dump cases
global _start
section .data
align 16
scratch: times {SCRATCH_SIZE} db 0
align 16
ob: times {DUMP_SIZE} db 0
align 8
rsp0: dq 0
cur: dq 0
"""

ROUTINES = [
    "load_add:",
    "    mov rax, [rel cur]",
    "    call load_mem",
    f"    mov bl, [rax+{REC_FLAGS}]",
    f"    add bl, [rax+{REC_FLAGS + 1}]",
    "    jmp load_gprs",
    "load_sub:",
    "    mov rax, [rel cur]",
    "    call load_mem",
    f"    mov bl, [rax+{REC_FLAGS}]",
    f"    sub bl, [rax+{REC_FLAGS + 1}]",
    "    jmp load_gprs",
    "load_mem:",
    *[
        ln
        for i in range(0, SCRATCH_SIZE, 8)
        for ln in (f"    mov rbx, [rax+{REC_SCRATCH + i}]", f"    mov [rel scratch+{i}], rbx")
    ],
    *[f"    movups xmm{i}, [rax+{REC_XMM + 16 * i}]" for i in range(16)],
    "    ret",
    "load_gprs:",
    *[f"    mov {GPR64[i]}, [rax+{8 * i}]" for i in range(1, 16) if i != RSP],
    "    mov rax, [rax]",
    "    ret",
    "dump_all:",
    *[f"    mov [rel ob+{8 * i}], {GPR64[i]}" for i in range(16) if i != RSP],
    *[f"    set{f.lower()} byte [rel ob+{DUMP_FLAGS + i}]" for i, f in enumerate(FLAG_ORDER)],
    *[f"    movups [rel ob+{DUMP_XMM + 16 * i}], xmm{i}" for i in range(16)],
    "    lea rax, [rsp+8]",
    "    sub rax, [rel rsp0]",
    f"    mov [rel ob+{8 * RSP}], rax",
    *[
        ln
        for i in range(0, SCRATCH_SIZE, 8)
        for ln in (f"    mov rax, [rel scratch+{i}]", f"    mov [rel ob+{DUMP_SCRATCH + i}], rax")
    ],
    "    ret",
    "emit:",
    "    mov eax, 1",
    "    mov edi, 1",
    "    lea rsi, [rel ob]",
    f"    mov edx, {DUMP_SIZE}",
    "    syscall",
    "    ret",
]


def _dq_lines(data: bytes) -> list[str]:
    qs = struct.unpack(f"<{len(data) // 8}Q", data)
    return [f"    dq {', '.join(hex(q) for q in qs[i : i + 8])}" for i in range(0, len(qs), 8)]


def batch_program(cases: Sequence[Case]) -> str:
    """One NASM program running every case in order and writing one dump each."""
    data, text = [PRELUDE], ["section .text", "_start:", "    mov [rel rsp0], rsp"]
    for k, case in enumerate(cases):
        data.append("align 16")
        data.append(f"rec{k}:")
        data.extend(_dq_lines(case.state.record()))
        op = FLAG_RECIPES[case.state.flags][0]
        text.append(f"case{k}:   ; {case.name}")
        text += [
            "    mov rsp, [rel rsp0]",
            f"    lea rax, [rel rec{k}]",
            "    mov [rel cur], rax",
            f"    call load_{op}",
        ]
        for ln in case.setup + case.body:
            ln = ln.replace("{L}", f"c{k}_")
            text.append(ln if ln.endswith(":") else "    " + ln)
        text.append("    call dump_all")
        for r in case.rebase:
            text += ["    lea rax, [rel scratch]", f"    sub [rel ob+{8 * GPR64.index(r)}], rax"]
        text.append("    call emit")
    text += ["    mov eax, 60", "    xor edi, edi", "    syscall", *ROUTINES]
    return "\n".join(data + text) + "\n"


def compare_case(case: Case, native: Dump, vm: Dump) -> list[str]:
    """The differences that matter for this case, as readable lines."""
    diffs = []
    for i, name in enumerate(GPR64):
        if name in case.ignore:
            continue
        a, b = native.gprs[i], vm.gprs[i]
        if a != b:
            label = "rsp-rsp0" if i == RSP else name
            diffs.append(
                f"  {label:<8} native {a:#018x}  vm {b:#018x}  "
                f"(signed {sext(a, 64)} vs {sext(b, 64)})"
            )
    for f in case.flags:
        if native.flags[f] != vm.flags[f]:
            diffs.append(f"  {f}F       native {native.flags[f]}  vm {vm.flags[f]}")
    for i in range(16):
        if f"xmm{i}" in case.ignore:
            continue
        if native.xmm[i] != vm.xmm[i]:
            diffs.append(
                f"  xmm{i:<5} native {fmt_xmm(native.xmm[i])}\n"
                f"           vm     {fmt_xmm(vm.xmm[i])}"
            )
    if "scratch" not in case.ignore and native.scratch != vm.scratch:
        for i in range(0, SCRATCH_SIZE, 8):
            a, b = native.scratch[i : i + 8], vm.scratch[i : i + 8]
            if a != b:
                diffs.append(f"  scratch+{i:<3} native {a.hex(' ')}  vm {b.hex(' ')}")
    return diffs


def describe_failure(case: Case, diffs: list[str], native: Dump | None = None) -> str:
    out = [
        f"case {case.name}:",
        case.asm(),
        case.state.render(case.mentioned()),
        f"  compared flags: {case.flags or '-'}",
        *diffs,
    ]
    if native is not None:
        out += ["  native dump:", native.render()]
    return "\n".join(out)


@dataclass
class BatchResult:
    cases: list[Case]
    native: list[Dump]
    vm: list[Dump] | None  # None when the VM raised
    vm_error: BaseException | None = None

    def failures(self) -> list[tuple[Case, list[str]]]:
        out = []
        if self.vm is None:
            return out
        for case, n, v in zip(self.cases, self.native, self.vm):
            d = compare_case(case, n, v)
            if d:
                out.append((case, d))
        return out

    def report(self, limit: int = 8) -> str:
        fails = self.failures()
        parts = [f"{len(fails)} of {len(self.cases)} cases differ between native and VM"]
        for (case, d), _ in zip(fails, range(limit)):
            parts.append(describe_failure(case, d))
        if len(fails) > limit:
            parts.append(
                f"... and {len(fails) - limit} more: "
                + ", ".join(c.name for c, _ in fails[limit : limit + 40])
            )
        return "\n\n".join(parts)


def run_native_cases(
    cases: Sequence[Case], workdir: str | os.PathLike, name: str = "cases"
) -> list[Dump]:
    src = batch_program(cases)
    workdir = Path(workdir)
    exe = build_native([(f"{name}.asm", src)], workdir=workdir, name=name)
    out, status = run_native(exe, cwd=workdir)
    if status != 0:
        raise AssertionError(f"native batch {name} exited with status {status}")
    dumps = split_dumps(out)
    assert len(dumps) == len(cases), (len(dumps), len(cases))
    return dumps


def run_vm_cases(
    cases: Sequence[Case], workdir: str | os.PathLike, name: str = "cases"
) -> list[Dump]:
    src = batch_program(cases)
    out, status = run_vm([(f"{name}.asm", src)], root=workdir)
    dumps = split_dumps(out)
    if status != 0 or len(dumps) != len(cases):
        raise AssertionError(
            f"VM batch {name}: status {status}, {len(dumps)} of {len(cases)} dumps"
        )
    return dumps


def run_cases(
    cases: Sequence[Case], workdir: str | os.PathLike, name: str = "cases"
) -> BatchResult:
    """Run a batch natively and in the VM. A VM exception (AsmError, Fault) is
    recorded in the result, with the case it happened in when possible."""
    cases = list(cases)
    native = run_native_cases(cases, workdir, name)
    try:
        vm = run_vm_cases(cases, workdir, name)
    except Exception as e:  # noqa: BLE001 - reported by the caller with context
        return BatchResult(cases, native, None, e)
    return BatchResult(cases, native, vm)


def vm_error_context(res: BatchResult) -> str:
    """Say which case a VM exception belongs to (from the fault's source line)."""
    e = res.vm_error
    loc = getattr(e, "loc", None)
    msg = f"{type(e).__name__}: {e}"
    if not hasattr(e, "kind") and e.__traceback__ is not None:  # not a Fault: a VM bug
        import traceback

        msg += "\n" + "".join(traceback.format_tb(e.__traceback__)[-4:])
    if loc is not None and getattr(loc, "line", None):
        src = batch_program(res.cases).splitlines()
        k = None
        for i in range(min(loc.line, len(src)) - 1, -1, -1):
            if src[i].startswith("case") and ":" in src[i]:
                k = int(src[i][4 : src[i].index(":")])
                break
        if k is not None:
            msg += f"\n  in case {res.cases[k].name}:\n{res.cases[k].asm()}"
    return msg


def assert_batch(res: BatchResult) -> None:
    if res.vm_error is not None:
        raise AssertionError("the VM failed on the batch: " + vm_error_context(res))
    fails = res.failures()
    if fails:
        raise AssertionError(res.report())


# ---------------------------------------------------------------------------
# operands: turning a form's tokens (r/m32, xmm/m128, imm8 ...) into concrete
# operands of a case, with the values placed in its initial state

SIZE_KW = {1: "byte", 2: "word", 4: "dword", 8: "qword"}
LEGACY_REGS = {  # usable together with ah/ch/dh/bh (no REX prefix)
    8: ("al", "cl", "dl", "bl", "ah", "ch", "dh", "bh"),
    16: ("ax", "cx", "dx", "bx", "bp", "si", "di"),
    32: ("eax", "ecx", "edx", "ebx", "ebp", "esi", "edi"),
}


def imm_range(token_bits: int, first_bits: int | None, shift: bool = False) -> tuple[int, int]:
    """The values NASM and the VM both accept for an immediate token (inclusive)."""
    if shift:
        return 0, 255
    if token_bits == 64:
        return -(1 << 63), (1 << 64) - 1
    if token_bits == 32 and first_bits == 64:
        return -(1 << 31), (1 << 31) - 1  # sign-extended imm32
    return -(1 << (token_bits - 1)), (1 << token_bits) - 1


def imm_text(v: int) -> str:
    return str(v) if v < 0 else hex(v)


@dataclass
class Op:
    """A concrete operand: its text, what it is, and where its value lives."""

    text: str
    kind: str  # 'gpr' | 'xmm' | 'mem' | 'imm'
    size: int  # bits (memory: access size; xmm: 128)
    name: str | None = None  # register name
    off: int | None = None  # scratch offset of a memory operand
    value: int | None = None  # immediate value


class Builder:
    """Picks registers, memory operands and immediates for one case.

    Registers are chosen from all GPRs except rsp (and `reserved` ones, e.g.
    implicit operands or a fixed base register); `legacy` restricts choices to
    registers encodable together with ah/ch/dh/bh. Memory operands address the
    scratch area with [rel scratch+d], or through a base (and index) register
    set up with lea and dumped relative to scratch."""

    def __init__(
        self,
        rng: random.Random,
        state: State | None = None,
        legacy: bool = False,
        reserved: Iterable[int] = (),
        base_reg: str | None = None,
        index_prob: float = 0.25,
        same_prob: float = 0.15,
        no_base: Iterable[int] = (),
    ):
        self.rng = rng
        self.no_base = set(no_base)  # implicit operands: never an address base
        self.state = state if state is not None else State.random(rng)
        self.legacy = legacy
        self.reserved = set(reserved) | {RSP}
        self.base_reg = base_reg  # fixed scratch base (random tests)
        if base_reg:
            self.reserved.add(REG_INFO[base_reg][0])
        self.index_prob = 0.0 if legacy else index_prob
        self.same_prob = same_prob
        self.used: list[str] = []
        self.setup: list[str] = []
        self.rebase: list[str] = []

    # -- registers --
    def gpr(self, bits: int, avoid: Iterable[int] = (), allow_same: bool = True) -> Op:
        rng = self.rng
        if self.legacy and bits in LEGACY_REGS:
            names = list(LEGACY_REGS[bits])
        else:
            names = [n for n in GPR_BY_SIZE[bits]]
        avoid = set(avoid)
        names = [n for n in names if REG_INFO[n][0] not in self.reserved | avoid]
        same = [
            n
            for n in names
            if any(REG_INFO[n][0] == REG_INFO[u][0] for u in self.used if u in REG_INFO)
        ]
        fresh = [n for n in names if n not in same]
        if allow_same and same and (rng.random() < self.same_prob or not fresh):
            name = rng.choice(same)
        else:
            name = rng.choice(fresh or names)
        self.used.append(name)
        return Op(name, "gpr", bits, name=name)

    def xmm(self) -> Op:
        used = [u for u in self.used if u.startswith("xmm")]
        if used and self.rng.random() < self.same_prob:
            name = self.rng.choice(used)
        else:
            name = f"xmm{self.rng.randrange(16)}"
        self.used.append(name)
        return Op(name, "xmm", 128, name=name)

    def _free_gpr64(self) -> str:
        taken = self.reserved | self.no_base | {REG_INFO[u][0] for u in self.used if u in REG_INFO}
        name = self.rng.choice([GPR64[i] for i in range(16) if i not in taken])
        self.reserved.add(GPR64.index(name))
        return name

    # -- memory --
    def mem(self, bits: int, align: int = 0, off: int | None = None) -> Op:
        rng = self.rng
        nbytes = bits // 8
        if off is None:
            step = align or (8 if rng.random() < 0.5 else 1)
            off = rng.randrange(0, SCRATCH_SIZE - nbytes + 1, step)
        kw = SIZE_KW.get(nbytes, "")
        kw = kw + " " if kw else ""
        if self.base_reg:
            if rng.random() < 0.5:
                text = f"{kw}[{self.base_reg}+{off}]"
            else:
                text = f"{kw}[rel scratch+{off}]"
        elif not self.legacy and rng.random() < self.index_prob:
            base = self._free_gpr64()
            bo = rng.choice((0, 64, SCRATCH_SIZE))
            self.setup.append(f"lea {base}, [rel scratch+{bo}]")
            self.rebase.append(base)
            disp = off - bo
            if rng.random() < 0.5:
                idx = self._free_gpr64()
                scale = rng.choice((1, 2, 4, 8))
                k = rng.randint(-4, 4)
                self.state.gprs[GPR64.index(idx)] = k & M64
                disp -= k * scale
                inner = f"{base}+{idx}*{scale}"
            else:
                inner = base
            if disp:
                inner += f"{'-' if disp < 0 else '+'}{abs(disp)}"
            text = f"{kw}[{inner}]"
        else:
            text = f"{kw}[rel scratch+{off}]"
        return Op(text, "mem", bits, off=off)

    # -- immediates --
    def imm(
        self, bits: int, first_bits: int | None, value: int | None = None, shift: bool = False
    ) -> Op:
        lo, hi = imm_range(bits, first_bits, shift)
        if value is None:
            cands = [v for v in int_edges(min(bits, 64)) for v in (v, sext(v, min(bits, 64)))]
            cands += [self.rng.randint(lo, hi), self.rng.randint(-200, 200)]
            value = self.rng.choice([v for v in cands if lo <= v <= hi])
        assert lo <= value <= hi, (value, bits)
        return Op(imm_text(value), "imm", bits, value=value)

    # -- generic --
    def operand(
        self, token: str, first_bits: int | None, align: int = 0, mem_prob: float = 0.4
    ) -> Op:
        import re

        m = re.fullmatch(r"(r/m|r|m|imm|xmm/m|xmm|cl)(\d*)", token)
        if not m:
            raise KeyError(token)
        base, bits = m.group(1), int(m.group(2) or 0)
        if base == "r":
            return self.gpr(bits)
        if base == "r/m":
            return self.mem(bits) if self.rng.random() < mem_prob else self.gpr(bits)
        if base == "m" and bits:
            return self.mem(bits, align if bits == 128 else 0)
        if base == "imm":
            return self.imm(bits, first_bits)
        if base == "xmm":
            return self.xmm()
        if base == "xmm/m":
            return (
                self.mem(bits, align if bits == 128 else 0)
                if self.rng.random() < mem_prob
                else self.xmm()
            )
        if base == "cl":
            self.reserved.add(1)
            return Op("cl", "gpr", 8, name="cl")
        raise KeyError(token)

    def put(self, op: Op, value: int, nbytes: int | None = None, at: int = 0) -> None:
        """Store value in the operand's register or memory (at = byte offset,
        for xmm lanes and memory lanes)."""
        if op.kind == "gpr":
            self.state.set_reg(op.name, value)
        elif op.kind == "xmm":
            self.state.set_xmm(int(op.name[3:]), value, nbytes or 16, at)
        elif op.kind == "mem":
            n = nbytes or op.size // 8
            self.state.set_mem(op.off + at, value, n)
        else:
            raise ValueError(f"cannot store into {op.kind} operand {op.text}")

    def case(
        self, name: str, body: list[str], flags: str = ALL_FLAGS, ignore: Iterable[str] = ()
    ) -> Case:
        return Case(
            name, body, self.state, list(self.setup), flags, frozenset(ignore), tuple(self.rebase)
        )
