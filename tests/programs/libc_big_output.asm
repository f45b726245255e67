; link: libc
; 600 lines of printf (over 4096 bytes: glibc flushes full 4096-byte blocks)
; with a raw write in the middle: where it lands shows the buffer boundaries.
        global  main
        extern  printf
        section .rodata
fmt     db "line %03d: the quick brown fox", 10, 0
raw     db "<<RAW WRITE>>", 10
rawlen  equ $ - raw
        section .text
main:
        push    rbx
        xor     ebx, ebx
.loop:  lea     rdi, [rel fmt]
        mov     esi, ebx
        xor     eax, eax
        call    printf
        cmp     ebx, 300
        jne     .next
        mov     eax, 1
        mov     edi, 1
        lea     rsi, [rel raw]
        mov     edx, rawlen
        syscall
.next:  inc     ebx
        cmp     ebx, 600
        jl      .loop
        pop     rbx
        xor     eax, eax
        ret
