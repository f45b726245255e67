; stdin: the quick brown fox\njumps over\n  the lazy dog  \n
; wc: lines, words and bytes of stdin, read in small chunks.
global _start
section .bss
buf     resb 7
outbuf  resb 64
section .text
_start:
        xor     r12d, r12d              ; lines
        xor     r13d, r13d              ; words
        xor     r14d, r14d              ; bytes
        xor     r15d, r15d              ; inside a word?
.read:  xor     eax, eax
        xor     edi, edi
        lea     rsi, [rel buf]
        mov     edx, 7
        syscall
        test    rax, rax
        jle     .done
        add     r14, rax
        xor     ecx, ecx
.ch:    movzx   edx, byte [buf+rcx]
        cmp     dl, 10
        jne     .notnl
        inc     r12
.notnl: cmp     dl, ' '
        je      .space
        cmp     dl, 10
        je      .space
        test    r15, r15
        jnz     .next
        inc     r13
        mov     r15d, 1
        jmp     .next
.space: xor     r15d, r15d
.next:  inc     ecx
        cmp     rcx, rax
        jl      .ch
        jmp     .read
.done:  lea     rdi, [rel outbuf]
        mov     rax, r12
        call    put_num
        mov     rax, r13
        call    put_num
        mov     rax, r14
        call    put_num
        mov     byte [rdi-1], 10
        lea     rsi, [rel outbuf]
        mov     rdx, rdi
        sub     rdx, rsi
        mov     eax, 1
        mov     edi, 1
        syscall
        mov     eax, 60
        xor     edi, edi
        syscall
put_num:                                ; write rax in decimal at rdi, then a space
        mov     rcx, 10
        push    0
.d:     xor     edx, edx
        div     rcx
        add     dl, '0'
        push    rdx
        test    rax, rax
        jnz     .d
.p:     pop     rax
        test    rax, rax
        jz      .e
        mov     [rdi], al
        inc     rdi
        jmp     .p
.e:     mov     byte [rdi], ' '
        inc     rdi
        ret
