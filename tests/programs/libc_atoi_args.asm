; link: libc
; args: 12 30 -7 x9
; Sum the integer arguments with atoi (argv[1..]).
        global  main
        extern  atoi, printf
        section .rodata
each    db "atoi(%s) = %d", 10, 0
total   db "sum = %d over %d arguments", 10, 0
        section .text
main:
        push    rbx
        push    r12
        push    r13
        push    r14
        push    r15
        mov     r12d, edi               ; argc
        mov     r13, rsi                ; argv
        xor     r14d, r14d              ; sum
        mov     ebx, 1
.next:  cmp     ebx, r12d
        jge     .done
        mov     rdi, [r13+rbx*8]
        call    atoi
        add     r14d, eax
        mov     r15d, eax
        lea     rdi, [rel each]
        mov     rsi, [r13+rbx*8]
        mov     edx, r15d
        xor     eax, eax
        call    printf
        inc     ebx
        jmp     .next
.done:
        lea     rdi, [rel total]
        mov     esi, r14d
        lea     edx, [r12-1]
        xor     eax, eax
        call    printf
        pop     r15
        pop     r14
        pop     r13
        pop     r12
        pop     rbx
        xor     eax, eax
        ret
