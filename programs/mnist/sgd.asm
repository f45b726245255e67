; =============================================================================
; sgd.asm - the stochastic gradient descent step
; =============================================================================
;
; After the backward pass dW holds d(mean batch loss)/dW. One SGD step moves
; every parameter a little against its gradient:  W = W - lr * dW.
;
;   sgd_update(rdi=W, rsi=dW, xmm0=lr, rdx=n)
;
; (System V passes float arguments in xmm registers, counted separately from
; the integer ones: W, dW, n are the 1st, 2nd, 3rd INTEGER arguments.)
; -----------------------------------------------------------------------------

global sgd_update

section .text

; -----------------------------------------------------------------------------
; sgd_update(rdi=W, rsi=dW, xmm0=lr (float32), rdx=n)
;   For i in 0..n-1:  W[i] = fl(W[i] - fl(lr * dW[i]))
;   Four lanes per step (movups, mulps, subps), then a scalar tail.
;   Reads dW[0..n-1]; reads/writes W[0..n-1].  Returns nothing.  Leaf.
;   Clobbers: rax, rcx, xmm0, xmm1, xmm2, flags.
; -----------------------------------------------------------------------------
sgd_update:
    shufps xmm0, xmm0, 0        ; broadcast lr to the four lanes
    mov rcx, rdx
    and rcx, -4                 ; packed part: n rounded down to a multiple of 4
    xor eax, eax
    test rcx, rcx
    jz .tail
.packed:
    movups xmm1, [rsi + rax*4]  ; dW[i..i+3]
    mulps xmm1, xmm0            ; lr * dW
    movups xmm2, [rdi + rax*4]  ; W[i..i+3]
    subps xmm2, xmm1            ; W - lr * dW
    movups [rdi + rax*4], xmm2
    add rax, 4
    cmp rax, rcx
    jb .packed
.tail:
    cmp rax, rdx
    jae .done
    movss xmm1, [rsi + rax*4]
    mulss xmm1, xmm0
    movss xmm2, [rdi + rax*4]
    subss xmm2, xmm1
    movss [rdi + rax*4], xmm2
    inc rax
    jmp .tail
.done:
    ret
