"""Independent numpy float32 model of programs/mnist (the assembly network).

Same network (784-128-64-10, ReLU, softmax cross-entropy, mini-batch SGD with
gradients averaged over the batch), same xorshift64 weight init, same
Fisher-Yates shuffle, same batch order and the same output lines as the
assembly program. Two ways of computing a batch:

* ``exact=False`` (default): ordinary numpy (``@`` matrix products through
  BLAS). Sums are reduced in a different order than the assembly routines, so
  results agree to a few float32 ulp, not bit for bit.
* ``exact=True``: every float32 operation in the order the routine contracts
  in programs/mnist/README.md fix (bias first, nonzero inputs in ascending k,
  four-lane partial sums for dX, libm exp/log in double, sequential sums...).
  This reproduces the assembly program bit for bit and is the executable form
  of the contract that fast-mode twins must meet. Slower (a Python loop over
  the inputs of each layer), fine for a few hundred batches.

Command line (full reference run, same output format as the program)::

    python tests/reference_model.py --epochs 10    # [--data DIR], else as mnist-vm finds it
"""

from __future__ import annotations

import argparse
import gzip
import math
import sys
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

import numpy as np

F32 = np.float32
MASK64 = (1 << 64) - 1
FILES = {
    "train_images": "train-images-idx3-ubyte",
    "train_labels": "train-labels-idx1-ubyte",
    "test_images": "t10k-images-idx3-ubyte",
    "test_labels": "t10k-labels-idx1-ubyte",
}


@dataclass
class Config:
    epochs: int = 10
    batch: int = 64
    lr: float = 0.01
    train_limit: int = 60000
    test_limit: int = 10000
    seed: int = 88172645463325252
    shuffle: int = 1
    print_every: int = 100
    h1: int = 128
    h2: int = 64


# ---------------------------------------------------------------------------
# data
# ---------------------------------------------------------------------------


def _read(path_dir: Path, name: str) -> bytes:
    raw = path_dir / name
    if raw.exists():
        return raw.read_bytes()
    return gzip.decompress((path_dir / (name + ".gz")).read_bytes())


def load_mnist(data_dir) -> dict[str, np.ndarray]:
    """The four IDX files (raw or .gz) as uint8 arrays: images (N, 784), labels (N,)."""
    d = Path(data_dir)
    out = {}
    for key, name in FILES.items():
        b = _read(d, name)
        if "images" in key:
            n = int.from_bytes(b[4:8], "big")
            out[key] = np.frombuffer(b, np.uint8, n * 784, 16).reshape(n, 784)
        else:
            n = int.from_bytes(b[4:8], "big")
            out[key] = np.frombuffer(b, np.uint8, n, 8)
    return out


# ---------------------------------------------------------------------------
# random numbers
# ---------------------------------------------------------------------------


class XorShift64:
    def __init__(self, seed: int):
        self.x = seed & MASK64

    def next(self) -> int:
        x = self.x
        x ^= (x << 13) & MASK64
        x ^= x >> 7
        x ^= (x << 17) & MASK64
        self.x = x
        return x


def he_uniform(rng: XorShift64, fan_in: int, fan_out: int) -> np.ndarray:
    limit = np.sqrt(F32(6.0) / F32(fan_in))  # float32 divide, float32 sqrt
    top = np.array([rng.next() >> 40 for _ in range(fan_in * fan_out)], dtype=np.float32)
    u = top * F32(2.0**-24)
    t = u + u
    t = t - F32(1.0)
    return (t * limit).astype(F32).reshape(fan_in, fan_out)


def init_params(rng: XorShift64, cfg: Config) -> dict[str, np.ndarray]:
    p = {}
    p["W1"] = he_uniform(rng, 784, cfg.h1)
    p["W2"] = he_uniform(rng, cfg.h1, cfg.h2)
    p["W3"] = he_uniform(rng, cfg.h2, 10)
    p["b1"] = np.zeros(cfg.h1, F32)
    p["b2"] = np.zeros(cfg.h2, F32)
    p["b3"] = np.zeros(10, F32)
    return p


def shuffle(rng: XorShift64, perm: list[int]) -> None:
    for i in range(len(perm) - 1, 0, -1):
        j = rng.next() % (i + 1)
        perm[i], perm[j] = perm[j], perm[i]


# ---------------------------------------------------------------------------
# layers: plain numpy
# ---------------------------------------------------------------------------


def relu(a):
    return np.where(a > 0, a, F32(0)).astype(F32)


def relu_grad(da, a):
    return np.where(a > 0, da, F32(0)).astype(F32)


