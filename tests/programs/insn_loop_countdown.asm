; count down with loop; loope/loopne stop early
global _start
section .data
arr: db 3, 3, 3, 3, 7, 3, 3
section .text
_start:
    mov ecx, 10
.down:
    mov rax, rcx
    call print_dec
    loop .down
    ; loope: walk while equal to the first element
    lea rsi, [rel arr]
    mov ecx, 7
    xor ebx, ebx
.same:
    inc ebx
    mov al, [rsi + rbx]
    cmp al, [rsi]
    loope .same
    mov eax, ebx
    call print_dec
    mov rax, rcx
    call print_dec
    ; loopne: search for a 7
    mov ecx, 7
    mov rdx, -1
.find:
    inc rdx
    cmp byte [rsi + rdx], 7
    loopne .find
    mov rax, rdx
    call print_dec
    ; a big counted loop (the VM runs it as one hot loop)
    mov ecx, 200000
    xor eax, eax
.spin:
    add rax, rcx
    loop .spin
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
