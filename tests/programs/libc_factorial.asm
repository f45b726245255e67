; link: libc
; Recursive factorial of 0..20 printed with %ld.
        global  main
        extern  printf
        section .rodata
fmt     db "%2d! = %ld", 10, 0
        section .text
fact:                                   ; rax = edi!
        cmp     edi, 1
        jg      .rec
        mov     eax, 1
        ret
.rec:   push    rdi
        dec     edi
        call    fact
        pop     rdi
        imul    rax, rdi
        ret
main:
        push    rbx
        xor     ebx, ebx
.loop:  mov     edi, ebx
        call    fact
        lea     rdi, [rel fmt]
        mov     esi, ebx
        mov     rdx, rax
        xor     eax, eax
        call    printf
        inc     ebx
        cmp     ebx, 20
        jle     .loop
        pop     rbx
        xor     eax, eax
        ret
