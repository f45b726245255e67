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

import functools
import weakref

import numpy as np

from vm.accel import SYSV, Twin, fingerprint
from vm.errors import Fault

from . import nn, parallel

F32 = np.float32
M64 = (1 << 64) - 1


class MachineView:
    """numpy views of one machine's memory, bounds-checked once and cached:
    the memory is one mmap that never moves, so a view made for an
    (address, shape) stays valid for as long as the mapping does (the cache
    is dropped whenever brk moves)."""

    MAX_CACHED = 512

    def __init__(self, machine):
        self.mem = machine.mem
        self.brk = self.mem.brk
        self.cache: dict[tuple, np.ndarray] = {}

    def array(
        self, routine: str, what: str, addr: int, shape: tuple, dtype=F32, write: bool = False
    ) -> np.ndarray:
        key = (addr, shape, dtype, write)
        a = self.cache.get(key)
        if a is not None and self.mem.brk == self.brk:
            return a
        if self.mem.brk != self.brk or len(self.cache) >= self.MAX_CACHED:
            self.cache.clear()
            self.brk = self.mem.brk
        count = 1
        for s in shape:
            count *= s
        nbytes = count * np.dtype(dtype).itemsize
        if nbytes and not self.mem.mapped(addr, nbytes, write):
            raise Fault(
                "segfault",
                f"{routine} (fast twin): {what} at {addr:#x} "
                f"({nbytes} bytes) is not {'writable' if write else 'mapped'}",
            )
        a = np.frombuffer(self.mem.buf, dtype=dtype, count=count, offset=addr).reshape(shape)
        self.cache[key] = a
        return a


_views: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def views(machine) -> MachineView:
    v = _views.get(machine)
    if v is None:
        v = _views[machine] = MachineView(machine)
    return v


def _twin(fn):
    """Run fn with numpy's floating-point warnings off: the assembly computes
    inf, NaN and 0/0 silently, so must its twin."""

    @functools.wraps(fn)
    def run(m, *args):
        with np.errstate(all="ignore"):
            return fn(m, *args)

    return run


@_twin
def _dense_forward(m, X, W, bias, Y, rows, n_in):
    n_out = SYSV.int_arg(m, 6)
    a = views(m).array
    x = a("dense_forward", "X", X, (rows, n_in))
    w = a("dense_forward", "W", W, (n_in, n_out))
    b = a("dense_forward", "bias", bias, (n_out,))
    y = a("dense_forward", "Y", Y, (rows, n_out), write=True)
    wk = _helper(
        m,
        rows * n_in * n_out,
        ((Y, 4 * rows * n_out),),
        ((X, 4 * rows * n_in), (W, 4 * n_in * n_out), (bias, 4 * n_out)),
    )
    if wk is None:
        nn.dense_forward(x, w, b, y)
        return
    h = rows // 2  # rows of Y are independent
    P = parallel
    _both(
        wk,
        (
            "dense_forward",
            P.rows(X, (rows, n_in), h, rows),
            P.region(W, (n_in, n_out)),
            P.region(bias, (n_out,)),
            P.rows(Y, (rows, n_out), h, rows),
        ),
        nn.dense_forward,
        x[:h],
        w,
        b,
        y[:h],
    )


@_twin
def _dense_backward(m, X, dY, W, dW, db, dX):
    rows, n_in, n_out = (SYSV.int_arg(m, 6), SYSV.int_arg(m, 7), SYSV.int_arg(m, 8))
    a = views(m).array
    x = a("dense_backward", "X", X, (rows, n_in))
    dy = a("dense_backward", "dY", dY, (rows, n_out))
    dw = a("dense_backward", "dW", dW, (n_in, n_out), write=True)
    dbv = a("dense_backward", "db", db, (n_out,), write=True)
    w = dx = None
    if dX:
        w = a("dense_backward", "W", W, (n_in, n_out))
        dx = a("dense_backward", "dX", dX, (rows, n_in), write=True)
    outs = ((dW, 4 * n_in * n_out), (db, 4 * n_out))
    ins = ((X, 4 * rows * n_in), (dY, 4 * rows * n_out))
    if dx is not None:
        outs += ((dX, 4 * rows * n_in),)
        ins += ((W, 4 * n_in * n_out),)
    wk = _helper(
        m,
        rows * n_in * n_out * (1 if dx is None else 2),
        outs,
        ins,
        SPLIT_MIN if dx is None else TASK_MIN,
    )
    if wk is None:
        # the assembly's order: dW, then db, then (only if dX != 0, reading W) dX
        nn.dense_backward_weights(x, dy, dw)
        nn.sequential_sum_rows(dy, dbv)
        if dx is not None:
            nn.dense_backward_input(dy, w, dx)
        return
    # no output overlaps an input, so the parts below are independent
    P = parallel
    if dx is not None:
        # dW whole in the helper; db and dX here: two whole kernels rather than
        # halves of each, so no kernel's fixed cost is paid twice
        job = (
            "dense_backward_weights",
            P.region(X, (rows, n_in)),
            P.region(dY, (rows, n_out)),
            P.region(dW, (n_in, n_out)),
        )
        _both(wk, job, _db_and_dx, dy, dbv, w, dx)
        return
    # dW alone (the first layer): rows k of dW split by the inputs' nonzeros
    k = _balanced_split(m, X, x)
    job = (
        "dense_backward_weights",
        P.cols(X, (rows, n_in), k, n_in),
        P.region(dY, (rows, n_out)),
        P.rows(dW, (n_in, n_out), k, n_in),
    )
    _both(wk, job, _dw_and_db, x[:, :k], dy, dw[:k], dbv)


