; Round 2.5, -2.5, 1/3 and 10/3 under each MXCSR rounding mode (cvtss2si and
; divss), and print the exception flags stmxcsr reads after each mode
global _start
section .data
modes:  dd 0x1F80, 0x3F80, 0x5F80, 0x7F80     ; nearest, down, up, toward zero
vals:   dd 2.5, -2.5, 1.0, 10.0
three:  dd 3.0
digits: db "0123456789abcdef"
section .bss
csr:    resd 1
line:   resb 64
section .text
_start:
    xor r12d, r12d                  ; mode index
.mode:
    ldmxcsr [modes + r12*4]
    lea rdi, [line]
    xor ebx, ebx
.val:
    movss xmm0, [vals + rbx*4]
    cmp ebx, 2
    jb .conv
    divss xmm0, [three]             ; 1/3 and 10/3: inexact
    movd eax, xmm0
    call put_hex
    jmp .next
.conv:
    cvtss2si eax, xmm0
    call put_hex
.next:
    inc ebx
    cmp ebx, 4
    jne .val
    stmxcsr [csr]
    mov eax, [csr]
    call put_hex
    mov byte [rdi - 1], 10
    mov eax, 1
    mov edi, 1
    lea rsi, [line]
    mov edx, 45
    syscall
    inc r12d
    cmp r12d, 4
    jne .mode
    mov eax, 60
    xor edi, edi
    syscall

; put_hex: eax as 8 hex digits and a space at [rdi], rdi advances
put_hex:
    mov ecx, 8
.digit:
    rol eax, 4
    mov edx, eax
    and edx, 15
    mov dl, [digits + rdx]
    mov [rdi], dl
    inc rdi
    loop .digit
    mov byte [rdi], ' '
    inc rdi
    ret
