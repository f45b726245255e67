; strlen 16 bytes at a time: pcmpeqb against zero, pmovmskb, bsf
global _start
section .data
align 16
s1: db "SIMD makes strlen fast when strings are long enough", 0
align 16
s2: db "short", 0
align 16
s3: db "exactly sixteen!", 0
align 16
s4: db 0
section .text
_start:
    lea rdi, [rel s1]
    call simd_strlen
    call print_dec
    lea rdi, [rel s2]
    call simd_strlen
    call print_dec
    lea rdi, [rel s3]
    call simd_strlen
    call print_dec
    lea rdi, [rel s4]
    call simd_strlen
    call print_dec
    jmp exit0

; rdi = 16-byte aligned string -> rax = length
simd_strlen:
    pxor xmm0, xmm0
    mov rax, rdi
.block:
    movdqa xmm1, [rax]
    pcmpeqb xmm1, xmm0
    pmovmskb ecx, xmm1
    test ecx, ecx
    jnz .found
    add rax, 16
    jmp .block
.found:
    bsf ecx, ecx
    add rax, rcx
    sub rax, rdi
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
