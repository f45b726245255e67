; byte-wise SIMD: saturating-free adds, min/max, compares, widening
global _start
section .data
align 16
pix: db 10, 200, 30, 250, 0, 128, 127, 255, 1, 2, 3, 4, 5, 6, 7, 8
add1: times 16 db 10
thr: times 16 db 100
section .text
_start:
    movdqa xmm0, [rel pix]
    movdqa xmm1, xmm0
    paddb xmm1, [rel add1]          ; wraps around at 256
    call show1
    movdqa xmm1, xmm0
    psubb xmm1, [rel add1]
    call show1
    movdqa xmm1, xmm0
    pminub xmm1, [rel thr]
    call show1
    movdqa xmm1, xmm0
    pmaxub xmm1, [rel thr]
    call show1
    movdqa xmm1, xmm0
    pcmpgtb xmm1, [rel thr]         ; signed compare!
    call show1
    pmovmskb eax, xmm1
    call print_hex
    ; widen bytes to words and add them up
    pxor xmm2, xmm2
    movdqa xmm3, xmm0
    punpcklbw xmm3, xmm2
    movdqa xmm4, xmm0
    punpckhbw xmm4, xmm2
    paddw xmm3, xmm4
    movdqa xmm1, xmm3
    call show1
    ; pcmpeqw / pcmpeqd / pand / por / pandn
    movdqa xmm1, xmm3
    pcmpeqw xmm1, xmm3
    pandn xmm1, xmm0
    por xmm1, [rel thr]
    pand xmm1, [rel pix]
    call show1
    jmp exit0

; print xmm1 as two hex qwords (high, then low)
show1:
    sub rsp, 16
    movdqu [rsp], xmm1
    mov rax, [rsp + 8]
    call print_hex
    mov rax, [rsp]
    call print_hex
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
