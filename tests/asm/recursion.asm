; recursion.asm - calls, returns, stack frames, recursion.
global _start

section .text
_start:
    ; factorials 0..20 (20! fits in 64 bits)
    xor ebx, ebx
.fact_loop:
    mov rdi, rbx
    call fact
    mov rdi, rax
    call print_u64
    call space
    inc ebx
    cmp ebx, 20
    jbe .fact_loop
    call newline

    ; fib(0..20), naive recursion
    xor ebx, ebx
.fib_loop:
    mov edi, ebx
    call fib
    mov rdi, rax
    call print_u64
    call space
    inc ebx
    cmp ebx, 20
    jle .fib_loop
    call newline

    ; gcd (recursive, with div) and Ackermann(2, 3)
    mov rdi, 1071
    mov rsi, 462
    call gcd
    mov rdi, rax
    call print_u64
    call space
    mov edi, 2
    mov esi, 3
    call ackermann
    mov rdi, rax
    call print_u64
    call space
    ; a frame with locals: sum of squares 1..10 through memory
    mov edi, 10
    call framed
    mov rdi, rax
    call print_u64
    call space
    ; callee-saved registers survive calls
    mov rbx, 0x1111
    mov rbp, 0x2222
    mov r12, 0x3333
    mov r13, 0x4444
    mov r14, 0x5555
    mov r15, 0x6666
    mov edi, 6
    call fact
    add rbx, rbp
    add rbx, r12
    add rbx, r13
    add rbx, r14
    add rbx, r15
    add rbx, rax
    mov rdi, rbx
    call print_u64
    call newline

    ; hanoi(10) move count through a recursive procedure with a frame
    xor r12d, r12d
    mov edi, 10
    mov esi, 1
    mov edx, 3
    call hanoi
    mov rdi, r12
    call print_u64
    call newline

    ; ret imm16: callee pops its stack arguments
    push 40
    push 2
    call add_stack_args
    mov rdi, rax
    call print_u64
    call newline

    mov edi, 0
    call exit

; fact(rdi) -> rax
fact:
    cmp rdi, 1
    ja .rec
    mov eax, 1
    ret
.rec:
    push rdi
    dec rdi
    call fact
    pop rdi
    imul rax, rdi
    ret

; fib(edi) -> rax
fib:
    cmp edi, 2
    jge .rec
    movsxd rax, edi
    ret
.rec:
    push rbx
    push rbp
    sub rsp, 8
    mov ebx, edi
    lea edi, [rbx-1]
    call fib
    mov rbp, rax
    lea edi, [rbx-2]
    call fib
    add rax, rbp
    add rsp, 8
    pop rbp
    pop rbx
    ret

; gcd(rdi, rsi) -> rax
gcd:
    test rsi, rsi
    jnz .rec
    mov rax, rdi
    ret
.rec:
    mov rax, rdi
    xor edx, edx
    div rsi
    mov rdi, rsi
    mov rsi, rdx
    call gcd
    ret

; ackermann(rdi, rsi) -> rax
ackermann:
    test rdi, rdi
    jnz .m_pos
    lea rax, [rsi+1]
    ret
.m_pos:
    test rsi, rsi
    jnz .both
    dec rdi
    mov esi, 1
    jmp ackermann
.both:
    push rdi
    dec rsi
    call ackermann
    pop rdi
    dec rdi
    mov rsi, rax
    jmp ackermann

; framed(edi = n) -> rax = sum of i*i for i = 1..n, through locals
framed:
    push rbp
    mov rbp, rsp
    sub rsp, 32
    mov qword [rbp-8], 0        ; sum
    mov dword [rbp-12], 1       ; i
.loop:
    mov eax, [rbp-12]
    cmp eax, edi
    jg .out
    imul eax, eax
    add [rbp-8], rax
    inc dword [rbp-12]
    jmp .loop
.out:
    mov rax, [rbp-8]
    leave
    ret

; hanoi(n = rdi, from = rsi, to = rdx): counts moves in r12
hanoi:
    test rdi, rdi
    jz .done
    push rbp
    mov rbp, rsp
    push rdi
    push rsi
    push rdx
    sub rsp, 8
    ; via = 6 - from - to
    mov ecx, 6
    sub rcx, rsi
    sub rcx, rdx
    mov [rbp-32], rcx
    dec rdi
    mov rdx, rcx
    call hanoi
    inc r12
    mov rdi, [rbp-8]
    dec rdi
    mov rsi, [rbp-32]
    mov rdx, [rbp-24]
    call hanoi
    leave
.done:
    ret

; add_stack_args: returns [rsp+8] + [rsp+16], pops them with ret 16
add_stack_args:
    mov rax, [rsp+8]
    add rax, [rsp+16]
    ret 16

%include "lib.inc"
