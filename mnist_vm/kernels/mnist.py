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

import hashlib
import weakref
from pathlib import Path

import numpy as np

from vm.accel import SYSV, Twin, fingerprint
from vm.errors import Fault

from . import nn

F32 = np.float32


class MachineView:
    """numpy views of one machine's memory, bounds-checked once and cached:
    the memory is one mmap that never moves, so a view made for an
    (address, shape) stays valid for as long as the mapping does (the caches
    are dropped whenever brk moves).

    `arrays` caches, per twin and argument values, the whole tuple of views
    a call needs: a program calls each routine from a few call sites with
    the same pointers every batch, so a twin call costs one dictionary
    lookup before its kernel runs."""

    MAX_CACHED = 512

    def __init__(self, machine):
        self.mem = machine.mem
        self.brk = self.mem.brk
        self.cache: dict[tuple, np.ndarray] = {}
        self.calls: dict[tuple, tuple] = {}

    def arrays(self, make, *args) -> tuple:
        """make(self, *args): the views one call of a twin reads and writes,
        made once for these argument values."""
        key = (make, args)
        got = self.calls.get(key)
        if got is not None and self.mem.brk == self.brk:
            return got
        if self.mem.brk != self.brk or len(self.calls) >= self.MAX_CACHED:
            self.calls.clear()
        got = self.calls[key] = make(self, *args)
        return got

    def array(
        self, routine: str, what: str, addr: int, shape: tuple, dtype=F32, write: bool = False
    ) -> np.ndarray:
        key = (addr, shape, dtype, write)
        a = self.cache.get(key)
        if a is not None and self.mem.brk == self.brk:
            return a
        if self.mem.brk != self.brk or len(self.cache) >= self.MAX_CACHED:
            self.cache.clear()
            self.calls.clear()
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


# ---- the twins: views of their arguments (made once per call site), then the kernel ------
def _dense_forward_arrays(v, X, W, bias, Y, rows, n_in, n_out):
    a = v.array
    return (
        a("dense_forward", "X", X, (rows, n_in)),
        a("dense_forward", "W", W, (n_in, n_out)),
        a("dense_forward", "bias", bias, (n_out,)),
        a("dense_forward", "Y", Y, (rows, n_out), write=True),
    )


def _dense_forward(m, X, W, bias, Y, rows, n_in):
    n_out = SYSV.int_arg(m, 6)
    nn.dense_forward(*views(m).arrays(_dense_forward_arrays, X, W, bias, Y, rows, n_in, n_out))


def _dense_backward_arrays(v, X, dY, W, dW, db, dX, rows, n_in, n_out):
    a = v.array
    return (
        a("dense_backward", "X", X, (rows, n_in)),
        a("dense_backward", "dY", dY, (rows, n_out)),
        # W is read, and dX written, only if the dX pointer is not 0
        a("dense_backward", "W", W, (n_in, n_out)) if dX else None,
        a("dense_backward", "dW", dW, (n_in, n_out), write=True),
        a("dense_backward", "db", db, (n_out,), write=True),
        a("dense_backward", "dX", dX, (rows, n_in), write=True) if dX else None,
    )


def _dense_backward(m, X, dY, W, dW, db, dX):
    rows, n_in, n_out = SYSV.int_arg(m, 6), SYSV.int_arg(m, 7), SYSV.int_arg(m, 8)
    v = views(m)
    nn.dense_backward(*v.arrays(_dense_backward_arrays, X, dY, W, dW, db, dX, rows, n_in, n_out))


def _relu_forward_arrays(v, A, n):
    return (v.array("relu_forward", "A", A, (n,), write=True),)


def _relu_forward(m, A, n):
    nn.relu_(*views(m).arrays(_relu_forward_arrays, A, n))


def _relu_backward_arrays(v, dA, A, n):
    a = v.array
    return (a("relu_backward", "dA", dA, (n,), write=True), a("relu_backward", "A", A, (n,)))


def _relu_backward(m, dA, A, n):
    nn.relu_backward_(*views(m).arrays(_relu_backward_arrays, dA, A, n))


def _softmax_xent_arrays(v, logits, labels, probs, dlogits, rows, n):
    a = v.array
    return (
        a("softmax_xent", "logits", logits, (rows, n)),
        a("softmax_xent", "labels", labels, (rows,), np.uint8),
        a("softmax_xent", "probs", probs, (rows, n), write=True),
        a("softmax_xent", "dlogits", dlogits, (rows, n), write=True),
    )


def _softmax_xent(m, logits, labels, probs, dlogits, rows, n):
    v = views(m)
    loss = nn.softmax_xent(*v.arrays(_softmax_xent_arrays, logits, labels, probs, dlogits, rows, n))
    m.xf[0] = float(loss)


def _sgd_update_arrays(v, W, dW, n):
    a = v.array
    return (a("sgd_update", "W", W, (n,), write=True), a("sgd_update", "dW", dW, (n,)))


def _sgd_update(m, W, dW, n):
    w, dw = views(m).arrays(_sgd_update_arrays, W, dW, n)
    nn.sgd_update_(w, dw, F32(m.xf[0]))


def _load_batch_arrays(v, images, labels, X, labels_out, rows, count):
    # as many images as the next power of two above the largest index (when
    # mapped), so that one view serves every batch
    cap = 1 << max(0, count - 1).bit_length()
    if not v.mem.mapped(images, cap * 784) or not v.mem.mapped(labels, cap):
        cap = count
    a = v.array
    return (
        a("load_batch", "images", images, (cap, 784), np.uint8),
        a("load_batch", "labels", labels, (cap,), np.uint8),
        a("load_batch", "X", X, (rows, 784), write=True),
        a("load_batch", "labels_out", labels_out, (rows,), np.uint8, write=True),
    )


