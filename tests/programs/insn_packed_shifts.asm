; shifts of packed words and dwords, and whole-register byte shifts
global _start
section .data
align 16
v: dw 1, -2, 300, -400, 0x7FFF, 0x8000, 12, -1
cnt: dq 3, 0
section .text
_start:
    movdqa xmm0, [rel v]
    movdqa xmm1, xmm0
    psllw xmm1, 2
    call show1
    movdqa xmm1, xmm0
    psraw xmm1, [rel cnt]
    call show1
    movdqa xmm1, xmm0
    psrlw xmm1, 15
    call show1
    movdqa xmm1, xmm0
    psrad xmm1, 40                  ; more than 31: all sign bits
    call show1
    movdqa xmm1, xmm0
    psllq xmm1, 4
    call show1
    movdqa xmm1, xmm0
    psrlq xmm1, 64
    call show1
    movdqa xmm1, xmm0
    pslldq xmm1, 3
    call show1
    movdqa xmm1, xmm0
    psrldq xmm1, 9
    call show1
    movdqa xmm1, xmm0
    pslld xmm1, 1
    psrld xmm1, 2
    call show1
    movdqa xmm1, xmm0
    punpckldq xmm1, xmm0
    punpckhqdq xmm1, xmm0
    call show1
    jmp exit0

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
