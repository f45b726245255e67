; link: libc
; malloc an array of 100 qwords, fill with squares, sum, free.
        global  main
        extern  malloc, free, printf
        section .rodata
fmt     db "sum of squares 0..99 = %ld, aligned=%d", 10, 0
        section .text
main:
        push    rbx
        mov     edi, 800
        call    malloc
        mov     rbx, rax
        xor     ecx, ecx
.fill:  mov     rax, rcx
        imul    rax, rcx
        mov     [rbx+rcx*8], rax
        inc     ecx
        cmp     ecx, 100
        jl      .fill
        xor     eax, eax
        xor     ecx, ecx
.sum:   add     rax, [rbx+rcx*8]
        inc     ecx
        cmp     ecx, 100
        jl      .sum
        mov     rsi, rax
        mov     rdx, rbx
        and     edx, 15
        sete    dl
        movzx   edx, dl
        lea     rdi, [rel fmt]
        xor     eax, eax
        call    printf
        mov     rdi, rbx
        call    free
        xor     eax, eax
        pop     rbx
        ret
