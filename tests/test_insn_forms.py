"""Instruction forms the assembler accepts or rejects with NASM's words, and
the machine-level behaviour of the string instructions that a register dump
cannot show: faults at the first bad element, one step per rep instruction,
whole-block speed, and traces that go on through `loop`.

(Bit-exact semantics are compared with the CPU in tests/test_diff_isa.py.)
"""

from __future__ import annotations

import io

import pytest

from vm import AsmError, Fault, Machine, assemble
from vm.asm.assembler import Assembler


def build(body: str, data: str = "", bss: str = ""):
    src = (
        f"global _start\nsection .data\n{data}\nsection .bss\n{bss}\n"
        f"section .text\n_start:\n{body}\n    mov eax, 60\n    xor edi, edi\n    syscall\n"
    )
    return assemble([("t.asm", src)])


def machine(body: str, data: str = "", bss: str = "") -> Machine:
    return Machine(build(body, data, bss), stdout=io.BytesIO(), stderr=io.BytesIO())


def asm_error(body: str) -> str:
    with pytest.raises(AsmError) as info:
        build(body)
    return str(info.value)


def warnings_of(body: str) -> list[str]:
    a = Assembler()
    src = f"global _start\nsection .text\n_start:\n{body}\n"
    a.assemble([("t.asm", src)])
    return a.warnings


# ---- forms and prefixes -------------------------------------------------------------


def test_and_rax_0xffffffff_sign_extends_with_nasms_warning():
    m = machine("mov rbx, 0x123456789\nand rbx, 0xFFFFFFFF")
    m.run()
    assert m.r[3] == 0x123456789  # and rbx, -1
    assert warnings_of("and rax, 0xFFFFFFFF") == [
        "t.asm:4: warning: signed dword value exceeds bounds [-w+number-overflow]"
    ]
    assert warnings_of("cmp rax, 0x80000000") == [
        "t.asm:4: warning: signed dword immediate exceeds bounds [-w+number-overflow]",
        "t.asm:4: warning: dword data exceeds bounds [-w+number-overflow]",
    ]


def test_mov_r64_0xffffffff_zero_extends_without_warning():
    m = machine("mov rbx, -1\nmov rbx, 0xFFFFFFFF")
    m.run()
    assert m.r[3] == 0xFFFFFFFF
    assert warnings_of("mov rax, 0xFFFFFFFF") == []


def test_an_immediate_beyond_32_bits_is_still_an_error():
    assert "does not fit" in asm_error("and rax, 0x1FFFFFFFF")


def test_lock_needs_a_lockable_instruction_and_a_memory_destination():
    assert "lock prefix is not allowed on 'mov'" in asm_error("lock mov [rsp], eax")
    assert "lock needs a memory destination" in asm_error("lock add eax, 1")
    m = machine(
        "push 5\nmov eax, 3\nlock xadd [rsp], eax\nmov edx, eax\nlock cmpxchg [rsp], ecx\n"
        "mov esi, eax\npop rbx"
    )
    m.run()
    assert (m.r[2], m.r[6], m.r[3]) == (5, 8, 8)  # xadd: old value, sum; cmpxchg: 5 != 8


def test_rep_goes_with_string_instructions_only():
    assert "'rep' goes with string instructions" in asm_error("rep add eax, 1")
    assert "'repne' goes with string instructions (cmps, scas" in asm_error("repne movsb")
    assert "an instruction must follow 'rep'" in asm_error("rep")


def test_enter_takes_nesting_level_0_only():
    assert "nesting level" in asm_error("enter 16, 1")


def test_bt_has_no_byte_form():
    # bt dword [rsp], eax (a bit string) is supported: tests/test_diff_bitstring.py
    assert "operand form not supported: bt" in asm_error("bt byte [rsp], al")


# ---- string instructions in the machine -----------------------------------------------

COPY = """
    lea rsi, [rel src]
    lea rdi, [rel dst]
    mov rcx, {n}
    rep movsb
"""


def test_rep_movsb_of_a_megabyte_is_one_step():
    m = machine(COPY.format(n=1 << 20), bss="src: resb 1048576\ndst: resb 1048576")
    src = m.symbol("src")
    m.mem.buf[src : src + (1 << 20)] = bytes(range(256)) * 4096
    for _ in range(4):
        m.step()
    assert m.icount == 4 and m.r[1] == 0  # the whole copy was the 4th step
    dst = m.symbol("dst")
    assert m.mem.buf[dst : dst + (1 << 20)] == m.mem.buf[src : src + (1 << 20)]


def test_rep_stosb_faults_at_the_first_unwritable_byte_with_the_progress_made():
    body = "lea rdi, [rel buf]\nmov al, 7\nmov rcx, -1\nrep stosb"
    m = machine(body, bss="buf: resb 64")
    with pytest.raises(Fault) as info:
        m.run()
    f = info.value
    end = m.mem.layout().hi
    assert f.kind == "segfault" and f"{end:#x}" in str(f)
    assert f.insn_text == "rep stosb"
    assert m.r[7] == end  # rdi at the first bad byte
    assert m.r[1] == (-1 - (end - m.symbol("buf"))) & ((1 << 64) - 1)
    assert m.mem.buf[end - 1] == 7
    assert m.icount == 3  # the faulting instruction does not count


def test_overlapping_forward_movsb_replicates_as_byte_by_byte():
    body = "lea rsi, [rel buf]\nlea rdi, [rel buf+1]\nmov ecx, 10\nrep movsb"
    m = machine(body, data="buf: db 'ab', 0, 0, 0, 0, 0, 0, 0, 0, 0, 0")
    m.run()
    b = m.symbol("buf")
    assert bytes(m.mem.buf[b : b + 11]) == b"a" * 11


def test_step_and_run_tiers_agree_on_string_loops():
    body = """
    mov r8d, 50
.again:
    lea rdi, [rel buf]
    mov ecx, 40
    mov eax, r8d
    rep stosb
    lea rdi, [rel buf]
    mov ecx, 100
    repne scasb
    add r9, rcx
    std
    lea rsi, [rel buf+39]
    lodsb
    cld
    dec r8d
    jnz .again
"""
    a, b = machine(body, bss="buf: resb 128"), machine(body, bss="buf: resb 128")
    a.run()
    while b.exit_status is None:
        try:
            b.step()
        except Exception:  # noqa: BLE001 - Exit ends the loop through exit_status
            break
    assert a.r == b.r and a.icount == b.icount


# ---- control flow kinds: the run tier follows loop and jrcxz ------------------------


def test_loop_closes_a_counted_run_tier_loop():
    m = machine("mov ecx, 1000\nxor eax, eax\n.top:\nadd rax, rcx\nloop .top\nmov rbx, rax")
    m.run()
    assert m.r[3] == 1000 * 1001 // 2
    loop = next(i for i in m.image.insns if i.mnemonic == "loop")
    top = loop.operands[0].value
    fn, n, counted = m._blocks[top]
    assert counted and n == 2  # a loop block, iterated inside one compiled function


def test_traces_follow_the_way_a_loop_instruction_usually_goes():
    body = """
    mov r8d, 300
.outer:
    mov ecx, 3
.inner:
    inc rax
    loop .inner
    jrcxz .after
    nop
.after:
    dec r8d
    jnz .outer
"""
    m = machine(body)
    m.run()
    loop = next(i for i in m.image.insns if i.mnemonic == "loop")
    assert m._successor(loop) == loop.operands[0].value  # taken twice as often as not
    jrcxz = next(i for i in m.image.insns if i.mnemonic == "jrcxz")
    assert m._successor(jrcxz) == jrcxz.operands[0].value  # always taken here
