; uname(2): print the kernel name (sysname) and the machine field.
global _start
section .data
nl      db 10
section .bss
uts     resb 390
section .text
_start:
        mov     eax, 63
        lea     rdi, [rel uts]
        syscall
        lea     rsi, [rel uts]          ; sysname
        call    print_cstr
        lea     rsi, [rel uts+65*4]     ; machine
        call    print_cstr
        mov     eax, 60
        xor     edi, edi
        syscall
print_cstr:
        xor     edx, edx
.l:     cmp     byte [rsi+rdx], 0
        je      .w
        inc     edx
        jmp     .l
.w:     mov     eax, 1
        mov     edi, 1
        syscall
        mov     eax, 1
        mov     edi, 1
        lea     rsi, [rel nl]
        mov     edx, 1
        syscall
        ret
