; args: alpha beta "gamma delta"
; Print argc and every argv string from the stack at _start.
global _start
section .data
nl      db 10
section .text
_start:
        mov     r12, [rsp]              ; argc
        lea     r13, [rsp+8]            ; argv
        mov     al, r12b
        add     al, '0'
        push    rax
        mov     eax, 1
        mov     edi, 1
        mov     rsi, rsp
        mov     edx, 1
        syscall
        pop     rax
        call    newline
.next:  mov     rsi, [r13]
        test    rsi, rsi
        jz      .done
        xor     edx, edx
.len:   cmp     byte [rsi+rdx], 0
        je      .print
        inc     edx
        jmp     .len
.print: mov     eax, 1
        mov     edi, 1
        syscall
        call    newline
        add     r13, 8
        jmp     .next
.done:  mov     eax, 60
        xor     edi, edi
        syscall
newline:
        mov     eax, 1
        mov     edi, 1
        lea     rsi, [rel nl]
        mov     edx, 1
        syscall
        ret
