; =============================================================================
; softmax.asm - softmax + cross-entropy loss, and counting correct answers
; =============================================================================
;
; The last layer produces one score ("logit") z_j per digit. Softmax turns
; the scores into probabilities, cross-entropy measures how much probability
; the right digit got, and its gradient with respect to the logits is the
; famously simple  p - y  (y = 1 for the right digit, 0 otherwise).
;
;   softmax_xent(rdi=logits, rsi=labels, rdx=probs, rcx=dlogits, r8=rows, r9=n)
;       -> xmm0 = mean loss of the batch (float32)
;   count_correct(rdi=logits, rsi=labels, rdx=rows, rcx=n) -> rax
;
; logits, probs, dlogits are rows x n float32; labels are rows bytes (0..n-1).
; softmax_xent calls libm's exp and log, so everything it needs after a call
; lives in callee-saved registers (rbx, r12-r15) or in its stack frame: a
; call may change every other register, xmm registers included.
; -----------------------------------------------------------------------------

global softmax_xent, count_correct
extern exp, log

section .rodata
f_one:      dd 1.0

section .text

; -----------------------------------------------------------------------------
; softmax_xent(rdi=logits, rsi=labels, rdx=probs, rcx=dlogits, r8=rows, r9=n)
;   -> xmm0 (float32) mean cross-entropy loss over the rows
;   For each row b (z = logits[b,:], label c = labels[b]):
;     m   = z_0;  for j = 1..n-1: m = maxss(dest=m, src=z_j)
;           (= m if m > z_j else z_j)
;     e_j = fl(exp(double(fl(z_j - m))))     libm exp in double:
;                                            subss, cvtss2sd, call exp, cvtsd2ss
;     s   = e_0;  for j = 1..n-1: s = fl(s + e_j)
;     p_j = fl(e_j / s)                      -> probs[b,j]
;     loss_b = -fl(log(double(p_c)))         cvtss2sd, call log, cvtsd2ss, then
;                                            the sign flipped with xorps
;     dlogits[b,j] = fl(fl(p_j - y_j) / float(rows))   y_j = 1.0 if j == c else 0.0
;   L = +0.0;  for b = 0..rows-1: L = fl(L + loss_b);   return fl(L / float(rows))
;   (p_c = 0 gives loss +inf, which is reported as it is.)
;   Reads logits, labels; writes probs, dlogits.  Calls exp and log.
;   Clobbers: rax, rcx, rdx, rsi, rdi, r8-r11, xmm0-xmm15, flags.
; -----------------------------------------------------------------------------
softmax_xent:
    push rbp
    mov rbp, rsp                ; rsp = 0 (mod 16) here
    push rbx
    push r12
    push r13
    push r14
    push r15                    ; 5 pushes: rsp = 8 (mod 16)
    sub rsp, 40                 ; locals; rsp = 0 (mod 16): calls are aligned
    ; locals:
    ;   [rsp]      rows left        [rsp+8]   n
    ;   [rsp+16]   m (float)        [rsp+20]  s (float)
    ;   [rsp+24]   L (float)        [rsp+28]  float(rows)
    ;   [rsp+32]   label c (dword)
    mov r12, rdi                ; r12 = &logits[b,0]
    mov r13, rsi                ; r13 = &labels[b]
    mov r14, rdx                ; r14 = &probs[b,0]
    mov r15, rcx                ; r15 = &dlogits[b,0]
    mov [rsp], r8
    mov [rsp+8], r9
    mov dword [rsp+24], 0       ; L = +0.0
    cvtsi2ss xmm0, r8
    movss [rsp+28], xmm0        ; float(rows)
    test r8, r8
    jz .finish

.row:
    ; ---- m = max_j z_j ------------------------------------------------------
    movss xmm0, [r12]           ; m = z_0
    mov ebx, 1
.max:
    cmp rbx, [rsp+8]
    jae .max_done
    maxss xmm0, [r12 + rbx*4]   ; m = m > z_j ? m : z_j
    inc rbx
    jmp .max
.max_done:
    movss [rsp+16], xmm0

    ; ---- e_j = exp(z_j - m), stored in probs[b,j] for now ------------------
    xor ebx, ebx                ; j = 0 (rbx survives the call)
