; link: libc
; An array of {int id; double score} records on the heap, the best printed.
        global  main
        extern  malloc, free, printf
        section .rodata
fmt     db "record %d: score %.2f", 10, 0
best    db "best: id %d with %.2f", 10, 0
        section .text
main:
        push    rbx
        push    r12
        push    r13
        mov     edi, 16*5
        call    malloc
        mov     r12, rax
        xor     ebx, ebx
.fill:  mov     eax, ebx
        imul    eax, eax, 37
        add     eax, 11
        xor     edx, edx
        mov     ecx, 100
        div     ecx
        mov     rax, rbx
        shl     rax, 4
        mov     [r12+rax], ebx
        cvtsi2sd xmm0, edx
        mov     rcx, __float64__(0.25)
        movq    xmm1, rcx
        addsd   xmm0, xmm1
        movsd   [r12+rax+8], xmm0
        inc     ebx
        cmp     ebx, 5
        jl      .fill
        xor     ebx, ebx
        xor     r13d, r13d              ; index of the best
.show:  mov     rax, rbx
        shl     rax, 4
        lea     rdi, [rel fmt]
        mov     esi, [r12+rax]
        movsd   xmm0, [r12+rax+8]
        mov     eax, 1
        call    printf
        mov     rax, rbx
        shl     rax, 4
        mov     rcx, r13
        shl     rcx, 4
        movsd   xmm0, [r12+rax+8]
        comisd  xmm0, [r12+rcx+8]
        jbe     .no
        mov     r13, rbx
.no:    inc     ebx
        cmp     ebx, 5
        jl      .show
        shl     r13, 4
        lea     rdi, [rel best]
        mov     esi, [r12+r13]
        movsd   xmm0, [r12+r13+8]
        mov     eax, 1
        call    printf
        mov     rdi, r12
        call    free
        pop     r13
        pop     r12
        pop     rbx
        xor     eax, eax
        ret
