; link: libc
; stdin: 9\n42 7 19 3 88 -5 0 23 7\n
; Read n and n numbers with scanf into a malloc'd array; bubble sort; print.
        global  main
        extern  scanf, printf, malloc, free, putchar
        section .rodata
dfmt    db "%d", 0
ofmt    db "%d ", 0
        section .bss
n       resd 1
        section .text
main:
        push    rbx
        push    r12
        push    r13
        lea     rdi, [rel dfmt]
        lea     rsi, [rel n]
        xor     eax, eax
        call    scanf
        movsxd  rdi, dword [rel n]
        shl     rdi, 2
        call    malloc
        mov     r12, rax
        xor     ebx, ebx
.rd:    cmp     ebx, [rel n]
        jge     .sort
        lea     rdi, [rel dfmt]
        lea     rsi, [r12+rbx*4]
        xor     eax, eax
        call    scanf
        inc     ebx
        jmp     .rd
.sort:  mov     r13d, [rel n]
.outer: dec     r13d
        jle     .print
        xor     ecx, ecx
.inner: cmp     ecx, r13d
        jge     .outer
        mov     eax, [r12+rcx*4]
        mov     edx, [r12+rcx*4+4]
        cmp     eax, edx
        jle     .ok
        mov     [r12+rcx*4], edx
        mov     [r12+rcx*4+4], eax
.ok:    inc     ecx
        jmp     .inner
.print: xor     ebx, ebx
.pl:    cmp     ebx, [rel n]
        jge     .done
        lea     rdi, [rel ofmt]
        mov     esi, [r12+rbx*4]
        xor     eax, eax
        call    printf
        inc     ebx
        jmp     .pl
.done:  mov     edi, 10
        call    putchar
        mov     rdi, r12
        call    free
        pop     r13
        pop     r12
        pop     rbx
        xor     eax, eax
        ret
