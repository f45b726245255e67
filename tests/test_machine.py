"""The machine without the native oracle: faults, syscalls, the sandbox, libm, tiers.

(Instruction semantics are pinned down against the real CPU in
tests/test_diff_*.py; the few semantic tests here run even where nasm is
missing, and name what they check.)
"""

from __future__ import annotations

import ctypes
import ctypes.util
import errno
import io
import os
import struct
from pathlib import Path

import pytest

from vm import Exit, Fault, Machine, assemble
from vm.image import INSN_SIZE
from vm.runtime import POISON64

REPO = Path(__file__).resolve().parents[1]


def build(body: str, data: str = "", bss: str = "", name: str = "t.asm"):
    src = (
        f"global _start\nsection .data\n{data}\nsection .bss\n{bss}\n"
        f"section .text\n_start:\n{body}\n    mov eax, 60\n    xor edi, edi\n    syscall\n"
    )
    return assemble([(name, src)])


def run(body: str, data: str = "", bss: str = "", root: str = ".", max_steps=1_000_000, stdin=None):
    m = Machine(
        build(body, data, bss), root=root, stdout=io.BytesIO(), stderr=io.BytesIO(), stdin=stdin
    )
    status = m.run(max_steps=max_steps)
    return m, status


def fault_of(body: str, data: str = "", bss: str = "", **kw) -> Fault:
    with pytest.raises(Fault) as info:
        run(body, data, bss, **kw)
    return info.value


# ---------------------------------------------------------------------------
# faults name the kind, the instruction, its address and source line


def assert_fault(f: Fault, kind: str, insn: str, line: int) -> None:
    assert f.kind == kind, str(f)
    assert f.insn_text and f.insn_text.startswith(insn), str(f)
    assert f.loc is not None and f.loc.line == line and f.loc.file == "t.asm", str(f)
    text = str(f)
    assert f"{f.rip:#x}" in text and f"t.asm:{line}" in text and "rip=" in text


def test_null_pointer_read_is_a_segfault():
    f = fault_of("    xor edi, edi\n    mov eax, [rdi]")
    assert_fault(f, "segfault", "mov eax", 9)
    assert "null pointer" in f.message


def test_write_to_text_is_reported_as_such():
    f = fault_of("    lea rdi, [rel _start]\n    mov byte [rdi], 0")
    assert_fault(f, "write-to-code", "mov byte", 9)


def test_write_to_rodata_faults():
    src = (
        "global _start\nsection .rodata\nk: dd 1\nsection .text\n_start:\n"
        "    mov dword [rel k], 2\n"
    )
    m = Machine(assemble([("t.asm", src)]), stdout=io.BytesIO())
    with pytest.raises(Fault) as info:
        m.run()
    assert info.value.kind == "segfault" and "read-only" in info.value.message


def test_misaligned_movaps_faults_but_movups_does_not():
    data = "align 16\nv: times 8 dd 1.0"
    f = fault_of("    movaps xmm0, [rel v + 4]", data)
    assert_fault(f, "misaligned", "movaps", 9)
    run("    movups xmm0, [rel v + 4]", data)


def test_division_by_zero():
    f = fault_of("    xor ecx, ecx\n    mov eax, 7\n    div ecx")
    assert_fault(f, "divide-error", "div ecx", 10)


def test_quotient_overflow_is_a_divide_error():
    f = fault_of("    mov rax, 0x8000000000000000\n    cqo\n    mov rcx, -1\n    idiv rcx")
    assert_fault(f, "divide-error", "idiv rcx", 11)
    assert "too large" in f.message


def test_runaway_recursion_overflows_the_stack():
    f = fault_of("    call _start", max_steps=3_000_000)
    assert f.kind == "stack-overflow", str(f)
    assert f.insn_text.startswith("call")


@pytest.mark.parametrize("tier", ["step", "run"])
@pytest.mark.parametrize("n", [1, 2, 1001, 100_000])
def test_step_limit_stops_at_exactly_n_instructions(tier, n):
    # `_start` is the loop: instruction i (from 1) is an inc when i is odd, so after
    # n instructions rax counts the incs, (n + 1) // 2, and rip is at the next one.
    m = Machine(build(".spin:\n    inc rax\n    jmp .spin"), stdout=io.BytesIO())
    m.tier = tier
    with pytest.raises(Fault) as info:
        m.run(max_steps=n)
    f = info.value
    assert f.kind == "step-limit" and f"after {n} instructions" in f.message, str(f)
    assert m.icount == n, f"{tier} tier ran {m.icount} instructions, not {n}"
    assert m.r[0] == (n + 1) // 2
    assert m.rip == f.rip == m.image.entry + (INSN_SIZE if n % 2 else 0)


def test_jump_into_data_is_a_bad_jump():
    f = fault_of("    lea rax, [rel v]\n    jmp rax", "v: dq 0")
    assert f.kind == "bad-jump" and "data" in f.message


