"""Bit-exact numpy versions of the network routines in programs/mnist/.

Every function performs the same IEEE binary32 operations in the same order
as the assembly routine it mirrors (see the routine's header comment), only
vectorised across outputs that do not depend on each other. No sum is ever
reassociated: where the assembly accumulates sequentially, so does the numpy
code (see `seq_sum`).

The kernels write into the output arrays they are given (views of machine
memory) and keep their temporaries in per-thread scratch buffers that are
reused from call to call, so a training batch allocates almost nothing.

The expensive routines (dense layers) skip zero inputs exactly as the
assembly does (`if x == 0.0: continue`), so their work is proportional to
the nonzero inputs (about 19% of an MNIST image). How that stays a handful
of numpy calls per layer is described at `ragged_dot`. Mostly nonzero
inputs (the hidden layers after ReLU) take a dense form instead, under the
conditions that make adding the skipped zeros provably change nothing
(`dense_forward`, `dense_backward_weights`).

Two things numpy does not promise are checked rather than assumed:
`seq_sum` verifies on import that a reduction over the outer axis adds in
order, and NaN payloads (which NaN an operation returns when both operands
are NaN) are handled as described at `_sse`.

Costs per training batch on the development machine are in
benchmarks/README.md (`python benchmarks/fast_mode.py --profile`).
"""

from __future__ import annotations

import bisect
import math
import threading

import numpy as np

F32 = np.float32
IDX = np.intp
NEG_ZERO = F32(-0.0)


# ---- scratch buffers ----------------------------------------------------------
class _Scratch(threading.local):
    def __init__(self) -> None:
        self.bufs: dict[tuple, np.ndarray] = {}


_scratch = _Scratch()


def scratch(name: str, shape, dtype=F32) -> np.ndarray:
    """A reusable uninitialised array (per thread, grown on demand). Two live
    temporaries must use different names."""
    bufs = _scratch.bufs
    key = (name, shape, dtype)
    v = bufs.get(key)  # the same shapes recur every batch
    if v is not None and v.base is bufs.get((name, dtype)):
        return v
    n = 1
    for s in shape:
        n *= s
    bkey = (name, dtype)
    buf = bufs.get(bkey)
    if buf is None or buf.size < n:
        buf = bufs[bkey] = np.empty(max(n, 2 * (buf.size if buf is not None else 0)), dtype)
    v = buf[:n].reshape(shape)
    if len(bufs) > 4096:  # shapes that do not recur
        bufs.clear()
        bufs[bkey] = buf
        v = buf[:n].reshape(shape)
    bufs[key] = v
    return v


# ---- sequential sums ----------------------------------------------------------
def _seq_sum_loop(P: np.ndarray, initial: float | np.floating, out: np.ndarray) -> np.ndarray:
    out[...] = F32(initial)
    for t in range(P.shape[0]):
        np.add(out, P[t], out=out)
    return out


def seq_sum(P: np.ndarray, initial: float | np.floating, out: np.ndarray) -> np.ndarray:
    """out = fl(...fl(fl(initial + P[0]) + P[1]) ... + P[T-1]), elementwise,
    for a C-contiguous P of shape (T, ...) (the accumulator is the first
    operand of every add, as in `addps acc, term`).

    This is one `np.add.reduce(P, axis=0, initial=...)`: numpy reduces a
    non-innermost axis of a contiguous array by adding whole slices P[t] to
    the output in order of t (elementwise, vectorised over the other axes),
    starting from `initial`. Pairwise summation (which reassociates) is only
    used when the reduced axis is the innermost loop, i.e. when the other
    axes have a single element, so that case is widened to two columns.
    `_check_seq_sum` verifies all this on import and falls back to a Python
    loop over t if a numpy version ever behaves differently."""
    T = P.shape[0]
    if T == 0:
        out[...] = F32(initial)
        return out
    if P.size == T:  # one column: avoid the pairwise loop
        wide = np.empty((T, 2), F32)
        wide[:, 0] = P.reshape(T)
        wide[:, 1] = 0
        res = _SEQ_SUM(wide, initial, np.empty(2, F32))
        out[...] = res[0]
        return out
    return _SEQ_SUM(P, initial, out)


