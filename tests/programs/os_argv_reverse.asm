; args: one two three four
; Print the arguments in reverse order, space separated.
global _start
section .data
sp1     db " "
nl      db 10
section .text
_start:
        mov     rbx, [rsp]              ; argc
        lea     r12, [rsp+8]
.loop:  dec     rbx
        jz      .done
        mov     rsi, [r12+rbx*8]
        xor     edx, edx
.len:   cmp     byte [rsi+rdx], 0
        je      .w
        inc     edx
        jmp     .len
.w:     mov     eax, 1
        mov     edi, 1
        syscall
        cmp     rbx, 1
        je      .loop
        mov     eax, 1
        mov     edi, 1
        lea     rsi, [rel sp1]
        mov     edx, 1
        syscall
        jmp     .loop
.done:  mov     eax, 1
        mov     edi, 1
        lea     rsi, [rel nl]
        mov     edx, 1
        syscall
        mov     eax, 60
        xor     edi, edi
        syscall
