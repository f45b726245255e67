; multi_main.asm + multi_util.asm - two files linked together (global/extern),
; with a define whose default can be overridden (-dSCALE=...).
global _start
global shared_counter
extern util_scale, util_table, util_table_len

%ifndef SCALE
%define SCALE 3
%endif

section .data
shared_counter: dq 0

section .text
_start:
    xor ebx, ebx
    xor r12d, r12d
.loop:
    mov rdi, [util_table + rbx*8]
    mov esi, SCALE
    call util_scale
    add r12, rax
    inc ebx
    cmp rbx, [util_table_len]
    jb .loop
    mov rdi, r12
    call print_i64
    call space
    mov rdi, [shared_counter]
    call print_u64
    call newline
%ifdef EXTRA
    mov rdi, EXTRA
    call print_u64
    call newline
%endif
    xor edi, edi
    call exit

%include "lib.inc"
