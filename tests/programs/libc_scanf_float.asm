; link: libc
; stdin: 2.5 4\n
; Circle area from a radius read with %lf; also reads an int.
        global  main
        extern  scanf, printf
        section .rodata
infmt   db "%lf %d", 0
outfmt  db "r=%.2f n=%d area=%.4f area*n=%g", 10, 0
pi      dq 3.141592653589793
        section .bss
r       resq 1
n       resd 1
        section .text
main:
        sub     rsp, 8
        lea     rdi, [rel infmt]
        lea     rsi, [rel r]
        lea     rdx, [rel n]
        xor     eax, eax
        call    scanf
        movsd   xmm0, [rel r]
        movsd   xmm1, xmm0
        mulsd   xmm1, xmm0
        mulsd   xmm1, [rel pi]
        cvtsi2sd xmm2, dword [rel n]
        mulsd   xmm2, xmm1
        lea     rdi, [rel outfmt]
        mov     esi, [rel n]
        mov     eax, 3
        call    printf
        add     rsp, 8
        xor     eax, eax
        ret
