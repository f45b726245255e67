; =============================================================================
; print.asm - building lines of text and writing them out
; =============================================================================
;
; There is no printf here: numbers are turned into digits by hand. Text is
; collected in a small line buffer and written with ONE write system call
; per line (out_line / out_flush), so a line never reaches the terminal in
; pieces.
;
;   out_str(rdi=NUL-terminated string)      append text
;   out_char(dil=byte)                      append one character
;   out_uint(rdi=value)                     append an unsigned 64-bit decimal
;   out_fixed(xmm0=float32, edi=decimals)   append e.g. 0.412345 (0..6 decimals)
;   out_percent(rdi=num, rsi=den)           append 100*num/den with 2 decimals
;   out_line()                              append '\n', write to stdout (fd 1)
;   out_flush(edi=fd)                       write the buffer to fd, empty it
;   fail(rdi=subject, rsi=message, edx=status)
;                                           "error: subject: message" on stderr,
;                                           then exit(status); never returns
;
; All are leaves except out_line (it calls out_char and out_flush). None
; touches rbx, rbp, r12-r15. They may clobber every other register.
; -----------------------------------------------------------------------------

%include "config.inc"

global out_str, out_char, out_uint, out_fixed, out_percent, out_line, out_flush, fail

%define OUT_CAP 240             ; longest line; a fuller buffer is flushed to stdout

section .bss
out_buf:    resb 256
out_len:    resq 1              ; bytes used in out_buf

section .rodata
pow10:      dq 1, 10, 100, 1000, 10000, 100000, 1000000
s_inf:      db "inf", 0
s_nan:      db "nan", 0
s_huge:     db "huge", 0
s_error:    db "error: ", 0
s_colon:    db ": ", 0

section .text

; -----------------------------------------------------------------------------
; out_char(dil=byte): append one byte (flushing to stdout first if full).
;   Clobbers: rax, rcx, rdx, rsi, rdi, r8, r11, flags.
; -----------------------------------------------------------------------------
out_char:
    mov rax, [rel out_len]
    cmp rax, OUT_CAP
    jb .room
    push rdi                    ; keep the byte (and align the stack for the call)
    mov edi, 1
    call out_flush
    pop rdi
    xor eax, eax
.room:
    mov [out_buf + rax], dil
    inc rax
    mov [rel out_len], rax
    ret

; -----------------------------------------------------------------------------
; out_str(rdi=NUL-terminated string)
;   Clobbers: rax, rcx, rdx, rsi, rdi, r8, r11, flags.
; -----------------------------------------------------------------------------
out_str:
    mov r8, rdi
.next:
    movzx edi, byte [r8]
    test edi, edi
    jz .done
    push r8
    call out_char               ; (push r8 keeps the stack 16-byte aligned)
    pop r8
    inc r8
    jmp .next
.done:
    ret

; -----------------------------------------------------------------------------
; out_uint(rdi=value): append an unsigned 64-bit integer in decimal.
;   Digits come out of repeated division by 10 last-first, so they are
;   collected on the stack and then appended in the right order.
;   Clobbers: rax, rcx, rdx, rsi, rdi, r8-r11, flags.
; -----------------------------------------------------------------------------
out_uint:
    push rbp
    mov rbp, rsp
    sub rsp, 32                 ; room for 20 digits; rsp stays 16-byte aligned
    mov rax, rdi
    mov r9, rbp                 ; r9 = where the next digit goes (backwards)
    mov r10, 10
.digit:
    xor edx, edx
    div r10                     ; rax = value / 10, rdx = last digit
    add dl, '0'
    dec r9
    mov [r9], dl
    test rax, rax
    jnz .digit
.emit:
    cmp r9, rbp
    jae .done
    movzx edi, byte [r9]
    push r9
    push r9                     ; two pushes keep the stack aligned for the call
    call out_char
    pop r9
    pop r9
    inc r9
    jmp .emit
.done:
    leave
    ret