.exp:
    movss xmm0, [r12 + rbx*4]
    subss xmm0, [rsp+16]        ; z_j - m  (<= 0, so exp cannot overflow)
    cvtss2sd xmm0, xmm0         ; widen to double for exp (exact)
    call exp                    ; xmm0 = exp(xmm0), everything else clobbered
    cvtsd2ss xmm0, xmm0         ; round back to float32
    movss [r14 + rbx*4], xmm0
    inc rbx
    cmp rbx, [rsp+8]
    jb .exp

    ; ---- s = e_0 + e_1 + ... (left to right) ----------------------------------
    movss xmm0, [r14]
    mov ebx, 1
.sum:
    cmp rbx, [rsp+8]
    jae .sum_done
    addss xmm0, [r14 + rbx*4]
    inc rbx
    jmp .sum
.sum_done:

    ; ---- p_j = e_j / s ----------------------------------------------------------
    xor ebx, ebx
.div:
    movss xmm1, [r14 + rbx*4]
    divss xmm1, xmm0
    movss [r14 + rbx*4], xmm1
    inc rbx
    cmp rbx, [rsp+8]
    jb .div

    ; ---- loss_b = -log(p_c);  L += loss_b --------------------------------------
    movzx eax, byte [r13]       ; c = label of this row
    mov [rsp+32], eax
    movss xmm0, [r14 + rax*4]   ; p_c
    cvtss2sd xmm0, xmm0
    call log                    ; xmm0 = log(p_c) in double
    cvtsd2ss xmm0, xmm0
    mov eax, 0x80000000         ; float32 sign bit
    movd xmm1, eax
    xorps xmm0, xmm1            ; loss_b = -log(p_c)
    movss xmm1, [rsp+24]
    addss xmm1, xmm0            ; L = L + loss_b
    movss [rsp+24], xmm1

    ; ---- dlogits[b,j] = (p_j - y_j) / rows -----------------------------------
    mov eax, [rsp+32]           ; c
    xor ebx, ebx
.grad:
    movss xmm0, [r14 + rbx*4]   ; p_j
    xorps xmm1, xmm1            ; y_j = 0.0 ...
    cmp rbx, rax
    jne .y_ready
    movss xmm1, [rel f_one]     ; ... or 1.0 for the right digit
.y_ready:
    subss xmm0, xmm1            ; p_j - y_j
    divss xmm0, [rsp+28]        ; / rows: the gradient of the MEAN loss
    movss [r15 + rbx*4], xmm0
    inc rbx
    cmp rbx, [rsp+8]
    jb .grad

    ; ---- next row ------------------------------------------------------------------
    mov rax, [rsp+8]
    lea r12, [r12 + rax*4]
    lea r14, [r14 + rax*4]
    lea r15, [r15 + rax*4]
    inc r13
    dec qword [rsp]
    jnz .row

.finish:
    movss xmm0, [rsp+24]
    divss xmm0, [rsp+28]        ; mean = L / rows  (rows = 0 gives NaN)
    add rsp, 40
    pop r15
    pop r14
    pop r13
    pop r12
    pop rbx
    pop rbp
    ret

; -----------------------------------------------------------------------------
; count_correct(rdi=logits, rsi=labels, rdx=rows, rcx=n) -> rax
;   For each row b: guess = argmax_j logits[b,j], scanning j = 0..n-1 and
;   replacing the best only when z_j > best (comiss, strictly greater), so
;   the FIRST maximum wins and NaN never wins. rax = number of rows with
;   guess == labels[b].
;   Reads logits, labels.  Leaf.  Clobbers: rax, rdx, rdi, rsi, r8-r11,
;   xmm0, xmm1, flags.
; -----------------------------------------------------------------------------
count_correct:
    xor eax, eax                ; correct = 0
    test rdx, rdx
    jz .done
.row:
    movss xmm0, [rdi]           ; best value = z_0
    xor r8d, r8d                ; best j = 0
    mov r9d, 1                  ; j = 1
.scan:
    cmp r9, rcx
    jae .scanned
    movss xmm1, [rdi + r9*4]
    comiss xmm1, xmm0           ; z_j > best ?
    jbe .not_better             ; below or equal (or unordered): keep
    movaps xmm0, xmm1
    mov r8, r9
.not_better:
    inc r9
    jmp .scan
.scanned:
    movzx r10d, byte [rsi]      ; label
    cmp r8, r10
    jne .wrong
    inc rax
.wrong:
    lea rdi, [rdi + rcx*4]      ; next row
    inc rsi
    dec rdx
    jnz .row
.done:
    ret
