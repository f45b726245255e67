; =============================================================================
; dot_avx512.asm - the dot product of dot_product.asm, sixteen floats at a time (AVX-512)
; =============================================================================
;
; AVX-512 widens the vector registers to 512-bit zmm registers (sixteen
; float32 lanes) and doubles their number to 32 (zmm0-zmm31). xmm5 is the
; low 128 bits of ymm5, which is the low 256 bits of zmm5: one register,
; three views.  vfmadd231ps zmm0, zmm1, [mem]  multiplies and adds sixteen
; lanes with one rounding each (fused multiply-add).
;
; The loop keeps sixteen partial sums, one per lane:  lane l adds up
; a[l]*b[l] + a[l+16]*b[l+16] + ...  The horizontal reduction halves the
; width until one lane is left:
;     vextractf32x8 ymm1, zmm0, 1   the high eight lanes [s8 .. s15]
;     vaddps ymm0, ymm0, ymm1       [s0+s8, s1+s9, ..., s7+s15]
;     vextractf128 xmm1, ymm0, 1    the high four of those
;     vaddps xmm0, xmm0, xmm1       four sums of four products each
;     vhaddps xmm0, xmm0, xmm0      two
;     vhaddps xmm0, xmm0, xmm0      lane 0 = the total
; (Writing ymm0 or xmm0 with a VEX instruction zeroes the rest of zmm0.)
;
; Why c.d differs: float32 addition rounds after every step. The scalar loop
; adds left to right; 1e8 + 1 rounds back to 1e8 (float32 spacing near 1e8
; is 8), so the seven 1s after 1e8 are lost: 7.000. Here 1e8 sits in lane 0
; and -1e8 in lane 8, the first thing the reduction adds together (exactly
; 0), so every 1 survives: 14.000, the exact answer. Each result is exact
; for its own order of operations: the VM reproduces both bit for bit.
;
; Expected output:
;   a.b scalar = 1496.000
;   a.b avx512 = 1496.000
;   c.d scalar = 7.000
;   c.d avx512 = 14.000
;
; Needs a CPU with AVX-512F and AVX-512DQ (vextractf32x8).
; cpu: avx512f avx512dq
; Run it:  mnist-vm exec --stats programs/examples/dot_avx512.asm
;          (natively: nasm -felf64 dot_avx512.asm -o d.o && ld d.o -o d && ./d)
; -----------------------------------------------------------------------------

global _start

section .data
; 16 floats each. a . b = 1+4+9+...+256 = 1496: small integers, exact in any order.
vec_a:  dd 1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0, 10.0, 11.0, 12.0, 13.0, 14.0, 15.0, 16.0
vec_b:  dd 1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0, 10.0, 11.0, 12.0, 13.0, 14.0, 15.0, 16.0
; c . d: the exact answer is 14, but adding left to right loses the 1s.
vec_c:  dd 1.0e8, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, -1.0e8, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0
vec_d:  times 16 dd 1.0

section .rodata
s_ab_scalar:    db "a.b scalar = ", 0
s_ab_packed:    db "a.b avx512 = ", 0
s_cd_scalar:    db "c.d scalar = ", 0
s_cd_packed:    db "c.d avx512 = ", 0
f_1000:         dd 1000.0

section .bss
text:   resb 32

section .text
_start:
    mov rdi, vec_a
    mov rsi, vec_b
    mov edx, 16
    call dot_scalar             ; xmm0 = a . b
    mov rdi, s_ab_scalar
    call print_result

    mov rdi, vec_a
    mov rsi, vec_b
    mov edx, 16
    call dot_avx512
    mov rdi, s_ab_packed
    call print_result

    mov rdi, vec_c
    mov rsi, vec_d
    mov edx, 16
    call dot_scalar
    mov rdi, s_cd_scalar
    call print_result

    mov rdi, vec_c
    mov rsi, vec_d
    mov edx, 16
    call dot_avx512
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
; dot_avx512(rdi=a, rsi=b, rdx=n, a multiple of 16) -> xmm0 = a . b
; -----------------------------------------------------------------------------
dot_avx512:
    vxorps zmm0, zmm0, zmm0     ; sixteen partial sums = 0.0
    xor eax, eax
.loop:
    vmovups zmm1, [rdi + rax*4]         ; a[i..i+15]
    vfmadd231ps zmm0, zmm1, [rsi + rax*4]   ; sums += a[i..i+15] * b[i..i+15], fused
    add rax, 16
    cmp rax, rdx
    jb .loop
    ; the horizontal reduction: sixteen lanes -> eight -> four -> two -> one
    vextractf32x8 ymm1, zmm0, 1 ; [s8 .. s15]
    vaddps ymm0, ymm0, ymm1     ; eight sums (bits 256-511 of zmm0 zeroed)
    vextractf128 xmm1, ymm0, 1
    vaddps xmm0, xmm0, xmm1     ; four
    vhaddps xmm0, xmm0, xmm0    ; two
    vhaddps xmm0, xmm0, xmm0    ; lane 0 = the total
    vzeroupper                  ; leaving AVX code: clear the upper bits
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
