; Default parameters: `repeat_char 1-2 '*'` prints a character n times,
; a star unless told otherwise. %0 says how many parameters there are.
%macro repeat_char 1-2 '*'
        mov     r12, %1
        mov     byte [char], %2
%%again:
        mov     eax, 1
        mov     edi, 1
        lea     rsi, [rel char]
        mov     edx, 1
        syscall
        dec     r12
        jnz     %%again
        mov     byte [char], 10
        mov     eax, 1
        mov     edi, 1
        lea     rsi, [rel char]
        mov     edx, 1
        syscall
%endmacro

%macro count_params 0-*
        mov     rax, %0
        call    print_num
%endmacro

section .bss
char    resb 1

section .text
global _start
_start:
        repeat_char 5
        repeat_char 3, '#'
        repeat_char 7, '-'
        count_params
        count_params a, b, c
        count_params {x, y}, z
        mov     eax, 60
        xor     edi, edi
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
