; link: libc
; puts adds a newline; putchar prints one character; return values printed.
        global  main
        extern  puts, putchar, printf
        section .rodata
line    db "a line from puts", 0
fmt     db "puts returned %d, putchar returned %d", 10, 0
        section .text
main:
        push    rbx
        push    r12
        push    r13
        lea     rdi, [rel line]
        call    puts
        mov     r12d, eax
        mov     ebx, 'a'
.loop:
        mov     edi, ebx
        call    putchar
        mov     r13d, eax
        inc     ebx
        cmp     ebx, 'z'
        jbe     .loop
        mov     edi, 10
        call    putchar
        lea     rdi, [rel fmt]
        mov     esi, r12d
        mov     edx, r13d
        xor     eax, eax
        call    printf
        xor     eax, eax
        pop     r13
        pop     r12
        pop     rbx
        ret
