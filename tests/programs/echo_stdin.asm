; stdin: hello from a pipe\n
; A learner's first filter: copy stdin to stdout, upper-casing ASCII letters.
section .bss
buf     resb 256

section .text
global _start
_start:
.again:
        mov     eax, 0              ; read(0, buf, 256)
        xor     edi, edi
        lea     rsi, [rel buf]
        mov     edx, 256
        syscall
        test    rax, rax
        jle     .done
        mov     rcx, rax
        lea     rsi, [rel buf]
.up:
        mov     al, [rsi]
        cmp     al, 'a'
        jb      .next
        cmp     al, 'z'
        ja      .next
        sub     al, 32
        mov     [rsi], al
.next:
        inc     rsi
        dec     rcx
        jnz     .up
        mov     rdx, rsi
        lea     rsi, [rel buf]
        sub     rdx, rsi            ; count
        mov     eax, 1
        mov     edi, 1
        syscall
        jmp     .again
.done:
        mov     eax, 60
        xor     edi, edi
        syscall
