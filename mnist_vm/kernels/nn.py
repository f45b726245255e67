"""Bit-exact numpy versions of the network routines in programs/mnist/.

Every function performs the same IEEE binary32 operations in the same order
as the assembly routine it mirrors (see the routine's header comment), only
vectorised across outputs that do not depend on each other. No sum is ever
reassociated: where the assembly accumulates sequentially, the numpy code
does one vector operation per step of that sequence.

The expensive routines skip zero inputs exactly as the assembly does
(`if x == 0.0: continue`), so the work is proportional to the nonzero
pixels (about 19% of an MNIST image). The trick that keeps numpy calls few:
order the independent accumulators by how many terms they receive, so step t
of every sequence is one contiguous slice ("active prefix"), precompute all
products in one gather + multiply, then do one in-place add per step.
"""

from __future__ import annotations

import math

import numpy as np

F32 = np.float32


def _ragged_steps(mask: np.ndarray):
    """For a boolean matrix mask (rows x cols), describe the per-row sequences
    of True columns (ascending) in step-major order.

    Returns (order, counts_sorted, cols, rows_sorted_idx, starts) where order
    sorts rows by decreasing count (stable), and for step t the active rows
    are order[:n_t] with n_t = number of rows having more than t entries;
    cols[starts[t]:starts[t]+n_t] are their t-th columns."""
    counts = mask.sum(axis=1)
    order = np.argsort(-counts, kind="stable")
    sc = counts[order]
    m = mask[order]
    # position of each True within its row (0-based), row-major
    r_idx, c_idx = np.nonzero(m)
    pos = np.cumsum(m, axis=1)[r_idx, c_idx] - 1
    # step-major: sort by (pos, row); rows are already in active-prefix order
    key = np.lexsort((r_idx, pos))
    steps = int(sc[0]) if len(sc) else 0
    hist = np.bincount(sc, minlength=steps + 1)
    n_t = hist[::-1].cumsum()[::-1][1:]          # rows with more than t entries
    starts = np.concatenate([[0], np.cumsum(n_t)[:-1]]).astype(np.int64)
    return order, n_t, starts, r_idx[key], c_idx[key]


def _accumulate_ragged(acc: np.ndarray, prods: np.ndarray, n_t: np.ndarray,
                       starts: np.ndarray) -> None:
    """acc[:n] += prods[s:s+n] for each step, in order (float32, in place)."""
    add = np.add
    for n, s in zip(n_t.tolist(), starts.tolist()):
        a = acc[:n]
        add(a, prods[s:s + n], out=a)


def dense_forward(X: np.ndarray, W: np.ndarray, bias: np.ndarray) -> np.ndarray:
    """Y[b,j] = bias[j], then for k ascending with X[b,k] != 0:
    Y[b,j] = fl(Y[b,j] + fl(X[b,k] * W[k,j]))."""
    rows = X.shape[0]
    n_out = W.shape[1]
    mask = X != 0
    order, n_t, starts, r_sorted, cols = _ragged_steps(mask)
    acc = np.empty((rows, n_out), dtype=F32)
    acc[:] = bias
    if len(n_t):
        xs = X[order][r_sorted, cols]
        prods = W[cols]
        prods *= xs[:, None]
        _accumulate_ragged(acc, prods, n_t, starts)
    out = np.empty_like(acc)
    out[order] = acc
    return out


def dense_backward_weights(X: np.ndarray, dY: np.ndarray) -> np.ndarray:
    """dW[k,j] = 0.0, then for b ascending with X[b,k] != 0:
    dW[k,j] = fl(dW[k,j] + fl(X[b,k] * dY[b,j]))."""
    n_in = X.shape[1]
    n_out = dY.shape[1]
    maskT = (X != 0).T
    order, n_t, starts, r_sorted, bs = _ragged_steps(maskT)
    acc = np.zeros((n_in, n_out), dtype=F32)
    if len(n_t):
        xs = X.T[order][r_sorted, bs]
        prods = dY[bs]
        prods *= xs[:, None]
        _accumulate_ragged(acc, prods, n_t, starts)
    out = np.empty_like(acc)
    out[order] = acc
    return out


