; link: libc
; memset, memcpy, memcmp on a buffer, printed with %s.
        global  main
        extern  memset, memcpy, memcmp, printf
        section .rodata
src     db "0123456789", 0
fmt     db "[%s] cmp_equal=%d cmp_less=%d", 10, 0
        section .bss
buf     resb 32
        section .text
main:
        push    rbx
        push    r12
        sub     rsp, 8
        lea     rdi, [rel buf]
        mov     esi, '*'
        mov     edx, 20
        call    memset
        lea     rdi, [rel buf+5]
        lea     rsi, [rel src]
        mov     edx, 10
        call    memcpy
        lea     rdi, [rel buf+5]
        lea     rsi, [rel src]
        mov     edx, 10
        call    memcmp
        mov     ebx, eax
        lea     rdi, [rel src]
        lea     rsi, [rel buf]
        mov     edx, 3
        call    memcmp
        mov     r12d, eax
        lea     rdi, [rel fmt]
        lea     rsi, [rel buf]
        mov     edx, ebx
        mov     ecx, r12d
        xor     eax, eax
        call    printf
        add     rsp, 8
        pop     r12
        pop     rbx
        xor     eax, eax
        ret
