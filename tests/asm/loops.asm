; loops.asm - counted loops, signed/unsigned conditional jumps, div in a loop.
; Prints one result per line; the differential test compares the output.
global _start

%ifndef N
%define N 1000
%endif

section .data
values:     dq 5, -3, 0x7fffffffffffffff, -0x8000000000000000, 0, 1, -1, 42
nvalues     equ ($ - values) / 8

section .text
_start:
    ; 1. sum 1..N
    xor eax, eax
    mov ecx, 1
.sum:
    add rax, rcx
    inc rcx
    cmp rcx, N
    jle .sum
    mov rdi, rax
    call print_u64
    call newline

    ; 2. count values < 0 (signed) and values > 3 (unsigned)
    xor ebx, ebx                ; signed negatives
    xor r12d, r12d              ; unsigned above 3
    xor ecx, ecx
.scan:
    mov rax, [values + rcx*8]
    cmp rax, 0
    jge .notneg
    inc rbx
.notneg:
    cmp rax, 3
    jbe .notabove
    inc r12
.notabove:
    inc ecx
    cmp ecx, nvalues
    jb .scan
    mov rdi, rbx
    call print_u64
    call space
    mov rdi, r12
    call print_u64
    call newline

    ; 3. Collatz steps for 27 (111) and 97 (118)
    mov edi, 27
    call collatz
    mov rdi, rax
    call print_u64
    call space
    mov edi, 97
    call collatz
    mov rdi, rax
    call print_u64
    call newline

    ; 4. primes below 300 by trial division
    xor r12d, r12d              ; count
    mov ebx, 2
.cand:
    mov ecx, 2
.trial:
    mov eax, ecx
    imul eax, ecx
    cmp eax, ebx
    ja .prime
    mov eax, ebx
    xor edx, edx
    div ecx
    test edx, edx
    jz .notprime
    inc ecx
    jmp .trial
.prime:
    inc r12d
.notprime:
    inc ebx
    cmp ebx, 300
    jl .cand
    mov rdi, r12
    call print_u64
    call newline

    ; 5. nested loops: checksum of an i*j table with wrap-around
    xor r13d, r13d
    mov r14, -20
.outer:
    mov r15, -20
.inner:
    mov rax, r14
    imul rax, r15
    xor r13, rax
    rol r13, 7
    add r13, r15
    inc r15
    cmp r15, 20
    jng .inner
    inc r14
    cmp r14, 20
    jle .outer
    mov rdi, r13
    call print_hex64
    call newline

    ; 6. population count and parity of a few words
    mov rbx, 0xF0F0123480000001
    xor r12d, r12d
    mov rcx, rbx
.pop:
    test rcx, rcx
    jz .popdone
    mov rax, rcx
    and rax, 1
    add r12, rax
    shr rcx, 1
    jmp .pop
.popdone:
    mov rdi, r12
    call print_u64
    call space
    test bl, bl
    setp dil
    movzx edi, dil
    call print_u64
    call newline

    ; 7. countdown with dec/jnz and a loop over a signed range crossing zero
    mov ecx, 10
    xor eax, eax
.down:
    add eax, ecx
    dec ecx
    jnz .down
    mov r12, rax
    mov rcx, -5
    xor eax, eax
.cross:
    sub rax, rcx
    inc rcx
    js .cross
    jz .cross
    lea rdi, [r12 + rax*2]
    call print_i64
    call newline

    xor edi, edi
    call exit

; collatz(rdi) -> rax = steps to reach 1
collatz:
    xor eax, eax
.step:
    cmp rdi, 1
    je .done
    inc rax
    test dil, 1
    jnz .odd
    shr rdi, 1
    jmp .step
.odd:
    lea rdi, [rdi + rdi*2 + 1]
    jmp .step
.done:
    ret

%include "lib.inc"
