; atomic counters and a compare-and-swap retry loop (one thread, same answers)
global _start
section .data
counter: dq 100
lock_word: dd 0
section .text
_start:
    mov eax, 5
    lock xadd [rel counter], rax
    call print_dec                  ; old value 100
    mov rax, [rel counter]
    call print_dec                  ; 105
    ; take the lock: cmpxchg 0 -> 1
    xor eax, eax
    mov ecx, 1
    lock cmpxchg [rel lock_word], ecx
    setz al
    movzx eax, al
    call print_dec                  ; 1: we got it
    ; trying again fails and loads the current value into eax
    xor eax, eax
    lock cmpxchg [rel lock_word], ecx
    setz bl
    call print_dec                  ; eax = 1 (current)
    movzx eax, bl
    call print_dec                  ; 0: it was taken
    ; CAS loop: multiply the counter by 3
.retry:
    mov rax, [rel counter]
    lea rdx, [rax + rax*2]
    lock cmpxchg [rel counter], rdx
    jnz .retry
    mov rax, [rel counter]
    call print_dec
    ; xadd between registers
    mov ebx, 7
    mov edx, 30
    xadd ebx, edx
    mov eax, ebx
    call print_dec
    mov eax, edx
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
