; An array of records (struc + istruc) sorted by key with a bubble sort,
; the record size coming from the struc (student_size).
struc student
  .id:    resq 1
  .score: resq 1
endstruc

%macro record 2
  istruc student
    at student.id,    dq %1
    at student.score, dq %2
  iend
%endmacro

section .data
class:
  record 101, 72
  record 102, 95
  record 103, 60
  record 104, 88
  record 105, 95
  record 106, 41
count equ ($ - class) / student_size

section .text
global _start
_start:
        mov     r12, count - 1      ; passes
.pass:
        lea     rsi, [rel class]
        xor     ecx, ecx
.cmp:
        mov     rax, [rsi + student.score]
        mov     rdx, [rsi + student_size + student.score]
        cmp     rax, rdx
        jae     .ordered            ; descending by score, stable
        mov     r8, [rsi + student.id]
        mov     r9, [rsi + student_size + student.id]
        mov     [rsi + student.id], r9
        mov     [rsi + student.score], rdx
        mov     [rsi + student_size + student.id], r8
        mov     [rsi + student_size + student.score], rax
.ordered:
        add     rsi, student_size
        inc     rcx
        cmp     rcx, r12
        jb      .cmp
        dec     r12
        jnz     .pass
        lea     rbx, [rel class]
        xor     r13d, r13d
.show:
        mov     rax, [rbx + student.id]
        call    print_num
        add     rbx, student_size
        inc     r13
        cmp     r13, count
        jb      .show
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
