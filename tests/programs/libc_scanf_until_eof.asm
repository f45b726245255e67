; link: libc
; stdin: 5 10\n-3\n  40 abc 7\n
; Sum numbers with scanf("%d") until it stops matching (abc) or hits EOF.
        global  main
        extern  scanf, printf
        section .rodata
infmt   db "%d", 0
each    db "read %d", 10, 0
fmt     db "sum=%d count=%d last scanf=%d", 10, 0
        section .bss
val     resd 1
        section .text
main:
        push    rbx
        push    r12
        push    r13
        xor     ebx, ebx
        xor     r12d, r12d
.loop:  lea     rdi, [rel infmt]
        lea     rsi, [rel val]
        xor     eax, eax
        call    scanf
        mov     r13d, eax
        cmp     eax, 1
        jne     .done
        add     ebx, [rel val]
        inc     r12d
        lea     rdi, [rel each]
        mov     esi, [rel val]
        xor     eax, eax
        call    printf
        jmp     .loop
.done:  lea     rdi, [rel fmt]
        mov     esi, ebx
        mov     edx, r12d
        mov     ecx, r13d
        xor     eax, eax
        call    printf
        pop     r13
        pop     r12
        pop     rbx
        xor     eax, eax
        ret
