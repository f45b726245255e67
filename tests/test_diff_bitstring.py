"""bt/bts/btr/btc with a memory operand and a register bit offset (bit
strings: the signed offset moves the address), and `push word imm`, against
the real CPU, in the step and run tiers."""

from __future__ import annotations

import io
import random

import pytest

from tests.native import build_native, require_native, run_native
from vm import Fault, Machine, assemble

pytestmark = pytest.mark.native

REGS = {16: "cx", 32: "ecx", 64: "rcx"}
SIZE = {16: "word", 32: "dword", 64: "qword"}


def _bit_string_program(rng: random.Random, n: int) -> str:
    lines = []
    for i in range(n):
        op = rng.choice(["bt", "bts", "btr", "btc"])
        bits = rng.choice([16, 32, 64])
        off = rng.randint(-256, 255)
        lines += [
            f"    mov rcx, {rng.getrandbits(64) & ~0xFFFF | (off & 0xFFFF) if bits == 16 else off}",
            f"    mov {REGS[bits][-2:] if bits == 16 else REGS[bits]}, {off & ((1 << bits) - 1)}",
            f"    {op} {SIZE[bits]} [buf + 32], {REGS[bits]}",
            "    setc al",
            f"    mov [carry + {i}], al",
        ]
        if rng.random() < 0.3:  # the same through a base register, in a loop body
            lines += ["    lea rdx, [buf + 32]", f"    {op} {SIZE[bits]} [rdx], {REGS[bits]}"]
    data = ", ".join(str(rng.getrandbits(8)) for _ in range(64))
    return "\n".join(
        [
            "section .data",
            f"buf: db {data}",
            "section .bss",
            f"carry: resb {n}",
            "section .text",
            "global _start",
            "_start:",
            "    mov r12, 3",
            ".again:",
            *lines,
            "    dec r12",
            "    jnz .again",
            "    mov eax, 1",
            "    mov edi, 1",
            "    mov rsi, buf",
            "    mov edx, 64",
            "    syscall",
            "    mov eax, 1",
            "    mov rsi, carry",
            f"    mov edx, {n}",
            "    syscall",
            "    mov eax, 60",
            "    xor edi, edi",
            "    syscall",
            "",
        ]
    )


def _vm(src: str, tier: str) -> tuple[bytes, int]:
    out = io.BytesIO()
    m = Machine(assemble([("p.asm", src)]), stdout=out, stderr=io.BytesIO())
    m.tier = tier
    m.native_after = 100  # let the native tier compile the loop
    status = m.run()
    return out.getvalue(), status


@pytest.mark.parametrize("seed", range(4))
def test_bit_string_forms_match_the_cpu(tmp_path, seed):
    require_native()
    src = _bit_string_program(random.Random(seed), 150)
    native = run_native(build_native([("p.asm", src)], workdir=tmp_path))
    for tier in ("step", "run", "native"):
        assert _vm(src, tier) == native, tier


def test_bit_string_offset_below_the_mapping_faults_like_the_cpu(tmp_path):
    """bt [buf], rcx with rcx = -2**40: the address is 2**37 bytes below buf."""
    require_native()
    src = """section .data
buf: dq 0
section .text
global _start
_start:
    mov rcx, -1 << 40
    bt qword [buf], rcx
    mov eax, 60
    xor edi, edi
    syscall
"""
    _, status = run_native(build_native([("p.asm", src)], workdir=tmp_path))
    assert status == -11
    with pytest.raises(Fault) as e:
        _vm(src, "run")
    assert e.value.kind == "segfault"


PUSH_WORD = """section .text
global _start
_start:
    mov rbx, rsp
    push word 0x1234
    push word -2
    push qword 7
    push dword -9
    push 0x7FFF
    mov ax, [rsp + 24]
    mov cx, [rsp + 26]
    mov rdi, rbx
    sub rdi, rsp
    add di, ax
    add di, cx
    mov eax, 60
    syscall
"""


def test_push_word_imm_pushes_two_bytes_like_the_cpu(tmp_path):
    require_native()
    native = run_native(build_native([("p.asm", PUSH_WORD)], workdir=tmp_path))
    assert native[1] != 0
    assert _vm(PUSH_WORD, "step") == native
    assert _vm(PUSH_WORD, "run") == native


POP_WORD = """section .data
slot: dw 0
section .text
global _start
_start:
    mov rbx, rsp
    push qword 0x11223344
    push word 0x99AA
    pop word [slot]
    pop word [rsp]
    pop word [rsp + 2]
    movzx edi, word [slot]
    add di, [rsp]
    add di, [rsp + 2]
    mov rax, rbx
    sub rax, rsp
    add edi, eax
    and edi, 255
    mov eax, 60
    syscall
"""


def test_pop_word_to_memory_addresses_rsp_after_the_pop(tmp_path):
    """pop word [rsp]: the CPU adds 2 to rsp first, then stores at [rsp]."""
    require_native()
    native = run_native(build_native([("p.asm", POP_WORD)], workdir=tmp_path))
    assert _vm(POP_WORD, "step") == _vm(POP_WORD, "run") == native