; -----------------------------------------------------------------------------
; out_fixed(xmm0=float32 value, edi=decimals 0..6)
;   Appends the value rounded to `decimals` digits after the point, exactly
;   and with integer arithmetic only (no float rounding in the printing):
;     a float32 is  m * 2^e  with an integer m < 2^24, so
;     value * 10^d = m * 10^d * 2^e, and rounding to an integer is
;         q = (m * 10^d + 2^(-e-1)) >> -e     for e < 0   (ties round up)
;         q = (m << e) * 10^d                 for e >= 0
;   then q is printed as  q / 10^d "." q % 10^d  (with leading zeros).
;   A set sign bit gives a leading "-" (also for -0.0, for negative values
;   that round to 0, and for NaN: "-nan").
;   inf and nan are printed as "inf"/"nan"; |value| >= 2^40 as "huge".
;   (With d <= 6 every product stays below 2^64: m * 10^6 < 2^44 and
;   2^40 * 10^6 < 2^60.)
;   Clobbers: rax, rcx, rdx, rsi, rdi, r8-r11, xmm0, flags.
; -----------------------------------------------------------------------------
out_fixed:
    push rbx                    ; kept by this routine: rbx = decimals
    push r12                    ; r12 = q
    push r13                    ; r13 = 10^decimals; rsp = 0 (mod 16)
    mov ebx, edi
    mov eax, 6
    cmp ebx, eax
    cmova ebx, eax              ; more than 6 decimals: clamp to 6
    movd eax, xmm0              ; the float's 32 bits
    test eax, eax
    jns .positive
    push rax
    mov edi, '-'
    sub rsp, 8
    call out_char
    add rsp, 8
    pop rax
.positive:
    and eax, 0x7FFFFFFF         ; |value|
    mov ecx, eax
    shr ecx, 23                 ; biased exponent (0..255)
    and eax, 0x007FFFFF         ; fraction bits
    cmp ecx, 255
    je .inf_nan
    test ecx, ecx
    jz .subnormal
    or eax, 0x00800000          ; normal numbers: implicit leading 1
    jmp .have_m
.subnormal:
    mov ecx, 1                  ; subnormals: exponent as for biased 1, no leading 1
.have_m:
    ; value = eax * 2^(ecx - 150)   (127 bias + 23 fraction bits)
    mov r13, [pow10 + rbx*8]    ; 10^decimals
    sub ecx, 150                ; e
    jge .e_nonneg
    ; ---- e < 0: q = (m * 10^d + half) >> -e ------------------------------------
    neg ecx                     ; -e, 1 .. 149
    imul rax, r13               ; m * 10^d  < 2^24 * 2^20 = 2^44: no overflow
    cmp ecx, 63
    ja .zero
    mov rdx, 1
    dec ecx
    shl rdx, cl                 ; half = 2^(-e-1)
    inc ecx
    add rax, rdx
    shr rax, cl                 ; q
    mov r12, rax
    jmp .print_q
.zero:
    xor r12d, r12d
    jmp .print_q
.e_nonneg:
    cmp ecx, 16                 ; m < 2^24, so m * 2^e < 2^40 needs e <= 16
    ja .huge
    shl rax, cl                 ; the integer value (no fraction part)
    imul rax, r13
    mov r12, rax
.print_q:
    mov rax, r12
    xor edx, edx
    div r13                     ; rax = integer part, rdx = fraction digits
    push rdx
    sub rsp, 8
    mov rdi, rax
    call out_uint
    add rsp, 8
    pop r12                     ; r12 = fraction as an integer < 10^d
    test ebx, ebx
    jz .done
    mov edi, '.'
    call out_char
.frac_digit:                    ; print d digits, most significant first
    dec ebx
    mov rax, r12
    xor edx, edx
    div qword [pow10 + rbx*8]   ; rax = this digit, rdx = the rest
    mov r12, rdx
    lea edi, [rax + '0']
    call out_char
    test ebx, ebx
    jnz .frac_digit
    jmp .done
