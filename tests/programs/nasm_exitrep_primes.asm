; Primes below 100 found by the assembler: %rep with %exitrep and a
; nested %rep for trial division; the program prints the table.
section .data
primes:
%assign n 2
%rep 98
%assign d 2
%assign isprime 1
%rep n
%if d * d > n
%exitrep
%endif
%if n % d == 0
%assign isprime 0
%exitrep
%endif
%assign d d + 1
%endrep
%if isprime
        dw n
%endif
%assign n n + 1
%if n >= 100
%exitrep
%endif
%endrep
nprimes equ ($ - primes) / 2

section .text
global _start
_start:
        xor     ebx, ebx
.next:
        lea     rax, [rel primes]
        movzx   eax, word [rax + rbx*2]
        call    print_num
        inc     rbx
        cmp     rbx, nprimes
        jb      .next
        mov     eax, 60
        mov     edi, nprimes
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