def _load_batch(m, images, labels, perm, start, rows, X):
    labels_out = SYSV.int_arg(m, 6)
    if not rows:
        return
    v = views(m)
    if perm:
        # perm viewed from its start as far as the next power of two (when
        # mapped): one view serves every batch
        end = start + rows
        cap = 1 << (end - 1).bit_length()
        if v.mem.mapped(perm, 4 * cap):
            idx = v.array("load_batch", "perm", perm, (cap,), np.uint32)[start:end]
        else:
            idx = v.array("load_batch", "perm", perm + 4 * start, (rows,), np.uint32)
        count = nn.max_index(idx) + 1
    else:
        idx = None
        count = start + rows
    img, lab, x, lab_out = v.arrays(_load_batch_arrays, images, labels, X, labels_out, rows, count)
    nn.load_batch(img, lab, idx, start, x, lab_out)


def _count_correct_arrays(v, logits, labels, rows, n):
    a = v.array
    return (
        a("count_correct", "logits", logits, (rows, n)),
        a("count_correct", "labels", labels, (rows,), np.uint8),
    )


def _count_correct(m, logits, labels, rows, n):
    m.r[0] = nn.count_correct(*views(m).arrays(_count_correct_arrays, logits, labels, rows, n))


# ---- the PRNG: xorshift64 state in memory at `rng_state` -------------------
def _rng_addr(m) -> int:
    return m.image.symbols["rng_state"].value


def _init_weights(m):
    sym = m.image.symbols
    rng = _rng_addr(m)
    state = np.uint64(int.from_bytes(m.mem.read(rng, 8), "little"))
    sizes = [
        int.from_bytes(m.mem.read(sym["layer_sizes"].value + 8 * i, 8), "little") for i in range(4)
    ]  # 784, H1, H2, 10 as assembled
    a = views(m).array
    for name, fi, fo in zip(("W1", "W2", "W3"), sizes[:-1], sizes[1:]):
        w = a("init_weights", name, sym[name].value, (fi * fo,), write=True)
        state = np.uint64(nn.init_matrix(state, w, fi))
    for name, n in zip(("b1", "b2", "b3"), sizes[1:]):
        a("init_weights", name, sym[name].value, (n,), write=True)[...] = 0.0
    m.mem.write(rng, int(state).to_bytes(8, "little"))


def _shuffle(m, perm, n):
    if n <= 1:
        return
    rng = _rng_addr(m)
    state = np.uint64(int.from_bytes(m.mem.read(rng, 8), "little"))
    arr = views(m).array("shuffle", "perm", perm, (n,), np.uint32, write=True)
    state = nn.shuffle(state, arr)
    m.mem.write(rng, int(state).to_bytes(8, "little"))


# ---- the known routines ------------------------------------------------------------
_known_images: dict[tuple, object] = {}


# sha256 of programs/mnist's sources (`shipped_sources_digest`) as the twins were
# written and verified for them. A learner who edits those files in place (not a
# copy) changes them on disk, so what is on disk is no reference any more: then no
# routine is known and each runs as written. tests/test_twin_guard.py checks the
# pin; change it only together with the twins, after their tests pass.
SHIPPED_SOURCES_SHA256 = "1e9630129687c47460b4903603270008026752f098130a31b3efc7c7e2be6319"


def shipped_sources_digest() -> str:
    """sha256 over programs/mnist's *.asm and *.inc files, by name and bytes."""
    from ..training import program_dir

    d = program_dir()
    h = hashlib.sha256()
    for p in sorted([*d.glob("*.asm"), *d.glob("*.inc")]):
        h.update(p.name.encode() + b"\0" + p.read_bytes() + b"\0")
    return h.hexdigest()


def _known_image(image):
    """programs/mnist as shipped, assembled with image's -D defines
    (hyper-parameters are not edits), or None if it does not assemble so or
    its files on disk are no longer the shipped ones."""
    from vm import AsmError, assemble

    from ..training import program_files

    if shipped_sources_digest() != SHIPPED_SOURCES_SHA256:
        return None
    if _is_shipped_program(image, program_files()):
        return image  # assembling the same files with the same defines again gives the same
    defines = dict(image.defines)
    key = tuple(sorted(defines.items()))
    if key not in _known_images:
        try:
            known = assemble(program_files(), defines=defines)
        except AsmError:
            known = None
        if len(_known_images) > 16:
            _known_images.clear()
        _known_images[key] = known
    return _known_images[key]


def _is_shipped_program(image, files: list[str]) -> bool:
    """Was image assembled from exactly files, and every source it read
    (includes too) as it is on disk now? Then it is the program as shipped:
    saves the second assembly of every `run --fast`."""
    if list(image.files) != files or not image.sources:
        return False
    for name, lines in image.sources.items():
        try:
            data = Path(name).read_bytes()
        except OSError:
            return False
        if not data.isascii():
            return False
        raw = data.decode("ascii").split("\n")
        if raw and raw[-1] == "":
            raw.pop()
        if [ln.rstrip("\r") for ln in raw] != lines:  # as the preprocessor splits lines
            return False
    return True


def _known(name: str, reads: tuple[str, ...] = ()):
    """Twin.known for routine name of programs/mnist."""

    def known(image) -> str | None:
        known_image = _known_image(image)
        return None if known_image is None else fingerprint(known_image, name, reads)

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
