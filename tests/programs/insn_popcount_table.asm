; count bits three ways: popcnt, a bt loop, and a 16-entry table
global _start
section .data
table: db 0, 1, 1, 2, 1, 2, 2, 3, 1, 2, 2, 3, 2, 3, 3, 4
values: dq 0, 1, 0xFF, 0x8000000000000001, 0x123456789ABCDEF0, -1
section .text
_start:
    xor r12d, r12d
.each:
    lea rbx, [rel values]
    mov r13, [rbx + r12*8]
    popcnt rax, r13
    call print_dec
    ; bit by bit
    xor eax, eax
    xor ecx, ecx
.bit:
    bt r13, rcx
    adc eax, 0
    inc ecx
    cmp ecx, 64
    jne .bit
    call print_dec
    ; nibble table with xlatb
    lea rbx, [rel table]
    xor edx, edx
    mov rsi, r13
    mov ecx, 16
.nib:
    mov eax, esi
    and eax, 15
    xlatb
    add edx, eax
    shr rsi, 4
    loop .nib
    mov eax, edx
    call print_dec
    inc r12
    cmp r12, 6
    jb .each
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
