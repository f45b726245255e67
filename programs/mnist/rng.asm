; =============================================================================
; rng.asm - pseudo-random numbers: xorshift64, weight initialisation, shuffle
; =============================================================================
;
; One generator state (rng_state, starts at SEED) feeds, in this order:
;   1. init_weights: one number per weight of W1, then W2, then W3
;   2. shuffle:      n-1 numbers per epoch (when SHUFFLE = 1)
; so the whole run is reproducible from SEED alone.
;
; Routines (System V ABI: arguments rdi, rsi, rdx, ...; callee-saved rbx,
; rbp, r12-r15 are preserved; every other register may be clobbered):
;
;   xorshift_next()          -> rax   next 64-bit number
;   init_weights()                    He-uniform W1, W2, W3; zero b1, b2, b3
;   shuffle(rdi=perm, rsi=n)          Fisher-Yates shuffle of n dwords
; -----------------------------------------------------------------------------

%include "config.inc"

global xorshift_next, init_weights, shuffle, rng_state, layer_sizes
extern W1, b1, W2, b2, W3, b3

section .data
; The state must never be 0 (xorshift would stay 0 forever); check_config
; in main.asm rejects SEED=0.
rng_state:  dq SEED

section .rodata
; The layer widths this build was assembled with (H1, H2 can be changed with
; -d), for anyone who inspects the program from outside: a debugger, or a
; host routine standing in for init_weights.
layer_sizes:  dq N_IN, H1, H2, N_OUT

f_six:        dd 6.0
f_one:        dd 1.0
f_two_m24:    dd 0x33800000          ; 2^-24 as a float32 bit pattern (5.96e-08)

section .text

; -----------------------------------------------------------------------------
; xorshift_next() -> rax
;   Marsaglia's xorshift64 (shifts 13, 7, 17):
;       x ^= x << 13;  x ^= x >> 7;  x ^= x << 17;  state = x;  return x
;   Reads/writes: rng_state.  Clobbers: rax, rcx, flags.
; -----------------------------------------------------------------------------
xorshift_next:
    mov rax, [rel rng_state]
    mov rcx, rax
    shl rcx, 13
    xor rax, rcx            ; x ^= x << 13
    mov rcx, rax
    shr rcx, 7
    xor rax, rcx            ; x ^= x >> 7   (logical shift: zeros come in)
    mov rcx, rax
    shl rcx, 17
    xor rax, rcx            ; x ^= x << 17
    mov [rel rng_state], rax
    ret

; -----------------------------------------------------------------------------
; init_weights()
;   Fills W1 (N_IN x H1), then W2 (H1 x H2), then W3 (H2 x N_OUT), each in
;   memory order (row k = input, column j = output), with He-uniform values,
;   and sets b1, b2, b3 to +0.0. See init_matrix for the exact formula.
;   Reads/writes: rng_state, W1..W3, b1..b3.  Returns nothing.
;   Clobbers: rax, rcx, rdx, rsi, rdi, r8-r11, xmm0-xmm15, flags.
; -----------------------------------------------------------------------------
init_weights:
    sub rsp, 8                  ; entry rsp = 8 (mod 16); make calls aligned

    mov rdi, W1
    mov rsi, N_IN
    mov rdx, H1
    call init_matrix
    mov rdi, W2
    mov rsi, H1
    mov rdx, H2
    call init_matrix
    mov rdi, W3
    mov rsi, H2
    mov rdx, N_OUT
    call init_matrix

    ; biases start at zero (the .bss is zero already; this makes the routine
    ; correct even when it is called a second time)
    mov rdi, b1
    mov rsi, H1
    call zero_floats
    mov rdi, b2
    mov rsi, H2
    call zero_floats
    mov rdi, b3
    mov rsi, N_OUT
    call zero_floats

    add rsp, 8
    ret

