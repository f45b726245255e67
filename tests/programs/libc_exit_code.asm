; link: libc
; exit(3) flushes what printf buffered, and the status is 3.
        global  main
        extern  printf, exit
        section .rodata
msg     db "about to exit with %d", 10, 0
        section .text
main:
        sub     rsp, 8
        lea     rdi, [rel msg]
        mov     esi, 3
        xor     eax, eax
        call    printf
        mov     edi, 3
        call    exit
