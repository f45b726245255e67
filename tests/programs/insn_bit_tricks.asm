; bit tricks: lowest/highest set bit, power-of-two tests, bit set/clear/toggle
global _start
section .data
values: dq 1, 40, 0x80000000, 0x7FFFFFFFFFFFFFFF, 96, 1024
section .text
_start:
    xor r12d, r12d
.each:
    lea rbx, [rel values]
    mov r13, [rbx + r12*8]
    bsf rax, r13
    call print_dec
    bsr rax, r13
    call print_dec
    tzcnt rax, r13
    call print_dec
    lzcnt rax, r13
    call print_dec
    ; power of two?  x & (x - 1) == 0
    lea rax, [r13 - 1]
    test rax, r13
    setz al
    movzx eax, al
    call print_dec
    inc r12
    cmp r12, 6
    jb .each
    ; bsf of zero leaves the destination alone and sets ZF
    mov rax, 77
    xor ecx, ecx
    bsf rax, rcx
    setz cl
    call print_dec
    mov eax, ecx
    call print_dec
    ; set, clear, toggle
    xor eax, eax
    bts rax, 5
    bts rax, 63
    btc rax, 0
    btr rax, 63
    call print_hex
    mov eax, 0xF0
    bt eax, 4
    setc al
    movzx eax, al
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
