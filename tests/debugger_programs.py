"""The small programs the debugger and history tests run, in one place.

Each program is built from the same parts (a counting loop that fills an
array, `square`, `twice` calling it, the exit syscall), so the tests of
reverse execution, the session and the full-screen UI step through the same
code; each adds what its tests look at (a file read, floats, an output line).
"""

from __future__ import annotations

# fills arr[0..63] with 0..63 and counts in [counter]; then rdi = 5
FILL_LOOP = """\
_start:
    xor ecx, ecx
.fill:
    mov [arr + rcx*4], ecx
    add qword [counter], 1
    inc rcx
    cmp rcx, 64
    jb .fill
    mov rdi, 5
"""

EXIT_0 = """\
    mov eax, 60
    xor edi, edi
    syscall
"""

SQUARE = """\
square:
    mov rax, rdi
    imul rax, rdi
    ret
"""

# rax = rdi*rdi + rdi, through a nested call
TWICE = """\
twice:
    push rbx
    mov rbx, rdi
    call square
    add rax, rbx
    pop rbx
    ret
"""

# reverse execution: loops, nested calls, a file read (runtime state), SSE and output
HISTORY_PROGRAM = (
    """
global _start
section .data
counter:    dq 0
fname:      db "in.txt", 0
section .bss
arr:        resd 64
buf:        resb 16
section .text
"""
    + FILL_LOOP
    + """\
    call twice              ; rax = 5*5 + 5
    cvtsi2ss xmm0, rax
    mulss xmm0, xmm0
    movss [arr], xmm0
    mov eax, 2              ; open("in.txt")
    mov rdi, fname
    xor esi, esi
    xor edx, edx
    syscall
    mov rbx, rax
    xor eax, eax            ; read(fd, buf, 6)
    mov rdi, rbx
    mov rsi, buf
    mov edx, 6
    syscall
    xor eax, eax            ; read again: the file offset matters
    mov rdi, rbx
    mov rsi, buf + 8
    mov edx, 4
    syscall
    mov eax, 1              ; write(1, buf, 12)
    mov edi, 1
    mov rsi, buf
    mov edx, 12
    syscall
    mov eax, 3
    mov rdi, rbx
    syscall
"""
    + EXIT_0
    + SQUARE
    + TWICE
)

# the session and its commands: nested calls, floats to print, one output line
SESSION_PROGRAM = (
    """
global _start
section .data
counter:    dq 0
weights:    dd 0.5, -1.25, 3.0, 0.0
msg:        db "done", 10
section .bss
arr:        resd 64
section .text
"""
    + FILL_LOOP
    + """\
    call twice              ; rax = 30
    mov rdi, 3
    call twice              ; rax = 12
    movss xmm0, [weights + 4]
    addss xmm0, [weights]
    movss [weights + 12], xmm0
    mov eax, 1
    mov edi, 1
    mov rsi, msg
    mov edx, 5
    syscall
"""
    + EXIT_0
    + SQUARE
    + TWICE
)

# the full-screen UI: a loop to continue through, two calls, a 784-byte digit buffer
TUI_PROGRAM = (
    """
global _start
section .data
counter:    dq 0
section .bss
arr:        resd 64
digit:      resb 784
section .text
"""
    + FILL_LOOP
    + """\
    call square
    mov rdi, rax
    call square
"""
    + EXIT_0
    + SQUARE
)

# a loop that never ends: for interrupting a running command (debugger, run tier)
SPIN = """
global _start
section .text
_start:
    xor eax, eax
.spin:
    inc rax
    jmp .spin
"""


def divide_under_mxcsr(mode: int, exit_code: str = "    xor edi, edi\n") -> str:
    """ldmxcsr `mode`, xmm0 = 1.0 / 3.0 (inexact: PE; rounded by the mode),
    then exit with `exit_code`'s rdi: the MXCSR tests of states, history and
    the registers panel."""
    return f"""section .data
mode: dd {mode:#x}
one: dd 1.0
three: dd 3.0
section .text
global _start
_start:
    ldmxcsr [mode]
    movss xmm0, [one]
    divss xmm0, [three]
{exit_code}    mov eax, 60
    syscall
"""
