; A linked list laid out with istruc: each node points at the next one;
; walk it, print each value and the total.
struc node
  .value: resq 1
  .next:  resq 1
endstruc

section .data
n1: istruc node
      at node.value, dq 5
      at node.next,  dq n2
    iend
n3: istruc node
      at node.value, dq 40
      at node.next,  dq 0
    iend
n2: istruc node
      at node.value, dq 12
      at node.next,  dq n3
    iend

section .text
global _start
_start:
        lea     rbx, [rel n1]
        xor     r12d, r12d
.walk:
        test    rbx, rbx
        jz      .end
        mov     rax, [rbx + node.value]
        add     r12, rax
        call    print_num
        mov     rbx, [rbx + node.next]
        jmp     .walk
.end:
        mov     rax, r12
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
