; A struc as a stack-frame layout: the locals of a function are fields,
; addressed as [rsp + locals.field], so adding one is a one-line change.
struc locals
  .count:  resq 1
  .sum:    resq 1
  .square: resq 1
endstruc

section .text
global _start
_start:
        mov     rdi, 10
        call    sum_of_squares
        call    print_num
        mov     rdi, 25
        call    sum_of_squares
        call    print_num
        mov     eax, 60
        xor     edi, edi
        syscall

; rax = 1*1 + 2*2 + ... + rdi*rdi
sum_of_squares:
        sub     rsp, locals_size + 8      ; keep rsp 16-byte aligned
        mov     qword [rsp + locals.count], 1
        mov     qword [rsp + locals.sum], 0
.loop:
        mov     rax, [rsp + locals.count]
        cmp     rax, rdi
        ja      .done
        imul    rax, rax
        mov     [rsp + locals.square], rax
        add     [rsp + locals.sum], rax
        inc     qword [rsp + locals.count]
        jmp     .loop
.done:
        mov     rax, [rsp + locals.sum]
        add     rsp, locals_size + 8
        ret

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
