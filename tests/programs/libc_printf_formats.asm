; link: libc
; printf with the formats, widths, precisions and flags learners use.
        global  main
        extern  printf

        section .rodata
f_int   db "[%d] [%i] [%5d] [%-5d|] [%05d] [%+d] [% d] [%.3d] [%8.3d]", 10, 0
f_uns   db "[%u] [%x] [%X] [%#x] [%#o] [%o] [%#X] [%lx] [%lu]", 10, 0
f_long  db "[%ld] [%lld] [%li] [%hd] [%hhd] [%hu] [%hhx]", 10, 0
f_chr   db "[%c] [%3c] [%-3c|] [%s] [%10s] [%-10s|] [%.2s] [%%]", 10, 0
f_flt   db "[%f] [%.2f] [%10.3f] [%-10.1f|] [%+f] [%e] [%E] [%g] [%G] [%.0f] [%#.0f]", 10, 0
f_flt2  db "[%lf] [%g] [%g] [%g] [%.3e] [%012.4f] [% .2f]", 10, 0
f_star  db "[%*d] [%-*d|] [%.*f] [%*.*s]", 10, 0
f_zero  db "[%#x] [%.0d] [%5.0d|] [%x] [%s]", 10, 0
hello   db "hello", 0
letters db "abcdef", 0
empty   db 0

        section .data
pi      dq 3.14159265358979
negv    dq -2.5
big     dq 1.0e20
tiny    dq 0.000012345
half    dq 0.5
twoh    dq 2.5
third   dq 0.333333333333333
mil     dq 1234567.0

        section .text
main:
        push    rbp
        mov     rbp, rsp
        sub     rsp, 32

        lea     rdi, [rel f_int]
        mov     esi, 42
        mov     edx, -17
        mov     ecx, 42
        mov     r8d, 42
        mov     r9d, 42
        mov     dword [rsp], 42
        mov     dword [rsp+8], 42
        mov     dword [rsp+16], 7
        mov     dword [rsp+24], -7
        xor     eax, eax
        call    printf

        lea     rdi, [rel f_uns]
        mov     esi, -1
        mov     edx, 255
        mov     ecx, 255
        mov     r8d, 255
        mov     r9d, 8
        mov     dword [rsp], 8
        mov     dword [rsp+8], 0xbeef
        mov     rax, 0x123456789abcdef0
        mov     [rsp+16], rax
        mov     qword [rsp+24], -1
        xor     eax, eax
        call    printf

        lea     rdi, [rel f_long]
        mov     rsi, -5000000000
        mov     rdx, 9223372036854775807
        mov     rcx, -1
        mov     r8d, 70000
        mov     r9d, 300
        mov     dword [rsp], 65535
        mov     dword [rsp+8], 511
        xor     eax, eax
        call    printf

        sub     rsp, 16
        lea     rdi, [rel f_chr]
        mov     esi, 'A'
        mov     edx, 'B'
        mov     ecx, 'C'
        lea     r8, [rel hello]
        lea     r9, [rel hello]
        lea     rax, [rel hello]
        mov     [rsp], rax
        lea     rax, [rel letters]
        mov     [rsp+8], rax
        xor     eax, eax
        call    printf
        add     rsp, 16

        lea     rdi, [rel f_flt]
        movsd   xmm0, [rel pi]
        movsd   xmm1, [rel pi]
        movsd   xmm2, [rel pi]
        movsd   xmm3, [rel negv]
        movsd   xmm4, [rel pi]
        movsd   xmm5, [rel big]
        movsd   xmm6, [rel tiny]
        movsd   xmm7, [rel tiny]
        movsd   xmm8, [rel mil]
        movsd   [rsp], xmm8
        movsd   xmm8, [rel twoh]
        movsd   [rsp+8], xmm8
        movsd   xmm8, [rel half]
        movsd   [rsp+16], xmm8
        mov     eax, 8
        call    printf

        lea     rdi, [rel f_flt2]
        movsd   xmm0, [rel third]
        movsd   xmm1, [rel big]
        movsd   xmm2, [rel tiny]
        movsd   xmm3, [rel mil]
        movsd   xmm4, [rel pi]
        movsd   xmm5, [rel negv]
        movsd   xmm6, [rel half]
        mov     eax, 7
        call    printf

        lea     rdi, [rel f_star]
        mov     esi, 6
        mov     edx, 42
        mov     ecx, 6
        mov     r8d, 42
        mov     r9d, 3
        movsd   xmm0, [rel pi]
        mov     dword [rsp], 8
        mov     dword [rsp+8], 3
        lea     rax, [rel letters]
        mov     [rsp+16], rax
        mov     eax, 1
        call    printf

        lea     rdi, [rel f_zero]
        xor     esi, esi
        xor     edx, edx
        xor     ecx, ecx
        mov     r8d, 0xabc
        lea     r9, [rel empty]
        xor     eax, eax
        call    printf

        xor     eax, eax
        leave
        ret
