; link: libc
; printf with 10 integers and 10 doubles: arguments beyond the registers go
; on the stack, integers and doubles interleaved in order.
        global  main
        extern  printf
        section .rodata
fmt     db "%d %d %d %d %d %d %d %d %d %d | %.1f %.1f %.1f %.1f %.1f %.1f %.1f %.1f %.1f %.1f", 10, 0
        section .text
main:
        push    rbp
        mov     rbp, rsp
        sub     rsp, 64
        ; stack args in order: int 6, int 7, int 8, int 9, double 8.5, double 9.5
        mov     qword [rsp], 6
        mov     qword [rsp+8], 7
        mov     qword [rsp+16], 8
        mov     qword [rsp+24], 9
        mov     rax, __float64__(8.5)
        mov     [rsp+32], rax
        mov     rax, __float64__(9.5)
        mov     [rsp+40], rax
        lea     rdi, [rel fmt]
        mov     esi, 1
        mov     edx, 2
        mov     ecx, 3
        mov     r8d, 4
        mov     r9d, 5
        mov     rax, __float64__(0.5)
        movq    xmm0, rax
        mov     rax, __float64__(1.5)
        movq    xmm1, rax
        mov     rax, __float64__(2.5)
        movq    xmm2, rax
        mov     rax, __float64__(3.5)
        movq    xmm3, rax
        mov     rax, __float64__(4.5)
        movq    xmm4, rax
        mov     rax, __float64__(5.5)
        movq    xmm5, rax
        mov     rax, __float64__(6.5)
        movq    xmm6, rax
        mov     rax, __float64__(7.5)
        movq    xmm7, rax
        mov     eax, 8
        call    printf
        leave
        xor     eax, eax
        ret
