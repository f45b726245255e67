; link: libc
; sprintf into a buffer, then print it with puts; snprintf truncates.
        global  main
        extern  sprintf, snprintf, puts, printf
        section .rodata
fmt     db "%s-%03d-%c", 0
tag     db "ID", 0
report     db "sprintf wrote %d bytes, snprintf wanted %d: [%s]", 10, 0
        section .bss
buf     resb 64
shortbuf   resb 8
        section .text
main:
        push    rbx
        push    r12
        sub     rsp, 8
        lea     rdi, [rel buf]
        lea     rsi, [rel fmt]
        lea     rdx, [rel tag]
        mov     ecx, 7
        mov     r8d, 'x'
        xor     eax, eax
        call    sprintf
        mov     ebx, eax
        lea     rdi, [rel buf]
        call    puts
        lea     rdi, [rel shortbuf]
        mov     esi, 6
        lea     rdx, [rel fmt]
        lea     rcx, [rel tag]
        mov     r8d, 12345
        mov     r9d, 'y'
        xor     eax, eax
        call    snprintf
        mov     r12d, eax
        lea     rdi, [rel report]
        mov     esi, ebx
        mov     edx, r12d
        lea     rcx, [rel shortbuf]
        xor     eax, eax
        call    printf
        add     rsp, 8
        pop     r12
        pop     rbx
        xor     eax, eax
        ret
