; stdin: Grace\n
; A name prompt with raw syscalls: write the question, read a line, greet.
global _start
section .data
ask     db "What is your name? "
asklen  equ $ - ask
hi      db "Hello, "
hilen   equ $ - hi
bang    db "!", 10
section .bss
name    resb 64
section .text
_start:
        mov     eax, 1
        mov     edi, 1
        lea     rsi, [rel ask]
        mov     edx, asklen
        syscall
        xor     eax, eax
        xor     edi, edi
        lea     rsi, [rel name]
        mov     edx, 64
        syscall
        mov     rbx, rax                ; bytes read
        test    rbx, rbx
        jle     .out
        cmp     byte [name+rbx-1], 10   ; drop the newline
        jne     .greet
        dec     rbx
.greet:
        mov     eax, 1
        mov     edi, 1
        lea     rsi, [rel hi]
        mov     edx, hilen
        syscall
        mov     eax, 1
        mov     edi, 1
        lea     rsi, [rel name]
        mov     rdx, rbx
        syscall
        mov     eax, 1
        mov     edi, 1
        lea     rsi, [rel bang]
        mov     edx, 2
        syscall
.out:
        mov     eax, 60
        xor     edi, edi
        syscall
