; link: libc
; stdin: one two\nthree\n\nfour five six\n
; Count characters, lines and vowels with getchar until EOF (-1).
        global  main
        extern  getchar, printf
        section .rodata
fmt     db "chars=%d lines=%d vowels=%d eof=%d", 10, 0
        section .text
main:
        push    rbx
        push    r12
        push    r13
        push    r14
        sub     rsp, 8
        xor     ebx, ebx
        xor     r12d, r12d
        xor     r13d, r13d
.loop:  call    getchar
        cmp     eax, -1
        je      .done
        inc     ebx
        cmp     eax, 10
        jne     .nl
        inc     r12d
.nl:    mov     ecx, eax
        or      ecx, 32
        cmp     ecx, 'a'
        je      .v
        cmp     ecx, 'e'
        je      .v
        cmp     ecx, 'i'
        je      .v
        cmp     ecx, 'o'
        je      .v
        cmp     ecx, 'u'
        jne     .loop
.v:     inc     r13d
        jmp     .loop
.done:  mov     r14d, eax
        lea     rdi, [rel fmt]
        mov     esi, ebx
        mov     edx, r12d
        mov     ecx, r13d
        mov     r8d, r14d
        xor     eax, eax
        call    printf
        add     rsp, 8
        pop     r14
        pop     r13
        pop     r12
        pop     rbx
        xor     eax, eax
        ret
