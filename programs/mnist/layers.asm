; =============================================================================
; layers.asm - fully connected (dense) layers: forward and backward pass
; =============================================================================
;
; A dense layer maps n_in inputs to n_out outputs:   Y = X . W + bias
;
;   X     rows x n_in     one input row per sample of the batch
;   W     n_in x n_out    stored [in][out]: row k holds the weights leaving input k
;   bias  n_out
;   Y     rows x n_out
;
; All float32, row-major. Because W is stored [in][out], output j of a sample
; is built by walking the input k and adding x_k * (row k of W) to the whole
; output row at once - four outputs per SSE instruction. Inputs that are 0
; (most MNIST pixels, every ReLU that did not fire) are skipped entirely.
;
; Calling convention (System V, more than six arguments): the 7th, 8th, 9th
; integer arguments are passed ON THE STACK. The caller stores them at
; [rsp], [rsp+8], [rsp+16] just before `call` (keeping rsp 16-byte aligned
; there, e.g. `sub rsp, 16` for one stack argument, `sub rsp, 32` for three)
; and removes them afterwards; inside the routine, after `push rbp` /
; `mov rbp, rsp`, they are at [rbp+16], [rbp+24], [rbp+32].
;
;   dense_forward (rdi=X, rsi=W, rdx=bias, rcx=Y, r8=rows, r9=n_in, [stack]=n_out)
;   dense_backward(rdi=X, rsi=dY, rdx=W, rcx=dW, r8=db, r9=dX,
;                  [stack]=rows, [stack+8]=n_in, [stack+16]=n_out)
;
; Both are leaves: they call nothing and keep intermediate values in
; registers. fl() below means "rounded to float32", i.e. one SSE operation.
; -----------------------------------------------------------------------------

global dense_forward, dense_backward

section .text

; -----------------------------------------------------------------------------
; dense_forward(rdi=X, rsi=W, rdx=bias, rcx=Y, r8=rows, r9=n_in,
;               7th argument on the stack = n_out)
;   For each row b in 0..rows-1:
;       Y[b,j] = bias[j]                                  for all j
;       for k = 0 .. n_in-1 (ascending):
;           x = X[b,k]
;           if x == 0.0: continue     (ucomiss "equal": +0.0 and -0.0 are
;                                      skipped, NaN is NOT skipped)
;           Y[b,j] = fl(Y[b,j] + fl(x * W[k,j]))          for all j
;   The j loop runs four lanes at a time (x broadcast with shufps, movups,
;   mulps, addps, the Y row accumulated in memory) for j < n_out - n_out%4,
;   then one lane at a time (mulss, addss) for the n_out%4 tail. Per output
;   the order is: bias first, then the nonzero x_k in ascending k.
;   Reads X, W, bias; writes Y[0..rows*n_out-1].  Returns nothing.
;   Clobbers: rax, rcx, rdx, rsi, rdi, r8-r11, xmm0-xmm2, xmm7, flags.
; -----------------------------------------------------------------------------
dense_forward:
    push rbp
    mov rbp, rsp
    push rbx
    push r12
    push r13
    push r14
    push r15

    mov r10, [rbp+16]           ; n_out (the stack argument)
    lea r11, [r10*4]            ; bytes per row of W and of Y
    mov r12, r10
    and r12, -4                 ; outputs handled four at a time
    lea rbx, [r9*4]             ; bytes per row of X
    xorps xmm7, xmm7            ; 0.0, for the "is x zero?" test

    test r8, r8
    jz .done
.row:
    ; ---- Y[b,:] = bias ------------------------------------------------------
    xor eax, eax
.copy_bias:
    cmp rax, r10
    jae .bias_done
    mov r15d, [rdx + rax*4]     ; a float is just 32 bits: copy with an integer mov
    mov [rcx + rax*4], r15d
    inc rax
    jmp .copy_bias
.bias_done:

    ; ---- Y[b,:] += x_k * W[k,:] for every nonzero input x_k ----------------
    xor r13d, r13d              ; k = 0
    mov r14, rsi                ; r14 = &W[k,0]
    test r9, r9
    jz .row_done
.input:
    movss xmm0, [rdi + r13*4]   ; x = X[b,k]
    ucomiss xmm0, xmm7
    jp .use                     ; unordered (x is NaN): do not skip
    je .next_input              ; x == +0.0 or -0.0: contributes nothing
.use:
    shufps xmm0, xmm0, 0        ; xmm0 = [x, x, x, x]
    xor eax, eax                ; j = 0
    test r12, r12
    jz .tail
