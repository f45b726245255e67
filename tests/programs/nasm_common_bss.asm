; `common` declares a zero-initialised global variable (C's tentative
; definitions); count how many of a string's characters are vowels.
common  vowels 8
common  letters 8:8

section .data
text    db "Assembly language is fun to learn", 0

section .text
global _start
_start:
        lea     rsi, [rel text]
.next:
        movzx   eax, byte [rsi]
        test    al, al
        jz      .done
        or      al, 0x20            ; lower case
        cmp     al, 'a'
        jb      .skip
        cmp     al, 'z'
        ja      .skip
        inc     qword [rel letters]
        cmp     al, 'a'
        je      .vowel
        cmp     al, 'e'
        je      .vowel
        cmp     al, 'i'
        je      .vowel
        cmp     al, 'o'
        je      .vowel
        cmp     al, 'u'
        jne     .skip
.vowel:
        inc     qword [rel vowels]
.skip:
        inc     rsi
        jmp     .next
.done:
        mov     rax, [rel vowels]
        call    print_num
        mov     rax, [rel letters]
        call    print_num
        mov     eax, 60
        xor     edi, edi
        syscall

; print rax in decimal, then a newline (clobbers rax, rcx, rdx, rsi, rdi, r11)
print_num:
        push    rbx
        sub     rsp, 32
        lea     rsi, [rsp + 31]
        mov     byte [rsi], 10
        mov     ebx, 10
        mov     ecx, 1
.digit:
        xor     edx, edx
        div     rbx
        add     dl, '0'
        dec     rsi
        mov     [rsi], dl
        inc     rcx
        test    rax, rax
        jnz     .digit
        mov     eax, 1
        mov     edi, 1
        mov     rdx, rcx
        syscall
        add     rsp, 32
        pop     rbx
        ret
