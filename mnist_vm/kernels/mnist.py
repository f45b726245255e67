"""Twins of the routines in programs/mnist/, bound to machine memory.

Each twin reads its arguments as the System V ABI passes them (the 7th and
later on the stack), views the machine's memory through numpy (no copies of
inputs beyond what numpy does itself), computes with the bit-exact kernels in
nn.py and writes its results back into the same bytes the assembly routine
writes. The routine's contract is in its header comment in programs/mnist/.

A pointer that does not lie inside mapped memory stops the machine with a
segfault at the call instruction (the interpreted routine would fault inside
the routine; the twin cannot say which instruction).
"""

from __future__ import annotations

import numpy as np

from vm.accel import SYSV, Twin
from vm.errors import Fault

from . import nn

F32 = np.float32
M64 = (1 << 64) - 1


class MachineView:
    """numpy views of machine memory with bounds checks."""

    def __init__(self, machine, routine: str):
        self.m = machine
        self.routine = routine

    def _check(self, addr: int, nbytes: int, write: bool, what: str) -> None:
        if nbytes and not self.m.mem.mapped(addr, nbytes, write):
            raise Fault("segfault", f"{self.routine} (fast twin): {what} at {addr:#x} "
                        f"({nbytes} bytes) is not {'writable' if write else 'mapped'}")

    def array(self, addr: int, shape, dtype=F32, write: bool = False, what: str = "array"):
        count = int(np.prod(shape))
        itemsize = np.dtype(dtype).itemsize
        self._check(addr, count * itemsize, write, what)
        a = np.frombuffer(self.m.mem.buf, dtype=dtype, count=count, offset=addr)
        return a.reshape(shape)


def _dense_forward(m, X, W, bias, Y, rows, n_in):
    n_out = SYSV.int_arg(m, 6)
    v = MachineView(m, "dense_forward")
    x = v.array(X, (rows, n_in), what="X")
    w = v.array(W, (n_in, n_out), what="W")
    b = v.array(bias, (n_out,), what="bias")
    y = v.array(Y, (rows, n_out), write=True, what="Y")
    y[...] = nn.dense_forward(x, w, b)


def _dense_backward(m, X, dY, W, dW, db, dX):
    rows, n_in, n_out = (SYSV.int_arg(m, 6), SYSV.int_arg(m, 7), SYSV.int_arg(m, 8))
    v = MachineView(m, "dense_backward")
    x = v.array(X, (rows, n_in), what="X")
    dy = v.array(dY, (rows, n_out), what="dY")
    w = v.array(W, (n_in, n_out), what="W")
    dw = v.array(dW, (n_in, n_out), write=True, what="dW")
    dbv = v.array(db, (n_out,), write=True, what="db")
    grad_in = nn.dense_backward_input(dy, w) if dX else None
    dw[...] = nn.dense_backward_weights(x, dy)
    dbv[...] = nn.sequential_sum_rows(dy)
    if dX:
        v.array(dX, (rows, n_in), write=True, what="dX")[...] = grad_in


def _relu_forward(m, A, n):
    a = MachineView(m, "relu_forward").array(A, (n,), write=True, what="A")
    a[...] = nn.relu(a)


def _relu_backward(m, dA, A, n):
    v = MachineView(m, "relu_backward")
    a = v.array(A, (n,), what="A")
    da = v.array(dA, (n,), write=True, what="dA")
    da[...] = nn.relu_backward(da, a)


def _softmax_xent(m, logits, labels, probs, dlogits, rows, n):
    v = MachineView(m, "softmax_xent")
    z = v.array(logits, (rows, n), what="logits")
    lab = v.array(labels, (rows,), dtype=np.uint8, what="labels")
    p, dz, loss = nn.softmax_xent(z, lab)
    v.array(probs, (rows, n), write=True, what="probs")[...] = p
    v.array(dlogits, (rows, n), write=True, what="dlogits")[...] = dz
    m.xf[0] = float(loss)


def _sgd_update(m, W, dW, n):
    v = MachineView(m, "sgd_update")
    lr = F32(m.xf[0])
    dw = v.array(dW, (n,), what="dW")
    w = v.array(W, (n,), write=True, what="W")
    w[...] = nn.sgd_update(w, dw, lr)


