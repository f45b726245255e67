; =============================================================================
; buffers.asm - every large piece of memory the network uses (.bss only)
; =============================================================================
;
; .bss is memory that starts as zeros and costs nothing in the executable.
; All matrices are float32 (4 bytes per element), stored ROW-MAJOR: element
; [r][c] of an R x C matrix lives at byte offset (r * C + c) * 4.
;
; Weight matrices are stored [in][out]: W1[k][j] connects input k to output j.
; Activation buffers hold one row per sample of the current mini-batch.
;
; Every size below is rounded up to a multiple of 16 bytes (n float32
; elements -> ((n) + 3) / 4 * 4), so every buffer that follows an
; aligned one stays 16-byte aligned. The routines use movups (unaligned
; loads/stores) anyway, because rows of a 10-wide matrix are only 8-byte
; aligned; alignment is a speed nicety here, never a correctness requirement.
;
; Names are global so that the debugger can show them, e.g.
;     view W1 as f32[784x128]        show digit X
; -----------------------------------------------------------------------------

%include "config.inc"


global W1, b1, W2, b2, W3, b3
global dW1, db1, dW2, db2, dW3, db3
global X, batch_labels, A1, A2, Z3, P, dZ3, dA2, dA1
global perm
global train_images_file, train_labels_file, test_images_file, test_labels_file

section .bss

; ---- raw MNIST files, read once, header included ------------------------------
; Pixel data starts at +IMG_HEADER (16), labels at +LBL_HEADER (8).
; Sizes are those of the full files, rounded up to 16 bytes.
train_images_file:  resb IMG_HEADER + MAX_TRAIN * N_IN      ; 47,040,016 bytes
train_labels_file:  resb LBL_HEADER + MAX_TRAIN + 8         ; 60,016 bytes
test_images_file:   resb IMG_HEADER + MAX_TEST * N_IN       ; 7,840,016 bytes
test_labels_file:   resb LBL_HEADER + MAX_TEST + 8          ; 10,016 bytes

; ---- parameters -------------------------------------------------------------
; Back to back and in this order (config.inc, PARAM_FLOATS): sgd_update
; treats W1 .. b3 as one array, and dW1 .. db3 as its gradient.
W1:     resd W1_FLOATS                      ; 784 x 128, [in][out]
b1:     resd B1_FLOATS                      ; 128
W2:     resd W2_FLOATS                      ; 128 x 64
b2:     resd B2_FLOATS                      ; 64
W3:     resd W3_FLOATS                      ; 64 x 10
b3:     resd B3_FLOATS                      ; 10 used, 12 reserved

; ---- gradients (same shapes and the same layout as the parameters) -------------
dW1:    resd W1_FLOATS
db1:    resd B1_FLOATS
dW2:    resd W2_FLOATS
db2:    resd B2_FLOATS
dW3:    resd W3_FLOATS
db3:    resd B3_FLOATS

; ---- one mini-batch (training, or a chunk of the test set) --------------------
X:      resd ((BATCH * N_IN) + 3) / 4 * 4   ; pixels / 255, BATCH x 784
A1:     resd ((BATCH * H1) + 3) / 4 * 4     ; layer 1 output after ReLU, BATCH x 128
A2:     resd ((BATCH * H2) + 3) / 4 * 4     ; layer 2 output after ReLU, BATCH x 64
Z3:     resd ((BATCH * N_OUT) + 3) / 4 * 4  ; logits, BATCH x 10
P:      resd ((BATCH * N_OUT) + 3) / 4 * 4  ; softmax probabilities, BATCH x 10
dZ3:    resd ((BATCH * N_OUT) + 3) / 4 * 4  ; d loss / d logits, BATCH x 10
dA2:    resd ((BATCH * H2) + 3) / 4 * 4     ; d loss / d A2, then / d (pre-ReLU 2)
dA1:    resd ((BATCH * H1) + 3) / 4 * 4     ; d loss / d A1, then / d (pre-ReLU 1)
batch_labels: resb ((BATCH) + 15) / 16 * 16 ; one label byte (0..9) per row

; ---- training order -------------------------------------------------------------
perm:   resd MAX_TRAIN              ; permutation of 0 .. TRAIN_LIMIT-1
