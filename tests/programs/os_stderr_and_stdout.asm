; Writes to stderr do not appear on stdout; the order on stdout is kept.
global _start
section .data
o1      db "stdout 1", 10
e1      db "stderr 1", 10
o2      db "stdout 2", 10
section .text
_start:
        mov     eax, 1
        mov     edi, 1
        lea     rsi, [rel o1]
        mov     edx, 9
        syscall
        mov     eax, 1
        mov     edi, 2
        lea     rsi, [rel e1]
        mov     edx, 9
        syscall
        mov     eax, 1
        mov     edi, 1
        lea     rsi, [rel o2]
        mov     edx, 9
        syscall
        mov     eax, 60
        xor     edi, edi
        syscall
