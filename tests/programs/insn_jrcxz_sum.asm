; sum arrays of any length, guarding the empty case with jrcxz / jecxz
global _start
section .data
a: dq 5, 10, 15
b: dq 1
section .text
_start:
    lea rsi, [rel a]
    mov ecx, 3
    call sum
    call print_dec
    lea rsi, [rel b]
    xor ecx, ecx
    call sum
    call print_dec
    lea rsi, [rel b]
    mov ecx, 1
    call sum
    call print_dec
    mov rcx, 0x100000000     ; ecx = 0 but rcx != 0
    xor eax, eax
    jecxz .ecx_zero
    mov eax, 1
.ecx_zero:
    call print_dec
    jmp exit0

sum:
    xor eax, eax
    jrcxz .done
.next:
    add rax, [rsi]
    add rsi, 8
    loop .next
.done:
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
