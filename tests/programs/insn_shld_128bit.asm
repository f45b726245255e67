; shift a 128-bit number (rdx:rax) with shld/shrd
global _start
section .text
_start:
    mov rdx, 0x0000000000000001
    mov rax, 0x8000000000000000
    mov ecx, 4
.left:
    shld rdx, rax, 1
    shl rax, 1
    push rax
    mov rax, rdx
    call print_hex
    pop rax
    call print_hex
    loop .left
    mov cl, 12
    shrd rax, rdx, cl
    shr rdx, cl
    call print_hex
    mov rax, rdx
    call print_hex
    mov eax, 0x12345678
    mov ebx, 0x9ABCDEF0
    shld eax, ebx, 8
    call print_hex
    mov ax, 0x1234
    mov bx, 0xABCD
    shrd ax, bx, 4
    movzx eax, ax
    call print_hex
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
