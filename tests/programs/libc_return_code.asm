; link: libc
; The value main returns is the exit status (buffered output still appears).
        global  main
        extern  puts
        section .rodata
msg     db "returning 7 from main", 0
        section .text
main:
        sub     rsp, 8
        lea     rdi, [rel msg]
        call    puts
        add     rsp, 8
        mov     eax, 7
        ret