def softmax_xent_fast(z, labels):
    rows = z.shape[0]
    m = z.max(axis=1, keepdims=True)
    e = np.exp((z - m).astype(np.float64)).astype(F32)
    p = (e / e.sum(axis=1, keepdims=True, dtype=F32)).astype(F32)
    pl = p[np.arange(rows), labels].astype(np.float64)
    with np.errstate(divide="ignore"):
        loss = (-np.log(pl)).astype(F32)
    y = np.zeros_like(p)
    y[np.arange(rows), labels] = 1
    return F32(loss.sum(dtype=F32) / F32(rows)), p, ((p - y) / F32(rows)).astype(F32)


# ---------------------------------------------------------------------------
# layers: the routine contracts, operation by operation (bit-exact)
# ---------------------------------------------------------------------------


def dense_forward_exact(X, W, b):
    rows, n_in = X.shape
    Y = np.tile(b, (rows, 1)).astype(F32)
    for k in range(n_in):
        x = X[:, k]
        nz = x != 0  # +-0.0 skipped, NaN not skipped
        if nz.any():
            Y[nz] = Y[nz] + x[nz, None] * W[k][None, :]
    return Y


def dense_backward_exact(X, dY, W, want_dx=True):
    rows, n_in = X.shape
    n_out = dY.shape[1]
    dW = np.zeros((n_in, n_out), F32)
    for b in range(rows):
        x = X[b]
        nz = x != 0
        dW[nz] = dW[nz] + x[nz, None] * dY[b][None, :]
    db = np.zeros(n_out, F32)
    for b in range(rows):
        db = db + dY[b]
    if not want_dx:
        return dW, db, None
    prod = dY[:, None, :] * W[None, :, :]  # rows x n_in x n_out, each fl(dY*W)
    packed = n_out - n_out % 4
    a = np.zeros((rows, n_in, 4), F32)
    for j in range(0, packed, 4):
        a = a + prod[:, :, j : j + 4]
    s = (a[..., 0] + a[..., 1]) + (a[..., 2] + a[..., 3])
    for j in range(packed, n_out):
        s = s + prod[:, :, j]
    return dW, db, s.astype(F32)


def _log(v: float) -> float:
    return -math.inf if v == 0.0 else math.log(v)


def softmax_xent_exact(z, labels):
    rows, n = z.shape
    m = z[:, 0].copy()
    for j in range(1, n):
        m = np.where(m > z[:, j], m, z[:, j])  # maxss(dest=m, src=z_j)
    d = (z - m[:, None]).astype(F32)
    # math.exp / math.log are the C library's exp / log: what the program calls
    e = np.array([math.exp(v) for v in d.astype(np.float64).ravel()]).astype(F32).reshape(rows, n)
    s = e[:, 0].copy()
    for j in range(1, n):
        s = s + e[:, j]
    p = (e / s[:, None]).astype(F32)
    L = F32(0)
    for b in range(rows):
        loss_b = -F32(_log(float(p[b, labels[b]])))
        L = F32(L + loss_b)
    y = np.zeros_like(p)
    y[np.arange(rows), labels] = 1
    return F32(L / F32(rows)), p, ((p - y) / F32(rows)).astype(F32)


# ---------------------------------------------------------------------------
# the training program
# ---------------------------------------------------------------------------


def fmt_fixed(v, decimals: int = 6) -> str:
    """Like out_fixed: exact value of the float32, rounded half up."""
    sign = "-" if np.signbit(F32(v)) else ""  # the sign bit, also of -0.0 and NaN
    v = float(F32(v))
    if math.isnan(v):
        return sign + "nan"
    if math.isinf(v):
        return sign + "inf"
    if abs(v) >= 2.0**40:
        return sign + "huge"
    q = Decimal(abs(v)).quantize(Decimal(1).scaleb(-decimals), rounding=ROUND_HALF_UP)
    return sign + f"{q:.{decimals}f}"


def fmt_percent(num: int, den: int) -> str:
    h = (num * 20000 + den) // (2 * den)
    return f"{h // 100}.{h % 100:02d}"


