; stdin: 10 20 30\n-5 45\n
; Parse signed decimal numbers from stdin and print their sum.
global _start
section .bss
buf     resb 256
outbuf  resb 32
section .text
_start:
        xor     eax, eax
        xor     edi, edi
        lea     rsi, [rel buf]
        mov     edx, 255
        syscall
        mov     r8, rax                 ; length
        xor     ecx, ecx                ; index
        xor     r9, r9                  ; sum
.skip:  cmp     rcx, r8
        jge     .done
        movzx   eax, byte [buf+rcx]
        cmp     al, '-'
        je      .num
        cmp     al, '0'
        jb      .adv
        cmp     al, '9'
        jbe     .num
.adv:   inc     rcx
        jmp     .skip
.num:   xor     r10d, r10d              ; negative?
        cmp     al, '-'
        jne     .dig
        mov     r10d, 1
        inc     rcx
.dig:   xor     r11, r11
.dl:    cmp     rcx, r8
        jge     .end
        movzx   eax, byte [buf+rcx]
        sub     al, '0'
        cmp     al, 9
        ja      .end
        imul    r11, r11, 10
        add     r11, rax
        inc     rcx
        jmp     .dl
.end:   test    r10d, r10d
        jz      .add
        neg     r11
.add:   add     r9, r11
        jmp     .skip
.done:  mov     rax, r9                 ; print r9 (assumed >= 0)
        lea     rdi, [rel outbuf+31]
        mov     byte [rdi], 10
        mov     ecx, 10
.p:     xor     edx, edx
        div     rcx
        add     dl, '0'
        dec     rdi
        mov     [rdi], dl
        test    rax, rax
        jnz     .p
        lea     rdx, [rel outbuf+32]
        sub     rdx, rdi
        mov     rsi, rdi
        mov     eax, 1
        mov     edi, 1
        syscall
        mov     eax, 60
        xor     edi, edi
        syscall
