; Fibonacci numbers computed while assembling (%assign inside %rep) and
; checked at run time against a loop.
section .data
fib_table:
%assign a 0
%assign b 1
%rep 20
        dq a
%assign t a + b
%assign a b
%assign b t
%endrep

section .text
global _start
_start:
        xor     r12d, r12d          ; run-time fib(i)
        mov     r13d, 1
        xor     ebx, ebx
        xor     r14d, r14d          ; mismatches
.next:
        lea     rax, [rel fib_table]
        mov     rax, [rax + rbx*8]
        cmp     rax, r12
        je      .same
        inc     r14
.same:
        call    print_num
        lea     rax, [r12 + r13]
        mov     r12, r13
        mov     r13, rax
        inc     rbx
        cmp     rbx, 20
        jb      .next
        mov     eax, 60
        mov     rdi, r14
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
