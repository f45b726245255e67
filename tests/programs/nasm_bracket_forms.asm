; Older tutorials write directives in brackets and declare the stack
; non-executable; all of it is accepted.
[BITS 64]
use64
default rel

[SECTION .data]
msg:    db "bracket forms work", 10
len     equ $ - msg

[SECTION .text]
[GLOBAL _start]
_start:
        mov     eax, 1
        mov     edi, 1
        lea     rsi, [msg]
        mov     edx, len
        syscall
        mov     eax, 60
        xor     edi, edi
        syscall

section .note.GNU-stack noalloc noexec nowrite progbits