def _dw_and_db(x, dy, dw, db) -> None:
    nn.dense_backward_weights(x, dy, dw)
    nn.sequential_sum_rows(dy, db)


def _db_and_dx(dy, db, w, dx) -> None:
    nn.sequential_sum_rows(dy, db)
    nn.dense_backward_input(dy, w, dx)


# ---- two processes (parallel.py) --------------------------------------------------
TASK_MIN = 1 << 16  # products from which dW is handed over whole (dX given)
SPLIT_MIN = 1 << 18  # products below which a hand-off costs more than it saves
ELEMENTWISE_MIN = 1 << 15  # the same for elements of an elementwise routine


_disjoint: dict[tuple, bool] = {}  # the same calls recur every batch


def _helper(m, work: int, outs, ins, minimum: int = SPLIT_MIN):
    """The machine's helper process, if this call is worth splitting (work
    at least minimum) and its outputs, (address, bytes) pairs, overlap no
    other array (then each half reads only inputs)."""
    if work < minimum:
        return None
    wk = parallel.worker(m)
    if wk is None:
        return None
    key = (outs, ins)
    ok = _disjoint.get(key)
    if ok is None:
        ok = True
        others = outs + ins
        for i, (lo, n) in enumerate(outs):
            for j, (lo2, n2) in enumerate(others):
                if i != j and lo < lo2 + n2 and lo2 < lo + n:
                    ok = False
        if len(_disjoint) > 256:
            _disjoint.clear()
        _disjoint[key] = ok
    return wk if ok else None


def _both(wk, job, fn, *args) -> None:
    """job (a parallel command) in the helper while fn(*args) runs here; the
    job here too if the helper fails."""
    sent = wk.submit(*job)
    try:
        fn(*args)
    finally:
        ok = sent and wk.wait()
    if not ok:
        parallel.run_here(wk.buf, *job)


_splits: dict = {}  # (machine id, X address, shape) -> [split column, calls]
RESPLIT = 64  # calls between recomputing a split


