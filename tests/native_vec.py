"""Differential harness for vector code: the whole zmm0-31 file, native vs VM.

tests/native.py dumps xmm0-15 (the SSE view). AVX and AVX-512 instructions
write ymm/zmm registers and zero bits above their destination, so their
cases use this batch instead: each case loads all 32 zmm registers (on a
host without AVX-512F: ymm0-15) and a 256-byte, 64-aligned scratch area from
a record, runs its body with rbx holding the scratch address, and writes the
registers and the scratch back out (2304 bytes per case). One nasm + ld build
runs every case of a batch; the VM runs the same source.
"""

from __future__ import annotations

import functools
import random
import struct
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from native import (
    F32_EDGES,
    F64_EDGES,
    build_native,
    fmt_f32,
    fmt_f64,
    random_f32,
    random_f64,
    run_native,
    run_vm,
)

SCRATCH = 256
SIZE_WORD = {32: "dword", 64: "qword", 128: "oword", 256: "yword", 512: "zword"}
REGS_BYTES = 32 * 64
REC = REGS_BYTES + SCRATCH  # record and dump size


@functools.cache
def cpu_flags() -> frozenset[str]:
    """The host CPU's feature flags (/proc/cpuinfo), empty if unknown."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("flags"):
                return frozenset(line.split(":", 1)[1].split())
    except OSError:
        pass
    return frozenset()


def missing_feature(*flags: str) -> str | None:
    """Why a native run of code needing `flags` cannot happen here, or None."""
    lacking = [f for f in flags if f not in cpu_flags()]
    if lacking:
        return f"host CPU lacks {', '.join(lacking)} (/proc/cpuinfo flags)"
    return None


def full_width() -> bool:
    """Whether cases load and dump all of zmm0-31 (else ymm0-15)."""
    return "avx512f" in cpu_flags()


@dataclass
class VecCase:
    name: str
    body: list[str]
    regs: list[bytearray]  # 32 x 64 bytes
    scratch: bytearray
    feature: str = "avx"

    @classmethod
    def random(cls, name: str, body: list[str], rng: random.Random, kind: str = "f32") -> VecCase:
        regs = [bytearray(lanes(rng, kind, 64)) for _ in range(32)]
        return cls(name, body, regs, bytearray(lanes(rng, kind, SCRATCH)))

    def record(self) -> bytes:
        return b"".join(bytes(r) for r in self.regs) + bytes(self.scratch)


def lanes(rng: random.Random, kind: str, nbytes: int) -> bytes:
    """nbytes of float lanes (f32 or f64: edge cases and random values)."""
    if kind == "f64":
        return struct.pack(f"<{nbytes // 8}Q", *(random_f64(rng) for _ in range(nbytes // 8)))
    return struct.pack(f"<{nbytes // 4}I", *(random_f32(rng) for _ in range(nbytes // 4)))


def edge_lanes(rng: random.Random, kind: str, nbytes: int) -> bytes:
    """Lanes drawn from the edge lists only (NaNs, infinities, zeros, denormals ...)."""
    if kind == "f64":
        return struct.pack(f"<{nbytes // 8}Q", *(rng.choice(F64_EDGES) for _ in range(nbytes // 8)))
    return struct.pack(f"<{nbytes // 4}I", *(rng.choice(F32_EDGES) for _ in range(nbytes // 4)))


def _program(cases: Sequence[VecCase]) -> str:
    wide = full_width()
    n, reg, step = (32, "zmm", 64) if wide else (16, "ymm", 32)
    data = [
        "global _start",
        "section .data",
        "align 64",
        f"scratch: times {SCRATCH} db 0",
        "align 64",
        f"ob: times {REC} db 0",
    ]
    text = ["section .text", "_start:"]
    for k, case in enumerate(cases):
        data += ["align 64", f"rec{k}:"]
        qs = struct.unpack(f"<{REC // 8}Q", case.record())
        data += [f"    dq {', '.join(hex(q) for q in qs[i : i + 8])}" for i in range(0, len(qs), 8)]
        text += [f"case{k}:  ; {case.name}", f"    lea rax, [rel rec{k}]", "    call vload"]
        text += ["    lea rbx, [rel scratch]"]
        text += [f"    {ln}" for ln in case.body]
        text += ["    call vdump", "    call emit"]
    text += ["    mov eax, 60", "    xor edi, edi", "    syscall"]
    text.append("vload:")
    for i in range(0, SCRATCH, step):
        text += [
            f"    vmovups {reg}0, [rax+{REGS_BYTES + i}]",
            f"    vmovups [rel scratch+{i}], {reg}0",
        ]
    text += [f"    vmovups {reg}{i}, [rax+{64 * i}]" for i in range(n)]
    text += ["    ret", "vdump:"]
    text += [f"    vmovups [rel ob+{64 * i}], {reg}{i}" for i in range(n)]
    for i in range(0, SCRATCH, step):
        text += [
            f"    vmovups {reg}0, [rel scratch+{i}]",
            f"    vmovups [rel ob+{REGS_BYTES + i}], {reg}0",
        ]
    text += ["    ret", "emit:", "    mov eax, 1", "    mov edi, 1", "    lea rsi, [rel ob]"]
    text += [f"    mov edx, {REC}", "    syscall", "    ret"]
    return "\n".join(data + text) + "\n"


def _split(out: bytes, count: int, who: str) -> list[bytes]:
    if len(out) != count * REC:
        raise AssertionError(f"{who}: {len(out)} bytes of output, expected {count} x {REC}")
    return [out[i * REC : (i + 1) * REC] for i in range(count)]


def _lane_text(b: bytes, kind: str) -> str:
    if kind == "f64":
        return ", ".join(fmt_f64(q) for q in struct.unpack(f"<{len(b) // 8}Q", b))
    return ", ".join(fmt_f32(x) for x in struct.unpack(f"<{len(b) // 4}I", b))


def _diffs(case: VecCase, native: bytes, vm: bytes, kind: str) -> list[str]:
    out = []
    width = 64 if full_width() else 32
    for r in range(32 if width == 64 else 16):
        a, b = native[64 * r : 64 * r + width], vm[64 * r : 64 * r + width]
        if a != b:
            out.append(
                f"  zmm{r}\n    initial {_lane_text(bytes(case.regs[r][:width]), kind)}\n"
                f"    native  {_lane_text(a, kind)}\n    vm      {_lane_text(b, kind)}"
            )
    a, b = native[REGS_BYTES:], vm[REGS_BYTES:]
    if a != b:
        out.append(f"  scratch\n    native {a.hex(' ')}\n    vm     {b.hex(' ')}")
    return out


def run_vec_cases(
    cases: Sequence[VecCase], workdir, name: str = "vec", kind: str = "f32"
) -> list[str]:
    """Run a batch natively and in the VM; the readable differences (empty: identical)."""
    src = [(f"{name}.asm", _program(cases))]
    exe = build_native(src, workdir=workdir, name=name)
    n_out, status = run_native(exe, cwd=workdir)
    assert status == 0, f"native batch {name} exited with status {status}"
    v_out, v_status = run_vm(src, root=workdir)
    assert v_status == 0, f"VM batch {name} exited with status {v_status}"
    native = _split(n_out, len(cases), "native")
    vm = _split(v_out, len(cases), "vm")
    report = []
    for case, a, b in zip(cases, native, vm):
        d = _diffs(case, a, b, kind)
        if d:
            report.append(f"case {case.name}: {' / '.join(case.body)}\n" + "\n".join(d))
    return report


class Operands:
    """Concrete operand texts for one case, and where their lanes live."""

    def __init__(self, d, form, rng: random.Random, i: int):
        self.rng, self.d, self.form = rng, d, form
        self.texts: list[str] = []
        self.where: list[tuple[str, int]] = []  # ('reg', n) / ('mem', offset) / ('imm', v)
        evex = form.evex
        mem_taken = False
        for j, t in enumerate(form.types):
            if "imm" in t.kinds:
                v = (0, 1, 0x1B, 0xE4, 0xFF, 0x4E, 0x88, 0x31)[i] if i < 8 else rng.randrange(256)
                self.texts.append(str(v))
                self.where.append(("imm", v))
                continue
            use_mem = "mem" in t.kinds and (not t.kinds & {"xmm"} or rng.random() < 0.45)
            if use_mem and not mem_taken:
                mem_taken = True
                nbytes = t.size // 8
                if d.align:
                    off = rng.randrange(0, SCRATCH - nbytes + 1, nbytes)
                else:
                    off = rng.randrange(0, SCRATCH - nbytes + 1, 4)
                self.texts.append(f"{SIZE_WORD[t.size]} [rbx+{off}]")
                self.where.append(("mem", off))
                continue
            top = 32 if evex else 16
            if j > 0 and rng.random() < 0.15:  # sometimes an operand repeats
                prev = [w[1] for w in self.where if w[0] == "reg"]
                n = rng.choice(prev) if prev else rng.randrange(top)
            else:
                n = rng.randrange(top)
            prefix = {128: "xmm", 256: "ymm", 512: "zmm"}[t.vsize]
            self.texts.append(f"{prefix}{n}")
            self.where.append(("reg", n))

    def put(self, case: VecCase, j: int, lane: int, width: int, bits: int) -> None:
        kind, at = self.where[j]
        data = bits.to_bytes(width, "little")
        if kind == "reg":
            case.regs[at][lane * width : lane * width + width] = data
        elif kind == "mem":
            case.scratch[at + lane * width : at + lane * width + width] = data


def random_sequence(
    pool: Sequence[tuple[object, object]], rng: random.Random, name: str, length: int
) -> VecCase:
    """A case running `length` random (definition, form) pairs from pool on
    random vector registers and scratch memory (NaN/inf/denormal lanes included)."""
    body = []
    for _ in range(length):
        d, form = rng.choice(pool)
        body.append(f"{d.mnemonic} {', '.join(Operands(d, form, rng, 99).texts)}".strip())
    case = VecCase.random(name, body, rng)
    for r in rng.sample(range(32), 8):
        case.regs[r][:] = edge_lanes(rng, rng.choice(("f32", "f64")), 64)
    return case
