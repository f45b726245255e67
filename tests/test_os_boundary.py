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


# ---- 4. syscall results as Linux gives them ------------------------------------------
# Each probe: setup lines ending in a syscall; `call rec` records rax (truncated
# to 16 bits: an errno or a small count) or, with a `; ok` probe, whether rax
# is not an error. Results must be identical natively and in the VM.

PROBES: list[tuple[str, str]] = [
    ("lseek stdin pipe -> ESPIPE", "mov eax, 8\nxor edi, edi\nxor esi, esi\nxor edx, edx\nsyscall"),
    ("lseek stdout pipe -> ESPIPE", "mov eax, 8\nmov edi, 1\nxor esi, esi\nxor edx, edx\nsyscall"),
    ("lseek bad fd -> EBADF", "mov eax, 8\nmov edi, 99\nxor esi, esi\nxor edx, edx\nsyscall"),
    ("read bad fd", "mov eax, 0\nmov edi, 99\nlea rsi, [rel buf]\nmov edx, 4\nsyscall"),
    ("write bad fd", "mov eax, 1\nmov edi, 99\nlea rsi, [rel buf]\nmov edx, 4\nsyscall"),
    ("write stdin", "mov eax, 1\nmov edi, 0\nlea rsi, [rel buf]\nmov edx, 4\nsyscall"),
    ("write NULL", "mov eax, 1\nmov edi, 1\nxor esi, esi\nmov edx, 4\nsyscall"),
    ("write 0 bytes", "mov eax, 1\nmov edi, 1\nxor esi, esi\nxor edx, edx\nsyscall"),
    ("close bad fd", "mov eax, 3\nmov edi, 99\nsyscall"),
    ("unknown syscall", "mov eax, 999\nsyscall"),
    ("getpid ok", "mov eax, 39\nsyscall\n; ok"),
    ("time ok", "mov eax, 201\nxor edi, edi\nsyscall\n; ok"),
    (
        "time into buf",
        "mov eax, 201\nlea rdi, [rel buf]\nsyscall\ncmp rax, [rel buf]\nsete al\nmovzx eax, al",
    ),
    ("time EFAULT", "mov eax, 201\nmov edi, 16\nsyscall"),
    ("clock_gettime mono", "mov eax, 228\nmov edi, 1\nlea rsi, [rel buf]\nsyscall"),
    ("clock_gettime bad clock", "mov eax, 228\nmov edi, 99\nlea rsi, [rel buf]\nsyscall"),
    ("clock_gettime EFAULT", "mov eax, 228\nxor edi, edi\nxor esi, esi\nsyscall"),
    ("gettimeofday", "mov eax, 96\nlea rdi, [rel buf]\nxor esi, esi\nsyscall"),
    (
        "nanosleep 1ms",
        "mov qword [rel ts], 0\nmov qword [rel ts+8], 1000000\nmov eax, 35\nlea rdi, [rel ts]\nxor esi, esi\nsyscall",
    ),
    (
        "nanosleep bad nsec",
        "mov qword [rel ts+8], 1000000000\nmov eax, 35\nlea rdi, [rel ts]\nxor esi, esi\nsyscall",
    ),
    ("nanosleep EFAULT", "mov eax, 35\nxor edi, edi\nxor esi, esi\nsyscall"),
    ("getrandom 16", "mov eax, 318\nlea rdi, [rel buf]\nmov esi, 16\nxor edx, edx\nsyscall"),
    (
        "getrandom bad flags",
        "mov eax, 318\nlea rdi, [rel buf]\nmov esi, 16\nmov edx, 0x100\nsyscall",
    ),
    ("getrandom 0", "mov eax, 318\nlea rdi, [rel buf]\nxor esi, esi\nxor edx, edx\nsyscall"),
    ("uname", "mov eax, 63\nlea rdi, [rel uts]\nsyscall"),
    ("uname sysname[0]", "movzx eax, byte [rel uts]"),
    ("uname machine[4]", "movzx eax, byte [rel uts+65*4+4]"),
    ("uname EFAULT", "mov eax, 63\nxor edi, edi\nsyscall"),
    (
        "mmap anon",
        "mov eax, 9\nxor edi, edi\nmov esi, 8192\nmov edx, 3\nmov r10d, 0x22\nmov r8, -1\nxor r9d, r9d\nsyscall\nmov [rel map], rax\n; ok",
    ),
    ("mmap is zero", "mov rbx, [rel map]\nmov rax, [rbx+4096]"),
    ("mmap writable", "mov rbx, [rel map]\nmov qword [rbx+8184], 77\nmov rax, [rbx+8184]"),
    ("munmap", "mov eax, 11\nmov rdi, [rel map]\nmov esi, 8192\nsyscall"),
    (
        "mmap len 0",
        "mov eax, 9\nxor edi, edi\nxor esi, esi\nmov edx, 3\nmov r10d, 0x22\nmov r8, -1\nxor r9d, r9d\nsyscall",
    ),
    (
        "mmap no type",
        "mov eax, 9\nxor edi, edi\nmov esi, 4096\nmov edx, 3\nmov r10d, 0x20\nmov r8, -1\nxor r9d, r9d\nsyscall",
    ),
    (
        "mmap bad fd",
        "mov eax, 9\nxor edi, edi\nmov esi, 4096\nmov edx, 1\nmov r10d, 2\nmov r8, 99\nxor r9d, r9d\nsyscall",
    ),
    ("munmap unaligned", "mov eax, 11\nmov edi, 4097\nmov esi, 4096\nsyscall"),
    ("writev", "mov eax, 20\nmov edi, 1\nlea rsi, [rel iov]\nmov edx, 2\nsyscall"),
    ("writev EFAULT", "mov eax, 20\nmov edi, 1\nxor esi, esi\nmov edx, 2\nsyscall"),
    ("writev 0", "mov eax, 20\nmov edi, 1\nlea rsi, [rel iov]\nxor edx, edx\nsyscall"),
    ("writev too many", "mov eax, 20\nmov edi, 1\nlea rsi, [rel iov]\nmov edx, 2000\nsyscall"),
    ("fstat stdout", "mov eax, 5\nmov edi, 1\nlea rsi, [rel st]\nsyscall"),
    (
        "fstat stdout is a fifo",
        "mov eax, [rel st+24]\nand eax, 0o170000\ncmp eax, 0o10000\nsete al\nmovzx eax, al",
    ),
    ("fstat bad fd", "mov eax, 5\nmov edi, 99\nlea rsi, [rel st]\nsyscall"),
    ("fstat EFAULT", "mov eax, 5\nmov edi, 1\nxor esi, esi\nsyscall"),
    ("brk 0 ok", "mov eax, 12\nxor edi, edi\nsyscall\nmov [rel map], rax\n; ok"),
    ("brk grow", "mov eax, 12\nmov rdi, [rel map]\nadd rdi, 8192\nsyscall\nsub rax, [rel map]"),
    ("int 0x80 write", "mov eax, 4\nmov ebx, 1\nmov ecx, msg\nmov edx, 3\nint 0x80"),
    ("int 0x80 bad fd", "mov eax, 4\nmov ebx, 99\nmov ecx, msg\nmov edx, 3\nint 0x80"),
    (
        "int 0x80 sign-extends",
        "mov eax, 4\nmov ebx, 99\nmov ecx, msg\nmov edx, 3\nint 0x80\nshr rax, 32",
    ),
    (
        "int 0x80 keeps r8-r11",
        "mov r8, 1\nmov r9, 2\nmov r10, 3\nmov r11, 4\nmov eax, 20\nint 0x80\nlea rax, [r8+r9]\nadd rax, r10\nadd rax, r11",
    ),
    ("int 0x80 getpid ok", "mov eax, 20\nint 0x80\n; ok"),
    ("int 0x80 unknown", "mov eax, 9999\nint 0x80"),
    ("int 0x80 close bad", "mov eax, 6\nmov ebx, 99\nint 0x80"),
    ("close stdin", "mov eax, 3\nxor edi, edi\nsyscall"),
    ("close stdin again", "mov eax, 3\nxor edi, edi\nsyscall"),
    ("read closed stdin", "mov eax, 0\nxor edi, edi\nlea rsi, [rel buf]\nmov edx, 4\nsyscall"),
]


