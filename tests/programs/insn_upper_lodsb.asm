; uppercase a string: lodsb/stosb through a translation table with xlatb
global _start
section .data
text: db "Hello, World! assembly is fun.", 10
len equ $ - text
section .bss
table: resb 256
out: resb 64
section .text
_start:
    ; build the table: table[c] = c, except a..z -> A..Z
    lea rdi, [rel table]
    xor eax, eax
.fill:
    stosb
    inc al
    jnz .fill
    lea rdi, [rel table + 'a']
    mov al, 'A'
    mov ecx, 26
.up:
    stosb
    inc al
    loop .up
    ; translate
    lea rsi, [rel text]
    lea rdi, [rel out]
    lea rbx, [rel table]
    mov ecx, len
.each:
    lodsb
    xlatb
    stosb
    loop .each
    lea rsi, [rel out]
    mov edx, len
    call print_str
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
