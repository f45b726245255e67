"""Bit-exact compiled versions of the network routines in programs/mnist/.

Each kernel is a plain loop compiled by numba and reads like the pseudo-code
in the routine's header comment: the same IEEE binary32 operations in the
same order (bias first, then the nonzero inputs in ascending k, ...), only
the loop over outputs that do not depend on each other is innermost, so
that LLVM vectorises it. numba compiles without fast-math: LLVM then keeps
every float32 operation, its order and its rounding (no reassociation, no
fused multiply-add, denormals kept); `tests/test_twins.py` checks the bits
against the interpreted routines, and `test_no_fused_multiply_add` the
generated code.

exp and log are the C library's own: the very functions the machine's
runtime calls through ctypes (vm.runtime.libm), registered with LLVM under
private names, so softmax_xent gets exactly the bits the routine gets.

Two things the compiled loops cannot promise are handled around them:

* NaN payloads. When both operands of an SSE add, sub, mul or div are NaN
  the instruction returns the first one's (quieted); LLVM may swap the
  operands of a commutative operation. That can only show where two NaNs
  with different bits meet. If every NaN among a kernel's inputs is the
  default NaN (the one invalid operations produce), every NaN that can arise
  is that same default NaN and the order cannot show. So a kernel that
  produced a NaN from inputs holding some other NaN is recomputed by a slow
  numpy form that picks NaNs as SSE does (`_sse`).
* Compilation. Kernels are compiled on first use and cached on disk
  (`cache=True`; NUMBA_CACHE_DIR or the user cache when the package
  directory is read-only); `compile_all` compiles them up front.
"""

from __future__ import annotations

import ctypes
import sys
from typing import Any

import llvmlite.binding as llvm
import numpy as np
from llvmlite import ir


def _import_numba_without_blas() -> None:
    """numba's array math looks for a BLAS when it loads, by importing
    scipy.linalg (about 0.2 s of CPU time and 16 MB of memory), and its typing
    imports cffi to type cffi functions (0.04 s); the kernels call neither, so
    both are hidden while numba loads (numba then records that it has no BLAS
    and no cffi) and importable again afterwards."""
    if "numba.np.arraymath" in sys.modules:
        return
    hidden = [m for m in ("scipy.linalg", "cffi") if m not in sys.modules]
    for m in hidden:
        sys.modules[m] = None  # type: ignore[assignment]  # "import halted"
    try:
        import numba.np.arraymath  # noqa: F401
    except ImportError:  # a numba laid out otherwise: it loads as it is, BLAS and all
        pass
    finally:
        for m in hidden:
            del sys.modules[m]


_import_numba_without_blas()

from numba import njit, types  # noqa: E402
from numba.core import cgutils  # noqa: E402
from numba.extending import intrinsic  # noqa: E402

from vm.runtime import libm  # noqa: E402

F32 = np.float32
ZERO = F32(0.0)
ONE = F32(1.0)


def _jit(fn):
    """njit with an on-disk cache when numba finds a writable place for it."""
    try:
        return njit(cache=True)(fn)
    except RuntimeError:  # no cache locator: compile on every run instead
        return njit(fn)


def _libm_symbol(name: str) -> str | None:
    """A private symbol for the C library function the machine's runtime
    calls (vm.runtime.libm), for compiled code to call by name. Not plain
    `exp`/`log`: numba links those names to its own helpers, which differ
    from the C library at the edges (the sign of log(-1)'s NaN)."""
    fn = libm(name)
    if not isinstance(fn, ctypes._CFuncPtr):  # type: ignore[attr-defined]  # no C library
        return None
    symbol = f"mnist_vm_libm_{name}"
    llvm.add_symbol(symbol, ctypes.cast(fn, ctypes.c_void_p).value)
    return symbol


_EXP, _LOG = _libm_symbol("exp"), _libm_symbol("log")
HAVE_LIBM = _EXP is not None and _LOG is not None
_c_exp: Any = types.ExternalFunction(_EXP or "exp", types.float64(types.float64))
_c_log: Any = types.ExternalFunction(_LOG or "log", types.float64(types.float64))


