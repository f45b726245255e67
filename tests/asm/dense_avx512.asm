; dense_avx512.asm - one 784 -> 128 dense layer, y = relu(W^T x + b), hand-vectorised
; with AVX-512: sixteen outputs per zmm register, eight registers for all 128,
; one broadcast input and eight fused multiply-adds per input.
;
; The inputs, weights and biases come from a 64-bit LCG (the same numbers natively
; and in the VM): each float is +-[0.5, 1) with 23 random mantissa bits. The
; program writes the 128 outputs (512 bytes of float32) to stdout, then their sum
; reduced across lanes the usual way (vextractf32x8, vextractf128, vhaddps).
; tests/test_diff_avx.py runs it natively and in the VM and compares every byte.
; INPUTS must be a multiple of 16 (y must stay 64-byte aligned for vmovaps).

%ifndef INPUTS
%define INPUTS 784
%endif
OUTPUTS equ 128

global _start

section .bss
alignb 64
x:      resd INPUTS
W:      resd INPUTS * OUTPUTS       ; row i: the 128 weights leaving input i
bias:   resd OUTPUTS
y:      resd OUTPUTS
total:  resd 16

section .text
_start:
    ; ---- fill x, W and bias (contiguous in .bss, in that order) with LCG floats
    lea rdi, [rel x]
    mov ecx, INPUTS + INPUTS * OUTPUTS
    mov rax, 0x2545F4914F6CDD1D     ; LCG state
    mov r8, 6364136223846793005     ; multiplier (Knuth MMIX)
    mov r9, 1442695040888963407     ; increment
.fill:
    imul rax, r8
    add rax, r9
    mov rdx, rax
    shr rdx, 41                     ; 23 mantissa bits
    or edx, 0x3F000000              ; 0.5 <= value < 1
    mov r10, rax
    shr r10, 32
    and r10d, 0x80000000            ; a random sign
    or edx, r10d
    mov [rdi], edx
    add rdi, 4
    dec ecx
    jnz .fill
    lea rdi, [rel bias]
    mov ecx, OUTPUTS
.fill_bias:
    imul rax, r8
    add rax, r9
    mov rdx, rax
    shr rdx, 41
    or edx, 0x3F000000
    mov [rdi], edx
    add rdi, 4
    dec ecx
    jnz .fill_bias

    ; ---- y = b + sum_i x[i] * W[i][0..127]
    lea rsi, [rel bias]
    vmovups zmm0, [rsi]
    vmovups zmm1, [rsi + 64]
    vmovups zmm2, [rsi + 128]
    vmovups zmm3, [rsi + 192]
    vmovups zmm4, [rsi + 256]
    vmovups zmm5, [rsi + 320]
    vmovups zmm6, [rsi + 384]
    vmovups zmm7, [rsi + 448]
    lea rsi, [rel x]
    lea rdi, [rel W]
    xor ecx, ecx
.input:
    vbroadcastss zmm8, [rsi + rcx*4]        ; x[i] in all sixteen lanes
    vfmadd231ps zmm0, zmm8, [rdi]           ; y[0..15]   += x[i] * W[i][0..15]
    vfmadd231ps zmm1, zmm8, [rdi + 64]
    vfmadd231ps zmm2, zmm8, [rdi + 128]
    vfmadd231ps zmm3, zmm8, [rdi + 192]
    vfmadd231ps zmm4, zmm8, [rdi + 256]
    vfmadd231ps zmm5, zmm8, [rdi + 320]
    vfmadd231ps zmm6, zmm8, [rdi + 384]
    vfmadd231ps zmm7, zmm8, [rdi + 448]
    add rdi, OUTPUTS * 4
    inc ecx
    cmp ecx, INPUTS
    jb .input

    ; ---- relu and store
    vxorps zmm9, zmm9, zmm9
    lea rdi, [rel y]
    vmaxps zmm0, zmm0, zmm9
    vmovaps [rdi], zmm0
    vmaxps zmm1, zmm1, zmm9
    vmovaps [rdi + 64], zmm1
    vmaxps zmm2, zmm2, zmm9
    vmovaps [rdi + 128], zmm2
    vmaxps zmm3, zmm3, zmm9
    vmovaps [rdi + 192], zmm3
    vmaxps zmm4, zmm4, zmm9
    vmovaps [rdi + 256], zmm4
    vmaxps zmm5, zmm5, zmm9
    vmovaps [rdi + 320], zmm5
    vmaxps zmm6, zmm6, zmm9
    vmovaps [rdi + 384], zmm6
    vmaxps zmm7, zmm7, zmm9
    vmovaps [rdi + 448], zmm7

    ; ---- the sum of the outputs: add the eight registers, then reduce 16 lanes
    vaddps zmm0, zmm0, zmm1
    vaddps zmm2, zmm2, zmm3
    vaddps zmm4, zmm4, zmm5
    vaddps zmm6, zmm6, zmm7
    vaddps zmm0, zmm0, zmm2
    vaddps zmm4, zmm4, zmm6
    vaddps zmm0, zmm0, zmm4
    vextractf32x8 ymm1, zmm0, 1
    vaddps ymm0, ymm0, ymm1
    vextractf128 xmm1, ymm0, 1
    vaddps xmm0, xmm0, xmm1
    vhaddps xmm0, xmm0, xmm0
    vhaddps xmm0, xmm0, xmm0
    vmovss [rel total], xmm0
    vzeroupper

    mov eax, 1                      ; write(1, y, 512 + 4)
    mov edi, 1
    lea rsi, [rel y]
    mov edx, OUTPUTS * 4 + 4
    syscall
    mov eax, 60
    xor edi, edi
    syscall
