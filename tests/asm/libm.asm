; libm.asm - exp, log (double) and expf, logf (float) from the C math
; library on edge inputs; prints the result bits. Linked with -lm natively;
; the VM provides the same host functions.
global _start
extern exp, log, expf, logf

section .data
doubles:    dq 0.0, -0.0, 1.0, -1.0, -745.0, -745.2, -708.5, 709.78, 710.0, 88.7
            dq 0x7ff8000000000000, 0xfff8000000000001, 0x7ff0000000000000
            dq 0xfff0000000000000, 1.0e-310, 4.9e-324, 0.5, 2.0, 1.0e300, 0.1
            dq 2.718281828459045, 1.0000000000000002, 0.9999999999999999, -0.5
ndoubles    equ ($ - doubles) / 8
floats:     dd 0.0, -0.0, 1.0, -1.0, 88.7, 88.72, 89.0, -103.0, -104.0, -87.3
            dd 0x7fc00000, 0xffc00001, 0x7f800000, 0xff800000, 1.0e-40, 1.4e-45
            dd 0.5, 2.0, 1.0e30, 0.1, 2.7182817, 1.0000001, 0.99999994, -0.5
nfloats     equ ($ - floats) / 4

section .text
_start:
    xor ebx, ebx                ; rbx is callee-saved: survives libm calls
.d:
    movsd xmm0, [doubles + rbx*8]
    call exp
    movq rdi, xmm0
    call print_hex64
    call space
    movsd xmm0, [doubles + rbx*8]
    call log
    movq rdi, xmm0
    call print_hex64
    call newline
    inc ebx
    cmp ebx, ndoubles
    jb .d

    xor ebx, ebx
.f:
    movss xmm0, [floats + rbx*4]
    call expf
    movd edi, xmm0
    call print_hex32
    call space
    movss xmm0, [floats + rbx*4]
    call logf
    movd edi, xmm0
    call print_hex32
    call newline
    inc ebx
    cmp ebx, nfloats
    jb .f

    ; exp(log(x)) round trip and a call from inside a routine (stack aligned)
    mov edi, 7
    call roundtrip
    movq rdi, xmm0
    call print_hex64
    call newline

    xor edi, edi
    call exit

; roundtrip(edi) -> xmm0 = exp(log(edi))
roundtrip:
    sub rsp, 8                  ; rsp % 16 == 0 at the call below
    cvtsi2sd xmm0, edi
    call log
    call exp
    add rsp, 8
    ret

%include "lib.inc"