def probe_program(probes) -> str:
    body = []
    for name, code in probes:
        body.append(f"; {name}")
        lines = code.split("\n")
        ok = lines[-1] == "; ok"
        body += [ln for ln in lines if ln != "; ok"]
        if ok:
            body += ["cmp rax, -4095", "setb al", "movzx eax, al"]
        body.append("call rec")
    return (
        "global _start\nsection .data\nmsg db 'ab', 10\n"
        "iov dq msg, 2, msg+2, 1\n"
        "section .bss\nbuf resb 64\nts resq 2\nuts resb 390\nst resb 144\nmap resq 1\n"
        "pos resq 1\nres resw 256\n"
        "section .text\n_start:\n"
        + "\n".join("    " + ln for ln in body)
        + "\n    mov eax, 1\n    mov edi, 1\n    lea rsi, [rel res]\n    mov rdx, [rel pos]\n"
        "    syscall\n    mov eax, 60\n    xor edi, edi\n    syscall\n"
        "rec:\n    mov rcx, [rel pos]\n    lea rdx, [rel res]\n    mov [rdx+rcx], ax\n"
        "    add qword [rel pos], 2\n    ret\n"
    )


@pytest.mark.native
def test_syscall_results_match_linux(tmp_path):
    import struct

    src = probe_program(PROBES)
    n = _native(src, tmp_path, b"")
    v_out, v_status = _vm(src, tmp_path, b"", argv=["./prog"])
    assert v_status == n.returncode

    def table(out: bytes) -> list[str]:
        tail = out[-2 * len(PROBES) :]
        vals = struct.unpack(f"<{len(PROBES)}h", tail)
        return [f"{name}: {v}" for (name, _), v in zip(PROBES, vals)] + [repr(out[: -len(tail)])]

    assert table(v_out) == table(n.stdout)


