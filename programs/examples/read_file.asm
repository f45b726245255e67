; =============================================================================
; read_file.asm - open a file, copy it to standard output, close it
; =============================================================================
;
; Files are reached through four system calls (number in rax, arguments in
; rdi, rsi, rdx; the result in rax, negative = -error code):
;
;   open(path, flags, mode)   2   returns a file descriptor (a small integer)
;   read(fd, buffer, count)   0   returns bytes read, 0 at the end of the file
;   write(fd, buffer, count)  1   fd 1 = standard output, 2 = standard error
;   close(fd)                 3
;
; The path is relative to the current directory (under mnist-vm: to --root).
; Choose another file when assembling:   -D FILE='"notes.txt"'  (nasm: -dFILE=...)
;
; Expected output: the contents of data.txt. A missing file prints
;   read_file: cannot open the file
; to standard error and exits with status 1.
;
; Run it (from programs/examples, where data.txt is):
;   mnist-vm exec read_file.asm
;   nasm -felf64 read_file.asm -o r.o && ld r.o -o r && ./r
; -----------------------------------------------------------------------------

%ifndef FILE
%define FILE "data.txt"
%endif

global _start

section .rodata
path:       db FILE, 0          ; system calls want NUL-terminated paths
err_open:   db "read_file: cannot open the file", 10
err_len     equ $ - err_open

section .bss
buffer:     resb 64             ; small on purpose: big files take several reads

section .text
_start:
    mov eax, 2                  ; open(path, O_RDONLY = 0, mode 0)
    mov rdi, path
    xor esi, esi
    xor edx, edx
    syscall
    test rax, rax
    js .cannot_open             ; negative: an error (e.g. -2 = no such file)
    mov rbx, rax                ; keep the file descriptor

.copy:
    mov eax, 0                  ; read(fd, buffer, 64)
    mov rdi, rbx
    mov rsi, buffer
    mov edx, 64
    syscall
    test rax, rax
    jle .end_of_file            ; 0 = end of file (negative = error)
    mov rdx, rax                ; write exactly the bytes we got
    mov eax, 1                  ; write(1, buffer, rdx)
    mov edi, 1
    mov rsi, buffer
    syscall
    jmp .copy

.end_of_file:
    mov eax, 3                  ; close(fd)
    mov rdi, rbx
    syscall
    mov eax, 60                 ; exit(0)
    xor edi, edi
    syscall

.cannot_open:
    mov eax, 1                  ; write(2, err_open, err_len)
    mov edi, 2
    mov rsi, err_open
    mov edx, err_len
    syscall
    mov eax, 60                 ; exit(1)
    mov edi, 1
    syscall