def test_fault_leaves_icount_and_rip_at_the_faulting_instruction():
    with pytest.raises(Fault) as info:
        m = Machine(build("    mov eax, 1\n    mov ebx, 2\n    mov ecx, [0]"), stdout=io.BytesIO())
        try:
            m.run()
        finally:
            assert m.icount == 2
            assert m.rip == m.image.insns[2].addr
    assert info.value.rip == m.image.insns[2].addr


# ---------------------------------------------------------------------------
# a few semantic rules, without the native oracle


def test_mov_r32_zero_extends_and_mov_r16_merges():
    # (results in registers the exit syscall leaves alone: not rax, rdi, rcx, r11)
    m, _ = run(
        "    mov r12, -1\n    mov r12d, 5\n    mov rbx, -1\n    mov bx, 5\n"
        "    mov rdx, -1\n    mov dh, 0"
    )
    assert m.r[12] == 5
    assert m.r[3] == 0xFFFFFFFFFFFF0005
    assert m.r[2] == 0xFFFFFFFFFFFF00FF


def test_shift_count_is_masked_to_six_bits_for_64_bit_operands():
    m, _ = run("    mov rbx, 1\n    mov cl, 65\n    shl rbx, cl")
    assert m.r[3] == 2


def test_cvttss2si_of_nan_is_the_integer_indefinite():
    m, _ = run(
        "    mov eax, 0x7fc00000\n    movd xmm0, eax\n    cvttss2si ebx, xmm0\n"
        "    cvttss2si rdx, xmm0"
    )
    assert m.r[3] == 0x80000000 and m.r[2] == 0x8000000000000000


def test_maxss_returns_the_second_operand_when_either_is_nan():
    m, _ = run(
        "    mov eax, 0x7fc00001\n    movd xmm0, eax\n    mov eax, 0x3f800000\n"
        "    movd xmm1, eax\n    maxss xmm0, xmm1\n    movd ebx, xmm0\n"
        "    movd xmm2, eax\n    mov eax, 0x7fc00001\n    movd xmm3, eax\n"
        "    maxss xmm2, xmm3\n    movd edx, xmm2"
    )
    assert m.r[3] == 0x3F800000 and m.r[2] == 0x7FC00001


def test_addss_of_two_nans_returns_the_first_quieted():
    m, _ = run(
        "    mov eax, 0x7f800001\n    movd xmm0, eax\n    mov eax, 0x7fc00002\n"
        "    movd xmm1, eax\n    addss xmm0, xmm1\n    movd ebx, xmm0"
    )
    assert m.r[3] == 0x7FC00001


def test_inf_minus_inf_is_the_default_nan():
    m, _ = run(
        "    mov eax, 0x7f800000\n    movd xmm0, eax\n    subss xmm0, xmm0\n    movd ebx, xmm0"
    )
    assert m.r[3] == 0xFFC00000


def test_step_and_run_tiers_agree_on_a_program():
    img = assemble([str(REPO / "programs" / "examples" / "loops_flags.asm")])
    a = Machine(img, stdout=io.BytesIO())
    b = Machine(img, stdout=io.BytesIO())
    a.run()
    with pytest.raises(Exit):
        while True:
            b.step()
    assert a.r == b.r and a.icount == b.icount and a.rflags == b.rflags
    assert a.runtime.stdout.getvalue() == b.runtime.stdout.getvalue()


# ---------------------------------------------------------------------------
# system calls


def test_write_to_stdout_and_exit_status():
    m, status = run(
        "    mov eax, 1\n    mov edi, 1\n    lea rsi, [rel msg]\n    mov edx, 3\n"
        "    syscall\n    mov r12, rax\n    mov eax, 60\n    mov edi, 42\n    syscall",
        "msg: db 'hi', 10",
    )
    assert m.runtime.stdout.getvalue() == b"hi\n" and status == 42 and m.r[12] == 3


def test_unknown_syscall_returns_enosys():
    m, _ = run("    mov eax, 999\n    syscall\n    mov rbx, rax")
    assert m.r[3] == (-errno.ENOSYS) & (2**64 - 1)


def test_bad_buffer_pointer_returns_efault():
    m, _ = run(
        "    mov eax, 1\n    mov edi, 1\n    mov esi, 16\n    mov edx, 4\n    syscall\n"
        "    mov rbx, rax"
    )
    assert m.r[3] == (-errno.EFAULT) & (2**64 - 1)


def test_read_from_stdin():
    m, _ = run(
        "    xor eax, eax\n    xor edi, edi\n    lea rsi, [rel buf]\n    mov edx, 8\n"
        "    syscall\n    mov rbx, rax\n    mov r13, [rel buf]",
        bss="buf: resb 8",
        stdin=io.BytesIO(b"abc"),
    )
    assert m.r[3] == 3 and m.r[13] & 0xFFFFFF == int.from_bytes(b"abc", "little")


def test_syscall_clobbers_rcx_and_r11_only():
    m, _ = run("    mov rbx, 7\n    mov r12, 8\n    mov eax, 999\n    syscall")
    assert m.r[3] == 7 and m.r[12] == 8