# ---- host write errors on stdout become the guest's errno (issue 13) ------------------

WRITE_STATUS = """
global _start
section .data
msg db "hello", 10
section .text
_start:
    mov eax, 1
    mov edi, 1
    lea rsi, [rel msg]
    mov edx, 6
    syscall
    neg rax                  ; exit status: the errno (0 when the write worked)
    cmp rax, 4096
    jb .out
    xor eax, eax
.out:
    mov edi, eax
    mov eax, 60
    syscall
"""


def _cli_exec(src: str, tmp_path: Path, stdout) -> subprocess.CompletedProcess:
    (tmp_path / "w.asm").write_text(src)
    return subprocess.run(
        [sys.executable, "-m", "mnist_vm.cli", "exec", str(tmp_path / "w.asm")],
        cwd=REPO,
        stdout=stdout,
        stderr=subprocess.PIPE,
        timeout=60,
    )


@pytest.mark.native
@pytest.mark.skipif(not Path("/dev/full").exists(), reason="no /dev/full on this host")
def test_write_to_dev_full_gives_enospc_like_native(tmp_path):
    require_native()
    exe = build_native([("prog.asm", WRITE_STATUS)], workdir=tmp_path)
    with open("/dev/full", "wb") as full:
        n = subprocess.run([str(exe)], stdout=full, timeout=60)
        v = _cli_exec(WRITE_STATUS, tmp_path, full)
    assert n.returncode == v.returncode == 28  # ENOSPC
    assert v.stderr == b""


def test_write_to_a_closed_pipe_gives_epipe_not_a_traceback(tmp_path):
    import os

    r, w = os.pipe()
    os.close(r)
    try:
        v = _cli_exec(WRITE_STATUS, tmp_path, w)
    finally:
        os.close(w)
    assert v.returncode == 32  # EPIPE: the VM acts as a program ignoring SIGPIPE
    assert v.stderr == b""