; -----------------------------------------------------------------------------
; init_matrix(rdi=W, rsi=fan_in, rdx=fan_out)   (helper of init_weights)
;   limit = sqrtss(fl(6.0 / float(fan_in)))
;   for i in 0 .. fan_in*fan_out-1 (memory order):
;       x = xorshift_next()
;       u = fl(float32(x >> 40) * 2^-24)      uniform in [0, 1), exact
;       t = fl(u + u);  t = fl(t - 1.0);  W[i] = fl(t * limit)
;   The limit lives in memory because xorshift_next may be replaced by a
;   host routine that clobbers every caller-saved register, xmm included.
;   Clobbers: rax, rcx, rdx, rsi, rdi, r8-r11, xmm0-xmm15, flags.
; -----------------------------------------------------------------------------
init_matrix:
    push rbx
    push r12
    push r13                    ; 3 pushes + return address: rsp = 0 (mod 16)
    sub rsp, 16                 ; [rsp] = limit; stays 16-byte aligned

    mov rbx, rdi                ; rbx = next weight to write
    mov r12, rsi
    imul r12, rdx               ; r12 = number of weights left
    cvtsi2ss xmm0, rsi          ; float(fan_in)
    movss xmm1, [rel f_six]
    divss xmm1, xmm0            ; 6 / fan_in
    sqrtss xmm1, xmm1           ; limit
    movss [rsp], xmm1

    test r12, r12
    jz .done
.next:
    call xorshift_next          ; rax = x
    shr rax, 40                 ; top 24 bits: 0 .. 2^24-1, exact in float32
    cvtsi2ss xmm0, rax
    mulss xmm0, [rel f_two_m24] ; u in [0, 1)
    addss xmm0, xmm0            ; t = u + u          in [0, 2)
    subss xmm0, [rel f_one]     ; t = t - 1          in [-1, 1)
    mulss xmm0, [rsp]           ; w = t * limit      in [-limit, limit)
    movss [rbx], xmm0
    add rbx, 4
    dec r12
    jnz .next
.done:
    add rsp, 16
    pop r13
    pop r12
    pop rbx
    ret

; -----------------------------------------------------------------------------
; zero_floats(rdi=p, rsi=n)   (helper) p[0..n-1] = +0.0
;   Clobbers: rax, rcx, flags.
; -----------------------------------------------------------------------------
zero_floats:
    xor eax, eax
    xor ecx, ecx
    test rsi, rsi
    jz .done
.loop:
    mov [rdi + rcx*4], eax
    inc rcx
    cmp rcx, rsi
    jb .loop
.done:
    ret

; -----------------------------------------------------------------------------
; shuffle(rdi=perm, rsi=n)
;   Fisher-Yates on n dwords, driven by xorshift_next:
;       for i = n-1 down to 1:
;           j = xorshift_next() mod (i+1)        (unsigned 64-bit div)
;           swap perm[i], perm[j]
;   n <= 1 does nothing (and draws no numbers).
;   Reads/writes: perm[0..n-1], rng_state.
;   Clobbers: rax, rcx, rdx, rsi, rdi, r8-r11, xmm0-xmm15, flags.
; -----------------------------------------------------------------------------
shuffle:
    push rbx
    push r12
    push r13                    ; rsp = 0 (mod 16): calls are aligned
    mov rbx, rdi                ; rbx = perm
    mov r12, rsi
    dec r12                     ; r12 = i = n-1
    cmp rsi, 1
    jbe .done                   ; n = 0 or 1 (unsigned compare)
.next:
    call xorshift_next          ; rax = x
    lea r13, [r12 + 1]          ; i + 1
    xor edx, edx                ; rdx:rax = x (unsigned)
    div r13                     ; rax = x / (i+1), rdx = j = x mod (i+1)
    mov eax, [rbx + r12*4]      ; swap perm[i] and perm[j]
    mov ecx, [rbx + rdx*4]
    mov [rbx + r12*4], ecx
    mov [rbx + rdx*4], eax
    dec r12
    jnz .next                   ; stop after i = 1
.done:
    pop r13
    pop r12
    pop rbx
    ret