# ---- NaN payloads -------------------------------------------------------------
DEFAULT_NAN = 0xFFC00000
_QUIET = np.uint32(0x00400000)


def _odd_nans(*arrays: np.ndarray) -> bool:
    """Does any of the arrays hold a NaN other than the default NaN?"""
    for a in arrays:
        a = np.asarray(a, F32)
        nan = np.isnan(a)
        if nan.any() and (np.ascontiguousarray(a).view(np.uint32)[nan] != DEFAULT_NAN).any():
            return True
    return False


def _sse(op, a, b) -> np.ndarray:
    """op(a, b) elementwise (broadcasting) as an SSE instruction with a as
    its destination: a NaN a gives a (quieted), else a NaN b gives b
    (quieted), else op's result (the default NaN for an invalid operation)."""
    a, b = np.broadcast_arrays(np.asarray(a, F32), np.asarray(b, F32))
    with np.errstate(all="ignore"):
        r = np.asarray(op(a, b), F32)
    qa = (a.view(np.uint32) | _QUIET).view(F32)
    qb = (b.view(np.uint32) | _QUIET).view(F32)
    return np.where(np.isnan(a), qa, np.where(np.isnan(b), qb, r))


@_jit
def _any_nan(a) -> bool:
    """Does a (C-contiguous) hold a NaN? (vectorised: no early exit)"""
    flat = a.reshape(a.size)
    found = False
    for i in range(flat.size):
        found |= flat[i] != flat[i]
    return found


# ---- vector blocks (LLVM IR through numba intrinsics) ------------------------------
# numba's loop vectorizer keeps the sums it vectorises in memory (y is loaded and
# stored on every pass); these two helpers are written as LLVM IR instead, with
# explicit 16-lane vectors, so that a block of outputs stays in registers over all
# of its products. Plain fmul and fadd without fast-math flags: LLVM keeps each
# rounding and its order and fuses nothing (AVX-512 hosts get zmm registers;
# elsewhere LLVM splits the vectors into what the host has).
LANES = 16
_F = ir.FloatType()
_I64 = ir.IntType(64)
_I32 = ir.IntType(32)
_VEC = ir.VectorType(_F, LANES)


def _at(builder, base, byte_offset, ty):
    """A pointer to ty at base + byte_offset."""
    return builder.inttoptr(builder.add(builder.ptrtoint(base, _I64), byte_offset), ty.as_pointer())


def _splat(builder, x, vec):
    undef = ir.Constant(vec, ir.Undefined)
    one = builder.insert_element(undef, x, ir.Constant(_I32, 0))
    return builder.shuffle_vector(one, undef, ir.Constant(ir.VectorType(_I32, LANES), None))


def _scaled_rows_block(vectors: int):
    """An intrinsic block(y, M, v, idx, n, j0): for the 16*vectors outputs
    y[j0:], held in registers, y[j] = fl(y[j] + fl(M[i,j] * v[i])) for
    i = idx[0], .. idx[n-1] in turn (M's rows contiguous, v of any stride)."""

    @intrinsic
    def block(typingctx, y, M, v, idx, n, j0):
        def codegen(context, builder, sig, args):
            ya, Ma, va, ia = (
                context.make_array(t)(context, builder, a) for t, a in zip(sig.args[:4], args)
            )
            j0_bytes = builder.mul(args[5], ir.Constant(_I64, 4))
            out = _at(builder, ya.data, j0_bytes, _VEC)
            acc = []
            for k in range(vectors):
                slot = cgutils.alloca_once(builder, _VEC)  # promoted to a register
                builder.store(builder.load(builder.gep(out, [ir.Constant(_I64, k)]), align=4), slot)
                acc.append(slot)
            m_stride = builder.extract_value(Ma.strides, 0)
            v_stride = builder.extract_value(va.strides, 0)
            with cgutils.for_range(builder, args[4]) as loop:
                i = builder.load(builder.gep(ia.data, [loop.index]))
                i = builder.sext(i, _I64) if i.type.width < 64 else i
                x = builder.load(_at(builder, va.data, builder.mul(i, v_stride), _F))
                xs = _splat(builder, x, _VEC)
                row = _at(builder, Ma.data, builder.add(builder.mul(i, m_stride), j0_bytes), _VEC)
                for k in range(vectors):
                    m = builder.load(builder.gep(row, [ir.Constant(_I64, k)]), align=4)
                    builder.store(builder.fadd(builder.load(acc[k]), builder.fmul(m, xs)), acc[k])
            for k in range(vectors):
                builder.store(
                    builder.load(acc[k]), builder.gep(out, [ir.Constant(_I64, k)]), align=4
                )
            return context.get_dummy_value()

        return types.void(y, M, v, idx, n, j0), codegen

    return block


