; link: libc
; calloc zeroes; realloc keeps the contents while growing.
        global  main
        extern  calloc, realloc, free, printf
        section .rodata
fmt     db "zeroes=%d first=%d last=%d", 10, 0
        section .text
main:
        push    rbx
        push    r12
        sub     rsp, 8
        mov     edi, 10
        mov     esi, 4
        call    calloc
        mov     rbx, rax
        xor     r12d, r12d              ; count zero dwords
        xor     ecx, ecx
.chk:   cmp     dword [rbx+rcx*4], 0
        jne     .nz
        inc     r12d
.nz:    mov     [rbx+rcx*4], ecx
        inc     ecx
        cmp     ecx, 10
        jl      .chk
        mov     rdi, rbx
        mov     esi, 4000
        call    realloc
        mov     rbx, rax
        mov     dword [rbx+3996], 999
        lea     rdi, [rel fmt]
        mov     esi, r12d
        mov     edx, [rbx+36]
        mov     ecx, [rbx+3996]
        xor     eax, eax
        call    printf
        mov     rdi, rbx
        call    free
        add     rsp, 8
        pop     r12
        pop     rbx
        xor     eax, eax
        ret