def _balanced_split(m, addr: int, x: np.ndarray) -> int:
    """A column k splitting x's nonzero entries about in half (dW rows < k
    here, the rest in the helper): the sparse kernels' work follows them. The
    split only balances the work (any k gives the same bytes), so it is
    recomputed every RESPLIT calls, not each time."""
    key = (id(m), addr, x.shape)
    entry = _splits.get(key)
    if entry is not None and entry[1] < RESPLIT:
        entry[1] += 1
        return entry[0]
    n = x.shape[1]
    counts = np.count_nonzero(x, axis=0).cumsum()
    if not n or counts[-1] == 0:
        k = n // 2
    else:
        k = int(min(max(np.searchsorted(counts, counts[-1] // 2), 1), n - 1))
    if len(_splits) > 64:
        _splits.clear()
    _splits[key] = [k, 1]
    return k


@_twin
def _relu_forward(m, A, n):
    nn.relu_(views(m).array("relu_forward", "A", A, (n,), write=True))


@_twin
def _relu_backward(m, dA, A, n):
    a = views(m).array
    nn.relu_backward_(
        a("relu_backward", "dA", dA, (n,), write=True), a("relu_backward", "A", A, (n,))
    )


@_twin
def _softmax_xent(m, logits, labels, probs, dlogits, rows, n):
    a = views(m).array
    z = a("softmax_xent", "logits", logits, (rows, n))
    lab = a("softmax_xent", "labels", labels, (rows,), np.uint8)
    p = a("softmax_xent", "probs", probs, (rows, n), write=True)
    dz = a("softmax_xent", "dlogits", dlogits, (rows, n), write=True)
    loss = nn.softmax_xent(z, lab, p, dz)
    m.xf[0] = float(loss)


@_twin
def _sgd_update(m, W, dW, n):
    a = views(m).array
    lr = F32(m.xf[0])
    w = a("sgd_update", "W", W, (n,), write=True)
    dw = a("sgd_update", "dW", dW, (n,))
    wk = _helper(m, n, ((W, 4 * n),), ((dW, 4 * n),), ELEMENTWISE_MIN)
    if wk is None:
        nn.sgd_update_(w, dw, lr)
        return
    # elementwise: each half on its own. Splitting also halves the cost of
    # writing weights the helper has read (the other core's cached copies
    # must be invalidated line by line)
    h = n // 2 // 16 * 16
    R = parallel.region
    _both(
        wk,
        ("sgd_update", R(W + 4 * h, (n - h,)), R(dW + 4 * h, (n - h,)), float(lr)),
        nn.sgd_update_,
        w[:h],
        dw[:h],
        lr,
    )


@_twin
def _load_batch(m, images, labels, perm, start, rows, X):
    labels_out = SYSV.int_arg(m, 6)
    a = views(m).array
    if perm:
        idx = a("load_batch", "perm", perm + 4 * start, (rows,), np.uint32)
    else:
        idx = np.arange(start, start + rows, dtype=np.int64)
    count = int(idx.max()) + 1 if rows else 0
    # view as many images as the next power of two (when mapped), so that one
    # cached view serves every batch instead of one per largest index
    cap = 1 << max(0, count - 1).bit_length()
    if not m.mem.mapped(images, cap * 784) or not m.mem.mapped(labels, cap):
        cap = count
    img = a("load_batch", "images", images, (cap, 784), np.uint8)
    lab = a("load_batch", "labels", labels, (cap,), np.uint8)
    x = a("load_batch", "X", X, (rows, 784), write=True)
    lab_out = a("load_batch", "labels_out", labels_out, (rows,), np.uint8, write=True)
    nn.to_float_pixels(np.take(img, idx, axis=0), x)
    lab_out[...] = lab[idx]


@_twin
def _count_correct(m, logits, labels, rows, n):
    a = views(m).array
    z = a("count_correct", "logits", logits, (rows, n))
    lab = a("count_correct", "labels", labels, (rows,), np.uint8)
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
    u = (np.array(xs, dtype=np.uint64) >> np.uint64(40)).astype(F32) * F32(2.0**-24)
    t = (u + u) - F32(1.0)
    limit = np.sqrt(F32(6.0) / F32(fan_in))
    views(m).array("init_weights", "weights", addr, (fan_in * fan_out,), write=True)[...] = (
        t * limit
    )
    return state


def _init_weights(m):
    sym = m.image.symbols
    rng = _rng_addr(m)
    state = int.from_bytes(m.mem.read(rng, 8), "little")
    sizes = [
        int.from_bytes(m.mem.read(sym["layer_sizes"].value + 8 * i, 8), "little") for i in range(4)
    ]  # 784, H1, H2, 10 as assembled
    dims = list(zip(sizes[:-1], sizes[1:]))
    for name, (fi, fo) in zip(("W1", "W2", "W3"), dims):
        state = _init_matrix(m, state, sym[name].value, fi, fo)
    for name, n in zip(("b1", "b2", "b3"), sizes[1:]):
        views(m).array("init_weights", name, sym[name].value, (n,), write=True)[...] = 0.0
    m.mem.write(rng, state.to_bytes(8, "little"))


def _shuffle(m, perm, n):
    if n <= 1:
        return
    rng = _rng_addr(m)
    state = int.from_bytes(m.mem.read(rng, 8), "little")
    arr = views(m).array("shuffle", "perm", perm, (n,), np.uint32, write=True)
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


# ---- the known routines ------------------------------------------------------------
_known_images: dict[tuple, object] = {}


def _known_image(defines: dict[str, str]):
    """programs/mnist as shipped, assembled with the program's -D defines
    (hyper-parameters are not edits), or None if it does not assemble so."""
    from vm import AsmError, assemble

    from ..training import program_files

    key = tuple(sorted(defines.items()))
    if key not in _known_images:
        try:
            image = assemble(program_files(), defines=defines)
        except AsmError:
            image = None
        if len(_known_images) > 16:
            _known_images.clear()
        _known_images[key] = image
    return _known_images[key]


def _known(name: str, reads: tuple[str, ...] = ()):
    """Twin.known for routine name of programs/mnist."""

    def known(defines: dict[str, str]) -> str | None:
        image = _known_image(defines)
        return None if image is None else fingerprint(image, name, reads)

    return known


def _twin_of(name: str, fn, args=(), returns=(), reads: tuple[str, ...] = ()) -> Twin:
    return Twin(name, fn, args, returns, known=_known(name, reads), reads=reads)


TWINS: dict[str, Twin] = {
    t.name: t
    for t in (
        _twin_of("dense_forward", _dense_forward, ("rdi", "rsi", "rdx", "rcx", "r8", "r9")),
        _twin_of("dense_backward", _dense_backward, ("rdi", "rsi", "rdx", "rcx", "r8", "r9")),
        _twin_of("relu_forward", _relu_forward, ("rdi", "rsi")),
        _twin_of("relu_backward", _relu_backward, ("rdi", "rsi", "rdx")),
        _twin_of(
            "softmax_xent",
            _softmax_xent,
            ("rdi", "rsi", "rdx", "rcx", "r8", "r9"),
            returns=("xmm0.s",),
        ),
        _twin_of("sgd_update", _sgd_update, ("rdi", "rsi", "rdx")),
        _twin_of("load_batch", _load_batch, ("rdi", "rsi", "rdx", "rcx", "r8", "r9")),
        _twin_of("count_correct", _count_correct, ("rdi", "rsi", "rdx", "rcx"), returns=("rax",)),
        # the twin reads the layer widths from layer_sizes
        _twin_of("init_weights", _init_weights, reads=("layer_sizes",)),
        _twin_of("shuffle", _shuffle, ("rdi", "rsi")),
    )
}
