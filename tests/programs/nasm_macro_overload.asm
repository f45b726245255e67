; Macros overloaded by parameter count: `show x` prints x, `show x, y`
; prints their sum, `show x, y, z` their product; %imacro ignores case.
%macro show 1
        mov     rax, %1
        call    print_num
%endmacro

%macro show 2
        mov     rax, %1
        add     rax, %2
        call    print_num
%endmacro

%macro show 3
        mov     rax, %1
        imul    rax, rax, %2
        imul    rax, rax, %3
        call    print_num
%endmacro

%imacro Quit 1
        mov     eax, 60
        mov     edi, %1
        syscall
%endmacro

section .text
global _start
_start:
        show    42
        show    40, 2
        show    3, 5, 7
        mov     rbx, 9
        show    rbx, rbx
        QUIT    5

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
