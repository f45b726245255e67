; pop qword [rsp] stores into the slot above the popped one (the address is
; computed after rsp moves); push qword [rsp] duplicates the top.
global _start
section .data
msg     db "x"
section .text
_start:
        push    'B'
        push    'A'
        pop     qword [rsp]             ; 'A' overwrites 'B'
        push    qword [rsp]             ; duplicate: A A
        pop     rax
        pop     rbx
        add     eax, ebx                ; 'A' + 'A' = 130
        mov     edi, eax
        mov     eax, 60
        syscall
