; Structures: struc declares the field offsets, istruc/at/iend lays out
; initialised records. Sum the coordinates and find the farthest point.
struc point
  .x:     resq 1
  .y:     resq 1
  .tag:   resb 8
endstruc

section .data
points:
  istruc point
    at point.x,   dq 3
    at point.y,   dq 4
    at point.tag, db "A"
  iend
  istruc point
    at point.x,   dq 10
    at point.y,   dq 1
    at point.tag, db "B"
  iend
  istruc point
    at point.x,   dq 6
    at point.y,   dq 8
    at point.tag, db "C"
  iend
npoints equ ($ - points) / point_size

section .text
global _start
_start:
        lea     rbx, [rel points]
        xor     r12d, r12d          ; index
        xor     r13d, r13d          ; best squared distance
        xor     r14d, r14d          ; best record
.each:
        mov     rax, [rbx + point.x]
        imul    rax, rax
        mov     rcx, [rbx + point.y]
        imul    rcx, rcx
        add     rax, rcx
        push    rax
        call    print_num           ; x*x + y*y
        pop     rax
        cmp     rax, r13
        jbe     .not_better
        mov     r13, rax
        mov     r14, rbx
.not_better:
        add     rbx, point_size
        inc     r12
        cmp     r12, npoints
        jb      .each
        mov     eax, 1              ; print the tag of the farthest
        mov     edi, 1
        lea     rsi, [r14 + point.tag]
        mov     edx, 1
        syscall
        mov     rax, point_size
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