class Model:
    def __init__(self, cfg: Config, data: dict[str, np.ndarray], exact: bool = False):
        self.cfg, self.data, self.exact = cfg, data, exact
        self.rng = XorShift64(cfg.seed)
        self.p = init_params(self.rng, cfg)
        self.perm = list(range(cfg.train_limit))

    def _dense(self, X, W, b):
        if self.exact:
            return dense_forward_exact(X, W, b)
        return (X @ W + b).astype(F32)

    def forward(self, X):
        p = self.p
        A1 = relu(self._dense(X, p["W1"], p["b1"]))
        A2 = relu(self._dense(A1, p["W2"], p["b2"]))
        Z3 = self._dense(A2, p["W3"], p["b3"])
        return A1, A2, Z3

    def train_batch(self, idx) -> np.float32:
        cfg, p = self.cfg, self.p
        X = self.data["train_images"][idx].astype(F32) / F32(255.0)
        labels = self.data["train_labels"][idx]
        A1, A2, Z3 = self.forward(X)
        if self.exact:
            loss, _, dZ3 = softmax_xent_exact(Z3, labels)
            dW3, db3, dA2 = dense_backward_exact(A2, dZ3, p["W3"])
            dA2 = relu_grad(dA2, A2)
            dW2, db2, dA1 = dense_backward_exact(A1, dA2, p["W2"])
            dA1 = relu_grad(dA1, A1)
            dW1, db1, _ = dense_backward_exact(X, dA1, p["W1"], want_dx=False)
        else:
            loss, _, dZ3 = softmax_xent_fast(Z3, labels)
            dW3, db3, dA2 = A2.T @ dZ3, dZ3.sum(0, dtype=F32), relu_grad(dZ3 @ p["W3"].T, A2)
            dW2, db2, dA1 = A1.T @ dA2, dA2.sum(0, dtype=F32), relu_grad(dA2 @ p["W2"].T, A1)
            dW1, db1 = X.T @ dA1, dA1.sum(0, dtype=F32)
        lr = F32(cfg.lr)
        for name, g in (
            ("W1", dW1),
            ("b1", db1),
            ("W2", dW2),
            ("b2", db2),
            ("W3", dW3),
            ("b3", db3),
        ):
            p[name] = (p[name] - lr * g.astype(F32)).astype(F32)
        return loss

    def evaluate(self) -> int:
        cfg = self.cfg
        correct = 0
        for start in range(0, cfg.test_limit, cfg.batch):
            rows = min(cfg.batch, cfg.test_limit - start)
            X = self.data["test_images"][start : start + rows].astype(F32) / F32(255.0)
            _, _, Z3 = self.forward(X)
            # np.argmax returns the first maximum, like count_correct
            correct += int((Z3.argmax(1) == self.data["test_labels"][start : start + rows]).sum())
        return correct

    def run(self, max_batches: int | None = None):
        """Train like the program; yields its output lines. max_batches stops early."""
        cfg = self.cfg
        nb = cfg.train_limit // cfg.batch
        yield (
            f"mnist-asm: 784-{cfg.h1}-{cfg.h2}-10 epochs={cfg.epochs} batch={cfg.batch} "
            f"lr={fmt_fixed(F32(cfg.lr))} train={cfg.train_limit} test={cfg.test_limit} "
            f"seed={cfg.seed} shuffle={cfg.shuffle}"
        )
        done = 0
        correct = 0
        for epoch in range(1, cfg.epochs + 1):
            if cfg.shuffle:
                shuffle(self.rng, self.perm)
            total = F32(0)
            for i in range(nb):
                idx = np.array(self.perm[i * cfg.batch : (i + 1) * cfg.batch])
                loss = self.train_batch(idx)
                total = F32(total + loss)
                if (i + 1) % cfg.print_every == 0:
                    yield f"epoch {epoch} batch {i + 1}/{nb} loss {fmt_fixed(loss)}"
                done += 1
                if max_batches is not None and done >= max_batches:
                    return
            correct = self.evaluate()
            yield (
                f"epoch {epoch} loss {fmt_fixed(F32(total / F32(nb)))} "
                f"test_acc {fmt_percent(correct, cfg.test_limit)}%"
            )
        yield (
            f"final test_acc {fmt_percent(correct, cfg.test_limit)}% ({correct}/{cfg.test_limit})"
        )


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument(
        "--data", help="MNIST directory (default: where mnist-vm and the tests find it)"
    )
    ap.add_argument("--exact", action="store_true", help="bit-exact routine order (slow)")
    for f, v in Config().__dict__.items():
        ap.add_argument("--" + f.replace("_", "-"), type=type(v), default=v)
    a = ap.parse_args(argv)
    cfg = Config(**{f: getattr(a, f) for f in Config().__dict__})
    if a.data is None:
        from conftest_data import MISSING, mnist_source_dir

        a.data = mnist_source_dir()
        if a.data is None:
            sys.exit(MISSING)
    model = Model(cfg, load_mnist(a.data), exact=a.exact)
    for line in model.run():
        print(line, flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
