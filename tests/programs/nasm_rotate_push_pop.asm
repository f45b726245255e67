; The NASM manual's multipush/multipop: %rep over %0 parameters with
; %rotate, so one line saves and restores any list of registers.
%macro multipush 1-*
%rep %0
        push    %1
%rotate 1
%endrep
%endmacro

%macro multipop 1-*
%rep %0
%rotate -1
        pop     %1
%endrep
%endmacro

section .text
global _start
_start:
        mov     rbx, 111
        mov     r12, 222
        mov     r13, 333
        multipush rbx, r12, r13
        xor     ebx, ebx
        xor     r12d, r12d
        mov     r13, 7
        multipop rbx, r12, r13
        mov     rax, rbx
        call    print_num
        mov     rax, r12
        call    print_num
        mov     rax, r13
        call    print_num
        mov     eax, 60
        mov     edi, 3
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