.inf_nan:
    mov rdi, s_inf
    test eax, eax
    jz .word
    mov rdi, s_nan
    jmp .word
.huge:
    mov rdi, s_huge
.word:
    call out_str
.done:
    pop r13
    pop r12
    pop rbx
    ret

; -----------------------------------------------------------------------------
; out_percent(rdi=num, rsi=den): append 100 * num / den with two decimals,
;   rounded half up with integers:  h = (num * 20000 + den) / (2 * den)  is
;   the percentage times 100, printed as h / 100 "." two digits of h % 100.
;   den = 0 prints "nan".
;   Clobbers: rax, rcx, rdx, rsi, rdi, r8-r11, flags.
; -----------------------------------------------------------------------------
out_percent:
    push rbx                    ; rbx = h; rsp = 0 (mod 16)
    test rsi, rsi
    jz .nan
    imul rax, rdi, 20000
    add rax, rsi
    lea rcx, [rsi + rsi]
    xor edx, edx
    div rcx
    mov rbx, rax                ; h = percentage * 100, rounded
    xor edx, edx
    mov ecx, 100
    div rcx                     ; rax = whole percent, rdx = hundredths
    push rdx
    sub rsp, 8
    mov rdi, rax
    call out_uint
    mov edi, '.'
    call out_char
    add rsp, 8
    pop rax                     ; hundredths 0..99
    xor edx, edx
    mov ecx, 10
    div rcx                     ; rax = tenths digit, rdx = hundredths digit
    mov rbx, rdx
    lea edi, [rax + '0']
    call out_char
    lea edi, [rbx + '0']
    call out_char
    pop rbx
    ret
.nan:
    mov rdi, s_nan
    call out_str
    pop rbx
    ret

; -----------------------------------------------------------------------------
; out_line(): append '\n' and write the whole line to stdout.
;   Clobbers: rax, rcx, rdx, rsi, rdi, r8, r11, flags.
; -----------------------------------------------------------------------------
out_line:
    sub rsp, 8                  ; align the stack for the calls
    mov edi, 10                 ; '\n'
    call out_char
    mov edi, 1
    call out_flush
    add rsp, 8
    ret

; -----------------------------------------------------------------------------
; out_flush(edi=fd): write out_buf[0..out_len-1] to fd, then empty the buffer.
;   Loops until everything is written (write may write less than asked);
;   a write error drops the rest of the buffer.
;   Clobbers: rax, rcx, rdx, rsi, rdi, r8, r11, flags.
; -----------------------------------------------------------------------------
out_flush:
    mov r8d, edi                ; fd
    mov rsi, out_buf            ; next byte to write
.again:
    mov rdx, out_buf
    add rdx, [rel out_len]
    sub rdx, rsi                ; bytes left
    jle .done
    mov eax, SYS_WRITE
    mov edi, r8d
    syscall                     ; write(fd, rsi, rdx); clobbers rcx, r11
    test rax, rax
    jle .done                   ; error (or nothing written): give up
    add rsi, rax
    jmp .again
.done:
    mov qword [rel out_len], 0
    ret

; -----------------------------------------------------------------------------
; fail(rdi=subject, rsi=message, edx=status): print
;       error: <subject>: <message>
;   to stderr (fd 2) and exit with the given status. Never returns.
;   (Anything still in the line buffer is discarded first.)
; -----------------------------------------------------------------------------
fail:
    push rbx                    ; (never restored: we do not return)
    push r12
    push r13                    ; rsp = 0 (mod 16)
    mov rbx, rdi
    mov r12, rsi
    mov r13d, edx
    mov qword [rel out_len], 0
    mov rdi, s_error
    call out_str
    mov rdi, rbx
    call out_str
    mov rdi, s_colon
    call out_str
    mov rdi, r12
    call out_str
    mov edi, 10
    call out_char
    mov edi, 2
    call out_flush
    mov eax, SYS_EXIT_GROUP
    mov edi, r13d
    syscall
