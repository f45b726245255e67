; %%labels: a macro with a jump inside can be used many times, because
; each call gets labels of its own.
%macro max 2                    ; %1 = max(%1, %2), unsigned
        cmp     %1, %2
        jae     %%keep
        mov     %1, %2
%%keep:
%endmacro

%macro min 2
        cmp     %1, %2
        jbe     %%keep
        mov     %1, %2
%%keep:
%endmacro

section .data
values  dq 17, 4, 99, 23, 56, 8, 71
nvalues equ ($ - values) / 8

section .text
global _start
_start:
        lea     rsi, [rel values]
        mov     rbx, [rsi]          ; largest
        mov     r12, [rsi]          ; smallest
        mov     ecx, 1
.scan:
        mov     rax, [rsi + rcx*8]
        max     rbx, rax
        min     r12, rax
        inc     rcx
        cmp     rcx, nvalues
        jb      .scan
        mov     rax, rbx
        call    print_num
        mov     rax, r12
        call    print_num
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
