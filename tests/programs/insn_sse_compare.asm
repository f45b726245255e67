; branch-free float code: cmpltps masks, blendvps, movmskps, dpps
global _start
section .data
align 16
a: dd 1.0, 5.0, -3.0, 8.0
b: dd 2.0, 4.0, -3.0, 9.0
w: dd 0.5, 0.25, 2.0, 1.0
big: dd 1000.0, 1000.0, 1000.0, 1000.0
section .text
_start:
    movaps xmm1, [rel a]
    movaps xmm0, xmm1
    cmpltps xmm0, [rel b]           ; mask: a < b
    movmskps eax, xmm0
    call print_dec
    movaps xmm2, [rel a]
    blendvps xmm2, [rel b]          ; where a < b take b: max
    call show2
    movaps xmm3, [rel a]
    cmpps xmm3, [rel b], 2          ; le
    movmskps eax, xmm3
    call print_dec
    movaps xmm3, [rel a]
    cmpneqps xmm3, [rel b]
    movmskps eax, xmm3
    call print_dec
    movss xmm4, [rel a]
    cmpless xmm4, [rel b]
    movd eax, xmm4
    call print_hex
    ; dot product a . w into lane 0 only
    movaps xmm5, [rel a]
    dpps xmm5, [rel w], 0xF1
    movaps xmm2, xmm5
    call show2
    ; doubles: cvtps2pd, unpckhpd, shufpd, cvtpd2ps
    cvtps2pd xmm6, [rel a]
    movapd xmm7, xmm6
    unpckhpd xmm7, xmm6
    shufpd xmm6, xmm7, 1
    orpd xmm6, xmm6
    cvtpd2ps xmm2, xmm6
    call show2
    jmp exit0

; print the four float lanes of xmm2 times 1000 as integers
show2:
    sub rsp, 16
    mulps xmm2, [rel big]
    cvttps2dq xmm2, xmm2
    movdqu [rsp], xmm2
    xor ebx, ebx
.lane:
    movsxd rax, dword [rsp + rbx*4]
    call print_dec
    inc ebx
    cmp ebx, 4
    jb .lane
    add rsp, 16
    ret

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
