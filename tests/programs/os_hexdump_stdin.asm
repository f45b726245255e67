; stdin: Hi!\n\x00\xff
; Print each stdin byte as two hex digits.
global _start
section .data
hex     db "0123456789abcdef"
section .bss
buf     resb 64
outbuf  resb 200
section .text
_start:
        xor     eax, eax
        xor     edi, edi
        lea     rsi, [rel buf]
        mov     edx, 64
        syscall
        mov     rcx, rax
        xor     ebx, ebx
        lea     rdi, [rel outbuf]
.l:     cmp     rbx, rcx
        jge     .w
        movzx   eax, byte [buf+rbx]
        mov     edx, eax
        shr     eax, 4
        and     edx, 15
        mov     al, [hex+rax]
        mov     dl, [hex+rdx]
        mov     [rdi], al
        mov     [rdi+1], dl
        mov     byte [rdi+2], ' '
        add     rdi, 3
        inc     rbx
        jmp     .l
.w:     mov     byte [rdi], 10
        inc     rdi
        lea     rsi, [rel outbuf]
        mov     rdx, rdi
        sub     rdx, rsi
        mov     eax, 1
        mov     edi, 1
        syscall
        mov     eax, 60
        xor     edi, edi
        syscall
