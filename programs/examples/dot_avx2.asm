; =============================================================================
; dot_avx2.asm - the dot product of dot_product.asm, eight floats at a time (AVX2 + FMA)
; =============================================================================
;
; AVX widens the xmm registers to 256-bit ymm registers: eight float32 lanes.
; VEX-encoded instructions take three operands, so the destination need not
; be a source:   vmulps ymm1, ymm2, ymm3   is  ymm1 = ymm2 * ymm3.
; FMA3 fuses a multiply and an add into one instruction with ONE rounding:
;     vfmadd231ps ymm0, ymm1, [mem]   ymm0 = ymm1 * [mem] + ymm0   (per lane)
; (231: operands 2 and 3 are multiplied, operand 1 is added.) The product is
; not rounded before the add, so a fused sum can differ in the last bit from
; vmulps + vaddps.
;
; The loop keeps eight partial sums, one per lane:  lane l adds up
; a[l]*b[l] + a[l+8]*b[l+8] + ...   At the end the eight lanes are reduced to
; one number (the horizontal reduction):
;     vextractf128 xmm1, ymm0, 1     the high four lanes [s4 s5 s6 s7]
;     vaddps xmm0, xmm0, xmm1        [s0+s4, s1+s5, s2+s6, s3+s7]
;     vhaddps xmm0, xmm0, xmm0       [(s0+s4)+(s1+s5), (s2+s6)+(s3+s7), ...]
;     vhaddps xmm0, xmm0, xmm0       lane 0 = the total
; (vhaddps on ymm adds within each 128-bit half only, never across them:
; that is why the halves are split with vextractf128 first.)
;
; Why c.d differs: float32 addition rounds after every step. The scalar loop
; adds left to right, and 1e8 + 1 rounds back to 1e8 (float32 spacing near
; 1e8 is 8), so the three 1s after 1e8 are lost and it prints 3.000. Here
; lane 0 holds 1e8 and lane 4 holds -1e8: the reduction adds them to each
; other first (exactly 0) and the 1s in the other lanes survive: 6.000, the
; exact answer. Neither order is "the" float32 dot product; each is exact
; for its own order of operations, natively and in the VM alike.
;
; vzeroupper before returning to SSE code: it clears bits 128-255 so the CPU
; does not pay for mixing VEX and legacy SSE instructions (print_result uses
; mulss).
;
; Expected output:
;   a.b scalar = 204.000
;   a.b avx2   = 204.000
;   c.d scalar = 3.000
;   c.d avx2   = 6.000
;
; Needs a CPU with AVX2 and FMA (any x86-64 from 2013 on).
; cpu: avx avx2 fma
; Run it:  mnist-vm exec --stats programs/examples/dot_avx2.asm
;          (natively: nasm -felf64 dot_avx2.asm -o d.o && ld d.o -o d && ./d)
; -----------------------------------------------------------------------------

global _start

section .data
; 8 floats each, as in dot_product.asm. a . b = 1+4+9+...+64 = 204.
vec_a:  dd 1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0
vec_b:  dd 1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0
; c . d: the exact answer is 6, but adding left to right loses the 1s.
vec_c:  dd 1.0e8, 1.0, 1.0, 1.0, -1.0e8, 1.0, 1.0, 1.0
vec_d:  dd 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0

section .rodata
s_ab_scalar:    db "a.b scalar = ", 0
s_ab_packed:    db "a.b avx2   = ", 0
s_cd_scalar:    db "c.d scalar = ", 0
s_cd_packed:    db "c.d avx2   = ", 0
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
    call dot_avx2
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
    call dot_avx2
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
; dot_avx2(rdi=a, rsi=b, rdx=n, a multiple of 8) -> xmm0 = a . b
; -----------------------------------------------------------------------------
dot_avx2:
    vxorps ymm0, ymm0, ymm0     ; eight partial sums = 0.0
    xor eax, eax
.loop:
    vmovups ymm1, [rdi + rax*4]         ; a[i..i+7]  (vmovups: any alignment)
    vfmadd231ps ymm0, ymm1, [rsi + rax*4]   ; sums += a[i..i+7] * b[i..i+7], fused
    add rax, 8
    cmp rax, rdx
    jb .loop
    ; the horizontal reduction: eight lanes -> four -> two -> one
    vextractf128 xmm1, ymm0, 1  ; [s4, s5, s6, s7]
    vaddps xmm0, xmm0, xmm1     ; [s0+s4, s1+s5, s2+s6, s3+s7] (zeroes bits 128-255)
    vhaddps xmm0, xmm0, xmm0    ; [(s0+s4)+(s1+s5), (s2+s6)+(s3+s7), same, same]
    vhaddps xmm0, xmm0, xmm0    ; lane 0 = the total
    vzeroupper                  ; leaving AVX code: clear the upper halves
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