.packed:
    movups xmm1, [r14 + rax*4]  ; W[k, j..j+3]
    mulps xmm1, xmm0            ; x * W
    movups xmm2, [rcx + rax*4]  ; Y[b, j..j+3]
    addps xmm2, xmm1            ; Y + x * W
    movups [rcx + rax*4], xmm2
    add rax, 4
    cmp rax, r12
    jb .packed
.tail:
    cmp rax, r10
    jae .next_input
    movss xmm1, [r14 + rax*4]
    mulss xmm1, xmm0
    movss xmm2, [rcx + rax*4]
    addss xmm2, xmm1
    movss [rcx + rax*4], xmm2
    inc rax
    jmp .tail
.next_input:
    add r14, r11                ; next row of W
    inc r13
    cmp r13, r9
    jb .input
.row_done:
    add rdi, rbx                ; next row of X
    add rcx, r11                ; next row of Y
    dec r8
    jnz .row
.done:
    pop r15
    pop r14
    pop r13
    pop r12
    pop rbx
    pop rbp
    ret

; -----------------------------------------------------------------------------
; dense_backward(rdi=X, rsi=dY, rdx=W, rcx=dW, r8=db, r9=dX,
;                stack arguments: [1st]=rows, [2nd]=n_in, [3rd]=n_out)
;   X  rows x n_in   the layer's input from the forward pass
;   dY rows x n_out  d loss / d Y (already averaged over the batch)
;   Computes, in this order:
;   1. dW = X^T . dY  (n_in x n_out):
;        dW[k,j] = +0.0 for all k, j
;        for b = 0 .. rows-1:  for k = 0 .. n_in-1:
;            x = X[b,k];  if x == 0.0: continue   (same test as dense_forward)
;            dW[k,j] = fl(dW[k,j] + fl(x * dY[b,j]))     for all j
;        (j four lanes at a time, then the n_out%4 tail one at a time)
;   2. db = column sums of dY (n_out):
;        db[j] = +0.0;  for b = 0 .. rows-1:  db[j] = fl(db[j] + dY[b,j])
;   3. dX = dY . W^T  (rows x n_in), only if the dX pointer is not 0
;      (the first layer's input gradient is not needed):
;        for b, for k:
;            a0 = a1 = a2 = a3 = +0.0
;            for j = 0, 4, 8, ... while j+4 <= n_out:
;                a_l = fl(a_l + fl(dY[b,j+l] * W[k,j+l]))   l = 0..3
;            s = fl(fl(a0 + a1) + fl(a2 + a3))          (haddps twice)
;            for the n_out%4 remaining j, ascending:
;                s = fl(s + fl(dY[b,j] * W[k,j]))
;            dX[b,k] = s
;   Reads X, dY, W; writes dW, db and (if dX != 0) dX.  Returns nothing.
;   Clobbers: rax, rcx, rdx, rsi, rdi, r8-r11, xmm0-xmm2, xmm7, flags.
; -----------------------------------------------------------------------------
dense_backward:
    push rbp
    mov rbp, rsp
    push rbx
    push r12
    push r13
    push r14
    push r15
    sub rsp, 8                  ; [rbp-48] = rows left (loop counter)

    mov r10, [rbp+32]           ; n_out
    lea r11, [r10*4]            ; bytes per row of dY, W, dW
    mov r12, r10
    and r12, -4                 ; outputs handled four at a time
    xorps xmm7, xmm7            ; 0.0

    ; ---- 1a. dW = 0 (four floats per store, then the rest one by one) --------
    mov rax, [rbp+24]
    imul rax, r10               ; n_in * n_out floats
    mov r15, rax
    and r15, -4                 ; the part done four at a time
    xorps xmm0, xmm0
    xor ebx, ebx
    test r15, r15
    jz .dw_zero_tail
.dw_zero4:
    movups [rcx + rbx*4], xmm0
    add rbx, 4
    cmp rbx, r15
    jb .dw_zero4
.dw_zero_tail:
    cmp rbx, rax
    jae .dw_zeroed
    mov dword [rcx + rbx*4], 0
    inc rbx
    jmp .dw_zero_tail
.dw_zeroed:

    ; ---- 1b. dW[k,:] += x_k * dY[b,:] ----------------------------------------
    mov rax, [rbp+16]
    mov [rbp-48], rax           ; rows left
    test rax, rax
    jz .dw_done
    mov r13, rdi                ; r13 = &X[b,0]
    mov r14, rsi                ; r14 = &dY[b,0]
.dw_row:
    xor ebx, ebx                ; k = 0
    mov rax, rcx                ; rax = &dW[k,0]
    cmp qword [rbp+24], 0
    je .dw_row_done
.dw_input:
    movss xmm0, [r13 + rbx*4]   ; x = X[b,k]
    ucomiss xmm0, xmm7
    jp .dw_use                  ; NaN: not skipped
    je .dw_next_input           ; +-0.0: skipped
.dw_use:
    shufps xmm0, xmm0, 0        ; [x, x, x, x]
    xor r15d, r15d              ; j = 0
    test r12, r12
    jz .dw_tail
.dw_packed:
    movups xmm1, [r14 + r15*4]  ; dY[b, j..j+3]
    mulps xmm1, xmm0            ; x * dY
    movups xmm2, [rax + r15*4]  ; dW[k, j..j+3]
    addps xmm2, xmm1
    movups [rax + r15*4], xmm2
    add r15, 4
    cmp r15, r12
    jb .dw_packed
.dw_tail:
    cmp r15, r10
    jae .dw_next_input
    movss xmm1, [r14 + r15*4]
    mulss xmm1, xmm0
    movss xmm2, [rax + r15*4]
    addss xmm2, xmm1
    movss [rax + r15*4], xmm2
    inc r15
    jmp .dw_tail
.dw_next_input:
    add rax, r11                ; next row of dW
    inc rbx
    cmp rbx, [rbp+24]
    jb .dw_input
.dw_row_done:
    mov rax, [rbp+24]
    lea r13, [r13 + rax*4]      ; next row of X
    add r14, r11                ; next row of dY
    dec qword [rbp-48]
    jnz .dw_row
.dw_done:

    ; ---- 2. db = sum over b of dY[b,:] ---------------------------------------
    xor eax, eax
.db_zero:
    cmp rax, r10
    jae .db_zeroed
    mov dword [r8 + rax*4], 0
    inc rax
    jmp .db_zero
.db_zeroed:
    mov rax, [rbp+16]
    mov [rbp-48], rax           ; rows left
    test rax, rax
    jz .db_done
    mov r14, rsi                ; r14 = &dY[b,0]
.db_row:
    xor r15d, r15d              ; j = 0
    test r12, r12
    jz .db_tail
.db_packed:
    movups xmm1, [r8 + r15*4]   ; db[j..j+3]
    movups xmm2, [r14 + r15*4]  ; dY[b, j..j+3]
    addps xmm1, xmm2            ; db + dY
    movups [r8 + r15*4], xmm1
    add r15, 4
    cmp r15, r12
    jb .db_packed
.db_tail:
    cmp r15, r10
    jae .db_row_done
    movss xmm1, [r8 + r15*4]
    addss xmm1, [r14 + r15*4]
    movss [r8 + r15*4], xmm1
    inc r15
    jmp .db_tail
.db_row_done:
    add r14, r11
    dec qword [rbp-48]
    jnz .db_row
.db_done:

    ; ---- 3. dX[b,k] = sum over j of dY[b,j] * W[k,j] ------------------------
    test r9, r9
    jz .done                    ; no dX wanted (first layer)
    mov rax, [rbp+16]
    mov [rbp-48], rax           ; rows left
    test rax, rax
    jz .done
    mov r14, rsi                ; r14 = &dY[b,0]
    mov r13, r9                 ; r13 = &dX[b,k], advances by one float per k
.dx_row:
    xor ebx, ebx                ; k = 0
    mov rax, rdx                ; rax = &W[k,0]
    cmp qword [rbp+24], 0
    je .dx_row_done
.dx_input:
    xorps xmm0, xmm0            ; four partial sums a0..a3 = 0
    xor r15d, r15d              ; j = 0
    test r12, r12
    jz .dx_reduce
.dx_packed:
    movups xmm1, [r14 + r15*4]  ; dY[b, j..j+3]
    movups xmm2, [rax + r15*4]  ; W[k, j..j+3]
    mulps xmm1, xmm2
    addps xmm0, xmm1            ; a_l += dY * W
    add r15, 4
    cmp r15, r12
    jb .dx_packed
.dx_reduce:
    haddps xmm0, xmm0           ; [a0+a1, a2+a3, a0+a1, a2+a3]
    haddps xmm0, xmm0           ; lane 0 = (a0+a1) + (a2+a3)
.dx_tail:
    cmp r15, r10
    jae .dx_store
    movss xmm1, [r14 + r15*4]
    mulss xmm1, [rax + r15*4]
    addss xmm0, xmm1
    inc r15
    jmp .dx_tail
.dx_store:
    movss [r13], xmm0
    add r13, 4
    add rax, r11                ; next row of W
    inc rbx
    cmp rbx, [rbp+24]
    jb .dx_input
.dx_row_done:
    add r14, r11                ; next row of dY
    dec qword [rbp-48]
    jnz .dx_row
.done:
    add rsp, 8
    pop r15
    pop r14
    pop r13
    pop r12
    pop rbx
    pop rbp
    ret
