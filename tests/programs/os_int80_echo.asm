; stdin: echo me through int 0x80\n
; read (eax=3) from stdin and write (eax=4) it back with int 0x80.
global _start
section .bss
buf     resb 128
section .text
_start:
        mov     eax, 3
        mov     ebx, 0
        mov     ecx, buf
        mov     edx, 128
        int     0x80
        mov     edx, eax
        mov     eax, 4
        mov     ebx, 1
        mov     ecx, buf
        int     0x80
        mov     eax, 1
        mov     ebx, 7
        int     0x80
