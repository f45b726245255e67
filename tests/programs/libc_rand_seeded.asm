; link: libc
; srand(42) then rand(): glibc's generator gives the same numbers everywhere.
        global  main
        extern  srand, rand, printf
        section .rodata
fmt     db "%d ", 0
nl      db 10, 0
dice    db "dice: %d", 10, 0
        section .text
main:
        push    rbx
        mov     edi, 42
        call    srand
        mov     ebx, 8
.loop:  call    rand
        lea     rdi, [rel fmt]
        mov     esi, eax
        xor     eax, eax
        call    printf
        dec     ebx
        jnz     .loop
        lea     rdi, [rel nl]
        xor     eax, eax
        call    printf
        call    rand
        xor     edx, edx
        mov     ecx, 6
        div     ecx
        lea     esi, [rdx+1]
        lea     rdi, [rel dice]
        xor     eax, eax
        call    printf
        pop     rbx
        xor     eax, eax
        ret