def sequential_sum_rows(dY: np.ndarray) -> np.ndarray:
    """db[j] = 0.0, then db[j] = fl(db[j] + dY[b,j]) for b ascending."""
    acc = np.zeros(dY.shape[1], dtype=F32)
    for row in dY:
        acc += row
    return acc


def dense_backward_input(dY: np.ndarray, W: np.ndarray) -> np.ndarray:
    """dX[b,k]: four lane accumulators a_l = 0.0; for j = 0,4,8,.. (j+4 <= n):
    a_l = fl(a_l + fl(dY[b,j+l] * W[k,j+l])); s = fl(fl(a0+a1) + fl(a2+a3));
    then for the tail j ascending: s = fl(s + fl(dY[b,j] * W[k,j]))."""
    rows, n_out = dY.shape
    n_in = W.shape[0]
    full = n_out // 4 * 4
    lanes = np.zeros((rows, n_in, 4), dtype=F32)
    for j in range(0, full, 4):
        lanes += dY[:, None, j:j + 4] * W[None, :, j:j + 4]
    s = (lanes[..., 0] + lanes[..., 1]) + (lanes[..., 2] + lanes[..., 3])
    for j in range(full, n_out):
        s += dY[:, j][:, None] * W[:, j][None, :]
    return s


def relu(A: np.ndarray) -> np.ndarray:
    """maxps(A, +0.0): A if A > 0 else +0.0 (NaN and -0.0 give +0.0)."""
    return np.where(A > 0, A, F32(0))


def relu_backward(dA: np.ndarray, A: np.ndarray) -> np.ndarray:
    """dA if A > 0 else +0.0."""
    return np.where(A > 0, dA, F32(0))


def sgd_update(W: np.ndarray, dW: np.ndarray, lr: np.float32) -> np.ndarray:
    """W = fl(W - fl(lr * dW))."""
    return W - F32(lr) * dW


def to_float_pixels(pixels: np.ndarray) -> np.ndarray:
    """fl(float(p) / 255.0) (cvtsi2ss is exact for bytes; divss rounds once)."""
    return pixels.astype(F32) / F32(255.0)


def _exp32(v: float) -> float:
    try:
        return math.exp(v)
    except OverflowError:
        return math.inf


def _neg_log_as_f32(p: float) -> np.float32:
    """fl(-fl32(log(double(p)))) with C library log semantics at the edges."""
    if p != p:
        d = p
    elif p == 0.0:
        d = -math.inf
    elif p < 0.0:
        d = math.nan
    else:
        d = math.log(p)
    return -F32(d)


def softmax_xent(Z: np.ndarray, labels: np.ndarray):
    """Per row: m = running maxss from Z[0]; e_j = fl(exp(double(fl(z_j - m))));
    s = e_0 + e_1 + ... sequentially; p_j = fl(e_j / s);
    loss_b = -fl(log(double(p_label))). Mean = fl(sum_b loss_b sequential / rows).
    dZ = fl(fl(p - y) / rows). Returns (probs, dZ, mean_loss)."""
    rows, n = Z.shape
    m = Z[:, 0].copy()
    for j in range(1, n):
        zj = Z[:, j]
        m = np.where(m > zj, m, zj)          # maxss: dst > src ? dst : src
    shifted = Z - m[:, None]
    e = np.array([_exp32(v) for v in shifted.astype(np.float64).ravel().tolist()],
                 dtype=np.float64).astype(F32).reshape(rows, n)
    s = e[:, 0].copy()
    for j in range(1, n):
        s += e[:, j]
    p = e / s[:, None]
    total = F32(0.0)
    for b in range(rows):
        total = F32(total + _neg_log_as_f32(float(p[b, labels[b]])))
    mean = F32(total / F32(rows))
    y = np.zeros_like(p)
    y[np.arange(rows), labels] = 1.0
    dZ = (p - y) / F32(rows)
    return p, dZ, mean


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
