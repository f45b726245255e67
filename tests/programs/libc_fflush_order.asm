; link: libc
; fflush(NULL) pushes printf's buffer out before a raw write.
        global  main
        extern  printf, fflush
        section .rodata
f1      db "first (printf, flushed)", 10, 0
f2      db "third (printf)", 10, 0
raw     db "second (raw write)", 10
rawlen  equ $ - raw
        section .text
main:
        sub     rsp, 8
        lea     rdi, [rel f1]
        xor     eax, eax
        call    printf
        xor     edi, edi
        call    fflush
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
