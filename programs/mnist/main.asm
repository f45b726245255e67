; =============================================================================
; main.asm - entry point: a 784-128-64-10 network trained on MNIST
; =============================================================================
;
; The whole program, top to bottom:
;
;   _start
;     check_config                  reject impossible hyper-parameters (exit 2)
;     load_mnist                    read the four files (data.asm, exit 1 on error)
;     print the header line
;     init_weights                  He-uniform weights from xorshift64 (rng.asm)
;     perm = 0, 1, 2, ...           the training order
;     repeat EPOCHS times:
;         train_epoch               shuffle, then every full mini-batch:
;                                   forward, loss, backward, SGD step
;         evaluate                  count correct answers on the test set
;         print the epoch line
;     print the final line, exit 0
;
; The network, for one mini-batch of BATCH images (X is BATCH x 784):
;
;   A1 = relu(X  . W1 + b1)         BATCH x 128
;   A2 = relu(A1 . W2 + b2)         BATCH x 64
;   Z3 =      A2 . W3 + b3          BATCH x 10 (logits)
;   loss = mean cross-entropy of softmax(Z3)
;
; and backwards (each d.. is d(mean loss)/d(..)):
;
;   dZ3 = (softmax(Z3) - onehot(label)) / BATCH
;   dW3 = A2^T . dZ3    db3 = column sums of dZ3    dA2 = dZ3 . W3^T
;   dA2 = 0 where A2 = 0 (the ReLU did not fire)
;   dW2 = A1^T . dA2    db2 = ...                   dA1 = dA2 . W2^T
;   dA1 = 0 where A1 = 0
;   dW1 = X^T  . dA1    db1 = ...
;   W = W - LR * dW     for all six parameter arrays (one sgd_update call)
;
; Output (stdout):
;   mnist-asm: 784-128-64-10 epochs=E batch=B lr=0.010000 train=N test=M seed=S shuffle=1
;   epoch 1 batch 100/937 loss 0.412345            (every PRINT_EVERY batches)
;   epoch 1 loss 0.345678 test_acc 93.12%          (mean of the epoch's batch losses)
;   final test_acc 95.21% (9521/10000)
; -----------------------------------------------------------------------------

%include "config.inc"

global _start, train_epoch, evaluate, progress_batch, check_config

extern load_mnist, load_batch
extern init_weights, shuffle
extern dense_forward, dense_backward
extern relu_forward, relu_backward
extern softmax_xent, count_correct
extern sgd_update
extern out_str, out_char, out_uint, out_fixed, out_percent, out_line, fail
extern W1, b1, W2, b2, W3, b3, dW1, db1, dW2, db2, dW3, db3
extern X, batch_labels, A1, A2, Z3, P, dZ3, dA2, dA1, perm
extern train_images_file, train_labels_file, test_images_file, test_labels_file

section .rodata
lr_value:       dd LR                   ; the learning rate as a float32
f_lr_min:       dd 1.0e-30
f_lr_max:       dd 1.0e30

s_header:       db "mnist-asm: ", 0
s_dash:         db "-", 0
s_epochs:       db " epochs=", 0
s_batch_eq:     db " batch=", 0
s_lr:           db " lr=", 0
s_train:        db " train=", 0
s_test:         db " test=", 0
s_seed:         db " seed=", 0
s_shuffle:      db " shuffle=", 0
s_epoch:        db "epoch ", 0
s_batch:        db " batch ", 0
s_loss:         db " loss ", 0
s_test_acc:     db " test_acc ", 0
s_final:        db "final test_acc ", 0
s_percent:      db "%", 0
s_percent_open: db "% (", 0
s_close:        db ")", 0

%ifdef DUMP_PARAMS
s_params_file:  db "params.bin", 0
s_params_err:   db "cannot create the file", 0
%endif

s_config:       db "config", 0
m_epochs:       db "EPOCHS must be at least 1", 0
m_batch:        db "BATCH must be between 1 and TRAIN_LIMIT", 0
m_train:        db "TRAIN_LIMIT must be between 1 and 60000", 0
m_test:         db "TEST_LIMIT must be between 1 and 10000", 0
m_seed:         db "SEED must not be 0 (xorshift would stay 0)", 0
m_shuffle:      db "SHUFFLE must be 0 or 1", 0
m_print:        db "PRINT_EVERY must be at least 1", 0
m_hidden:       db "H1 and H2 must be at least 1", 0
m_lr:           db "LR must be a positive float literal such as 0.01", 0

section .text

; -----------------------------------------------------------------------------
; _start: the process begins here with rsp 16-byte aligned (no return address
; was pushed), so every call below is made with rsp = 0 (mod 16).
; Registers: r12 = epoch (1-based), r13 = correct answers of the last
; evaluation; [rsp] = the last epoch's mean loss.
; -----------------------------------------------------------------------------
_start:
    sub rsp, 16                 ; locals; keeps the alignment

    call check_config
    call load_mnist
    call print_header
    call init_weights

    ; perm[i] = i: the file order, shuffled at the start of every epoch
    xor eax, eax
.identity:
    mov [perm + rax*4], eax
    inc rax
    cmp rax, TRAIN_LIMIT
    jb .identity

    mov r12d, 1                 ; epoch = 1
.epoch:
    mov edi, r12d
    call train_epoch            ; xmm0 = mean batch loss of the epoch
    movss [rsp], xmm0
    call evaluate               ; rax = correct test answers
    mov r13, rax

    mov rdi, s_epoch            ; "epoch E loss L test_acc P%"
    call out_str
    mov edi, r12d
    call out_uint
    mov rdi, s_loss
    call out_str
    movss xmm0, [rsp]
    mov edi, 6
    call out_fixed
    mov rdi, s_test_acc
    call out_str
    mov rdi, r13
    mov rsi, TEST_LIMIT
    call out_percent
    mov rdi, s_percent
    call out_str
    call out_line

    inc r12d
    cmp r12d, EPOCHS
    jbe .epoch

    mov rdi, s_final            ; "final test_acc P% (C/T)"
    call out_str
    mov rdi, r13
    mov rsi, TEST_LIMIT
    call out_percent
    mov rdi, s_percent_open
    call out_str
    mov rdi, r13
    call out_uint
    mov edi, '/'
    call out_char
    mov rdi, TEST_LIMIT
    call out_uint
    mov rdi, s_close
    call out_str
    call out_line

%ifdef DUMP_PARAMS
    call dump_params            ; testing aid, see below
%endif

    mov eax, SYS_EXIT_GROUP
    xor edi, edi                ; status 0
    syscall

; -----------------------------------------------------------------------------
; train_epoch(edi=epoch) -> xmm0 = fl(sum of the batch losses / NUM_BATCHES)
;   (sum: +0.0, then fl(sum + loss) batch after batch)
;   If SHUFFLE: shuffle(perm, TRAIN_LIMIT). Then for every full batch
;   i = 0 .. NUM_BATCHES-1 (rows perm[i*BATCH .. i*BATCH+BATCH-1]): load,
;   forward, softmax_xent, backward, one sgd_update over all six parameter
;   arrays (W1 .. b3, back to back in memory), then progress_batch(epoch, i+1, loss).
;   Frame: [rsp .. rsp+23] outgoing stack arguments (7th.. of a call),
;   [rsp+32] sum of losses, [rsp+36] this batch's loss.
; -----------------------------------------------------------------------------
train_epoch:
    push rbx
    push r12
    push r13
    push r14
    push r15                    ; 5 pushes after the return address: rsp = 0 (mod 16)
    sub rsp, 48                 ; frame (a multiple of 16)
    mov r12d, edi               ; r12 = epoch
    mov dword [rsp+32], 0       ; sum = +0.0

    mov rax, SHUFFLE
    test rax, rax
    jz .no_shuffle
    mov rdi, perm
    mov rsi, TRAIN_LIMIT
    call shuffle                ; a new order every epoch (cumulative)
.no_shuffle:

    xor r13d, r13d              ; r13 = batch index i
.batch:
    ; ---- input: X, batch_labels <- samples perm[i*BATCH ...] --------------------
    mov rdi, train_images_file + IMG_HEADER
    mov rsi, train_labels_file + LBL_HEADER
    mov rdx, perm
    imul rcx, r13, BATCH        ; start = i * BATCH
    mov r8, BATCH
    mov r9, X
    mov qword [rsp], batch_labels
    call load_batch

    ; ---- forward ---------------------------------------------------------------
    mov rdi, X
    mov rsi, W1
    mov rdx, b1
    mov rcx, A1
    mov r8, BATCH
    mov r9, N_IN
    mov qword [rsp], H1         ; 7th argument: n_out
    call dense_forward          ; A1 = X . W1 + b1
    mov rdi, A1
    mov rsi, BATCH * H1
    call relu_forward           ; A1 = relu(A1)

    mov rdi, A1
    mov rsi, W2
    mov rdx, b2
    mov rcx, A2
    mov r8, BATCH
    mov r9, H1
    mov qword [rsp], H2
    call dense_forward          ; A2 = A1 . W2 + b2
    mov rdi, A2
    mov rsi, BATCH * H2
    call relu_forward           ; A2 = relu(A2)

    mov rdi, A2
    mov rsi, W3
    mov rdx, b3
    mov rcx, Z3
    mov r8, BATCH
    mov r9, H2
    mov qword [rsp], N_OUT
    call dense_forward          ; Z3 = A2 . W3 + b3

    ; ---- loss and its gradient -----------------------------------------------------
    mov rdi, Z3
    mov rsi, batch_labels
    mov rdx, P
    mov rcx, dZ3
    mov r8, BATCH
    mov r9, N_OUT
    call softmax_xent           ; xmm0 = mean loss, P, dZ3
    movss [rsp+36], xmm0
    movss xmm1, [rsp+32]
    addss xmm1, xmm0
    movss [rsp+32], xmm1        ; sum = sum + loss

    ; ---- backward -----------------------------------------------------------------
    mov rdi, A2
    mov rsi, dZ3
    mov rdx, W3
    mov rcx, dW3
    mov r8, db3
    mov r9, dA2
    mov qword [rsp], BATCH      ; stack arguments: rows, n_in, n_out
    mov qword [rsp+8], H2
    mov qword [rsp+16], N_OUT
    call dense_backward         ; dW3, db3, dA2
    mov rdi, dA2
    mov rsi, A2
    mov rdx, BATCH * H2
    call relu_backward

    mov rdi, A1
    mov rsi, dA2
    mov rdx, W2
    mov rcx, dW2
    mov r8, db2
    mov r9, dA1
    mov qword [rsp], BATCH
    mov qword [rsp+8], H1
    mov qword [rsp+16], H2
    call dense_backward         ; dW2, db2, dA1
    mov rdi, dA1
    mov rsi, A1
    mov rdx, BATCH * H1
    call relu_backward

    mov rdi, X
    mov rsi, dA1
    mov rdx, W1
    mov rcx, dW1
    mov r8, db1
    xor r9d, r9d                ; dX = 0: the input needs no gradient
    mov qword [rsp], BATCH
    mov qword [rsp+8], N_IN
    mov qword [rsp+16], H1
    call dense_backward         ; dW1, db1

    ; ---- SGD step: W = W - lr * dW for W1, b1, W2, b2, W3, b3 at once: they lie
    ;      back to back, and so do their gradients (buffers.asm) ---------------
    mov rdi, W1
    mov rsi, dW1
    movss xmm0, [rel lr_value]
    mov rdx, PARAM_FLOATS
    call sgd_update

    ; ---- progress -----------------------------------------------------------------
    inc r13                     ; batches done = i + 1
    mov edi, r12d
    mov esi, r13d
    movss xmm0, [rsp+36]
    call progress_batch
    cmp r13, NUM_BATCHES
    jb .batch

    movss xmm0, [rsp+32]
    mov eax, NUM_BATCHES
    cvtsi2ss xmm1, eax
    divss xmm0, xmm1            ; mean of the batch losses
    add rsp, 48
    pop r15
    pop r14
    pop r13
    pop r12
    pop rbx
    ret

; -----------------------------------------------------------------------------
; evaluate() -> rax = number of the first TEST_LIMIT test images classified
;   correctly. Chunks of BATCH rows (the last one may be shorter): load_batch
;   with perm = 0, the forward pass, softmax_xent for the probabilities (P:
;   what the network believes about each test image; its loss and gradient
;   outputs are not used here), count_correct on the logits.
;   Frame: [rsp] outgoing stack argument.
; -----------------------------------------------------------------------------
evaluate:
    push rbx
    push r12
    push r13
    push r14
    push r15                    ; rsp = 0 (mod 16)
    sub rsp, 16
    xor r12d, r12d              ; r12 = start of the chunk
    xor r13d, r13d              ; r13 = correct so far
.chunk:
    mov r14, TEST_LIMIT
    sub r14, r12                ; images left
    mov rax, BATCH
    cmp r14, rax
    cmova r14, rax              ; r14 = rows = min(BATCH, left)

    mov rdi, test_images_file + IMG_HEADER
    mov rsi, test_labels_file + LBL_HEADER
    xor edx, edx                ; no permutation: images start, start+1, ...
    mov rcx, r12
    mov r8, r14
    mov r9, X
    mov qword [rsp], batch_labels
    call load_batch

    mov rdi, X
    mov rsi, W1
    mov rdx, b1
    mov rcx, A1
    mov r8, r14
    mov r9, N_IN
    mov qword [rsp], H1
    call dense_forward
    mov rdi, A1
    imul rsi, r14, H1
    call relu_forward

    mov rdi, A1
    mov rsi, W2
    mov rdx, b2
    mov rcx, A2
    mov r8, r14
    mov r9, H1
    mov qword [rsp], H2
    call dense_forward
    mov rdi, A2
    imul rsi, r14, H2
    call relu_forward

    mov rdi, A2
    mov rsi, W3
    mov rdx, b3
    mov rcx, Z3
    mov r8, r14
    mov r9, H2
    mov qword [rsp], N_OUT
    call dense_forward

    mov rdi, Z3                 ; the answer as probabilities: P[b][j] for digit j
    mov rsi, batch_labels
    mov rdx, P
    mov rcx, dZ3                ; (scratch: evaluation takes no gradient step)
    mov r8, r14
    mov r9, N_OUT
    call softmax_xent

    mov rdi, Z3
    mov rsi, batch_labels
    mov rdx, r14
    mov rcx, N_OUT
    call count_correct
    add r13, rax

    add r12, r14
    cmp r12, TEST_LIMIT
    jb .chunk

    mov rax, r13
    add rsp, 16
    pop r15
    pop r14
    pop r13
    pop r12
    pop rbx
    ret

; -----------------------------------------------------------------------------
; progress_batch(edi=epoch, esi=batch (1-based), xmm0=batch mean loss)
;   Called after EVERY training batch (the mnist-vm host watches these calls
;   to draw its progress bar). Prints
;       epoch E batch B/NUM_BATCHES loss L
;   when B is a multiple of PRINT_EVERY. Returns nothing.
;   Clobbers: rax, rcx, rdx, rsi, rdi, r8-r11, xmm0-xmm15, flags.
; -----------------------------------------------------------------------------
progress_batch:
    push rbx
    push r12                    ; rsp = 8 (mod 16)
    sub rsp, 8                  ; [rsp] = loss; rsp = 0 (mod 16)
    mov ebx, edi                ; epoch
    mov r12d, esi               ; batch
    movss [rsp], xmm0
    mov eax, esi
    xor edx, edx
    mov ecx, PRINT_EVERY
    div ecx                     ; edx = batch mod PRINT_EVERY
    test edx, edx
    jnz .done

    mov rdi, s_epoch
    call out_str
    mov edi, ebx
    call out_uint
    mov rdi, s_batch
    call out_str
    mov edi, r12d
    call out_uint
    mov edi, '/'
    call out_char
    mov rdi, NUM_BATCHES
    call out_uint
    mov rdi, s_loss
    call out_str
    movss xmm0, [rsp]
    mov edi, 6
    call out_fixed
    call out_line
.done:
    add rsp, 8
    pop r12
    pop rbx
    ret

; -----------------------------------------------------------------------------
; print_header(): the first output line, documenting the configuration:
;   mnist-asm: 784-128-64-10 epochs=E batch=B lr=0.010000 train=N test=M seed=S shuffle=1
; -----------------------------------------------------------------------------
print_header:
    sub rsp, 8
    mov rdi, s_header
    call out_str
    mov rdi, N_IN
    call out_uint
    mov rdi, s_dash
    call out_str
    mov rdi, H1
    call out_uint
    mov rdi, s_dash
    call out_str
    mov rdi, H2
    call out_uint
    mov rdi, s_dash
    call out_str
    mov rdi, N_OUT
    call out_uint
    mov rdi, s_epochs
    call out_str
    mov rdi, EPOCHS
    call out_uint
    mov rdi, s_batch_eq
    call out_str
    mov rdi, BATCH
    call out_uint
    mov rdi, s_lr
    call out_str
    movss xmm0, [rel lr_value]
    mov edi, 6
    call out_fixed
    mov rdi, s_train
    call out_str
    mov rdi, TRAIN_LIMIT
    call out_uint
    mov rdi, s_test
    call out_str
    mov rdi, TEST_LIMIT
    call out_uint
    mov rdi, s_seed
    call out_str
    mov rdi, SEED
    call out_uint
    mov rdi, s_shuffle
    call out_str
    mov rdi, SHUFFLE
    call out_uint
    call out_line
    add rsp, 8
    ret

; -----------------------------------------------------------------------------
; check_config(): the range checks the assembler cannot do (no %if in the
;   subset). A bad value: "error: config: <rule>" on stderr, exit status 2.
;   Values are compared as signed 64-bit numbers, so -dEPOCHS=-1 is caught.
; -----------------------------------------------------------------------------
check_config:
    sub rsp, 8                  ; align for the call to fail
    mov rsi, m_epochs
    mov rax, EPOCHS
    cmp rax, 1
    jl .bad
    mov rsi, m_train
    mov rax, TRAIN_LIMIT
    cmp rax, 1
    jl .bad
    cmp rax, MAX_TRAIN
    jg .bad
    mov rsi, m_batch
    mov rax, BATCH
    cmp rax, 1
    jl .bad
    cmp rax, TRAIN_LIMIT
    jg .bad
    mov rsi, m_test
    mov rax, TEST_LIMIT
    cmp rax, 1
    jl .bad
    cmp rax, MAX_TEST
    jg .bad
    mov rsi, m_seed
    mov rax, SEED
    test rax, rax
    jz .bad
    mov rsi, m_shuffle
    mov rax, SHUFFLE
    cmp rax, 1
    ja .bad                     ; unsigned: anything but 0 and 1
    mov rsi, m_print
    mov rax, PRINT_EVERY
    cmp rax, 1
    jl .bad
    mov rsi, m_hidden
    mov rax, H1
    cmp rax, 1
    jl .bad
    mov rax, H2
    cmp rax, 1
    jl .bad
    mov rsi, m_lr
    movss xmm0, [rel lr_value]
    comiss xmm0, [rel f_lr_min]
    jbe .bad                    ; too small, zero, negative, NaN, or an integer
    comiss xmm0, [rel f_lr_max] ; literal read as a tiny denormal
    ja .bad
    add rsp, 8
    ret
.bad:
    mov rdi, s_config
    mov edx, 2
    call fail

%ifdef DUMP_PARAMS
; -----------------------------------------------------------------------------
; dump_params(): only assembled with -dDUMP_PARAMS (a testing aid, used by
;   tests/test_program_native.py to compare the trained parameters bit for
;   bit with a numpy model). Writes W1, b1, W2, b2, W3, b3 as raw
;   little-endian float32, in that order and without padding, to the file
;   params.bin in the current directory (created or truncated).
; -----------------------------------------------------------------------------
dump_params:
    push rbx                    ; rbx = fd; rsp = 0 (mod 16)
    mov eax, SYS_OPEN
    mov rdi, s_params_file
    mov esi, 0x241              ; O_WRONLY | O_CREAT | O_TRUNC
    mov edx, 420                ; mode 0644 (octal): rw-r--r--
    syscall
    test rax, rax
    js .fail
    mov rbx, rax
    mov rsi, W1
    mov rdx, N_IN * H1 * 4
    call .write
    mov rsi, b1
    mov rdx, H1 * 4
    call .write
    mov rsi, W2
    mov rdx, H1 * H2 * 4
    call .write
    mov rsi, b2
    mov rdx, H2 * 4
    call .write
    mov rsi, W3
    mov rdx, H2 * N_OUT * 4
    call .write
    mov rsi, b3
    mov rdx, N_OUT * 4
    call .write
    mov eax, SYS_CLOSE
    mov rdi, rbx
    syscall
    pop rbx
    ret
.write:                         ; write(rbx, rsi, rdx) until all is written
    mov eax, SYS_WRITE
    mov rdi, rbx
    push rsi
    push rdx
    syscall
    pop rdx
    pop rsi
    test rax, rax
    jle .fail_in_write
    add rsi, rax
    sub rdx, rax
    jnz .write
    ret
.fail_in_write:
    add rsp, 8                  ; drop .write's return address: rsp = 0 (mod 16)
.fail:
    mov rdi, s_params_file
    mov rsi, s_params_err
    mov edx, 1
    call fail
%endif
