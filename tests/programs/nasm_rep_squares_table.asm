; A table computed by the assembler: %rep with %assign, then a loop
; that prints it.
section .data
squares:
%assign n 1
%rep 12
        dq n * n
%assign n n + 1
%endrep
count   equ ($ - squares) / 8

section .text
global _start
_start:
        xor     ebx, ebx
.next:
        lea     rax, [rel squares]
        mov     rax, [rax + rbx*8]
        call    print_num
        inc     rbx
        cmp     rbx, count
        jb      .next
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
