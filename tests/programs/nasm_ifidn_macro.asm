; %ifidn inside a macro: zero a register the cheap way, or load a value.
%macro load 2
%ifidn %2, 0
        xor     %1, %1
%else
        mov     %1, %2
%endif
%endmacro

%macro add3 3
        load    rax, %1
        add     rax, %2
        add     rax, %3
        call    print_num
%endmacro

section .text
global _start
_start:
        add3    1, 2, 3
        add3    0, 40, 2
        add3    100, 0, 0
        load    rdi, 0
        mov     eax, 60
        syscall

; print rax in decimal, then a newline (clobbers rax, rcx, rdx, rsi, rdi, r11)
print_num:
        push    rbx
        sub     rsp, 32
        lea     rsi, [rsp + 31]
        mov     byte [rsi], 10
        mov     ebx, 10
        mov     ecx, 1
.digit:
        xor     edx, edx
        div     rbx
        add     dl, '0'
        dec     rsi
        mov     [rsi], dl
        inc     rcx
        test    rax, rax
        jnz     .digit
        mov     eax, 1
        mov     edi, 1
        mov     rdx, rcx
        syscall
        add     rsp, 32
        pop     rbx
        ret
