; Unmask the divide-by-zero exception, then divide by zero: the CPU raises
; #XM and Linux kills the process with SIGFPE before "after" is printed
global _start
section .data
mode:   dd 0x1D80                   ; default with ZM (bit 9) cleared
one:    dd 1.0
zero:   dd 0.0
before: db "before", 10
after:  db "after", 10
section .text
_start:
    mov eax, 1
    mov edi, 1
    mov rsi, before
    mov edx, 7
    syscall
    ldmxcsr [mode]
    movss xmm0, [one]
    divss xmm0, [zero]
    mov eax, 1
    mov edi, 1
    mov rsi, after
    mov edx, 6
    syscall
    mov eax, 60
    xor edi, edi
    syscall
