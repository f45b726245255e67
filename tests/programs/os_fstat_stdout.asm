; fstat(1): is stdout a pipe, a file or a terminal? (a pipe under the tests)
global _start
section .data
fifo    db "stdout is a pipe", 10
other   db "stdout is something else", 10
bad     db "fstat(99) failed with EBADF", 10
section .bss
st      resb 144
section .text
_start:
        mov     eax, 5
        mov     edi, 1
        lea     rsi, [rel st]
        syscall
        mov     eax, [rel st+24]        ; st_mode
        and     eax, 0xF000
        lea     rsi, [rel fifo]
        mov     edx, 17
        cmp     eax, 0x1000             ; S_IFIFO
        je      .w
        lea     rsi, [rel other]
        mov     edx, 25
.w:     mov     eax, 1
        mov     edi, 1
        syscall
        mov     eax, 5
        mov     edi, 99
        lea     rsi, [rel st]
        syscall
        cmp     rax, -9
        jne     .out
        mov     eax, 1
        mov     edi, 1
        lea     rsi, [rel bad]
        mov     edx, 28
        syscall
.out:   mov     eax, 60
        xor     edi, edi
        syscall
