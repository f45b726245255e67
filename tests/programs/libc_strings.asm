; link: libc
; strlen, strcpy, strcat, strcmp, strncmp on small strings.
        global  main
        extern  strlen, strcpy, strcat, strcmp, strncmp, printf, puts
        section .rodata
s1      db "apple", 0
s2      db "apricot", 0
s3      db " pie", 0
fmt     db "len=%ld cmp=%d ncmp2=%d ncmp3=%d self=%d", 10, 0
        section .bss
buf     resb 64
        section .text
main:
        push    rbx
        push    r12
        push    r13
        push    r14
        push    r15
        lea     rdi, [rel buf]
        lea     rsi, [rel s1]
        call    strcpy
        lea     rdi, [rel buf]
        lea     rsi, [rel s3]
        call    strcat
        lea     rdi, [rel buf]
        call    puts
        lea     rdi, [rel buf]
        call    strlen
        mov     rbx, rax
        lea     rdi, [rel s1]
        lea     rsi, [rel s2]
        call    strcmp
        mov     r12d, eax
        lea     rdi, [rel s1]
        lea     rsi, [rel s2]
        mov     edx, 2
        call    strncmp
        mov     r13d, eax
        lea     rdi, [rel s1]
        lea     rsi, [rel s2]
        mov     edx, 3
        call    strncmp
        mov     r14d, eax
        lea     rdi, [rel s1]
        lea     rsi, [rel s1]
        call    strcmp
        mov     r9d, eax
        lea     rdi, [rel fmt]
        mov     rsi, rbx
        mov     edx, r12d
        mov     ecx, r13d
        mov     r8d, r14d
        xor     eax, eax
        call    printf
        pop     r15
        pop     r14
        pop     r13
        pop     r12
        pop     rbx
        xor     eax, eax
        ret
