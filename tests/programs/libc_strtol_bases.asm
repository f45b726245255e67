; link: libc
; strtol in bases 10, 16, 2 and 0 (auto), with the end pointer.
        global  main
        extern  strtol, printf
        section .rodata
s1      db "  -1234xyz", 0
s2      db "ff", 0
s3      db "101101", 0
s4      db "0x1F", 0
s5      db "0755", 0
s6      db "99999999999999999999", 0
fmt     db "%ld (stopped after %ld chars)", 10, 0
        section .data
tab     dq s1, 10, s2, 16, s3, 2, s4, 0, s5, 0, s6, 10
        section .bss
endp    resq 1
        section .text
main:
        push    rbx
        push    r12
        push    r13
        xor     ebx, ebx
.loop:  lea     rax, [rel tab]
        mov     r12, [rax+rbx*8]
        mov     rdi, r12
        lea     rsi, [rel endp]
        mov     rdx, [rax+rbx*8+8]
        call    strtol
        mov     rsi, rax
        mov     rdx, [rel endp]
        sub     rdx, r12
        lea     rdi, [rel fmt]
        xor     eax, eax
        call    printf
        add     ebx, 2
        cmp     ebx, 12
        jl      .loop
        pop     r13
        pop     r12
        pop     rbx
        xor     eax, eax
        ret
