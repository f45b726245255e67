; cmov_setcc.asm - branchless code: cmov sort, min/max/abs, every setcc.
global _start

section .data
array:      dq 9, -4, 0x7fffffffffffffff, 3, -0x8000000000000000, 0, 77, -1
            dq 5, 5, -100, 12, 1, -7, 0x100000000, 2
count       equ 16
pairs:      dq 1, 2,  2, 1,  -1, 1,  1, -1,  0, 0,  -0x8000000000000000, 1
            dq 0x7fffffffffffffff, -1,  5, 5,  0x8000, 0x7fff
npairs      equ 9

section .text
_start:
    ; bubble sort (signed) with a branchless compare-exchange
    mov r12d, count - 1
.pass:
    xor ecx, ecx
.cmpx:
    mov rax, [array + rcx*8]
    mov rdx, [array + rcx*8 + 8]
    mov rsi, rax
    cmp rax, rdx
    cmovg rax, rdx              ; min
    cmovg rdx, rsi              ; max
    mov [array + rcx*8], rax
    mov [array + rcx*8 + 8], rdx
    inc ecx
    cmp ecx, r12d
    jb .cmpx
    dec r12d
    jnz .pass
    xor ebx, ebx
.print:
    mov rdi, [array + rbx*8]
    call print_i64
    call space
    inc ebx
    cmp ebx, count
    jne .print
    call newline

    ; unsigned max, abs, clamp with 32- and 16-bit cmov
    xor ebx, ebx
    xor r13d, r13d
.umax:
    mov rax, [array + rbx*8]
    cmp r13, rax
    cmovb r13, rax
    inc ebx
    cmp ebx, count
    jb .umax
    mov rdi, r13
    call print_hex64
    call space
    mov eax, -12345
    mov ecx, eax
    neg ecx
    cmovs ecx, eax              ; ecx = |eax| (32-bit cmov zero-extends)
    mov rdi, rcx
    call print_u64
    call space
    mov rdi, -1
    mov ax, 300
    mov dx, 255
    cmp ax, dx
    cmova ax, dx
    mov di, ax                  ; upper bits of rdi stay 1s
    call print_hex64
    call newline

    ; all 16 conditions after cmp of each pair: one line of 0/1 per pair
    xor r12d, r12d
.pairs:
    mov rbx, [pairs + r12*8]
    mov rbp, [pairs + r12*8 + 8]
    xor r14d, r14d
    cmp rbx, rbp
    seto al
    setno cl
    setb dl
    setae sil
    sete dil
    setne r8b
    setbe r9b
    seta r10b
    call pack8
    mov r14, rax
    cmp rbx, rbp
    sets al
    setns cl
    setp dl
    setnp sil
    setl dil
    setge r8b
    setle r9b
    setg r10b
    call pack8
    shl r14, 8
    or r14, rax
    mov rdi, r14
    call print_hex32
    call newline
    add r12d, 2
    cmp r12d, npairs * 2
    jb .pairs

    xor edi, edi
    call exit

; pack8: al, cl, dl, sil, dil, r8b, r9b, r10b (0/1 each) -> eax bits 7..0
pack8:
    movzx eax, al
    shl eax, 1
    or al, cl
    shl eax, 1
    or al, dl
    shl eax, 1
    or al, sil
    shl eax, 1
    or al, dil
    shl eax, 1
    or al, r8b
    shl eax, 1
    or al, r9b
    shl eax, 1
    or al, r10b
    ret

%include "lib.inc"