# ---- 6. the entry stack: argc, argv, envp, auxv --------------------------------------

ENTRY_STACK = """
global _start
section .data
nl db 10
section .bss
res resb 16
section .text
_start:
    mov rax, rsp
    and eax, 15
    mov [rel res], al        ; rsp is 16-byte aligned at entry
    mov rbx, [rsp]           ; argc
    mov [rel res+1], bl
    lea r12, [rsp+8]         ; argv
    mov r13, [r12+rbx*8]     ; argv[argc] is NULL
    mov [rel res+2], r13b
    mov rax, [r12]           ; strings are contiguous: argv[1] follows argv[0]'s NUL
    mov rdi, rax
    call strlen
    lea rax, [rax+rdi+1]
    cmp rbx, 1
    je .one
    cmp rax, [r12+8]
    sete [rel res+3]
.one:
    lea r14, [r12+rbx*8+8]   ; envp
.print_args:
    mov rdi, [r12]
    test rdi, rdi
    jz .env
    call puts
    add r12, 8
    jmp .print_args
.env:
    mov rdi, [r14]
    add r14, 8
    test rdi, rdi
    jz .aux
    call puts
    jmp .env
.aux:                        ; auxv: find AT_PAGESZ (6) and AT_EXECFN (31), up to AT_NULL
    mov rax, [r14]
    test rax, rax
    jz .done
    cmp rax, 6
    jne .not_page
    mov rcx, [r14+8]
    shr ecx, 12
    mov [rel res+4], cl
.not_page:
    cmp rax, 31
    jne .not_fn
    mov rdi, [r14+8]
    call puts
.not_fn:
    add r14, 16
    jmp .aux
.done:
    mov eax, 1
    mov edi, 1
    lea rsi, [rel res]
    mov edx, 5
    syscall
    mov eax, 60
    xor edi, edi
    syscall
strlen:                      ; rax = strlen(rax), keeps rdi
    xor ecx, ecx
.l: cmp byte [rax+rcx], 0
    je .e
    inc rcx
    jmp .l
.e: mov rax, rcx
    ret
puts:                        ; print the string at rdi and a newline
    mov rax, rdi
    push rdi
    call strlen
    pop rsi
    mov rdx, rax
    mov eax, 1
    mov edi, 1
    syscall
    mov eax, 1
    mov edi, 1
    lea rsi, [rel nl]
    mov edx, 1
    syscall
    ret
"""


@pytest.mark.native
@pytest.mark.parametrize("args", [(), ("a", "b c", "--x", "")])
def test_entry_stack_is_laid_out_as_linux_does(tmp_path, args):
    require_native()
    build_native([("prog.asm", ENTRY_STACK)], workdir=tmp_path)
    env = {"LANG": "C", "X": "1"}
    n = subprocess.run(["./prog", *args], cwd=tmp_path, env=env, capture_output=True, timeout=60)
    v_out, v_status = _vm(
        ENTRY_STACK, tmp_path, argv=["./prog", *args], envp=[f"{k}={v}" for k, v in env.items()]
    )
    assert (v_out, v_status) == (n.stdout, n.returncode), hexdiff(n.stdout, v_out)
    assert v_out.startswith(b"./prog\n") and v_out.endswith(
        b"./prog\n\x00"
        + bytes([1 + len(args)])
        + b"\x00"
        + (b"\x01" if args else b"\x00")
        + b"\x01"
    )


def test_cli_exec_passes_arguments_after_double_dash(tmp_path):
    (tmp_path / "prog.asm").write_text(ENTRY_STACK)
    v = subprocess.run(
        [sys.executable, "-m", "mnist_vm.cli", "exec", "prog.asm", "--", "one", "two"],
        cwd=tmp_path,
        capture_output=True,
        timeout=60,
        env={"PYTHONPATH": str(REPO)},
    )
    assert v.stdout.startswith(b"prog.asm\none\ntwo\n"), v.stderr.decode()
    assert v.returncode == 0
