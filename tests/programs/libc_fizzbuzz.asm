; link: libc
; FizzBuzz 1..30 with printf and puts.
        global  main
        extern  printf, puts
        section .rodata
fizz    db "Fizz", 0
buzz    db "Buzz", 0
fb      db "FizzBuzz", 0
num     db "%d", 10, 0
        section .text
main:
        push    rbx
        mov     ebx, 1
.loop:  mov     eax, ebx
        xor     edx, edx
        mov     ecx, 15
        div     ecx
        test    edx, edx
        jz      .fb
        mov     eax, ebx
        xor     edx, edx
        mov     ecx, 3
        div     ecx
        test    edx, edx
        jz      .f
        mov     eax, ebx
        xor     edx, edx
        mov     ecx, 5
        div     ecx
        test    edx, edx
        jz      .b
        lea     rdi, [rel num]
        mov     esi, ebx
        xor     eax, eax
        call    printf
        jmp     .next
.fb:    lea     rdi, [rel fb]
        jmp     .put
.f:     lea     rdi, [rel fizz]
        jmp     .put
.b:     lea     rdi, [rel buzz]
.put:   call    puts
.next:  inc     ebx
        cmp     ebx, 30
        jle     .loop
        pop     rbx
        xor     eax, eax
        ret
