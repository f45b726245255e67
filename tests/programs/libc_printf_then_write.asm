; link: libc
; printf output is buffered (stdout is a pipe) while a raw write syscall goes
; out at once: natively the write's text comes first. The VM matches glibc.
        global  main
        extern  printf
        section .rodata
f1      db "printf one", 10, 0
f2      db "printf two", 10, 0
raw     db "raw write", 10
rawlen  equ $ - raw
        section .text
main:
        sub     rsp, 8
        lea     rdi, [rel f1]
        xor     eax, eax
        call    printf
        mov     eax, 1
        mov     edi, 1
        lea     rsi, [rel raw]
        mov     edx, rawlen
        syscall
        lea     rdi, [rel f2]
        xor     eax, eax
        call    printf
        add     rsp, 8
        xor     eax, eax
        ret
