"""Architecturally undefined flags, native CPU vs VM.

SF/ZF/PF after mul/imul and OF after shl/shr/sar by more than one bit are
undefined, but a program doing `setz al` after `mul` prints what its CPU does.
The VM follows the rule measured on Intel (vm/isa/helpers.py,
UNDEFINED_FLAGS); these tests compare it with the host CPU, flag by flag, on
many operand values. They need an Intel host: AMD's rule is not modelled.
"""

from __future__ import annotations

import io
import random
import subprocess

import pytest
from native import build_native, require_native

from vm import Machine, assemble
from vm.isa import helpers as H

REGS = {8: ("al", "bl"), 16: ("ax", "bx"), 32: ("eax", "ebx"), 64: ("rax", "rbx")}
FLAGS = ("s", "z", "p", "o", "c")


def host_vendor() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("vendor_id"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return "unknown"


def _cases(seed: int, n: int) -> list[str]:
    rng = random.Random(seed)
    out = []
    for _ in range(n):
        bits = rng.choice((8, 16, 32, 64))
        m = (1 << bits) - 1
        edges = [0, 1, 2, m, m - 1, 1 << (bits - 1), m >> 1, 0x80, 0x100]
        a, b = (rng.choice(edges + [rng.getrandbits(bits)] * 3) & m for _ in range(2))
        ra, rb = REGS[bits]
        op = rng.choice(("mul", "imul1", "imul2", "imul3", "shl", "shr", "sar"))
        if op in ("imul2", "imul3") and bits == 8:
            bits, (ra, rb) = 16, REGS[16]
        init = rng.choice(("xor edx, edx", "mov dl, 0x7f\n    add dl, 1"))
        body = {
            "mul": f"mul {rb}",
            "imul1": f"imul {rb}",
            "imul2": f"imul {ra}, {rb}",
            "imul3": f"imul {ra}, {rb}, {rng.choice((-1, 3, 100, -128, 0x7FFF))}",
        }.get(op, f"{op} {ra}, cl")
        out.append(
            f"    mov rax, {a}\n    mov rbx, {b}\n    mov ecx, {rng.randrange(70)}\n"
            f"    {init}\n    {body}\n    call rec"
        )
    return out


def program(cases: list[str]) -> str:
    return (
        "global _start\nsection .bss\nres resb 8192\npos resq 1\nsection .text\n_start:\n"
        + "\n".join(cases)
        + "\n    mov eax, 1\n    mov edi, 1\n    lea rsi, [rel res]\n    mov rdx, [rel pos]\n"
        "    syscall\n    mov eax, 60\n    xor edi, edi\n    syscall\n"
        "rec:\n    mov rdi, [rel pos]\n    lea rsi, [rel res]\n"
        + "".join(f"    set{f} byte [rsi+rdi+{i}]\n" for i, f in enumerate(FLAGS))
        + f"    add qword [rel pos], {len(FLAGS)}\n    ret\n"
    )


def run_vm(src: str) -> bytes:
    out = io.BytesIO()
    Machine(assemble([("p.asm", src)]), stdout=out, stderr=io.BytesIO()).run(max_steps=10**6)
    return out.getvalue()


@pytest.mark.native
@pytest.mark.skipif(
    host_vendor() != "GenuineIntel",
    reason=f"the VM models Intel's undefined flags; this host is {host_vendor()}",
)
@pytest.mark.parametrize("seed", [1, 2])
def test_undefined_flags_follow_the_host_cpu(tmp_path, seed):
    require_native()
    cases = _cases(seed, 1000)
    src = program(cases)
    exe = build_native([("p.asm", src)], workdir=tmp_path)
    native = subprocess.run([str(exe)], capture_output=True, timeout=60).stdout
    vm = run_vm(src)
    assert len(native) == len(vm) == len(FLAGS) * len(cases)
    diffs = [
        f"{cases[i // len(FLAGS)].strip()}\n  {FLAGS[i % len(FLAGS)]}F native {native[i]} vm {vm[i]}"
        for i in range(len(vm))
        if native[i] != vm[i]
    ]
    assert not diffs, f"{len(diffs)} flags differ; first:\n" + "\n".join(diffs[:5])


def test_undefined_flags_profile_switch():
    src = program(["    xor eax, eax\n    mov ebx, 5\n    mul ebx\n    call rec"])
    try:
        H.set_undefined_flags("lowhalf")
        low = run_vm(src)
        H.set_undefined_flags("intel")
        intel = run_vm(src)
    finally:
        H.set_undefined_flags("intel")
    assert low[1] == 1 and intel[1] == 0  # ZF after 0 * 5
    with pytest.raises(ValueError):
        H.set_undefined_flags("amd")
