; link: libc
; stdin: 17 25\n
; Read two integers with scanf and print their sum.
        global  main
        extern  scanf, printf
        section .rodata
prompt  db "Enter two numbers: ", 0
infmt   db "%d %d", 0
outfmt  db "%d + %d = %d (scanf returned %d)", 10, 0
        section .bss
a       resd 1
b       resd 1
        section .text
main:
        push    rbx
        lea     rdi, [rel prompt]
        xor     eax, eax
        call    printf
        lea     rdi, [rel infmt]
        lea     rsi, [rel a]
        lea     rdx, [rel b]
        xor     eax, eax
        call    scanf
        mov     ebx, eax
        lea     rdi, [rel outfmt]
        mov     esi, [rel a]
        mov     edx, [rel b]
        lea     ecx, [rsi+rdx]
        mov     r8d, ebx
        xor     eax, eax
        call    printf
        xor     eax, eax
        pop     rbx
        ret
