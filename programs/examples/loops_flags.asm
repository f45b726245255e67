; =============================================================================
; loops_flags.asm - loops, compares, conditional jumps and the FLAGS register
; =============================================================================
;
; Arithmetic instructions (add, sub, cmp, inc, dec, and, ...) leave four
; one-bit facts about their result in the FLAGS register:
;
;   ZF  zero      the result was 0
;   SF  sign      the result's top bit is 1 (negative as a signed number)
;   CF  carry     unsigned overflow: a carry out of (or borrow into) the top bit
;   OF  overflow  signed overflow: the signed result does not fit
;
; `cmp a, b` computes a - b only for these flags and throws the result away.
; Conditional jumps then test the flags:
;
;   je / jne    ZF=1 / ZF=0              equal / not equal
;   jb / jae    CF=1 / CF=0              unsigned below / above-or-equal
;   ja / jbe    CF=0 and ZF=0 / not so   unsigned above / below-or-equal
;   jl / jge    SF!=OF / SF=OF           signed less / greater-or-equal
;   jg / jle    ZF=0 and SF=OF / not so  signed greater / less-or-equal
;
; setCC writes 1 or 0 into a byte with the same tests; this program uses
; sete/sets/setb/seto to show the flags after a few operations.
;
; Expected output:
;   count: 1 2 3 4 5 6 7 8 9 10
;   sum 1..10 = 55
;   cmp 3, 5          ZF=0 SF=1 CF=1 OF=0
;   cmp 5, 5          ZF=1 SF=0 CF=0 OF=0
;   cmp -1, 1         ZF=0 SF=1 CF=0 OF=0
;   add8 127 + 1      ZF=0 SF=1 CF=0 OF=1
;   add8 255 + 1      ZF=1 SF=0 CF=1 OF=0
;   -1 < 1 signed (jl), -1 > 1 unsigned (ja)
;   countdown: 3 2 1 liftoff
;
; Run it:  mnist-vm exec programs/examples/loops_flags.asm
;          (natively: nasm -felf64 loops_flags.asm -o l.o && ld l.o -o l && ./l)
; -----------------------------------------------------------------------------

global _start

section .rodata
s_count:    db "count:", 0
s_sum:      db "sum 1..10 = ", 0
s_cmp35:    db "cmp 3, 5          ", 0
s_cmp55:    db "cmp 5, 5          ", 0
s_cmpm1:    db "cmp -1, 1         ", 0
s_add127:   db "add8 127 + 1      ", 0
s_add255:   db "add8 255 + 1      ", 0
s_signed:   db "-1 < 1 signed (jl), ", 0
s_nsigned:  db "-1 >= 1 signed?!, ", 0
s_unsigned: db "-1 > 1 unsigned (ja)", 0
s_nunsign:  db "-1 <= 1 unsigned?!", 0
s_down:     db "countdown:", 0
s_liftoff:  db " liftoff", 0
s_zf:       db "ZF=", 0
s_sf:       db " SF=", 0
s_cf:       db " CF=", 0
s_of:       db " OF=", 0
s_nl:       db 10, 0

section .bss
flag_bytes: resb 4              ; ZF, SF, CF, OF captured by setCC
digits:     resb 32             ; scratch for print_uint

section .text
_start:
    ; ---- a counting loop: for (i = 1; i <= 10; i++) print i ---------------
    mov rdi, s_count
    call print_str
    mov ebx, 1                  ; rbx survives calls (callee-saved)
.count:
    mov edi, ' '
    call print_char
    mov edi, ebx
    call print_uint
    inc ebx
    cmp ebx, 10                 ; flags from ebx - 10
    jle .count                  ; loop while ebx <= 10 (signed compare)
    mov rdi, s_nl
    call print_str

    ; ---- sum 1..10 with the test at the bottom of the loop --------------------
    xor eax, eax                ; sum = 0
    mov ecx, 10                 ; counter
