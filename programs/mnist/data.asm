; =============================================================================
; data.asm - reading the MNIST files and cutting mini-batches out of them
; =============================================================================
;
; MNIST comes as four IDX files (here uncompressed, in the current directory):
;
;   train-images-idx3-ubyte   magic 2051, count, rows=28, cols=28, then pixels
;   train-labels-idx1-ubyte   magic 2049, count, then one byte (0..9) each
;   t10k-images-idx3-ubyte    the same for the 10,000 test images
;   t10k-labels-idx1-ubyte
;
; The header fields are 32-bit BIG-endian integers (most significant byte
; first) while x86 is little-endian, so they are assembled byte by byte.
; Pixels are bytes 0 (background) .. 255 (ink), image after image, row by row.
;
; Each file is read ONCE, whole, into its .bss buffer (see buffers.asm):
; open, lseek to the end to learn the size, lseek back, read, close.
; Any problem prints  error: <file name>: <what is wrong>  to stderr and
; exits with status 1.
;
;   load_mnist()                      read and check all four files
;   load_batch(rdi=images, rsi=labels, rdx=perm or 0, rcx=start, r8=rows,
;              r9=X, [stack]=labels_out)
; -----------------------------------------------------------------------------

%include "config.inc"

global load_mnist, load_batch
extern train_images_file, train_labels_file, test_images_file, test_labels_file
extern fail

section .rodata
name_train_images:  db "train-images-idx3-ubyte", 0
name_train_labels:  db "train-labels-idx1-ubyte", 0
name_test_images:   db "t10k-images-idx3-ubyte", 0
name_test_labels:   db "t10k-labels-idx1-ubyte", 0

msg_open:       db "cannot open the file (missing?)", 0
msg_read:       db "read error", 0
msg_big:        db "file is larger than a full MNIST file", 0
msg_short:      db "file is too short for its header", 0
msg_truncated:  db "file is truncated (shorter than its header says)", 0
msg_magic_img:  db "bad magic number (expected 2051, an IDX3 image file)", 0
msg_magic_lbl:  db "bad magic number (expected 2049, an IDX1 label file)", 0
msg_size:       db "images are not 28x28", 0
msg_few_train:  db "holds fewer items than TRAIN_LIMIT", 0
msg_few_test:   db "holds fewer items than TEST_LIMIT", 0
msg_label:      db "label out of range (must be 0-9)", 0

f_255:          dd 255.0

section .text

; -----------------------------------------------------------------------------
; load_mnist(): read and validate the four files into their buffers.
;   Returns only if everything is fine. Callee-saved registers preserved.
;   Clobbers: rax, rcx, rdx, rsi, rdi, r8-r11, flags.
; -----------------------------------------------------------------------------
load_mnist:
    sub rsp, 8                  ; align the stack for the calls

    mov rdi, name_train_images
    mov rsi, train_images_file
    mov rdx, IMG_HEADER + MAX_TRAIN * N_IN
    mov rcx, TRAIN_LIMIT
    mov r8, msg_few_train
    call load_images

    mov rdi, name_train_labels
    mov rsi, train_labels_file
    mov rdx, LBL_HEADER + MAX_TRAIN
    mov rcx, TRAIN_LIMIT
    mov r8, msg_few_train
    call load_labels

    mov rdi, name_test_images
    mov rsi, test_images_file
    mov rdx, IMG_HEADER + MAX_TEST * N_IN
    mov rcx, TEST_LIMIT
    mov r8, msg_few_test
    call load_images

    mov rdi, name_test_labels
    mov rsi, test_labels_file
    mov rdx, LBL_HEADER + MAX_TEST
    mov rcx, TEST_LIMIT
    mov r8, msg_few_test
    call load_labels

    add rsp, 8
    ret

