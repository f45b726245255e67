; multi_util.asm - the second file of the multi-file test.
global util_scale, util_table, util_table_len
extern shared_counter

section .data
util_table:     dq 1, -2, 30, 400, -5000, 0x10000
util_table_len: dq ($ - util_table) / 8

section .text
; util_scale(rdi, rsi) -> rax = rdi * rsi; counts calls in shared_counter
util_scale:
    inc qword [shared_counter]
    mov rax, rdi
    imul rax, rsi
    ret
