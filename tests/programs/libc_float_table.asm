; link: libc
; A table of x, x^2, 1/x and sqrt(x) for x = 1..10 with %f/%e/%g.
        global  main
        extern  printf
        section .rodata
head    db "%4s %8s %12s %10s", 10, 0
h1      db "x", 0
h2      db "x^2", 0
h3      db "1/x", 0
h4      db "sqrt", 0
row     db "%4.1f %8.2f %12.4e %10g", 10, 0
one     dq 1.0
        section .text
main:
        push    rbx
        lea     rdi, [rel head]
        lea     rsi, [rel h1]
        lea     rdx, [rel h2]
        lea     rcx, [rel h3]
        lea     r8, [rel h4]
        xor     eax, eax
        call    printf
        mov     ebx, 1
.loop:  cvtsi2sd xmm0, ebx
        movsd   xmm1, xmm0
        mulsd   xmm1, xmm0
        movsd   xmm2, [rel one]
        divsd   xmm2, xmm0
        sqrtsd  xmm3, xmm0
        lea     rdi, [rel row]
        mov     eax, 4
        call    printf
        inc     ebx
        cmp     ebx, 10
        jle     .loop
        pop     rbx
        xor     eax, eax
        ret
