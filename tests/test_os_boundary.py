"""The OS boundary, native CPU vs VM: stdin, the stack at entry, syscalls.

Each test runs the same NASM program natively (nasm + ld) and in the VM and
compares what the program prints; the program prints facts about the
syscall's result (not pids, times or addresses, which legitimately differ).
"""

from __future__ import annotations

import io
import subprocess
import sys
from pathlib import Path

import pytest
from native import build_native, hexdiff, require_native

from vm import Machine, assemble

REPO = Path(__file__).resolve().parents[1]

# A program reading stdin in one read(0, buf, 256) and echoing what it got,
# then the count as a byte (so a 0-byte read is visible).
READ_ONCE = """
global _start
section .bss
buf resb 256
cnt resb 1
section .text
_start:
    mov eax, 0
    xor edi, edi
    lea rsi, [rel buf]
    mov edx, COUNT
    syscall
    mov [rel cnt], al
    test rax, rax
    jle .skip
    mov rdx, rax
    mov eax, 1
    mov edi, 1
    lea rsi, [rel buf]
    syscall
.skip:
    mov eax, 1
    mov edi, 1
    lea rsi, [rel cnt]
    mov edx, 1
    syscall
    mov eax, 60
    xor edi, edi
    syscall
"""


def _native(src: str, tmp_path: Path, stdin: bytes = b"", args=()) -> subprocess.CompletedProcess:
    require_native()
    build_native([("prog.asm", src)], workdir=tmp_path)
    return subprocess.run(
        ["./prog", *args], cwd=tmp_path, input=stdin, capture_output=True, timeout=60
    )


def _vm(src: str, tmp_path: Path, stdin: bytes = b"", **kw) -> tuple[bytes, int | None]:
    image = assemble([("prog.asm", src)])
    out = io.BytesIO()
    m = Machine(
        image, root=str(tmp_path), stdout=out, stderr=io.BytesIO(), stdin=io.BytesIO(stdin), **kw
    )
    status = m.run(max_steps=1_000_000)
    return out.getvalue(), status


def assert_same_as_native(src: str, tmp_path: Path, stdin: bytes = b"", args=()) -> bytes:
    n = _native(src, tmp_path, stdin, args)
    kw = {"argv": ["./prog", *args]}
    v_out, v_status = _vm(src, tmp_path, stdin, **kw)
    assert (v_out, v_status) == (n.stdout, n.returncode), hexdiff(n.stdout, v_out)
    return v_out


# ---- 1. stdin ------------------------------------------------------------------


@pytest.mark.native
@pytest.mark.parametrize(
    "count, stdin", [(256, b"hello\n"), (0, b"hello\n"), (3, b"hello\n"), (256, b"")]
)
def test_read_stdin_matches_native(tmp_path, count, stdin):
    out = assert_same_as_native(READ_ONCE.replace("COUNT", str(count)), tmp_path, stdin)
    assert out[-1] == min(count, len(stdin))


def test_read_stdin_count_zero_leaves_the_buffer_alone():
    out, status = _vm(READ_ONCE.replace("COUNT", "0"), Path("."), b"hello")
    assert (out, status) == (b"\0", 0)


@pytest.mark.native
def test_cli_exec_reads_piped_stdin_like_native(tmp_path):
    src = READ_ONCE.replace("COUNT", "256")
    n = _native(src, tmp_path, b"hello\n")
    (tmp_path / "prog.asm").write_text(src)
    v = subprocess.run(
        [sys.executable, "-m", "mnist_vm.cli", "exec", str(tmp_path / "prog.asm")],
        cwd=REPO,
        input=b"hello\n",
        capture_output=True,
        timeout=60,
    )
    assert (v.stdout, v.returncode) == (n.stdout, n.returncode), v.stderr.decode()
    assert v.stdout == b"hello\n\x06"


