; rounding: roundsd modes, cvtsd2si (nearest even) vs cvttsd2si (truncate)
global _start
section .data
vals: dq 2.5, 3.5, -2.5, -0.4, 1.75, -7.999, 1e10
nvals equ ($ - vals) / 8
align 16
fl: dd 1.5, -1.5, 2.5, 100.49
section .text
_start:
    xor r12d, r12d
.each:
    lea rbx, [rel vals]
    movsd xmm0, [rbx + r12*8]
    cvtsd2si rax, xmm0
    call print_dec
    cvttsd2si rax, xmm0
    call print_dec
    roundsd xmm1, xmm0, 1           ; floor
    cvttsd2si rax, xmm1
    call print_dec
    roundsd xmm1, xmm0, 2           ; ceil
    cvttsd2si rax, xmm1
    call print_dec
    inc r12
    cmp r12, nvals
    jb .each
    ; packed floats: round to nearest, then to int32 lanes
    movaps xmm2, [rel fl]
    roundps xmm3, xmm2, 0
    cvtps2dq xmm4, xmm2
    cvttps2dq xmm3, xmm3
    pshufd xmm5, xmm4, 0x00
    movd eax, xmm5
    cdqe
    call print_dec
    pshufd xmm5, xmm4, 0x55
    movd eax, xmm5
    cdqe
    call print_dec
    pshufd xmm5, xmm3, 0xAA
    movd eax, xmm5
    cdqe
    call print_dec
    movss xmm6, [rel fl + 12]
    cvtss2si eax, xmm6
    call print_dec
    jmp exit0

; ---- output helpers (write, exit) ------------------------------------------
; print_str: rsi = text, rdx = length
print_str:
    push rax
    push rdi
    push rcx
    push r11
    mov eax, 1
    mov edi, 1
    syscall
    pop r11
    pop rcx
    pop rdi
    pop rax
    ret

; print_dec: rax = signed number, printed in decimal with a newline
print_dec:
    push rbx
    push rcx
    push rdx
    push rsi
    sub rsp, 32
    lea rsi, [rsp+31]
    mov byte [rsi], 10
    mov rbx, rax
    test rax, rax
    jns .pos
    neg rax
.pos:
    mov ecx, 10
.digit:
    xor edx, edx
    div rcx
    add dl, '0'
    dec rsi
    mov [rsi], dl
    test rax, rax
    jnz .digit
    test rbx, rbx
    jns .out
    dec rsi
    mov byte [rsi], '-'
.out:
    lea rdx, [rsp+32]
    sub rdx, rsi
    call print_str
    add rsp, 32
    pop rsi
    pop rdx
    pop rcx
    pop rbx
    ret

; print_hex: rax printed as 16 hex digits and a newline
print_hex:
    push rbx
    push rcx
    push rdx
    push rsi
    sub rsp, 32
    mov rbx, rax
    mov ecx, 16
    lea rsi, [rsp+16]
    mov byte [rsi], 10
.nib:
    dec rsi
    mov eax, ebx
    and eax, 15
    cmp al, 10
    jb .d
    add al, 'a' - 10 - '0'
.d: add al, '0'
    mov [rsi], al
    shr rbx, 4
    dec ecx
    jnz .nib
    mov edx, 17
    call print_str
    add rsp, 32
    pop rsi
    pop rdx
    pop rcx
    pop rbx
    ret

exit0:
    mov eax, 60
    xor edi, edi
    syscall
