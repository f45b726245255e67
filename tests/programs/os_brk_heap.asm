; Grow the heap with brk, store a string there and print it.
global _start
section .text
_start:
        mov     eax, 12                 ; brk(0): the current break
        xor     edi, edi
        syscall
        mov     rbx, rax
        lea     rdi, [rax+4096]
        mov     eax, 12
        syscall
        sub     rax, rbx                ; grew by 4096?
        cmp     rax, 4096
        jne     .fail
        mov     rdi, rbx
        mov     ecx, 26
        mov     al, 'a'
.fill:  mov     [rdi], al
        inc     rdi
        inc     al
        dec     ecx
        jnz     .fill
        mov     byte [rdi], 10
        mov     eax, 1
        mov     edi, 1
        mov     rsi, rbx
        mov     edx, 27
        syscall
        mov     eax, 60
        xor     edi, edi
        syscall
.fail:  mov     eax, 60
        mov     edi, 1
        syscall