; -----------------------------------------------------------------------------
; load_images(rdi=name, rsi=buffer, rdx=capacity, rcx=limit, r8=few_msg)
;   Reads the file and checks: size >= 16, magic 2051, rows = cols = 28,
;   size >= 16 + count*784, count >= limit.
; -----------------------------------------------------------------------------
load_images:
    push rbx
    push r12
    push r13
    push r14
    push r15
    sub rsp, 16                 ; 5 pushes + 16: rsp = 0 (mod 16)
    mov rbx, rdi                ; name
    mov r12, rsi                ; buffer
    mov r13, rcx                ; limit
    mov r14, r8                 ; "fewer items" message
    call read_whole_file        ; rax = size
    mov r15, rax

    mov rsi, msg_short
    cmp r15, IMG_HEADER
    jb .bad
    mov rdi, r12
    call be32                   ; magic
    mov rsi, msg_magic_img
    cmp eax, 2051
    jne .bad
    lea rdi, [r12 + 8]
    call be32                   ; rows
    mov rsi, msg_size
    cmp eax, IMG_ROWS
    jne .bad
    lea rdi, [r12 + 12]
    call be32                   ; columns
    mov rsi, msg_size
    cmp eax, IMG_COLS
    jne .bad
    lea rdi, [r12 + 4]
    call be32                   ; count
    mov [rsp], rax
    imul rax, rax, N_IN
    add rax, IMG_HEADER         ; bytes the header promises
    mov rsi, msg_truncated
    cmp r15, rax
    jb .bad
    mov rsi, r14
    cmp [rsp], r13              ; count >= limit ?
    jb .bad

    add rsp, 16
    pop r15
    pop r14
    pop r13
    pop r12
    pop rbx
    ret
.bad:
    mov rdi, rbx
    mov edx, 1
    call fail                   ; does not return

; -----------------------------------------------------------------------------
; load_labels(rdi=name, rsi=buffer, rdx=capacity, rcx=limit, r8=few_msg)
;   Reads the file and checks: size >= 8, magic 2049, size >= 8 + count,
;   count >= limit, and that the first `limit` labels are 0..9.
; -----------------------------------------------------------------------------
load_labels:
    push rbx
    push r12
    push r13
    push r14
    push r15
    sub rsp, 16
    mov rbx, rdi
    mov r12, rsi
    mov r13, rcx
    mov r14, r8
    call read_whole_file
    mov r15, rax

    mov rsi, msg_short
    cmp r15, LBL_HEADER
    jb .bad
    mov rdi, r12
    call be32
    mov rsi, msg_magic_lbl
    cmp eax, 2049
    jne .bad
    lea rdi, [r12 + 4]
    call be32                   ; count
    lea rcx, [rax + LBL_HEADER]
    mov rsi, msg_truncated
    cmp r15, rcx
    jb .bad
    mov rsi, r14
    cmp rax, r13
    jb .bad

    ; every label we will use must be a digit, or softmax_xent would read
    ; outside its row
    mov rsi, msg_label
    xor ecx, ecx
.check:
    cmp rcx, r13
    jae .ok
    cmp byte [r12 + LBL_HEADER + rcx], 9
    ja .bad
    inc rcx
    jmp .check
.ok:
    add rsp, 16
    pop r15
    pop r14
    pop r13
    pop r12
    pop rbx
    ret
.bad:
    mov rdi, rbx
    mov edx, 1
    call fail

; -----------------------------------------------------------------------------
; read_whole_file(rdi=name, rsi=buffer, rdx=capacity) -> rax = size
;   open(name, O_RDONLY); size = lseek(fd, 0, SEEK_END); lseek(fd, 0, SEEK_SET);
;   read until `size` bytes are in the buffer; close. Fails (exit 1) on any
;   error or if size > capacity.
; -----------------------------------------------------------------------------
read_whole_file:
    push rbx                    ; name
    push r12                    ; buffer
    push r13                    ; capacity, then size
    push r14                    ; fd
    push r15                    ; bytes read so far
    mov rbx, rdi
    mov r12, rsi
    mov r13, rdx

    mov eax, SYS_OPEN
    ; rdi = name already
    xor esi, esi                ; flags: O_RDONLY
    xor edx, edx                ; mode (unused)
    syscall
    mov rsi, msg_open
    test rax, rax
    js .bad                     ; -errno
    mov r14, rax

    mov eax, SYS_LSEEK
    mov rdi, r14
    xor esi, esi                ; offset 0
    mov edx, 2                  ; SEEK_END: rax = file size
    syscall
    mov rsi, msg_read
    test rax, rax
    js .bad
    mov rsi, msg_big
    cmp rax, r13
    ja .bad
    mov r13, rax                ; size

    mov eax, SYS_LSEEK
    mov rdi, r14
    xor esi, esi
    xor edx, edx                ; SEEK_SET: back to the start
    syscall
    mov rsi, msg_read
    test rax, rax
    jnz .bad

    xor r15d, r15d
