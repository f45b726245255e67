; After syscall, rcx holds the address of the next instruction: save it once
; and jump back through it to repeat the code after the first syscall.
global _start
section .data
msg     db "tick", 10
section .text
_start:
        xor     r12d, r12d
        xor     r13d, r13d
        mov     eax, 1
        mov     edi, 1
        lea     rsi, [rel msg]
        mov     edx, 5
        syscall
after:
        test    r13, r13                ; the first time: remember rcx (= after)
        jnz     .counted
        mov     r13, rcx
        lea     rax, [rel after]
        cmp     rcx, rax
        jne     .done                   ; rcx is not the next instruction: stop
.counted:
        inc     r12d
        cmp     r12d, 3
        jae     .done
        mov     eax, 1
        mov     edi, 1
        lea     rsi, [rel msg]
        mov     edx, 5
        syscall                         ; clobbers rcx and r11
        jmp     r13                     ; back to `after`
.done:
        mov     eax, 60
        mov     rdi, r12
        syscall
