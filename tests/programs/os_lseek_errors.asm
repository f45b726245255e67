; Seeking on stdin (a pipe) gives ESPIPE; on a closed fd EBADF. Exit status
; = the two errnos combined (29 * 10 + 9 = 299 & 255 = 43).
global _start
section .text
_start:
        mov     eax, 8
        xor     edi, edi
        xor     esi, esi
        mov     edx, 1
        syscall
        neg     rax
        imul    rbx, rax, 10
        mov     eax, 8
        mov     edi, 42
        xor     esi, esi
        xor     edx, edx
        syscall
        neg     rax
        add     rbx, rax
        mov     rdi, rbx
        mov     eax, 60
        syscall
