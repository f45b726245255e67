; strings.asm - byte loads and stores, movzx/movsx, a small string toolkit.
global _start

section .rodata
hello:      db "Hello, differential world!", 10, 0
mixed:      db "MiXeD case 123 zZ", 0

section .data
buf:        times 64 db 0
signed_b:   db -1, -128, 127, 0, 5, -6

section .text
_start:
    mov rdi, hello
    call print_str

    ; strlen
    mov rdi, mixed
    call strlen
    mov rdi, rax
    call print_u64
    call newline

    ; copy, uppercase and reverse into buf
    mov rsi, mixed
    mov rdi, buf
.copy:
    movzx eax, byte [rsi]
    cmp al, 97                  ; 'a'
    jb .keep
    cmp al, 122                 ; 'z'
    ja .keep
    sub al, 32
.keep:
    mov [rdi], al
    inc rsi
    inc rdi
    test al, al
    jnz .copy
    mov rdi, buf
    call print_str
    call newline
    mov rdi, buf
    call strlen
    lea rsi, [buf + rax - 1]
    mov rdi, buf
.rev:
    cmp rdi, rsi
    jae .revdone
    mov al, [rdi]
    mov dl, [rsi]
    mov [rdi], dl
    mov [rsi], al
    inc rdi
    dec rsi
    jmp .rev
.revdone:
    mov rdi, buf
    call print_str
    call newline

    ; sum of sign-extended and zero-extended bytes
    xor ebx, ebx
    xor r12d, r12d
    xor ecx, ecx
.sx:
    movsx rax, byte [signed_b + rcx]
    add rbx, rax
    movzx eax, byte [signed_b + rcx]
    add r12, rax
    movsx ax, byte [signed_b + rcx]
    movsx edx, ax
    add r12d, edx
    inc ecx
    cmp ecx, 6
    jb .sx
    mov rdi, rbx
    call print_i64
    call space
    mov rdi, r12
    call print_hex64
    call newline

    ; word and dword writes into the middle of a qword
    mov rax, 0x1122334455667788
    mov [buf], rax
    mov word [buf+2], 0xBEEF
    mov byte [buf+7], 0x99
    mov dword [buf+3], -2
    mov rdi, [buf]
    call print_hex64
    call newline

    mov edi, 3
    call exit

; strlen(rdi) -> rax
strlen:
    xor eax, eax
.l:
    cmp byte [rdi+rax], 0
    je .d
    inc rax
    jmp .l
.d:
    ret

%include "lib.inc"
