; sum an int32 array four lanes at a time, then fold the lanes with pshufd
global _start
section .data
align 16
arr: dd 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16
     dd -100, 200, -300, 400, 1000000, 2000000, 3000000, 4000000
count equ ($ - arr) / 4
align 16
w1: dw 1, 2, 3, 4, 5, 6, 7, 8
w2: dw 10, 20, 30, 40, 50, 60, 70, 80
section .text
_start:
    pxor xmm0, xmm0
    lea rsi, [rel arr]
    mov ecx, count / 4
.add4:
    paddd xmm0, [rsi]
    add rsi, 16
    loop .add4
    pshufd xmm1, xmm0, 0x4E      ; swap halves
    paddd xmm0, xmm1
    pshufd xmm1, xmm0, 0xB1      ; swap neighbours
    paddd xmm0, xmm1
    movd eax, xmm0
    cdqe
    call print_dec
    ; dot product of words: pmullw then widen and add
    movdqa xmm2, [rel w1]
    pmullw xmm2, [rel w2]
    pxor xmm3, xmm3
    movdqa xmm4, xmm2
    punpcklwd xmm2, xmm3
    punpckhwd xmm4, xmm3
    paddd xmm2, xmm4
    pshufd xmm5, xmm2, 0x4E
    paddd xmm2, xmm5
    pshufd xmm5, xmm2, 0xB1
    paddd xmm2, xmm5
    movd eax, xmm2
    call print_dec
    ; pmulld squares
    movdqa xmm6, [rel arr]
    pmulld xmm6, xmm6
    pshufd xmm7, xmm6, 0xFF
    movd eax, xmm7
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
