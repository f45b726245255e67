; link: libc
; stdin: Hello, World!\nlower CASE 123\n
; Upper-case stdin with getchar/toupper/putchar.
        global  main
        extern  getchar, putchar, toupper
        section .text
main:
        sub     rsp, 8
.loop:  call    getchar
        cmp     eax, -1
        je      .done
        mov     edi, eax
        call    toupper
        mov     edi, eax
        call    putchar
        jmp     .loop
.done:  add     rsp, 8
        xor     eax, eax
        ret