_block8, _block4, _block1 = (_scaled_rows_block(k) for k in (8, 4, 1))


@intrinsic
def _nonzero_blocks(typingctx, v, idx):
    """idx[:n] = the i < v.size // 16 * 16 with v[i] != 0.0 (unordered: NaN
    is not zero), ascending, 16 at a time (a compressing store); returns n."""

    def codegen(context, builder, sig, args):
        va, ia = (context.make_array(t)(context, builder, a) for t, a in zip(sig.args, args))
        ivec = ir.VectorType(_I32, LANES)
        mask_t = ir.VectorType(ir.IntType(1), LANES)
        compress = cgutils.get_or_insert_function(
            builder.module,
            ir.FunctionType(ir.VoidType(), [ivec, _I32.as_pointer(), mask_t]),
            "llvm.masked.compressstore.v16i32",
        )
        popcount = cgutils.get_or_insert_function(
            builder.module, ir.FunctionType(ir.IntType(16), [ir.IntType(16)]), "llvm.ctpop.i16"
        )
        blocks = builder.udiv(builder.extract_value(va.shape, 0), ir.Constant(_I64, LANES))
        count = cgutils.alloca_once_value(builder, ir.Constant(_I64, 0))
        iota = ir.Constant(ivec, list(range(LANES)))
        vp = builder.bitcast(va.data, _VEC.as_pointer())
        with cgutils.for_range(builder, blocks) as loop:
            x = builder.load(builder.gep(vp, [loop.index]), align=4)
            mask = builder.fcmp_unordered("!=", x, ir.Constant(_VEC, None))
            base = builder.trunc(builder.mul(loop.index, ir.Constant(_I64, LANES)), _I32)
            c = builder.load(count)
            ids = builder.add(iota, _splat(builder, base, ivec))
            builder.call(compress, [ids, builder.gep(ia.data, [c]), mask])
            pop = builder.call(popcount, [builder.bitcast(mask, ir.IntType(16))])
            builder.store(builder.add(c, builder.zext(pop, _I64)), count)
        return builder.load(count)

    return types.int64(v, idx), codegen


# ---- the dense layers ---------------------------------------------------------
@_jit
def _nonzero(v, idx) -> int:
    """idx[:n] = the i with v[i] != 0.0, ascending; returns n. As the routines'
    ucomiss test: +0.0 and -0.0 are zero, a NaN is not. (Branch-free: every i
    is written, the count moves on only past a nonzero.)"""
    n = 0
    for i in range(v.size):
        idx[n] = i
        n += v[i] != ZERO
    return n