def test_cli_exec_pipe_gives_one_chunk_per_read(tmp_path):
    """read(0) returns what the pipe holds now, not a full buffer: a writer that
    sends a line and waits gets the line echoed before it sends the next."""
    src = READ_ONCE.replace("COUNT", "256")
    (tmp_path / "prog.asm").write_text(src)
    p = subprocess.Popen(
        [sys.executable, "-m", "mnist_vm.cli", "exec", str(tmp_path / "prog.asm")],
        cwd=REPO,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
    )
    assert p.stdin is not None and p.stdout is not None
    p.stdin.write(b"one\n")
    p.stdin.flush()
    assert p.stdout.read(5) == b"one\n\x04"  # answered while stdin is still open
    p.stdin.close()
    assert p.wait(timeout=60) == 0


# ---- 2. instructions that move rsp and address memory through it --------------------

STACK_ADDRESSING = """
global _start
section .bss
res resq 8
section .text
_start:
    push 11
    push 22
    pop qword [rsp]          ; address computed after the pop: overwrites the 11
    pop rax
    mov [rel res], rax
    push 33
    push 44
    push 55
    pop qword [rsp+8]        ; 55 overwrites the 33
    pop rbx
    pop rcx
    mov [rel res+8], rbx
    mov [rel res+16], rcx
    push 66
    push qword [rsp]         ; read before the decrement: a copy of 66
    pop rdx
    pop rsi
    mov [rel res+24], rdx
    mov [rel res+32], rsi
    lea rax, [rel callee]
    push rax
    call [rsp]               ; the target is read before the return address is pushed
    pop rax
    mov [rel res+40], r8
    push 77
    pop rsp                  ; rsp takes the popped value (0x4d): restore it from rbp
    mov [rel res+48], rsp
    mov eax, 1
    mov edi, 1
    lea rsi, [rel res]
    mov edx, 56
    syscall
    mov eax, 60
    xor edi, edi
    syscall
callee:
    mov r8, 99
    ret
"""


@pytest.mark.native
def test_push_pop_call_through_rsp_match_native(tmp_path):
    out = assert_same_as_native(STACK_ADDRESSING, tmp_path)
    import struct

    assert struct.unpack("<7Q", out) == (22, 44, 55, 66, 66, 99, 77)


# ---- 3. syscall sets rcx and r11 ----------------------------------------------------

SYSCALL_RCX_R11 = """
global _start
section .bss
res resb 8
section .text
_start:
    xor r12d, r12d
    mov eax, 39              ; getpid: harmless
    syscall
back:
    lea rdx, [rel back]
    cmp rcx, rdx             ; rcx = the next instruction's address
    sete [rel res]
    inc r12
    cmp r12, 3
    jae .flags
    jmp rcx                  ; jumping through rcx resumes after the syscall
.flags:
    mov [rel res+1], r12b
    mov eax, 0x7fffffff
    add eax, 1               ; OF SF PF set, CF ZF clear
    mov eax, 39
    syscall
    mov rax, r11
    and eax, 0x8c5 | 0x202   ; the arithmetic flags the VM keeps, bit 1 and IF
    mov [rel res+2], ax
    mov al, 0xff
    add al, 1                ; CF ZF PF set
    mov eax, 39
    syscall
    mov rax, r11
    and eax, 0x8c5 | 0x202
    mov [rel res+4], ax
    mov eax, 1
    mov edi, 1
    lea rsi, [rel res]
    mov edx, 6
    syscall
    mov eax, 60
    xor edi, edi
    syscall
"""


@pytest.mark.native
def test_syscall_sets_rcx_to_the_next_instruction_and_r11_to_rflags(tmp_path):
    out = assert_same_as_native(SYSCALL_RCX_R11, tmp_path)
    assert out[:2] == b"\x01\x03"
    assert out[2:4] == (0x202 | 0x80 | 0x800 | 0x4).to_bytes(2, "little")
    assert out[4:6] == (0x202 | 0x1 | 0x40 | 0x4).to_bytes(2, "little")
