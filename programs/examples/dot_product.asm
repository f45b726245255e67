; =============================================================================
; dot_product.asm - a dot product, one float at a time and four at a time
; =============================================================================
;
; The dot product  a . b = a0*b0 + a1*b1 + ... + a(n-1)*b(n-1)  is the heart
; of a neural network: every neuron computes one.
;
; SSE registers xmm0..xmm15 are 128 bits wide: four float32 "lanes".
;   scalar instructions (movss, mulss, addss) work on lane 0 only;
;   packed instructions (movups, mulps, addps) work on all four lanes at once.
; The packed loop keeps four partial sums, one per lane:
;     lane l adds up a[l]*b[l] + a[l+4]*b[l+4] + ...
; and combines them at the end with two haddps (horizontal add):
;     [s0, s1, s2, s3] -> [s0+s1, s2+s3, ...] -> [(s0+s1)+(s2+s3), ...]
;
; Floating-point addition is rounded after every step, so it is NOT
; associative: (x + y) + z can differ from x + (y + z). The two loops add in
; different orders, and the second pair of vectors below shows it: with
; float32, 100000000 + 1 rounds back to 100000000 (the spacing between
; float32 numbers near 1e8 is 8).
;
; Expected output:
;   a.b scalar = 204.000
;   a.b packed = 204.000
;   c.d scalar = 3.000
;   c.d packed = 6.000
;
; Run it:  mnist-vm exec --stats programs/examples/dot_product.asm
;          (natively: nasm -felf64 dot_product.asm -o d.o && ld d.o -o d && ./d)
; -----------------------------------------------------------------------------

global _start

section .data
; 8 floats each. a . b = 1+4+9+...+64 = 204: small integers, exact in any order.
vec_a:  dd 1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0
vec_b:  dd 1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0
; c . d: the exact answer is 6, but adding left to right loses the 1s.
vec_c:  dd 1.0e8, 1.0, 1.0, 1.0, -1.0e8, 1.0, 1.0, 1.0
vec_d:  dd 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0

section .rodata
s_ab_scalar:    db "a.b scalar = ", 0
s_ab_packed:    db "a.b packed = ", 0
s_cd_scalar:    db "c.d scalar = ", 0
s_cd_packed:    db "c.d packed = ", 0
f_1000:         dd 1000.0

section .bss
text:   resb 32

section .text
_start:
    mov rdi, vec_a
    mov rsi, vec_b
    mov edx, 8
    call dot_scalar             ; xmm0 = a . b
    mov rdi, s_ab_scalar
    call print_result

    mov rdi, vec_a
    mov rsi, vec_b
    mov edx, 8
    call dot_packed
    mov rdi, s_ab_packed
    call print_result

    mov rdi, vec_c
    mov rsi, vec_d
    mov edx, 8
    call dot_scalar
    mov rdi, s_cd_scalar
    call print_result

    mov rdi, vec_c
    mov rsi, vec_d
    mov edx, 8
    call dot_packed
    mov rdi, s_cd_packed
    call print_result

    mov eax, 60                 ; exit(0)
    xor edi, edi
    syscall

; -----------------------------------------------------------------------------
; dot_scalar(rdi=a, rsi=b, rdx=n) -> xmm0 = sum of a[i]*b[i], left to right
; -----------------------------------------------------------------------------
dot_scalar:
    xorps xmm0, xmm0            ; sum = 0.0
    xor eax, eax                ; i = 0
.loop:
    movss xmm1, [rdi + rax*4]   ; a[i]       (scale 4: a float is 4 bytes)
    mulss xmm1, [rsi + rax*4]   ; a[i] * b[i]
    addss xmm0, xmm1            ; sum += a[i] * b[i]
    inc rax
    cmp rax, rdx
    jb .loop
    ret

; -----------------------------------------------------------------------------
; dot_packed(rdi=a, rsi=b, rdx=n, a multiple of 4) -> xmm0 = a . b
; -----------------------------------------------------------------------------
dot_packed:
    xorps xmm0, xmm0            ; four partial sums = 0.0
    xor eax, eax
.loop:
    movups xmm1, [rdi + rax*4]  ; a[i..i+3]  (movups: no alignment needed)
    movups xmm2, [rsi + rax*4]  ; b[i..i+3]
    mulps xmm1, xmm2            ; four products at once
    addps xmm0, xmm1            ; four running sums
    add rax, 4
    cmp rax, rdx
    jb .loop
    haddps xmm0, xmm0           ; [s0+s1, s2+s3, s0+s1, s2+s3]
    haddps xmm0, xmm0           ; lane 0 = (s0+s1) + (s2+s3)
    ret

; -----------------------------------------------------------------------------
; print_result(rdi=label, xmm0=value >= 0): "label" then the value with
; three decimals: n = truncate(value * 1000), printed as n/1000 "." n%1000.
; -----------------------------------------------------------------------------
print_result:
    mulss xmm0, [rel f_1000]
    cvttss2si rax, xmm0         ; float -> integer, truncating
    push rax                    ; keep it over the call (and align the stack)
    call print_str
    pop rax
    ; build the digits backwards from the end of `text`
    mov rsi, text + 32
    dec rsi
    mov byte [rsi], 10          ; '\n'
    mov ecx, 10
    xor r8d, r8d                ; digits produced
.digit:
    xor edx, edx
    div rcx                     ; rax = rax / 10, rdx = last digit
    add dl, '0'
    dec rsi
    mov [rsi], dl
    inc r8
    cmp r8, 3
    jne .no_point
    dec rsi
    mov byte [rsi], '.'         ; after three decimals comes the point
.no_point:
    cmp r8, 4                   ; at least one digit before the point
    jb .digit
    test rax, rax
    jnz .digit
    mov rdx, text + 32
    sub rdx, rsi
    mov eax, 1                  ; write(1, rsi, rdx)
    mov edi, 1
    syscall
    ret

; print_str(rdi = NUL-terminated string)
print_str:
    xor edx, edx
.len:
    cmp byte [rdi + rdx], 0
    je .write
    inc rdx
    jmp .len
.write:
    mov rsi, rdi
    mov eax, 1
    mov edi, 1
    syscall
    ret
