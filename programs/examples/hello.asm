; =============================================================================
; hello.asm - the smallest complete program: write a line, exit
; =============================================================================
;
; A program talks to the operating system with SYSTEM CALLS: put the call's
; number in rax and its arguments in rdi, rsi, rdx (then r10, r8, r9), and
; execute `syscall`. The result comes back in rax (a negative number is an
; error code).
;
;   write(fd, buffer, length)   number 1   fd 1 is standard output
;   exit(status)                number 60  ends the program; status 0 = success
;
; Run it:
;   mnist-vm exec programs/examples/hello.asm
;   nasm -felf64 hello.asm -o hello.o && ld hello.o -o hello && ./hello
; -----------------------------------------------------------------------------

global _start                   ; the linker starts the program at _start

section .rodata                 ; read-only data
message:    db "Hello from x86-64 assembly!", 10    ; 10 is '\n'
length      equ $ - message     ; $ = current address, so this is 28 bytes

section .text                   ; the instructions
_start:
    mov eax, 1                  ; system call 1: write
    mov edi, 1                  ;   fd = 1 (standard output)
    mov rsi, message            ;   buffer = address of the text
    mov edx, length             ;   number of bytes
    syscall                     ; rax = bytes written

    mov eax, 60                 ; system call 60: exit
    xor edi, edi                ;   status 0 (xor of a register with itself is 0)
    syscall                     ; does not return
