; The 32-bit tutorial hello world: int 0x80 with eax=4 (write), eax=1 (exit).
global _start
section .data
msg     db "Hello from int 0x80!", 10
len     equ $ - msg
section .text
_start:
        mov     eax, 4                  ; sys_write (i386)
        mov     ebx, 1
        mov     ecx, msg                ; 32-bit absolute address
        mov     edx, len
        int     0x80
        mov     eax, 1                  ; sys_exit (i386)
        mov     ebx, 0
        int     0x80
