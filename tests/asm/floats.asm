; floats.asm - float32 dot products (scalar vs packed), conversions,
; comparisons, sqrt; results printed as raw bits (hex).
global _start

section .data
align 16
vec_a:  dd 0.1, -2.5, 3.75, 1.0e8, 1.0, -1.0e8, 0.3333333, 7.0
        dd 1.0e-3, 2.0, -0.0, 5.5, 1.0e-40, 6.0, -7.25, 8.125
vec_b:  dd 3.0, 0.2, -1.5, 1.0, 1.0, 1.0, 3.0, 0.125
        dd 1.0e3, -0.5, 4.0, 2.0, 1.0e30, 0.1, 0.3, -1.0
n       equ 16
dvals:  dq 2.5, -2.5, 1.0e10, -3.99, 0.49999999999999994, 2147483647.5, -2147483648.9, 1.0e300
ndvals  equ 8
consts: dd 2.0, -0.0, 0x7fc00000, 1.0

section .text
_start:
    ; scalar dot product, left to right
    pxor xmm0, xmm0
    xor ecx, ecx
.s:
    movss xmm1, [vec_a + rcx*4]
    mulss xmm1, [vec_b + rcx*4]
    addss xmm0, xmm1
    inc ecx
    cmp ecx, n
    jb .s
    movd edi, xmm0
    call print_hex32
    call space

    ; packed dot product: four partial sums, then haddps twice
    xorps xmm0, xmm0
    xor ecx, ecx
.p:
    movaps xmm1, [vec_a + rcx*4]
    mulps xmm1, [vec_b + rcx*4]
    addps xmm0, xmm1
    add ecx, 4
    cmp ecx, n
    jb .p
    movaps xmm2, xmm0
    haddps xmm0, xmm0
    haddps xmm0, xmm0
    movd edi, xmm0
    call print_hex32
    call space
    ; the same reduction with shufps/movhlps
    movhlps xmm3, xmm2
    addps xmm3, xmm2
    movaps xmm4, xmm3
    shufps xmm4, xmm4, 0x55
    addss xmm3, xmm4
    movd edi, xmm3
    call print_hex32
    call newline

    ; double -> int conversions (truncation, indefinite), and back
    xor ebx, ebx
.cv:
    movsd xmm0, [dvals + rbx*8]
    cvttsd2si eax, xmm0
    mov edi, eax
    call print_hex32
    call space
    movsd xmm0, [dvals + rbx*8]
    cvttsd2si rax, xmm0
    mov rdi, rax
    call print_hex64
    call space
    movsd xmm0, [dvals + rbx*8]
    cvtsd2ss xmm1, xmm0
    cvtss2sd xmm2, xmm1
    movq rdi, xmm2
    call print_hex64
    call newline
    inc ebx
    cmp ebx, ndvals
    jb .cv

    ; int -> float rounding, sqrt, division by zero, NaN comparisons
    mov rax, 0x7fffffffffffffff
    cvtsi2ss xmm0, rax
    movd edi, xmm0
    call print_hex32
    call space
    mov eax, 16777217
    cvtsi2ss xmm0, eax
    movd edi, xmm0
    call print_hex32
    call space
    mov rax, -9007199254740993
    cvtsi2sd xmm0, rax
    movq rdi, xmm0
    call print_hex64
    call space
    movss xmm0, [consts]        ; 2.0
    sqrtss xmm0, xmm0
    movd edi, xmm0
    call print_hex32
    call space
    movss xmm0, [consts + 12]   ; 1.0
    divss xmm0, [consts + 4]    ; / -0.0 = -inf
    movd edi, xmm0
    call print_hex32
    call space
    movss xmm0, [consts + 8]    ; NaN
    ucomiss xmm0, [consts]
    setp dil
    sete al
    add dil, al
    setb al
    add dil, al
    movzx edi, dil
    call print_u64
    call space
    movss xmm0, [consts + 8]    ; maxss with NaN returns the second operand
    maxss xmm0, [consts + 12]
    movd edi, xmm0
    call print_hex32
    call space
    movss xmm0, [consts + 12]
    minss xmm0, [consts + 8]
    movd edi, xmm0
    call print_hex32
    call newline

    ; packed int <-> float
    movaps xmm0, [vec_a]
    cvttps2dq xmm1, xmm0
    cvtdq2ps xmm2, xmm1
    movq rdi, xmm1
    call print_hex64
    call space
    movhlps xmm2, xmm2
    movq rdi, xmm2
    call print_hex64
    call newline

    xor edi, edi
    call exit

%include "lib.inc"
