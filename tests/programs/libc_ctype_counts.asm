; link: libc
; stdin: Hello World 2024! Tabs\tand spaces.\n
; Classify stdin characters with isalpha/isdigit/isspace/isupper.
        global  main
        extern  getchar, isalpha, isdigit, isspace, isupper, printf
        section .rodata
fmt     db "alpha=%d digit=%d space=%d upper=%d other=%d", 10, 0
        section .bss
cnt     resd 5
        section .text
main:
        push    rbx
.loop:  call    getchar
        cmp     eax, -1
        je      .done
        mov     ebx, eax
        mov     edi, ebx
        call    isupper
        test    eax, eax
        jz      .nu
        inc     dword [rel cnt+12]
.nu:    mov     edi, ebx
        call    isalpha
        test    eax, eax
        jnz     .a
        mov     edi, ebx
        call    isdigit
        test    eax, eax
        jnz     .d
        mov     edi, ebx
        call    isspace
        test    eax, eax
        jnz     .s
        inc     dword [rel cnt+16]
        jmp     .loop
.a:     inc     dword [rel cnt]
        jmp     .loop
.d:     inc     dword [rel cnt+4]
        jmp     .loop
.s:     inc     dword [rel cnt+8]
        jmp     .loop
.done:  lea     rdi, [rel fmt]
        mov     esi, [rel cnt]
        mov     edx, [rel cnt+4]
        mov     ecx, [rel cnt+8]
        mov     r8d, [rel cnt+12]
        mov     r9d, [rel cnt+16]
        xor     eax, eax
        call    printf
        pop     rbx
        xor     eax, eax
        ret
