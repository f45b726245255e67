; =============================================================================
; call_exp.asm - calling a C library function (libm's exp and log)
; =============================================================================
;
; Functions follow the System V AMD64 calling convention:
;   * floating-point arguments go in xmm0, xmm1, ...; a double result comes
;     back in xmm0 (integers: arguments rdi, rsi, rdx, rcx, r8, r9; result rax)
;   * the called function may overwrite rax, rcx, rdx, rsi, rdi, r8-r11 and
;     ALL xmm registers; it preserves rbx, rbp, r12-r15 and rsp. So a value
;     needed after a call must live in one of those, or in memory.
;   * rsp must be a multiple of 16 when `call` executes (`call` then pushes
;     the 8-byte return address). _start begins with rsp aligned, so here
;     every call is made without any push in between.
; The mnist-vm machine poisons the clobbered registers after such a call, so a
; program that forgets this fails loudly there instead of by luck natively.
;
; Expected output:
;   exp(1) = 2.718281828
;   log(10) = 2.302585092
;   exp(log(10)) = 10.000000000
;
; Run it:  mnist-vm exec programs/examples/call_exp.asm
;   natively (exp lives in the shared C math library, so link with -lm):
;   nasm -felf64 call_exp.asm -o c.o
;   ld c.o -o c -dynamic-linker /lib64/ld-linux-x86-64.so.2 -lc -lm && ./c
; -----------------------------------------------------------------------------

global _start
extern exp, log                 ; defined in libm

section .rodata
s_exp1:     db "exp(1) = ", 0
s_log10:    db "log(10) = ", 0
s_explog:   db "exp(log(10)) = ", 0
d_one:      dq 1.0              ; dq with a float literal: a float64 (double)
d_ten:      dq 10.0
d_1e9:      dq 1.0e9

section .bss
text:       resb 32
saved:      resq 1              ; a double kept in memory across a call

section .text
_start:
    movsd xmm0, [rel d_one]     ; argument: 1.0
    call exp                    ; xmm0 = e
    mov rdi, s_exp1
    call print_result

    movsd xmm0, [rel d_ten]
    call log                    ; xmm0 = ln 10
    movsd [rel saved], xmm0     ; xmm0 will not survive the next call...
    mov rdi, s_log10
    call print_result

    movsd xmm0, [rel saved]     ; ...so it was kept in memory
    call exp                    ; exp(ln 10) = 10 (up to rounding)
    mov rdi, s_explog
    call print_result

    mov eax, 60                 ; exit(0)
    xor edi, edi
    syscall

; -----------------------------------------------------------------------------
; print_result(rdi=label, xmm0=double value >= 0): "label" and the value with
; 9 decimals, cut off (not rounded): n = truncate(value * 1e9), printed as
; n / 10^9 "." n % 10^9 (the 9 digits of the remainder, leading zeros kept).
; -----------------------------------------------------------------------------
print_result:
    mulsd xmm0, [rel d_1e9]
    cvttsd2si rax, xmm0         ; double -> 64-bit integer, truncating
    push rax                    ; keep it across print_str; aligns the stack
    call print_str
    pop rax
    mov rsi, text + 32
    dec rsi
    mov byte [rsi], 10          ; '\n'
    mov ecx, 10
    xor r8d, r8d                ; digits produced
.digit:
    xor edx, edx
    div rcx                     ; rax = rax / 10, rdx = last digit
    add dl, '0'
    dec rsi
    mov [rsi], dl
    inc r8
    cmp r8, 9
    jne .no_point
    dec rsi
    mov byte [rsi], '.'         ; 9 decimals written: the point
.no_point:
    cmp r8, 10                  ; at least one digit before the point
    jb .digit
    test rax, rax
    jnz .digit
    mov rdx, text + 32
    sub rdx, rsi
    mov eax, 1                  ; write(1, rsi, rdx)
    mov edi, 1
    syscall
    ret

; print_str(rdi = NUL-terminated string)
print_str:
    xor edx, edx
.len:
    cmp byte [rdi + rdx], 0
    je .write
    inc rdx
    jmp .len
.write:
    mov rsi, rdi
    mov eax, 1
    mov edi, 1
    syscall
    ret