def _seq_sum_reduce(P: np.ndarray, initial: float | np.floating, out: np.ndarray) -> np.ndarray:
    return np.add.reduce(P, axis=0, out=out, initial=F32(initial))


def _check_seq_sum() -> bool:
    """Sequential, from `initial`, in small and in large (buffer-sized) shapes?"""
    rng = np.random.default_rng(12345)
    ok = True
    for shape in ((40, 3, 5), (70, 3, 3001)):
        P = (rng.standard_normal(shape) * rng.choice([1e-4, 1.0, 1e4], shape)).astype(F32)
        P[0, 0, 0] = -0.0
        P[:, 2, 4] = -0.0
        for initial in (0.0, -0.0):
            ref = _seq_sum_loop(P, initial, np.empty(shape[1:], F32))
            got = _seq_sum_reduce(P, initial, np.empty(shape[1:], F32))
            ok &= bool(np.array_equal(ref.view(np.uint32), got.view(np.uint32)))
    return ok


_SEQ_SUM = _seq_sum_reduce if _check_seq_sum() else _seq_sum_loop


# ---- NaN payloads -------------------------------------------------------------
# When both operands of an SSE add, sub, mul or div are NaN the instruction
# returns the first one's (quieted). numpy promises no operand order (its
# vector loop and its scalar tail differ), and that shows only where two
# NaNs with different bits meet. If every NaN among a kernel's inputs is
# the default NaN (the one invalid operations produce), every NaN that can
# arise is that same default NaN and the order cannot show. So the kernels
# run fast and check: an output with a NaN, from inputs holding some other
# NaN, is recomputed by a slow form that picks NaNs as SSE does (`_sse`).
DEFAULT_NAN = 0xFFC00000
_QUIET = np.uint32(0x00400000)


def _has_nan(a: np.ndarray) -> bool:
    return a.size > 0 and bool(np.isnan(a.max()))


def _odd_nans(*arrays: np.ndarray) -> bool:
    """Does any of the arrays hold a NaN other than the default NaN?"""
    for a in arrays:
        if _has_nan(a):
            bits = np.ascontiguousarray(a).view(np.uint32)
            if (bits[np.isnan(a)] != DEFAULT_NAN).any():
                return True
    return False


def _sse(op, a, b) -> np.ndarray:
    """op(a, b) elementwise (broadcasting) as an SSE instruction with a as
    its destination: a NaN a gives a (quieted), else a NaN b gives b
    (quieted), else op's result (the default NaN for an invalid operation)."""
    a, b = np.broadcast_arrays(np.asarray(a, F32), np.asarray(b, F32))
    r = np.asarray(op(a, b), F32)
    qa = (a.view(np.uint32) | _QUIET).view(F32)
    qb = (b.view(np.uint32) | _QUIET).view(F32)
    return np.where(np.isnan(a), qa, np.where(np.isnan(b), qb, r))


# ---- the dense layers ---------------------------------------------------------
def _sparse_terms(V: np.ndarray, mask: np.ndarray):
    """The nonzero entries of each row of V (rows x n), as the assembly's
    test `ucomiss x, 0.0; je skip` selects them: +0.0 and -0.0 are skipped,
    NaN is not (mask = V != 0 does exactly that). Returns (cnt, starts, cols,
    vals): row r has cnt[r] entries at cols[starts[r]:starts[r]+cnt[r]]
    (ascending) with values vals[...]."""
    rows, n = V.shape
    flat = mask.reshape(-1).nonzero()[0]  # (methods: no numpy wrapper layer)
    bounds = flat.searchsorted(np.arange(0, (rows + 1) * n, n))
    cnt = bounds[1:] - bounds[:-1]
    cols = flat - np.arange(0, rows * n, n).repeat(cnt)
    return cnt, bounds[:-1], cols, V.reshape(-1)[flat]


