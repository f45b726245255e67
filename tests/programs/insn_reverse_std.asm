; memmove an overlapping block: copy backwards with std ... cld
global _start
section .data
buf: db "0123456789", 0, 0, 0, 0, 10
section .text
_start:
    ; move "0123456789" three bytes to the right, in place
    lea rsi, [rel buf + 9]
    lea rdi, [rel buf + 12]
    mov ecx, 10
    std
    rep movsb
    cld
    mov byte [rel buf], '<'
    mov byte [rel buf + 1], '-'
    mov byte [rel buf + 2], '>'
    lea rsi, [rel buf]
    mov edx, 15
    call print_str
    ; reverse scan for the last comma with std + repne scasb
    lea rdi, [rel csv + csvlen - 1]
    mov al, ','
    mov ecx, csvlen
    std
    repne scasb
    cld
    mov rax, rcx
    call print_dec
    jmp exit0
section .data
csv: db "a,bb,ccc,dddd"
csvlen equ $ - csv
section .text

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