def test_brk_grows_the_heap():
    m, _ = run(
        "    mov eax, 12\n    xor edi, edi\n    syscall\n    mov rbx, rax\n"
        "    lea rdi, [rax + 8192]\n    mov eax, 12\n    syscall\n"
        "    mov qword [rbx + 8000], 77\n    mov r13, [rbx + 8000]"
    )
    assert m.r[13] == 77


OPEN_READ = """
    mov eax, 2
    lea rdi, [rel path]
    xor esi, esi
    syscall
    mov rbx, rax
"""


def open_result(path: str, root) -> int:
    m, _ = run(OPEN_READ, f"path: db '{path}', 0", root=str(root))
    v = m.r[3]
    return v - 2**64 if v >> 63 else v


def test_open_and_read_a_file_inside_the_root(tmp_path):
    (tmp_path / "f.txt").write_bytes(b"content")
    body = OPEN_READ + (
        "    mov edi, ebx\n    xor eax, eax\n    lea rsi, [rel buf]\n"
        "    mov edx, 64\n    syscall\n    mov r12, rax\n"
        "    mov eax, 3\n    mov edi, ebx\n    syscall\n    mov r13, rax"
    )
    m, _ = run(body, "path: db 'f.txt', 0", "buf: resb 64", root=str(tmp_path))
    assert m.r[3] >= 3 and m.r[12] == 7 and m.r[13] == 0


def test_write_create_truncate_inside_the_root(tmp_path):
    body = (
        "    mov eax, 2\n    lea rdi, [rel path]\n    mov esi, 0x241\n    mov edx, 0o644\n"
        "    syscall\n    mov rbx, rax\n    mov eax, 1\n    mov edi, ebx\n"
        "    lea rsi, [rel path]\n    mov edx, 3\n    syscall\n"
        "    mov eax, 3\n    mov edi, ebx\n    syscall"
    )
    run(body, "path: db 'out.bin', 0", root=str(tmp_path))
    assert (tmp_path / "out.bin").read_bytes() == b"out"


@pytest.mark.parametrize(
    "path", ["../secret.txt", "/etc/passwd", "sub/../../secret.txt", "escape/secret.txt"]
)
def test_paths_that_leave_the_root_fail_with_eacces(tmp_path, path):
    root = tmp_path / "root"
    root.mkdir()
    (root / "sub").mkdir()
    (tmp_path / "secret.txt").write_text("no")
    os.symlink(tmp_path, root / "escape")
    assert open_result(path, root) == -errno.EACCES


def test_symlink_inside_the_root_is_allowed(tmp_path):
    (tmp_path / "real.txt").write_text("ok")
    os.symlink(tmp_path / "real.txt", tmp_path / "link.txt")
    assert open_result("link.txt", tmp_path) >= 3


def test_missing_file_gives_enoent(tmp_path):
    assert open_result("nope.txt", tmp_path) == -errno.ENOENT


# ---------------------------------------------------------------------------
# libm: the host C library's bits, caller-saved registers clobbered


def _host(name, x):
    lib = ctypes.CDLL(ctypes.util.find_library("m") or "libm.so.6")
    f = getattr(lib, name)
    t = ctypes.c_float if name.endswith("f") else ctypes.c_double
    f.restype, f.argtypes = t, [t]
    return f(x)


@pytest.mark.parametrize("x", [0.0, 1.0, -1.5, 88.7, -745.2, 710.0, 1e-310])
def test_exp_and_log_give_the_host_libm_bits(x):
    src = (
        "global _start\nextern exp, log\nsection .data\nx: dq "
        + repr(x)
        + "\nsection .text\n_start:\n    sub rsp, 8\n    movsd xmm0, [rel x]\n    call exp\n"
        "    movq rbx, xmm0\n    movsd xmm0, [rel x]\n    call log\n    movq r12, xmm0\n"
        "    mov eax, 60\n    xor edi, edi\n    syscall\n"
    )
    m = Machine(assemble([("t.asm", src)]), stdout=io.BytesIO())
    m.run()
    assert m.r[3] == struct.unpack("<Q", struct.pack("<d", _host("exp", x)))[0]
    assert m.r[12] == struct.unpack("<Q", struct.pack("<d", _host("log", x)))[0]
    assert m.r[2] == POISON64 and m.r[6] == POISON64  # caller-saved: poisoned


def test_request_sync_publishes_progress_without_stopping():
    import threading
    import time

    m = Machine(
        build(".spin:\n    inc rbx\n    cmp rbx, 3000000\n    jb .spin"), stdout=io.BytesIO()
    )
    m.tier = "run"  # natively the loop is over in milliseconds, before any sync is sampled
    result = {}
    th = threading.Thread(target=lambda: result.setdefault("status", m.run()))
    th.start()
    seen = []
    while th.is_alive():
        m.request_sync()
        time.sleep(0.02)
        seen.append(m.icount)
    th.join()
    assert result["status"] == 0  # ran to the end: a sync never stops it
    assert any(0 < c < m.icount for c in seen)  # and counts were published mid-run
    assert m.stop_requested is False
