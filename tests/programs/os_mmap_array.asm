; mmap an anonymous 64 KiB buffer, fill it with bytes, sum them, munmap.
global _start
section .data
msg     db "sum = "
digits  db "0000000000", 10
section .text
_start:
        mov     eax, 9                  ; mmap(NULL, 65536, RW, PRIVATE|ANON, -1, 0)
        xor     edi, edi
        mov     esi, 65536
        mov     edx, 3
        mov     r10d, 0x22
        mov     r8, -1
        xor     r9d, r9d
        syscall
        mov     rbx, rax
        xor     ecx, ecx
.fill:  mov     [rbx+rcx], cl
        inc     ecx
        cmp     ecx, 65536
        jl      .fill
        xor     eax, eax
        xor     ecx, ecx
.sum:   movzx   edx, byte [rbx+rcx]
        add     rax, rdx
        inc     ecx
        cmp     ecx, 65536
        jl      .sum
        lea     rdi, [rel digits+9]     ; decimal, right to left
        mov     ecx, 10
.dig:   xor     edx, edx
        div     rcx
        add     dl, '0'
        mov     [rdi], dl
        dec     rdi
        test    rax, rax
        jnz     .dig
        mov     eax, 11                 ; munmap
        mov     rdi, rbx
        mov     esi, 65536
        syscall
        mov     eax, 1
        mov     edi, 1
        lea     rsi, [rel msg]
        mov     edx, 17
        syscall
        mov     eax, 60
        xor     edi, edi
        syscall
