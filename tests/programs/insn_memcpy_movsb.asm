; memcpy with rep movsb, then with rep movsq for the aligned bulk
global _start
section .data
msg: db "copied with rep movsb!", 10
len equ $ - msg
align 8
nums: dq 1, 2, 3, 4, 5, 6, 7, 8
section .bss
buf: resb 64
nums2: resq 8
section .text
_start:
    lea rsi, [rel msg]
    lea rdi, [rel buf]
    mov ecx, len
    rep movsb
    lea rsi, [rel buf]
    mov edx, len
    call print_str
    ; rdi now points just past the copy
    lea rax, [rel buf]
    sub rdi, rax
    mov rax, rdi
    call print_dec
    lea rsi, [rel nums]
    lea rdi, [rel nums2]
    mov ecx, 8
    rep movsq
    xor eax, eax
    lea rbx, [rel nums2]
    mov ecx, 8
.sum:
    add rax, [rbx + rcx*8 - 8]
    loop .sum
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
