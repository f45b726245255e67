; stdin: hello\nworld\nassembly\n
; Reverse every line of stdin (read all of it first).
global _start
section .bss
buf     resb 4096
section .text
_start:
        xor     ebx, ebx                ; bytes so far
.read:  xor     eax, eax
        xor     edi, edi
        lea     rsi, [buf+rbx]
        mov     edx, 4096
        sub     edx, ebx
        syscall
        test    rax, rax
        jle     .rev
        add     rbx, rax
        jmp     .read
.rev:   xor     ecx, ecx                ; start of the line
        xor     edx, edx
.scan:  cmp     rdx, rbx
        jge     .print
        cmp     byte [buf+rdx], 10
        jne     .more
        lea     rsi, [rdx-1]            ; reverse buf[rcx..rdx-1]
        mov     rdi, rcx
.sw:    cmp     rdi, rsi
        jge     .nextl
        mov     al, [buf+rdi]
        mov     ah, [buf+rsi]
        mov     [buf+rdi], ah
        mov     [buf+rsi], al
        inc     rdi
        dec     rsi
        jmp     .sw
.nextl: lea     rcx, [rdx+1]
.more:  inc     rdx
        jmp     .scan
.print: mov     eax, 1
        mov     edi, 1
        lea     rsi, [rel buf]
        mov     rdx, rbx
        syscall
        mov     eax, 60
        xor     edi, edi
        syscall
