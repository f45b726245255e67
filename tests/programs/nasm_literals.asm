; Number spellings NASM accepts, and a long flat sum: each line prints
; the value the assembler computed.
%macro show 1
        mov     rax, %1
        call    print_num
%endmacro

section .text
global _start
_start:
        show    0h
        show    0x_ff
        show    0b1010
        show    1010b
        show    17q
        show    0o17
        show    0d99
        show    99d
        show    $1F
        show    1_000_000
        show    1+1+1+1+1+1+1+1+1+1+1+1+1+1+1+1+1+1+1+1+1+1+1+1+1+1+1+1+1+1+1+1+1+1+1+1
        show    'AB'
        show    (1 << 40) / 3
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