def _sparse_terms_by_column(V: np.ndarray, mask: np.ndarray):
    """_sparse_terms of V.T, without copying V: the nonzero entries of each
    column k, in ascending row order (cols are then row numbers)."""
    rows, n = V.shape
    flat = mask.T.reshape(-1).nonzero()[0]  # k * rows + b, ascending
    bounds = flat.searchsorted(np.arange(0, (n + 1) * rows, rows))
    cnt = bounds[1:] - bounds[:-1]
    ks = np.arange(n).repeat(cnt)
    bs = flat - ks * rows
    return cnt, bounds[:-1], bs, V.reshape(-1)[bs * n + ks]


def _groups(scnt: np.ndarray, n: int, lead: int, min_width: int, max_width: int):
    """Cut the sequences (sorted by length, longest first: lengths scnt) into
    groups of consecutive ones. Each group costs a few numpy calls and pads
    its shorter sequences to the longest: a group closes once it is
    min_width/n sequences wide and the next one is 10% shorter than its
    first, or when it is max_width/n wide. Returns [(g0, g1, steps)] (steps =
    longest + lead) and the number of block rows; sequences from the last g1
    on are empty."""
    S = scnt.shape[0]
    gmin = max(1, min_width // n)
    gmax = max(gmin, max_width // n)
    neg = (-scnt).tolist()  # ascending, for bisect
    groups = []
    rows = 0
    g0 = 0
    while g0 < S:
        longest = -neg[g0]
        if not longest:
            break
        short = bisect.bisect_right(neg, -0.9 * longest, g0)  # first one < 90% as long
        g1 = min(S, g0 + gmax, max(g0 + gmin, short))
        groups.append((g0, g1, longest + lead))
        rows += (longest + lead) * (g1 - g0)
        g0 = g1
    return groups, rows


def ragged_dot(
    tab: np.ndarray,
    cnt: np.ndarray,
    starts: np.ndarray,
    keys: np.ndarray,
    vals: np.ndarray,
    out: np.ndarray,
    first: np.ndarray | None,
    min_width: int = 1024,
    max_width: int = 4096,
) -> None:
    """For every sequence s (S of them, S = len(cnt)):
        out[s] = fl(... fl(fl(a + fl(table[k_0] * v_0)) + fl(table[k_1] * v_1)) ...)
    with k_t, v_t = keys[starts[s] + t], vals[starts[s] + t] for t < cnt[s],
    and a = first (a vector, the bias of dense_forward) or +0.0 (first=None,
    the zeroed dW of dense_backward). Elementwise over the n columns of table
    (the table row is the first operand of the multiply, the accumulator the
    first of the add). This is dense_forward (sequences = rows of X, table =
    W) and the dW part of dense_backward (sequences = inputs k, table = dY)
    with zeros skipped.

    tab is the table followed by two spare rows (table = tab[:-2]); they are
    overwritten with a -0.0 row and the first row.

    How: sort the sequences by length (longest first) and cut them into
    groups (`_groups`); a group of g sequences whose longest has T terms is
    one (T, g, n) slab of products, built with one gather of table rows
    (np.take) and one multiply, then summed over t with one `seq_sum`. A
    shorter sequence is padded with -0.0 products (the -0.0 row times 1.0):
    adding -0.0 changes no float32 value, signed zeros and NaNs included. The
    first value a is slab row 0 (its row times 1.0, added to the sum's
    initial -0.0: neither changes it) or the initial +0.0 of the sum."""
    S = cnt.shape[0]
    n = tab.shape[1]
    if S == 0 or n == 0:
        return
    nnz = keys.shape[0]
    kt = tab.shape[0] - 2
    lead = 0 if first is None else 1
    tab[kt] = NEG_ZERO
    if lead:
        tab[kt + 1] = first
    order = (-cnt).argsort(kind="stable")
    scnt = cnt[order]
    groups, R = _groups(scnt, n, lead, min_width, max_width)
    res = scratch("rd_out", (S, n))
    if groups:
        # slab row (t, i) of a group at block row o holds term t - lead of its
        # i-th sequence: block row o + t * g + i = base + t * stride
        G = len(groups)
        g0s = np.array([g[0] for g in groups], IDX)
        sizes = np.array([g[1] - g[0] for g in groups], IDX)
        steps = np.array([g[2] for g in groups], IDX)
        offs = np.zeros(G, IDX)
        (steps * sizes)[:-1].cumsum(out=offs[1:])
        done = groups[-1][1]
        gid = np.arange(G).repeat(sizes)
        base = np.zeros(S, IDX)
        stride = np.zeros(S, IDX)
        base[order[:done]] = offs[gid] + lead * sizes[gid] + np.arange(done) - g0s[gid]
        stride[order[:done]] = sizes[gid]
        pos = (base - starts * stride).repeat(cnt)
        pos += np.arange(nnz) * stride.repeat(cnt)
        bk = scratch("rd_bk", (R,), IDX)
        bk.fill(kt)
        bk[pos] = keys
        bv = scratch("rd_bv", (R,))
        bv.fill(1.0)
        bv[pos] = vals
        if lead:
            for (g0, g1, _), o in zip(groups, offs.tolist()):
                bk[o : o + g1 - g0] = kt + 1
        initial = F32(-0.0 if lead else 0.0)
        slabs = scratch("rd_slab", (max(st * (g1 - g0) for g0, g1, st in groups) * n,))
        take, multiply, reduce = tab.take, np.multiply, _SEQ_SUM
        for (g0, g1, st), o in zip(groups, offs.tolist()):
            g = g1 - g0
            m = st * g
            slab = slabs[: m * n].reshape(st, g, n)
            take(bk[o : o + m].reshape(st, g), axis=0, out=slab, mode="clip")
            multiply(slab, bv[o : o + m].reshape(st, g, 1), out=slab)
            if g * n > 1:  # seq_sum without its checks
                reduce(slab, initial, res[g0:g1])
            else:
                seq_sum(slab, initial, res[g0:g1])
    done = groups[-1][1] if groups else 0
    if done < S:
        res[done:] = 0.0 if first is None else first
    out[order] = res
    if first is not None and int(scnt[-1]) == 0:
        out[cnt == 0] = first  # the bias untouched, even a signalling NaN


DENSE_FILL = 0.5  # inputs at least this full use the dense forms below


def _finite(a: np.ndarray) -> bool:
    return bool(np.isfinite(a).all())


def _no_neg_zero_or_nan(v: np.ndarray) -> bool:
    return not ((v.view(np.uint32) == 0x80000000).any() or np.isnan(v).any())


def dense_forward(X: np.ndarray, W: np.ndarray, bias: np.ndarray, Y: np.ndarray) -> None:
    """Y[b,j] = bias[j], then for k ascending with X[b,k] != 0:
    Y[b,j] = fl(Y[b,j] + fl(W[k,j] * X[b,k]))   (mulps W-row, x; addps Y, prod).

    Two exact forms: sparse (`ragged_dot`, work proportional to the nonzero
    inputs) and, for mostly nonzero inputs (hidden layers after ReLU), dense:
    every k is added, zeros included. Adding fl(W * 0) = +-0.0 changes no
    accumulator that is not -0.0, and none is here: it starts at a bias
    with no -0.0 (and a sum is -0.0 only when both terms are), so the dense
    form is used only when bias has no -0.0 and no NaN and W is finite
    (W * 0 would be NaN for an infinite W)."""
    rows, n_in = X.shape
    n_out = W.shape[1]
    if not rows or not n_out:
        return
    _dense_forward(X, W, bias, Y)
    if _has_nan(Y) and _odd_nans(X, W, bias):
        Y[...] = _dense_forward_sse(X, W, bias)


def _dense_forward_sse(X: np.ndarray, W: np.ndarray, bias: np.ndarray) -> np.ndarray:
    """The contract step by step, NaNs picked as SSE does (slow)."""
    Y = np.repeat(bias[None, :], X.shape[0], axis=0)
    for k in range(X.shape[1]):
        nz = X[:, k] != 0
        if nz.any():
            Y[nz] = _sse(np.add, Y[nz], _sse(np.multiply, W[k][None, :], X[nz, k, None]))
    return Y


def _dense_forward(X: np.ndarray, W: np.ndarray, bias: np.ndarray, Y: np.ndarray) -> None:
    mask = np.not_equal(X, 0, out=scratch("nz_mask", X.shape, np.bool_))
    if np.count_nonzero(mask) >= DENSE_FILL * X.size and _no_neg_zero_or_nan(bias) and _finite(W):
        _dense_forward_all(X, W, bias, Y)
        return
    cnt, starts, cols, vals = _sparse_terms(X, mask)
    tab = scratch("rd_table", (W.shape[0] + 2, W.shape[1]))
    tab[:-2] = W
    ragged_dot(tab, cnt, starts, cols, vals, Y, bias)


def _dense_forward_all(X: np.ndarray, W: np.ndarray, bias: np.ndarray, Y: np.ndarray) -> None:
    """The dense form: a (n_in + 1) deep stack of products (bias first),
    summed with one seq_sum; laid out so that the multiply's inner loop is
    the longer of rows and n_out."""
    rows, n_in = X.shape
    n_out = W.shape[1]
    if rows >= n_out:  # P[k, j, b] = W[k, j] * X[b, k]
        P = scratch("df_prods", (n_in + 1, n_out, rows))
        P[0] = bias[:, None]
        xt = np.ascontiguousarray(X.T)
        np.multiply(W[:, :, None], xt[:, None, :], out=P[1:])
        Y[...] = seq_sum(P, -0.0, scratch("df_sum", (n_out, rows))).T
    else:  # P[k, b, j] = W[k, j] * X[b, k]
        P = scratch("df_prods", (n_in + 1, rows, n_out))
        P[0] = bias
        np.multiply(W[:, None, :], X.T[:, :, None], out=P[1:])
        Y[...] = seq_sum(P, -0.0, scratch("df_sum", (rows, n_out)))


def dense_backward_weights(X: np.ndarray, dY: np.ndarray, dW: np.ndarray) -> None:
    """dW[k,j] = +0.0, then for b ascending with X[b,k] != 0:
    dW[k,j] = fl(dW[k,j] + fl(dY[b,j] * X[b,k]))   (mulps dY-row, x).

    Sparse or dense as dense_forward. Here the dense form only needs dY
    finite: an accumulator that starts at +0.0 is never -0.0, so the added
    fl(dY * 0) = +-0.0 change nothing."""
    rows, n_in = X.shape
    n_out = dY.shape[1]
    if not n_in or not n_out:
        return
    _dense_weights(X, dY, dW)
    if _has_nan(dW) and _odd_nans(X, dY):
        acc = np.zeros((n_in, n_out), F32)
        for b in range(rows):
            nz = X[b] != 0
            acc[nz] = _sse(np.add, acc[nz], _sse(np.multiply, dY[b][None, :], X[b, nz, None]))
        dW[...] = acc


def _dense_weights(X: np.ndarray, dY: np.ndarray, dW: np.ndarray) -> None:
    rows = X.shape[0]
    mask = np.not_equal(X, 0, out=scratch("nz_mask", X.shape, np.bool_))
    if rows and np.count_nonzero(mask) >= DENSE_FILL * X.size and _finite(dY):
        _dense_weights_all(X, dY, dW)
        return
    cnt, starts, bs, vals = _sparse_terms_by_column(X, mask)
    tab = scratch("rd_table", (dY.shape[0] + 2, dY.shape[1]))
    tab[:-2] = dY
    ragged_dot(tab, cnt, starts, bs, vals, dW, None, 4096, 8192)


def _dense_weights_all(X: np.ndarray, dY: np.ndarray, dW: np.ndarray) -> None:
    rows, n_in = X.shape
    n_out = dY.shape[1]
    if n_in >= n_out:  # P[b, j, k] = dY[b, j] * X[b, k]
        P = scratch("dw_prods", (rows, n_out, n_in))
        np.multiply(dY[:, :, None], X[:, None, :], out=P)
        dW[...] = seq_sum(P, 0.0, scratch("dw_sum", (n_out, n_in))).T
    else:  # P[b, k, j]
        P = scratch("dw_prods", (rows, n_in, n_out))
        np.multiply(dY[:, None, :], X[:, :, None], out=P)
        dW[...] = seq_sum(P, 0.0, scratch("dw_sum", (n_in, n_out)))


def sequential_sum_rows(dY: np.ndarray, db: np.ndarray) -> None:
    """db[j] = +0.0, then db[j] = fl(db[j] + dY[b,j]) for b ascending."""
    seq_sum(dY, 0.0, db)
    if _has_nan(db) and _odd_nans(dY):
        acc = np.zeros(dY.shape[1], F32)
        for row in dY:
            acc = _sse(np.add, acc, row)
        db[...] = acc


def dense_backward_input(dY: np.ndarray, W: np.ndarray, dX: np.ndarray) -> None:
    """dX[b,k]: four lane accumulators a_l = +0.0; for j = 0,4,8,.. (j+4 <= n):
    a_l = fl(a_l + fl(dY[b,j+l] * W[k,j+l])); s = fl(fl(a0+a1) + fl(a2+a3));
    then for the tail j ascending: s = fl(s + fl(dY[b,j] * W[k,j]))."""
    _backward_input(dY, W, dX)
    if _has_nan(dX) and _odd_nans(dY, W):
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


def _backward_input(dY: np.ndarray, W: np.ndarray, dX: np.ndarray) -> None:
    rows, n_out = dY.shape
    n_in = W.shape[0]
    full = n_out // 4 * 4
    q = full // 4
    s = scratch("bi_s", (rows, n_in))
    if q:
        # P[i, l, b, k] = dY[b, 4i+l] * W[k, 4i+l]; lanes = sequential sum over i
        dyt = np.ascontiguousarray(dY[:, :full].T).reshape(q, 4, rows, 1)
        wt = np.ascontiguousarray(W[:, :full].T).reshape(q, 4, 1, n_in)
        P = scratch("bi_prods", (q, 4, rows, n_in))
        np.multiply(dyt, wt, out=P)  # mulps dY, W
        lanes = seq_sum(P, 0.0, scratch("bi_lanes", (4, rows, n_in)))
        np.add(lanes[0], lanes[1], out=s)
        np.add(lanes[2], lanes[3], out=lanes[2])
        np.add(s, lanes[2], out=s)
    else:
        s[...] = 0.0
    tmp = scratch("bi_tmp", (rows, n_in))
    for j in range(full, n_out):
        np.multiply(dY[:, j, None], W[None, :, j], out=tmp)  # mulss dY, W
        np.add(s, tmp, out=s)
    dX[...] = s


# ---- elementwise routines ---------------------------------------------------------
def relu_(A: np.ndarray) -> None:
    """In place: maxps(A, +0.0) = A if A > 0 else +0.0 (NaN and -0.0 give +0.0)."""
    keep = np.greater(A, 0, out=scratch("relu_mask", A.shape, np.bool_))
    bits = A.view(np.int32)
    np.multiply(bits, keep, out=bits, casting="unsafe")  # bits * 1 or all zero bits


def relu_backward_(dA: np.ndarray, A: np.ndarray) -> None:
    """In place: dA unchanged where A > 0 (comiss, strict; NaN is not), else +0.0."""
    keep = np.greater(A, 0, out=scratch("relu_mask", A.shape, np.bool_))
    bits = dA.view(np.int32)
    np.multiply(bits, keep, out=bits, casting="unsafe")  # (branch-free: masks are random)


def sgd_update_(W: np.ndarray, dW: np.ndarray, lr: np.float32) -> None:
    """In place: W = fl(W - fl(dW * lr))   (mulps dW, lr; subps W, step)."""
    lr = F32(lr)
    step = np.multiply(dW, lr, out=scratch("sgd_step", dW.shape))
    # two NaNs can meet only in the multiply (then step has a NaN) or where a
    # NaN in W meets a NaN step
    if _has_nan(step) and _odd_nans(W, dW, np.array([lr])):
        W[...] = _sse(np.subtract, W, _sse(np.multiply, dW, lr))
        return
    np.subtract(W, step, out=W)


def to_float_pixels(pixels: np.ndarray, out: np.ndarray) -> None:
    """fl(float(p) / 255.0): cvtsi2ss is exact for bytes, divss rounds once."""
    np.divide(pixels, F32(255.0), out=out, dtype=F32)


# ---- softmax and cross-entropy --------------------------------------------------
def _exp_c(v: float) -> float:
    try:
        return math.exp(v)
    except OverflowError:
        return math.inf


def _log_c(p: float) -> float:
    """C library log at the edges: log(0) = -inf, log(<0) = NaN."""
    if p != p:
        return p
    if p == 0.0:
        return -math.inf
    if p < 0.0:
        return -math.nan
    return math.log(p)


def _map(fn, fallback, values: np.ndarray) -> np.ndarray:
    """fn over the float64 values (the C library's exp or log, through math),
    or fallback where math raises instead of returning inf or NaN."""
    flat = values.reshape(-1).tolist()
    try:
        out = np.fromiter(map(fn, flat), np.float64, count=len(flat))
    except (OverflowError, ValueError):
        out = np.fromiter(map(fallback, flat), np.float64, count=len(flat))
    return out.reshape(values.shape)


# numpy's float64 exp and log are vectorised but are not the C library's
# functions: they may differ from them in the last bits of the double. The
# routine rounds the double to float32 (cvtsd2ss), and two doubles that are
# both within a few units in the last place (ulp) of the true value round to
# the same float32 unless a float32 rounding boundary (a midpoint between two
# floats, where the 29 bits float32 drops are 1000...0) lies between them. So
# a numpy result farther than _MARGIN double ulps from every such midpoint
# gives the C library's float32, as long as both are within _MARGIN / 2 ulps
# of the truth: glibc's exp and log are within one, numpy's within a few (its
# tests allow 4), and _MARGIN is 1024. Results near a midpoint, results that
# round to a subnormal float32 (there the boundaries fall elsewhere) and
# anything not finite go through the C library itself (math.exp, math.log).
# About 4 in a million values take that path; tests/test_twins.py checks the
# rule on a million values against the C library.
_MARGIN = 1024
_HALF = 1 << 28  # the dropped bits of a midpoint
_LOW = np.uint64((1 << 29) - 1)
_MID_LO, _MID_SPAN = np.uint64(_HALF - _MARGIN), np.uint64(2 * _MARGIN)
_EXP = np.uint64(0x7FF << 52)
_EXP_LO, _EXP_SPAN = np.uint64((1023 - 125) << 52), np.uint64((2047 - (1023 - 125)) << 52)


def libm_f32(fn, fallback, values: np.ndarray) -> np.ndarray:
    """float32(C library fn(values)) elementwise, for fn = np.exp or np.log
    (fallback: the math module's function, used where the rule above says
    numpy's double could round differently)."""
    x = np.ascontiguousarray(values, np.float64)
    d = fn(x)
    bits = d.view(np.uint64)
    # near a midpoint: the dropped bits within _MARGIN of 1000...0 (unsigned
    # wrap-around turns the two-sided test into one comparison)
    risky = ((bits - _MID_LO) & _LOW) <= _MID_SPAN
    # |d| < 2**-125 (zero, subnormal float32) or inf/NaN: the exponent field
    # outside 898..2046, again one unsigned comparison
    risky |= ((bits & _EXP) - _EXP_LO) >= _EXP_SPAN
    out = d.astype(F32)
    if risky.any():
        idx = np.flatnonzero(risky)
        out.reshape(-1)[idx] = _map(fallback[0], fallback[1], x.reshape(-1)[idx]).astype(F32)
    return out


def softmax_xent(Z: np.ndarray, labels: np.ndarray, P: np.ndarray, dZ: np.ndarray) -> np.float32:
    """Per row: m = running maxss from Z[0]; e_j = fl(exp(double(fl(z_j - m))));
    s = e_0 + e_1 + ... sequentially; p_j = fl(e_j / s);
    loss_b = -fl(log(double(p_label))). Mean = fl((+0.0 + loss_0 + ...) / rows).
    dZ = fl(fl(p - y) / rows). Writes P and dZ, returns the mean loss."""
    loss = _softmax_xent(Z, labels, P, dZ, False)
    if (_has_nan(P) or np.isnan(loss)) and _odd_nans(Z):
        loss = _softmax_xent(Z, labels, P, dZ, True)
    return loss


def _softmax_xent(Z, labels, P, dZ, sse: bool) -> np.float32:
    rows, n = Z.shape
    sub, add, div = (
        (
            (lambda a, b: _sse(np.subtract, a, b)),
            (lambda a, b: _sse(np.add, a, b)),
            (lambda a, b: _sse(np.divide, a, b)),
        )
        if sse
        else (np.subtract, np.add, np.divide)
    )
    if np.isnan(Z).any():
        m = Z[:, 0].copy()
        for j in range(1, n):
            zj = Z[:, j]
            m = np.where(m > zj, m, zj)  # maxss: dst > src ? dst : src
    else:
        # without NaN the running maxss is the row maximum, up to the sign of
        # a zero maximum, and that sign cannot matter: fl(z - m) is then a
        # zero of either sign or the same nonzero value, and exp(-0) = exp(+0)
        m = Z.max(axis=1)
    shifted = sub(Z, m[:, None]).astype(np.float64)
    e = (
        _map(math.exp, _exp_c, shifted).astype(F32)
        if sse
        else libm_f32(np.exp, (math.exp, _exp_c), shifted)
    )
    if sse:
        s = e[:, 0]
        for j in range(1, n):
            s = add(s, e[:, j])
    else:
        # seq_sum starts from +0.0, and +0.0 + e_0 == e_0 (exp returns no -0.0)
        s = seq_sum(np.ascontiguousarray(e.T), 0.0, np.empty(rows, F32))
    P[...] = div(e, s[:, None])
    pc = P[np.arange(rows), labels].astype(np.float64)
    losses = -(
        _map(math.log, _log_c, pc).astype(F32) if sse else libm_f32(np.log, (math.log, _log_c), pc)
    )
    if sse:
        total: np.floating | np.ndarray = np.float32(0.0)
        for loss_b in losses:
            total = add(total, loss_b)
    else:
        total = seq_sum(losses, 0.0, np.empty((), F32))
    y = np.zeros((rows, n), F32)
    y[np.arange(rows), labels] = 1.0
    dZ[...] = div(sub(P, y), F32(rows))
    return F32(div(total, F32(rows)))  # rows = 0: 0/0, the default NaN


def count_correct(Z: np.ndarray, labels: np.ndarray) -> int:
    """argmax with the first maximum winning under strict comiss '>'
    (an unordered compare is not greater), compared with the label."""
    if np.isnan(Z).any():
        best = np.zeros(Z.shape[0], dtype=np.int64)
        for b in range(Z.shape[0]):
            for j in range(1, Z.shape[1]):
                if Z[b, j] > Z[b, best[b]]:
                    best[b] = j
    else:
        best = Z.argmax(axis=1)
    return int((best == labels).sum())
