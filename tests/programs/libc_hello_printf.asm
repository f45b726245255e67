; link: libc
; The classic: hello world with printf from main.
        global  main
        extern  printf
        section .data
msg     db "Hello, %s! %d + %d = %d", 10, 0
who     db "world", 0
        section .text
main:
        sub     rsp, 8                  ; align the stack for the call
        lea     rdi, [rel msg]
        lea     rsi, [rel who]
        mov     edx, 2
        mov     ecx, 3
        mov     r8d, 5
        xor     eax, eax                ; no vector registers used
        call    printf wrt ..plt
        add     rsp, 8
        xor     eax, eax
        ret
