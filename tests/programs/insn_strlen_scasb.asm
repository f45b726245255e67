; strlen the classic way: repne scasb looks for the terminating zero
global _start
section .data
s1: db "hello", 0
s2: db "", 0
s3: db "The quick brown fox jumps over the lazy dog", 0
section .text
_start:
    lea rdi, [rel s1]
    call strlen
    call print_dec
    lea rdi, [rel s2]
    call strlen
    call print_dec
    lea rdi, [rel s3]
    call strlen
    call print_dec
    jmp exit0

; strlen: rdi = string -> rax = length
strlen:
    cld
    xor eax, eax
    mov rcx, -1
    repne scasb
    not rcx
    dec rcx
    mov rax, rcx
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
