; compare strings with repe cmpsb: print -1, 0 or 1 like memcmp's sign
global _start
section .data
a1: db "apple pie"
b1: db "apple tart"
a2: db "same words"
b2: db "same words"
a3: db "zebra"
b3: db "zebr!"
section .text
_start:
    lea rsi, [rel a1]
    lea rdi, [rel b1]
    mov ecx, 9
    call compare
    lea rsi, [rel a2]
    lea rdi, [rel b2]
    mov ecx, 10
    call compare
    lea rsi, [rel a3]
    lea rdi, [rel b3]
    mov ecx, 5
    call compare
    jmp exit0

; compare rcx bytes at rsi and rdi; prints the sign and how many were left
compare:
    cld
    repe cmpsb
    mov eax, 0
    mov edx, 1
    mov r8, -1
    cmova rax, rdx
    cmovb rax, r8
    call print_dec
    mov rax, rcx
    call print_dec
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
