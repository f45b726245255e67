; link: libc
; Leaving with the raw exit syscall skips stdio's flush: natively (stdout a
; pipe) the printf text is lost, only the raw write appears. Same in the VM.
        global  main
        extern  printf
        section .rodata
f1      db "never shown: still in the buffer", 10, 0
raw     db "shown: written by the syscall", 10
rawlen  equ $ - raw
        section .text
main:
        sub     rsp, 8
        lea     rdi, [rel f1]
        xor     eax, eax
        call    printf
        mov     eax, 1
        mov     edi, 1
        lea     rsi, [rel raw]
        mov     edx, rawlen
        syscall
        mov     eax, 60
        mov     edi, 5
        syscall
