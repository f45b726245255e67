; args: Hello-World
; Caesar-shift argv[1] by 3 and print it.
global _start
section .data
nl      db 10
section .text
_start:
        cmp     qword [rsp], 2
        jl      .out
        mov     rsi, [rsp+16]
        xor     edx, edx
.l:     mov     al, [rsi+rdx]
        test    al, al
        jz      .p
        mov     cl, al
        or      cl, 32
        cmp     cl, 'a'
        jb      .n
        cmp     cl, 'z'
        ja      .n
        mov     ch, al
        and     ch, 32                  ; keep the case
        sub     cl, 'a' - 3
        cmp     cl, 26
        jb      .ok
        sub     cl, 26
.ok:    add     cl, 'A'
        or      cl, ch
        mov     [rsi+rdx], cl
.n:     inc     edx
        jmp     .l
.p:     mov     eax, 1
        mov     edi, 1
        syscall
        mov     eax, 1
        mov     edi, 1
        lea     rsi, [rel nl]
        mov     edx, 1
        syscall
.out:   mov     eax, 60
        xor     edi, edi
        syscall
