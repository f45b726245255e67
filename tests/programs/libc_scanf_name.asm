; link: libc
; stdin: Ada Lovelace\n
; A name prompt: scanf("%s") reads one word.
        global  main
        extern  scanf, printf
        section .rodata
ask     db "What is your name? ", 0
infmt   db "%63s", 0
hello   db "Hello, %s! Your name has %d letters.", 10, 0
        section .bss
name    resb 64
        section .text
main:
        sub     rsp, 8
        lea     rdi, [rel ask]
        xor     eax, eax
        call    printf
        lea     rdi, [rel infmt]
        lea     rsi, [rel name]
        xor     eax, eax
        call    scanf
        lea     rdi, [rel name]
        xor     ecx, ecx
.len:   cmp     byte [rdi+rcx], 0
        je      .done
        inc     ecx
        jmp     .len
.done:
        lea     rdi, [rel hello]
        lea     rsi, [rel name]
        mov     edx, ecx
        xor     eax, eax
        call    printf
        add     rsp, 8
        xor     eax, eax
        ret