def _load_batch(m, images, labels, perm, start, rows, X):
    labels_out = SYSV.int_arg(m, 6)
    v = MachineView(m, "load_batch")
    if perm:
        idx = v.array(perm + 4 * start, (rows,), dtype=np.uint32, what="perm").astype(np.int64)
    else:
        idx = np.arange(start, start + rows, dtype=np.int64)
    count = int(idx.max()) + 1 if rows else 0
    img = v.array(images, (count, 784), dtype=np.uint8, what="images")
    lab = v.array(labels, (count,), dtype=np.uint8, what="labels")
    v.array(X, (rows, 784), write=True, what="X")[...] = nn.to_float_pixels(img[idx])
    v.array(labels_out, (rows,), dtype=np.uint8, write=True, what="labels_out")[...] = lab[idx]


def _count_correct(m, logits, labels, rows, n):
    v = MachineView(m, "count_correct")
    z = v.array(logits, (rows, n), what="logits")
    lab = v.array(labels, (rows,), dtype=np.uint8, what="labels")
    m.r[0] = nn.count_correct(z, lab)


# ---- the PRNG: xorshift64 state in memory at `rng_state` -------------------
def _rng_addr(m) -> int:
    return m.image.symbols["rng_state"].value


def _xorshift_stream(state: int, count: int) -> tuple[list[int], int]:
    out = []
    x = state
    for _ in range(count):
        x ^= (x << 13) & M64
        x ^= x >> 7
        x ^= (x << 17) & M64
        out.append(x)
    return out, x


def _init_matrix(m, state: int, addr: int, fan_in: int, fan_out: int) -> int:
    xs, state = _xorshift_stream(state, fan_in * fan_out)
    u = (np.array(xs, dtype=np.uint64) >> np.uint64(40)).astype(F32) * F32(2.0 ** -24)
    t = (u + u) - F32(1.0)
    limit = np.sqrt(F32(6.0) / F32(fan_in))
    MachineView(m, "init_weights").array(addr, (fan_in * fan_out,), write=True,
                                         what="weights")[...] = t * limit
    return state


def _init_weights(m):
    sym = m.image.symbols
    rng = _rng_addr(m)
    state = int.from_bytes(m.mem.read(rng, 8), "little")
    sizes = [int.from_bytes(m.mem.read(sym["layer_sizes"].value + 8 * i, 8), "little")
             for i in range(4)]                  # 784, H1, H2, 10 as assembled
    dims = list(zip(sizes[:-1], sizes[1:]))
    for name, (fi, fo) in zip(("W1", "W2", "W3"), dims):
        state = _init_matrix(m, state, sym[name].value, fi, fo)
    for name, n in zip(("b1", "b2", "b3"), sizes[1:]):
        MachineView(m, "init_weights").array(sym[name].value, (n,), write=True,
                                             what=name)[...] = F32(0.0)
    m.mem.write(rng, state.to_bytes(8, "little"))


def _shuffle(m, perm, n):
    if n <= 1:
        return
    rng = _rng_addr(m)
    state = int.from_bytes(m.mem.read(rng, 8), "little")
    arr = MachineView(m, "shuffle").array(perm, (n,), dtype=np.uint32, write=True, what="perm")
    p = arr.tolist()
    x = state
    for i in range(n - 1, 0, -1):
        x ^= (x << 13) & M64
        x ^= x >> 7
        x ^= (x << 17) & M64
        j = x % (i + 1)
        p[i], p[j] = p[j], p[i]
    arr[...] = p
    m.mem.write(rng, x.to_bytes(8, "little"))


TWINS: dict[str, Twin] = {t.name: t for t in (
    Twin("dense_forward", _dense_forward, ("rdi", "rsi", "rdx", "rcx", "r8", "r9")),
    Twin("dense_backward", _dense_backward, ("rdi", "rsi", "rdx", "rcx", "r8", "r9")),
    Twin("relu_forward", _relu_forward, ("rdi", "rsi")),
    Twin("relu_backward", _relu_backward, ("rdi", "rsi", "rdx")),
    Twin("softmax_xent", _softmax_xent, ("rdi", "rsi", "rdx", "rcx", "r8", "r9"),
         returns=("xmm0.s",)),
    Twin("sgd_update", _sgd_update, ("rdi", "rsi", "rdx")),
    Twin("load_batch", _load_batch, ("rdi", "rsi", "rdx", "rcx", "r8", "r9")),
    Twin("count_correct", _count_correct, ("rdi", "rsi", "rdx", "rcx"), returns=("rax",)),
    Twin("init_weights", _init_weights),
    Twin("shuffle", _shuffle, ("rdi", "rsi")),
)}