@_jit
def _nonzero_row(v, idx) -> int:
    """_nonzero of a contiguous v: 16 at a time, then the rest one by one."""
    # a numba intrinsic: numba supplies typingctx, mypy sees the Python signature
    n: int = _nonzero_blocks(v, idx)  # type: ignore[call-arg]
    for i in range(v.size // LANES * LANES, v.size):
        idx[n] = i
        n += v[i] != ZERO
    return n


@_jit
def _add_scaled_rows(y, M, v, idx, n) -> None:
    """y[j] = fl(y[j] + fl(M[i,j] * v[i])) for every j, for i = idx[0], idx[1],
    .. idx[n-1] in turn: each y[j] adds its products in that order.

    Eight i per pass over y while eight are left, then one: the line that
    adds eight products is the same sequence of roundings as eight passes,
    but loads and stores y[j] once; the loop over the independent j is
    vectorised. (Passes of four, two, one for the rest measured slower.)"""
    t = 0
    while t + 8 <= n:
        i0, i1, i2, i3 = idx[t], idx[t + 1], idx[t + 2], idx[t + 3]
        i4, i5, i6, i7 = idx[t + 4], idx[t + 5], idx[t + 6], idx[t + 7]
        m0, m1, m2, m3, m4, m5, m6, m7 = M[i0], M[i1], M[i2], M[i3], M[i4], M[i5], M[i6], M[i7]
        v0, v1, v2, v3, v4, v5, v6, v7 = v[i0], v[i1], v[i2], v[i3], v[i4], v[i5], v[i6], v[i7]
        for j in range(y.size):
            s = y[j] + m0[j] * v0
            s = s + m1[j] * v1
            s = s + m2[j] * v2
            s = s + m3[j] * v3
            s = s + m4[j] * v4
            s = s + m5[j] * v5
            s = s + m6[j] * v6
            y[j] = s + m7[j] * v7
        t += 8
    for u in range(t, n):
        i = idx[u]
        m, x = M[i], v[i]
        for j in range(y.size):
            y[j] = y[j] + m[j] * x


@_jit
def _add_scaled_rows_in_registers(y, M, v, idx, n) -> None:
    """_add_scaled_rows for a y of a multiple of 16 outputs (else it is that):
    blocks of 128, 64 and 16 outputs stay in registers over all n products
    (the vector blocks above) instead of a load and a store per eight."""
    size = y.size
    if size % LANES:
        _add_scaled_rows(y, M, v, idx, n)
        return
    j = 0
    while j + 128 <= size:
        _block8(y, M, v, idx, n, j)
        j += 128
    while j + 64 <= size:
        _block4(y, M, v, idx, n, j)
        j += 64
    while j < size:
        _block1(y, M, v, idx, n, j)
        j += 16


@_jit
def _dense_forward(X, W, bias, Y) -> bool:
    ks = np.empty(X.shape[1], np.int32)
    for b in range(X.shape[0]):
        x, y = X[b], Y[b]
        y[:] = bias  # Y[b,j] = bias[j]
        n = _nonzero_row(x, ks)  # the k with X[b,k] != 0, ascending
        _add_scaled_rows_in_registers(y, W, x, ks, n)  # Y[b,j] = fl(Y[b,j] + fl(W[k,j] * X[b,k]))
    return _any_nan(Y)


def dense_forward(X: np.ndarray, W: np.ndarray, bias: np.ndarray, Y: np.ndarray) -> None:
    """Y[b,j] = bias[j], then for k ascending with X[b,k] != 0:
    Y[b,j] = fl(Y[b,j] + fl(W[k,j] * X[b,k]))."""
    if _dense_forward(X, W, bias, Y) and _odd_nans(X, W, bias):
        Y[...] = np.repeat(bias[None, :], X.shape[0], axis=0)
        for k in range(X.shape[1]):
            nz = X[:, k] != 0
            if nz.any():
                Y[nz] = _sse(np.add, Y[nz], _sse(np.multiply, W[k][None, :], X[nz, k, None]))


@_jit
def _dense_backward_weights(X, dY, dW) -> None:
    bs = np.empty(X.shape[0], np.int32)
    for k in range(X.shape[1]):
        x, d = X[:, k], dW[k]
        d[:] = ZERO  # dW[k,j] = +0.0
        n = _nonzero(x, bs)  # the b with X[b,k] != 0, ascending
        _add_scaled_rows_in_registers(
            d, dY, x, bs, n
        )  # dW[k,j] = fl(dW[k,j] + fl(dY[b,j] * X[b,k]))


@_jit
def _sum_rows(dY, db) -> None:
    db[:] = ZERO
    for b in range(dY.shape[0]):
        g = dY[b]
        for j in range(db.size):
            db[j] = db[j] + g[j]  # addps db, dY-row


@_jit
def _dense_backward_input(dY, W, dX) -> None:
    n_out = dY.shape[1]
    full = n_out // 4 * 4
    WT = np.ascontiguousarray(W.T)  # WT[j,k]: each sum below runs over j, its outputs over k
    lane = np.arange(full).reshape(full // 4, 4).T.copy()  # lane[l] = l, l+4, l+8, .. < full
    tail = np.arange(full, n_out)
    a = np.empty((4, W.shape[0]), np.float32)
    for b in range(dY.shape[0]):
        g, s = dY[b], dX[b]
        a[:] = ZERO  # a_l[k] = +0.0
        for la in range(4):  # a_l[k] = fl(a_l[k] + fl(W[k,j] * dY[b,j])), j = l, l+4, ..
            _add_scaled_rows(a[la], WT, g, lane[la], full // 4)
        for k in range(s.size):
            s[k] = (a[0, k] + a[1, k]) + (a[2, k] + a[3, k])  # haddps twice
        _add_scaled_rows(s, WT, g, tail, n_out - full)  # s = fl(s + fl(W[k,j] * dY[b,j]))


@_jit
def _dense_backward(X, dY, W, dW, db, dX) -> bool:
    """dense_backward in the routine's order: dW, db, then dX (dX None: the
    routine got a null dX and skips it). True if an output holds a NaN."""
    _dense_backward_weights(X, dY, dW)
    _sum_rows(dY, db)
    nan = _any_nan(dW) or _any_nan(db)
    if dX is not None:
        _dense_backward_input(dY, W, dX)
        nan = nan or _any_nan(dX)
    return nan


def dense_backward(X, dY, W, dW, db, dX) -> None:
    """dense_backward's three results (its header comment):
    dW[k,j] = +0.0, then for b ascending with X[b,k] != 0:
        dW[k,j] = fl(dW[k,j] + fl(dY[b,j] * X[b,k]));
    db[j] = +0.0, then db[j] = fl(db[j] + dY[b,j]) for b ascending;
    if dX is not None (W is read only then), dX[b,k]: four lane accumulators a_l = +0.0; for
    j = 0,4,8,.. (j+4 <= n): a_l = fl(a_l + fl(dY[b,j+l] * W[k,j+l]));
    s = fl(fl(a0+a1) + fl(a2+a3)); then for the tail j ascending:
    s = fl(s + fl(dY[b,j] * W[k,j])); dX[b,k] = s."""
    if _dense_backward(X, dY, W, dW, db, dX) and _odd_nans(X, dY, *([] if W is None else [W])):
        _dense_backward_sse(X, dY, W, dW, db, dX)


def _dense_backward_sse(X, dY, W, dW, db, dX) -> None:
    """The contract step by step, NaNs picked as SSE does (slow: for NaNs
    other than the default one)."""
    acc = np.zeros(dW.shape, F32)
    for b in range(X.shape[0]):
        nz = X[b] != 0
        acc[nz] = _sse(np.add, acc[nz], _sse(np.multiply, dY[b][None, :], X[b, nz, None]))
    dW[...] = acc
    s = np.zeros(dY.shape[1], F32)
    for row in dY:
        s = _sse(np.add, s, row)
    db[...] = s
    if dX is None:
        return
    n_out = dY.shape[1]
    full = n_out // 4 * 4
    prod = _sse(np.multiply, dY[:, None, :], W[None, :, :])  # mulps dY, W
    a = np.zeros((dY.shape[0], W.shape[0], 4), F32)
    for j in range(0, full, 4):
        a = _sse(np.add, a, prod[:, :, j : j + 4])
    s = _sse(np.add, _sse(np.add, a[..., 0], a[..., 1]), _sse(np.add, a[..., 2], a[..., 3]))
    for j in range(full, n_out):
        s = _sse(np.add, s, prod[:, :, j])
    dX[...] = s


# ---- elementwise routines ---------------------------------------------------------
@_jit
def relu_(A) -> None:
    """In place: maxps(A, +0.0) = A if A > 0 else +0.0 (NaN and -0.0 give +0.0)."""
    for i in range(A.size):
        v = A[i]
        A[i] = v if v > ZERO else ZERO


@_jit
def relu_backward_(dA, A) -> None:
    """In place: dA unchanged where A > 0 (comiss, strict; NaN is not), else +0.0."""
    for i in range(A.size):
        if not A[i] > ZERO:
            dA[i] = ZERO


@_jit
def _sgd_update(W, dW, lr) -> None:
    for i in range(W.size):
        W[i] = W[i] - dW[i] * lr  # mulps dW, lr; subps W, step


def sgd_update_(W: np.ndarray, dW: np.ndarray, lr: np.float32) -> None:
    """In place: W = fl(W - fl(dW * lr))   (mulps dW, lr; subps W, step).

    Of the two operations only the multiply is commutative (LLVM may swap
    its operands), and two NaNs meet there only when lr is a NaN: that case
    takes the slow form (W is updated in place, so it cannot be redone)."""
    lr = F32(lr)
    if lr != lr:
        W[...] = _sse(np.subtract, W, _sse(np.multiply, dW, lr))
        return
    _sgd_update(W, dW, lr)


@_jit
def load_batch(images, labels, idx, start, X, labels_out) -> int:
    """For b = 0 .. rows-1 and s = idx[b] (idx None: s = start + b):
    X[b,k] = fl(float(images[s,k]) / 255.0) (cvtsi2ss exact, divss rounds
    once) and labels_out[b] = labels[s].

    Shuffled images lie anywhere in 47 MB: one byte of every 64 of each is
    read first (returned, so that the reads stay), which starts all their
    cache misses at once instead of a few at a time behind the divisions
    (64 -> 44 us per batch in a run)."""
    touched = 0
    if idx is not None:  # the batch's images lie anywhere: ask for all their lines first
        for b in range(X.shape[0]):
            image = images[idx[b]]
            for k in range(0, image.size, 64):
                touched |= image[k]
    for b in range(X.shape[0]):
        if idx is None:
            s = start + b
        else:
            s = idx[b]
        labels_out[b] = labels[s]
        x, image = X[b], images[s]
        for k in range(x.size):
            x[k] = F32(image[k]) / F32(255.0)
    return touched


@_jit
def max_index(idx) -> int:
    """The largest entry of idx (0 for none)."""
    top = 0
    for s in idx:
        top = max(top, s)
    return top


# ---- softmax and cross-entropy --------------------------------------------------
@_jit
def _softmax_xent(Z, labels, P, dZ):
    rows, n = Z.shape
    total = ZERO
    fr = F32(rows)  # cvtsi2ss rows
    nan = False
    for b in range(rows):
        z = Z[b]
        p = P[b]
        m = z[0]
        for j in range(1, n):
            m = m if m > z[j] else z[j]  # maxss m, z_j
        for j in range(n):
            p[j] = F32(_c_exp(np.float64(z[j] - m)))  # subss; cvtss2sd; exp; cvtsd2ss
        s = p[0]
        for j in range(1, n):
            s = s + p[j]
        for j in range(n):
            p[j] = p[j] / s
        c = labels[b]
        loss = -F32(_c_log(np.float64(p[c])))  # log, cvtsd2ss, xorps sign
        total = total + loss
        for j in range(n):
            y = ONE if j == c else ZERO
            dZ[b, j] = (p[j] - y) / fr
        nan |= s != s or loss != loss
    return total / fr, nan  # rows = 0: 0/0, the default NaN


def softmax_xent(Z: np.ndarray, labels: np.ndarray, P: np.ndarray, dZ: np.ndarray) -> np.float32:
    """Per row: m = running maxss from Z[0]; e_j = fl(exp(double(fl(z_j - m))));
    s = e_0 + e_1 + ... sequentially; p_j = fl(e_j / s);
    loss_b = -fl(log(double(p_label))). Mean = fl((+0.0 + loss_0 + ...) / rows).
    dZ = fl(fl(p - y) / rows). Writes P and dZ, returns the mean loss."""
    if not HAVE_LIBM:
        return _softmax_xent_sse(Z, labels, P, dZ)
    loss, nan = _softmax_xent(Z, labels, P, dZ)
    if nan or loss != loss:  # LLVM may fold the sign flip into a subtraction (NaN signs)
        loss = _softmax_xent_sse(Z, labels, P, dZ)
    return F32(loss)


def _softmax_xent_sse(Z, labels, P, dZ) -> np.float32:
    """The contract step by step, NaNs picked as SSE does, exp and log the
    runtime's (slow: for rows with NaNs)."""
    exp, log = libm("exp"), libm("log")
    rows, n = Z.shape
    total: np.ndarray = np.asarray(np.float32(0.0))
    for b in range(rows):
        z = Z[b]
        m = z[0]
        for j in range(1, n):
            m = m if m > z[j] else z[j]
        shifted = _sse(np.subtract, z, m)
        with np.errstate(over="ignore"):  # a double past float32's range rounds to inf, as cvtsd2ss
            e = np.array([exp(float(v)) for v in shifted], np.float64).astype(F32)
        s = e[0]
        for j in range(1, n):
            s = _sse(np.add, s, e[j])
        P[b] = _sse(np.divide, e, s)
        c = labels[b]
        loss = (np.array(log(float(P[b, c])), F32).view(np.uint32) ^ 0x80000000).view(F32)
        total = _sse(np.add, total, loss)
        y = np.zeros(n, F32)
        y[c] = 1.0
        dZ[b] = _sse(np.divide, _sse(np.subtract, P[b], y), F32(rows))
    return F32(_sse(np.divide, total, F32(rows)))


@_jit
def count_correct(Z, labels) -> int:
    """argmax with the first maximum winning under strict comiss '>'
    (an unordered compare is not greater), compared with the label."""
    rows, n = Z.shape
    correct = 0
    for b in range(rows):
        best = Z[b, 0]
        at = 0
        for j in range(1, n):
            if Z[b, j] > best:
                best = Z[b, j]
                at = j
        correct += at == labels[b]
    return correct


# ---- the PRNG: xorshift64 ------------------------------------------------------
@_jit
def init_matrix(state: np.uint64, W, fan_in: int) -> np.uint64:
    """init_matrix of rng.asm: limit = sqrtss(fl(6.0 / float(fan_in))); per
    weight in memory order x = xorshift(); u = fl(float(x >> 40) * 2^-24);
    t = fl(fl(u + u) - 1.0); W[i] = fl(t * limit). Returns the new state."""
    limit = np.sqrt(F32(6.0) / F32(fan_in))
    scale = F32(2.0**-24)
    x = np.uint64(state)
    for i in range(W.size):
        x ^= x << np.uint64(13)
        x ^= x >> np.uint64(7)
        x ^= x << np.uint64(17)
        u = F32(x >> np.uint64(40)) * scale
        t = (u + u) - ONE
        W[i] = t * limit
    return x


@_jit
def shuffle(state: np.uint64, perm) -> np.uint64:
    """Fisher-Yates as shuffle in rng.asm: for i = n-1 down to 1,
    j = xorshift() mod (i+1), swap perm[i] and perm[j]. Returns the new state."""
    x = np.uint64(state)
    for i in range(perm.size - 1, 0, -1):
        x ^= x << np.uint64(13)
        x ^= x >> np.uint64(7)
        x ^= x << np.uint64(17)
        j = x % np.uint64(i + 1)
        perm[i], perm[j] = perm[j], perm[i]
    return x


def compile_all() -> None:
    """Compile every kernel (or load it from numba's cache) now, for the
    array types the twins pass: C-contiguous views of machine memory."""
    f = np.zeros((2, 4), F32)
    v = np.zeros(4, F32)
    b8 = np.zeros(4, np.uint8)
    dense_forward(f, np.zeros((4, 4), F32), v, f.copy())
    for W, dX in ((None, None), (np.zeros((4, 4), F32), f.copy())):
        dense_backward(f, f, W, np.zeros((4, 4), F32), v.copy(), dX)
    relu_(v.copy())
    relu_backward_(v.copy(), v)
    sgd_update_(v.copy(), v, F32(0.5))
    for idx in (np.zeros(2, np.uint32), None):
        load_batch(np.zeros((2, 4), np.uint8), b8, idx, 0, f.copy(), b8[:2].copy())
    max_index(np.zeros(2, np.uint32))
    softmax_xent(f, b8[:2].copy(), f.copy(), f.copy())
    count_correct(f, b8[:2])
    init_matrix(np.uint64(1), v.copy(), 4)
    shuffle(np.uint64(1), np.arange(4, dtype=np.uint32))
