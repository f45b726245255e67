; writev: one call writes three pieces.
global _start
section .data
p1      db "Hello"
p2      db ", "
p3      db "writev!", 10
iov     dq p1, 5, p2, 2, p3, 8
section .text
_start:
        mov     eax, 20
        mov     edi, 1
        lea     rsi, [rel iov]
        mov     edx, 3
        syscall
        mov     edi, eax                ; exit status = bytes written (15)
        mov     eax, 60
        syscall