.sum:
    add eax, ecx
    dec ecx                     ; dec sets ZF when the counter reaches 0
    jnz .sum
    mov ebx, eax
    mov rdi, s_sum
    call print_str
    mov edi, ebx
    call print_uint
    mov rdi, s_nl
    call print_str

    ; ---- what cmp leaves in the flags ------------------------------------------------
    mov rdi, s_cmp35
    call print_str
    mov eax, 3
    cmp eax, 5                  ; 3 - 5 = -2: negative (SF), borrow (CF)
    call capture_and_show       ; (call and the setCC inside do not change flags)

    mov rdi, s_cmp55
    call print_str
    mov eax, 5
    cmp eax, 5                  ; 5 - 5 = 0: ZF
    call capture_and_show

    mov rdi, s_cmpm1
    call print_str
    mov rax, -1
    cmp rax, 1                  ; -1 - 1 = -2; as unsigned 0xFFFF...FF - 1: no borrow
    call capture_and_show

    mov rdi, s_add127
    call print_str
    mov al, 127
    add al, 1                   ; 8-bit: 127 + 1 = 128 = -128 signed: OF
    call capture_and_show

    mov rdi, s_add255
    call print_str
    mov al, 255
    add al, 1                   ; 8-bit: 255 + 1 = 256 -> 0, carry out: CF, ZF
    call capture_and_show

    ; ---- the same bits, two meanings ---------------------------------------------
    mov rax, -1
    cmp rax, 1
    mov rdi, s_signed
    jl .is_less                 ; signed: -1 < 1
    mov rdi, s_nsigned
.is_less:
    call print_str              ; (a call does not change the flags...)
    mov rax, -1
    cmp rax, 1                  ; (...but print_str did: compare again)
    mov rdi, s_unsigned
    ja .is_above                ; unsigned: 0xFFFFFFFFFFFFFFFF > 1
    mov rdi, s_nunsign
.is_above:
    call print_str
    mov rdi, s_nl
    call print_str

    ; ---- a countdown loop ---------------------------------------------------------------
    mov rdi, s_down
    call print_str
    mov ebx, 3
.down:
    mov edi, ' '
    call print_char
    mov edi, ebx
    call print_uint
    dec ebx
    jnz .down
    mov rdi, s_liftoff
    call print_str
    mov rdi, s_nl
    call print_str

    mov eax, 60                 ; exit(0)
    xor edi, edi
    syscall

; -----------------------------------------------------------------------------
; capture_and_show: store ZF, SF, CF, OF as 0/1 bytes (first thing, before
; any instruction changes the flags), then print "ZF=z SF=s CF=c OF=o\n".
; -----------------------------------------------------------------------------
capture_and_show:
    sete [flag_bytes]           ; ZF
    sets [flag_bytes + 1]       ; SF
    setb [flag_bytes + 2]       ; CF  (setb: "below" = CF=1)
    seto [flag_bytes + 3]       ; OF
    push rbx                    ; also aligns the stack to 16 for the calls
    mov rdi, s_zf
    call print_str
    movzx edi, byte [flag_bytes]
    call print_uint
    mov rdi, s_sf
    call print_str
    movzx edi, byte [flag_bytes + 1]
    call print_uint
    mov rdi, s_cf
    call print_str
    movzx edi, byte [flag_bytes + 2]
    call print_uint
    mov rdi, s_of
    call print_str
    movzx edi, byte [flag_bytes + 3]
    call print_uint
    mov rdi, s_nl
    call print_str
    pop rbx
    ret

; -----------------------------------------------------------------------------
; print_str(rdi = NUL-terminated string): count its length, write it.
; -----------------------------------------------------------------------------
print_str:
    xor edx, edx
.len:
    cmp byte [rdi + rdx], 0
    je .write
    inc rdx
    jmp .len
.write:
    mov rsi, rdi
    mov eax, 1                  ; write(1, rsi, rdx)
    mov edi, 1
    syscall
    ret

; print_char(dil = character)
print_char:
    mov [digits], dil
    mov rsi, digits
    mov edx, 1
    mov eax, 1
    mov edi, 1
    syscall
    ret

; -----------------------------------------------------------------------------
; print_uint(rdi = unsigned number): divide by 10 until 0; the remainders are
; the digits, last digit first, so they are stored from the end backwards.
; -----------------------------------------------------------------------------
print_uint:
    mov rax, rdi
    mov rsi, digits + 32        ; one past the end
    mov ecx, 10
.digit:
    xor edx, edx
    div rcx                     ; rax = rax / 10, rdx = rax % 10
    add dl, '0'
    dec rsi
    mov [rsi], dl
    test rax, rax
    jnz .digit
    mov rdx, digits + 32
    sub rdx, rsi                ; number of digits
    mov eax, 1
    mov edi, 1
    syscall
    ret
