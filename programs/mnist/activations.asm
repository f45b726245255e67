; =============================================================================
; activations.asm - ReLU forward and backward
; =============================================================================
;
; ReLU(a) = max(a, 0). Both routines treat the data as one flat float32
; array of n elements (rows x width), so one call handles a whole batch.
;
;   relu_forward(rdi=A, rsi=n)            A[i] = max(A[i], +0.0) in place
;   relu_backward(rdi=dA, rsi=A, rdx=n)   dA[i] = A[i] > 0 ? dA[i] : +0.0
;
; Both are leaves (they call nothing).
; -----------------------------------------------------------------------------

global relu_forward, relu_backward

section .text

; -----------------------------------------------------------------------------
; relu_forward(rdi=A, rsi=n)
;   For i in 0..n-1: A[i] = maxps(dest=A[i], src=+0.0), i.e.
;       A[i] if A[i] > +0.0 else +0.0
;   so -0.0 and NaN inputs become +0.0 (max returns its SOURCE when the
;   comparison is false or unordered). Four lanes per step with
;   movups/maxps/movups, then a scalar tail with maxss (same rule).
;   Reads/writes A[0..n-1].  Returns nothing.
;   Clobbers: rax, rcx, xmm0, xmm1, flags.
; -----------------------------------------------------------------------------
relu_forward:
    xorps xmm1, xmm1            ; four lanes of +0.0
    mov rcx, rsi
    and rcx, -4                 ; rcx = n rounded down to a multiple of 4
    xor eax, eax                ; i = 0
    test rcx, rcx
    jz .tail
.packed:
    movups xmm0, [rdi + rax*4]  ; A[i..i+3]
    maxps xmm0, xmm1            ; lane = A > 0 ? A : +0.0
    movups [rdi + rax*4], xmm0
    add rax, 4
    cmp rax, rcx
    jb .packed
.tail:
    cmp rax, rsi
    jae .done
    movss xmm0, [rdi + rax*4]
    maxss xmm0, xmm1
    movss [rdi + rax*4], xmm0
    inc rax
    jmp .tail
.done:
    ret

; -----------------------------------------------------------------------------
; relu_backward(rdi=dA, rsi=A, rdx=n)
;   A is the ReLU OUTPUT of the forward pass (A > 0 exactly where the
;   pre-activation was > 0). For i in 0..n-1:
;       if A[i] > +0.0 (comiss, strictly greater; NaN is "not greater"):
;           dA[i] unchanged
;       else:
;           dA[i] = +0.0
;   Scalar loop (there is no packed compare in the machine's subset).
;   Reads A[0..n-1]; reads/writes dA[0..n-1].  Returns nothing.
;   Clobbers: rax, xmm0, xmm1, flags.
; -----------------------------------------------------------------------------
relu_backward:
    xorps xmm1, xmm1            ; +0.0
    xor eax, eax                ; i = 0
    test rdx, rdx
    jz .done
.loop:
    movss xmm0, [rsi + rax*4]
    comiss xmm0, xmm1           ; compare A[i] with 0
    ja .keep                    ; above: CF=0 and ZF=0 (false when unordered)
    mov dword [rdi + rax*4], 0  ; +0.0 is all zero bits
.keep:
    inc rax
    cmp rax, rdx
    jb .loop
.done:
    ret
