; link: libc
; args: first "second arg" 3
; main(argc, argv): print every argument with its index.
        global  main
        extern  printf
        section .rodata
fmt     db "argv[%d] = '%s'", 10, 0
cnt     db "argc = %d", 10, 0
        section .text
main:
        push    rbx
        push    r12
        push    r13
        mov     r12d, edi
        mov     r13, rsi
        lea     rdi, [rel cnt]
        mov     esi, r12d
        xor     eax, eax
        call    printf
        xor     ebx, ebx
.loop:  cmp     ebx, r12d
        jge     .out
        lea     rdi, [rel fmt]
        mov     esi, ebx
        mov     rdx, [r13+rbx*8]
        xor     eax, eax
        call    printf
        inc     ebx
        jmp     .loop
.out:   pop     r13
        pop     r12
        pop     rbx
        xor     eax, eax
        ret
