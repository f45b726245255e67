; link: libc
; A linked list built with malloc (push front), printed and freed.
        global  main
        extern  malloc, free, printf, putchar
        section .rodata
fmt     db "%d -> ", 0
nil     db "NULL", 10, 0
        section .text
main:
        push    rbx
        push    r12
        push    r13
        xor     r12d, r12d              ; head
        mov     ebx, 1
.build: mov     edi, 16
        call    malloc
        mov     rcx, rbx
        imul    rcx, rbx
        mov     [rax], rcx              ; value
        mov     [rax+8], r12            ; next
        mov     r12, rax
        inc     ebx
        cmp     ebx, 8
        jle     .build
        mov     rbx, r12
.show:  test    rbx, rbx
        jz      .end
        lea     rdi, [rel fmt]
        mov     rsi, [rbx]
        xor     eax, eax
        call    printf
        mov     rbx, [rbx+8]
        jmp     .show
.end:   lea     rdi, [rel nil]
        xor     eax, eax
        call    printf
.free:  test    r12, r12
        jz      .out
        mov     r13, [r12+8]
        mov     rdi, r12
        call    free
        mov     r12, r13
        jmp     .free
.out:   pop     r13
        pop     r12
        pop     rbx
        xor     eax, eax
        ret
