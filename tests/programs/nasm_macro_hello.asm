; A first macro: print a string literal given right where it is used.
; The greedy parameter (1+) keeps the commas: print "a", 10 works.
%macro print 1+
        section .rodata
%%msg:  db %1
%%len   equ $ - %%msg
        section .text
        mov     eax, 1              ; write(1, msg, len)
        mov     edi, 1
        lea     rsi, [rel %%msg]
        mov     edx, %%len
        syscall
%endmacro

%macro exit 1
        mov     eax, 60
        mov     edi, %1
        syscall
%endmacro

section .text
global _start
_start:
        print   "Hello, macros!", 10
        print   "Each call gets its own label: ", "%%msg", 10
        print   'single quotes, ', "double quotes", 10
        exit    0
