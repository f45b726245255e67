; imul r, imm (NASM's two-operand shorthand) in index arithmetic
global _start
section .data
matrix: times 64 dq 0
section .text
_start:
    ; matrix[i][j] = i * 10 + j for an 8x8 matrix of qwords
    xor r8d, r8d
.row:
    xor r9d, r9d
.col:
    mov rax, r8
    imul rax, 10
    add rax, r9
    mov rbx, r8
    imul rbx, 64          ; bytes per row
    lea rdx, [rel matrix]
    add rdx, rbx
    mov [rdx + r9*8], rax
    inc r9
    cmp r9, 8
    jb .col
    inc r8
    cmp r8, 8
    jb .row
    mov rax, [rel matrix + 5*64 + 3*8]
    call print_dec
    mov eax, -7
    imul eax, 1000000
    cdqe
    call print_dec
    mov rax, 0x4000000000000000
    imul rax, 2
    seto cl
    call print_dec
    movzx eax, cl
    call print_dec
    mov rax, 12345
    and rax, 0xFFFFFFFF   ; NASM warns: sign-extended to -1
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