.more:
    cmp r15, r13
    jae .all_read
    mov eax, SYS_READ
    mov rdi, r14
    lea rsi, [r12 + r15]
    mov rdx, r13
    sub rdx, r15                ; bytes still wanted
    syscall
    mov rsi, msg_read
    test rax, rax
    jle .bad                    ; error, or the file ended early
    add r15, rax
    jmp .more
.all_read:
    mov eax, SYS_CLOSE
    mov rdi, r14
    syscall

    mov rax, r13
    pop r15
    pop r14
    pop r13
    pop r12
    pop rbx
    ret
.bad:
    mov rdi, rbx                ; 5 pushes: rsp = 0 (mod 16) for the call
    mov edx, 1
    call fail

; -----------------------------------------------------------------------------
; be32(rdi=pointer) -> rax: the big-endian 32-bit number stored there.
;   Clobbers: rax, rcx, flags.
; -----------------------------------------------------------------------------
be32:
    movzx eax, byte [rdi]       ; most significant byte first
    shl eax, 8
    movzx ecx, byte [rdi + 1]
    or eax, ecx
    shl eax, 8
    movzx ecx, byte [rdi + 2]
    or eax, ecx
    shl eax, 8
    movzx ecx, byte [rdi + 3]
    or eax, ecx                 ; (writing eax clears the upper half of rax)
    ret

; -----------------------------------------------------------------------------
; load_batch(rdi=images, rsi=labels, rdx=perm or 0, rcx=start, r8=rows, r9=X,
;            7th argument on the stack = labels_out)
;   images: pixel data of image 0 (file buffer + 16), 784 bytes per image
;   labels: label of image 0 (file buffer + 8), one byte per image
;   For b = 0 .. rows-1:
;       s = perm[start + b]   (perm: dwords)    or  s = start + b  if perm = 0
;       X[b,k] = fl(float(images[s*784 + k]) / 255.0)   k = 0..783
;                (cvtsi2ss, then divss by 255.0)
;       labels_out[b] = labels[s]
;   Reads images, labels, perm; writes X[0..rows*784-1], labels_out[0..rows-1].
;   Returns nothing.  Leaf.
;   Clobbers: rax, rcx, rdx, rsi, rdi, r8-r11, xmm0, xmm7, flags.
; -----------------------------------------------------------------------------
load_batch:
    push rbp
    mov rbp, rsp
    push rbx
    push r12
    mov r10, [rbp+16]           ; labels_out
    movss xmm7, [rel f_255]
    test r8, r8
    jz .done
.row:
    mov rax, rcx                ; s = start + b ...
    test rdx, rdx
    jz .have_s
    mov eax, [rdx + rcx*4]      ; ... or perm[start + b] (zero-extended)
.have_s:
    mov bl, [rsi + rax]
    mov [r10], bl               ; the label
    imul r11, rax, N_IN
    add r11, rdi                ; r11 = first pixel of image s
    xor r12d, r12d              ; k = 0
.pixel:
    movzx eax, byte [r11 + r12]
    cvtsi2ss xmm0, eax          ; 0.0 .. 255.0 (exact)
    divss xmm0, xmm7            ; / 255 -> 0.0 .. 1.0
    movss [r9], xmm0
    add r9, 4
    inc r12
    cmp r12, N_IN
    jb .pixel
    inc rcx
    inc r10
    dec r8
    jnz .row
.done:
    pop r12
    pop rbx
    pop rbp
    ret
