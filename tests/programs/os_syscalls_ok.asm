; getpid, time, clock_gettime, nanosleep, getrandom, uname: print whether each
; call succeeded (values differ between runs, success does not).
global _start
section .data
names   db "getpid  ", "time    ", "clock   ", "sleep   ", "random  ", "uname   "
yes     db "ok", 10
no      db "FAILED", 10
ts      dq 0, 1000000
section .bss
tp      resq 2
rnd     resb 16
uts     resb 390
section .text
_start:
        xor     r12d, r12d
        mov     eax, 39
        syscall
        call    report
        mov     eax, 201
        xor     edi, edi
        syscall
        call    report
        mov     eax, 228
        mov     edi, 1
        lea     rsi, [rel tp]
        syscall
        call    report
        mov     eax, 35
        lea     rdi, [rel ts]
        xor     esi, esi
        syscall
        call    report
        mov     eax, 318
        lea     rdi, [rel rnd]
        mov     esi, 16
        xor     edx, edx
        syscall
        sub     rax, 16                 ; ok only if all 16 bytes came
        call    report
        mov     eax, 63
        lea     rdi, [rel uts]
        syscall
        call    report
        mov     eax, 60
        xor     edi, edi
        syscall
report:                                 ; print names[r12] and ok/FAILED for rax
        push    rax
        lea     rsi, [rel names]
        lea     rsi, [rsi+r12*8]
        mov     eax, 1
        mov     edi, 1
        mov     edx, 8
        syscall
        pop     rax
        lea     rsi, [rel yes]
        mov     edx, 3
        test    rax, rax
        jns     .w
        lea     rsi, [rel no]
        mov     edx, 7
.w:     mov     eax, 1
        mov     edi, 1
        syscall
        inc     r12
        ret
