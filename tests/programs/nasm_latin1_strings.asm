; Latin-1 text: a file saved in ISO-8859-1 (not UTF-8) prints its bytes
; as they are. Comment: café crème brélée
section .data
msg     db "caf", 0xE9, " ", "crème", 10
len     equ $ - msg

section .text
global _start
_start:
        mov     eax, 1
        mov     edi, 1
        lea     rsi, [rel msg]
        mov     edx, len
        syscall
        mov     eax, 60
        mov     edi, len
        syscall
