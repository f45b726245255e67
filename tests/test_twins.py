"""Fast-mode twins against the interpreted routines they replace, byte for byte.

Each case assembles a small driver that calls one routine of programs/mnist
with arguments from a parameter block, runs it once interpreted and once
with the twin attached, from identical memory, and compares: every mapped
byte of .data/.bss/heap, the live stack (at and above the final rsp; the dead
area below it holds the routine's own pushes, which a twin never makes), the
call-preserved registers and the routine's return register.
"""

from __future__ import annotations

import io
import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mnist_vm.kernels import twins
from vm import Machine, assemble
from vm.accel import attach

ROOT = Path(__file__).resolve().parents[1]
PROGRAM = sorted(p for p in (ROOT / "programs" / "mnist").glob("*.asm") if p.name != "main.asm")
F32 = np.float32
SCRATCH = 4 << 20  # room for the full-size layers of programs/mnist

DRIVER = """
global _start
extern {routine}
section .bss
alignb 16
params: resq 16           ; rdi rsi rdx rcx r8 r9 stack0 stack1 stack2, xmm0 bits at [params+96]
result: resq 2
alignb 16
scratch: resb {scratch}
section .text
_start:
    sub rsp, 32
    mov rax, [rel params + 48]
    mov [rsp], rax
    mov rax, [rel params + 56]
    mov [rsp + 8], rax
    mov rax, [rel params + 64]
    mov [rsp + 16], rax
    movd xmm0, [rel params + 96]
    mov rdi, [rel params]
    mov rsi, [rel params + 8]
    mov rdx, [rel params + 16]
    mov rcx, [rel params + 24]
    mov r8, [rel params + 32]
    mov r9, [rel params + 40]
    mov rbx, 0x1111111111111111
    mov rbp, 0x2222222222222222
    mov r12, 0x1212121212121212
    mov r13, 0x1313131313131313
    mov r14, 0x1414141414141414
    mov r15, 0x1515151515151515
    call {routine}
    mov [rel result], rax
    movd [rel result + 8], xmm0
    mov eax, 60
    xor edi, edi
    syscall
"""

_images: dict[str, object] = {}


def _image(routine: str):
    if routine not in _images:
        driver = DRIVER.format(routine=routine, scratch=SCRATCH)
        _images[routine] = assemble(
            [("driver.asm", driver), *map(str, PROGRAM)], defines={"BATCH": "16"}
        )
    return _images[routine]


def _machine(routine: str) -> Machine:
    return Machine(_image(routine), stdout=io.BytesIO(), stderr=io.BytesIO())


class Layout:
    """Places arrays in the driver's scratch buffer, 16-byte aligned."""

    def __init__(self, base: int):
        self.base = base
        self.off = 0
        self.items: list[tuple[int, bytes]] = []

    def put(self, data: np.ndarray | bytes) -> int:
        raw = data.tobytes() if isinstance(data, np.ndarray) else data
        addr = self.base + self.off
        self.items.append((addr, raw))
        self.off = (self.off + len(raw) + 15) & ~15
        assert self.off <= SCRATCH
        return addr

    def reserve(self, nbytes: int, fill: int = 0x5A) -> int:
        return self.put(bytes([fill]) * nbytes)


def _run(
    routine: str,
    lay: Layout,
    params: list[int],
    xmm0_bits: int,
    fast: bool,
):
    m = _machine(routine)
    sym = m.image.symbols
    for addr, raw in lay.items:
        m.mem.write(addr, raw)
    block = b"".join(int(p).to_bytes(8, "little") for p in params + [0] * (12 - len(params)))
    m.mem.write(sym["params"].value, block + xmm0_bits.to_bytes(4, "little"))
    if fast:
        attached = attach(m, {routine: twins()[routine]}).attached
        assert attached == [routine]
    # stop right after the call returns: at the instruction that stores rax
    status = m.run(max_steps=50_000_000)
    assert status == 0
    return m


def _compare(a: Machine, b: Machine, returns: str | None) -> None:
    for i in (3, 4, 5, 12, 13, 14, 15):  # rbx rsp rbp r12-r15
        assert a.r[i] == b.r[i], f"register {i} differs"
    lo, hi = a.mem.data, a.mem.brk
    x = np.frombuffer(a.mem.buf, np.uint8, hi - lo, lo).copy()
    y = np.frombuffer(b.mem.buf, np.uint8, hi - lo, lo).copy()
    # the driver stores rax and xmm0 in `result` after the call: those are compared
    # only when the routine returns them (caller-saved registers are poisoned by twins)
    res = a.image.symbols["result"].value - lo
    x[res : res + 16] = y[res : res + 16] = 0
    if not np.array_equal(x, y):
        _first_diff(a, x, y, lo)
    sp = a.r[4]
    assert a.mem.buf[sp : a.mem.top] == b.mem.buf[sp : b.mem.top], "live stack differs"


def _first_diff(a, x, y, lo):
    i = int(np.nonzero(x != y)[0][0])
    sym = a.image.symbol_at(i + lo)
    raise AssertionError(
        f"memory differs first at {i + lo:#x} ({sym.name}+{i + lo - sym.value:#x}): "
        f"{x[i : i + 8].tobytes().hex()} vs {y[i : i + 8].tobytes().hex()}"
    )


SPECIALS = np.concatenate(
    [
        np.array(
            [
                0.0,
                -0.0,
                1.0,
                -1.0,
                np.inf,
                -np.inf,
                np.nan,
                1e-45,
                -1e-45,
                1e-38,
                3.4e38,
                -3.4e38,
                0.5,
                2.0**-24,
            ],
            dtype=F32,
        ),
        # NaNs that differ: negative, another payload, signalling (which SSE quiets);
        # which operand's NaN an instruction returns shows in the bits
        np.array([0xFFC00000, 0x7FC12345, 0x7FA00001], dtype=np.uint32).view(F32),
    ]
)


def _floats(rng: np.random.Generator, shape, zero_frac: float, special_frac: float):
    a = (rng.standard_normal(shape) * rng.choice([0.01, 1.0, 100.0])).astype(F32)
    a[rng.random(shape) < zero_frac] = 0.0
    sp = rng.random(shape) < special_frac
    a[sp] = rng.choice(SPECIALS, size=int(sp.sum()))
    return a


def _scaled(a, factor):
    with np.errstate(all="ignore"):  # specials: inf * 0 and the like
        return a * F32(factor)


case = st.fixed_dictionaries(
    {
        "seed": st.integers(0, 2**32 - 1),
        "rows": st.integers(1, 6),
        "n_in": st.integers(1, 24),
        "n_out": st.integers(1, 13),
        "zero_frac": st.sampled_from([0.0, 0.5, 0.9]),
        "special_frac": st.sampled_from([0.0, 0.0, 0.05]),
    }
)
SETTINGS = settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _check_dense_twins(X, W, bias, dY):
    """dense_forward and dense_backward on X (rows x n_in), W (n_in x n_out),
    bias and dY (rows x n_out): twin == interpreter, bit for bit."""
    (rows, n_in), n_out = X.shape, W.shape[1]
    _check(
        "dense_forward",
        lambda lay: (
            [
                lay.put(X),
                lay.put(W),
                lay.put(bias),
                lay.reserve(4 * rows * n_out),
                rows,
                n_in,
                n_out,
            ],
            0,
        ),
    )
    _check(
        "dense_backward",
        lambda lay: (
            [
                lay.put(X),
                lay.put(dY),
                lay.put(W),
                lay.reserve(4 * n_in * n_out),
                lay.reserve(4 * n_out),
                lay.reserve(4 * rows * n_in),
                rows,
                n_in,
                n_out,
            ],
            0,
        ),
    )


def _check(routine, build, returns=None):
    lay0 = Layout(_image(routine).symbols["scratch"].value)
    params, xmm0 = build(lay0)
    slow = _run(routine, lay0, params, xmm0, fast=False)
    fast = _run(routine, lay0, params, xmm0, fast=True)
    _compare(slow, fast, returns)
    if returns == "rax":
        res = slow.image.symbols["result"].value
        assert slow.mem.read(res, 8) == fast.mem.read(res, 8)
    if returns == "xmm0.s":
        res = slow.image.symbols["result"].value + 8
        assert slow.mem.read(res, 4) == fast.mem.read(res, 4)
    return slow, fast


@pytest.mark.slow
@SETTINGS
@given(c=case)
def test_dense_forward_twin_matches_interpreter(c):
    rng = np.random.default_rng(c["seed"])
    r, ni, no = c["rows"], c["n_in"], c["n_out"]

    def build(lay):
        X = lay.put(_floats(rng, (r, ni), c["zero_frac"], c["special_frac"]))
        W = lay.put(_floats(rng, (ni, no), 0.0, c["special_frac"]))
        b = lay.put(_floats(rng, (no,), 0.3, c["special_frac"]))
        Y = lay.reserve(4 * r * no)
        return [X, W, b, Y, r, ni, no], 0

    _check("dense_forward", build)


@pytest.mark.slow
@SETTINGS
@given(c=case, with_dx=st.booleans())
def test_dense_backward_twin_matches_interpreter(c, with_dx):
    rng = np.random.default_rng(c["seed"])
    r, ni, no = c["rows"], c["n_in"], c["n_out"]

    def build(lay):
        X = lay.put(_floats(rng, (r, ni), c["zero_frac"], c["special_frac"]))
        dY = lay.put(_floats(rng, (r, no), 0.2, c["special_frac"]))
        W = lay.put(_floats(rng, (ni, no), 0.0, c["special_frac"]))
        dW, db = lay.reserve(4 * ni * no), lay.reserve(4 * no)
        dX = lay.reserve(4 * r * ni) if with_dx else 0
        return [X, dY, W, dW, db, dX, r, ni, no], 0

    _check("dense_backward", build)


@pytest.mark.slow
@SETTINGS
@given(c=case)
def test_relu_twins_match_interpreter(c):
    rng = np.random.default_rng(c["seed"])
    n = c["rows"] * c["n_in"]

    def fwd(lay):
        return [lay.put(_floats(rng, (n,), c["zero_frac"], c["special_frac"])), n], 0

    _check("relu_forward", fwd)

    def bwd(lay):
        dA = lay.put(_floats(rng, (n,), 0.1, c["special_frac"]))
        A = lay.put(_floats(rng, (n,), c["zero_frac"], c["special_frac"]))
        return [dA, A, n], 0

    _check("relu_backward", bwd)


@pytest.mark.slow
@SETTINGS
@given(c=case, lr=st.sampled_from([0.01, 0.5, 1e-3, 3.0]))
def test_sgd_update_twin_matches_interpreter(c, lr):
    rng = np.random.default_rng(c["seed"])
    n = c["rows"] * c["n_in"]

    def build(lay):
        W = lay.put(_floats(rng, (n,), 0.0, c["special_frac"]))
        dW = lay.put(_floats(rng, (n,), c["zero_frac"], c["special_frac"]))
        bits = int(np.array([lr], F32).view(np.uint32)[0])
        return [W, dW, n], bits

    _check("sgd_update", build)


@pytest.mark.slow
@SETTINGS
@given(c=case)
def test_softmax_xent_and_count_correct_twins_match_interpreter(c):
    rng = np.random.default_rng(c["seed"])
    r, n = c["rows"], 10
    labels = rng.integers(0, n, r).astype(np.uint8)

    def build(lay):
        Z = lay.put(_scaled(_floats(rng, (r, n), 0.1, c["special_frac"]), 3))
        L = lay.put(labels)
        return [Z, L, lay.reserve(4 * r * n), lay.reserve(4 * r * n), r, n], 0

    _check("softmax_xent", build, returns="xmm0.s")

    def cc(lay):
        Z = lay.put(_floats(rng, (r, n), 0.3, c["special_frac"]))
        return [Z, lay.put(labels), r, n], 0

    _check("count_correct", cc, returns="rax")


@pytest.mark.slow
@SETTINGS
@given(seed=st.integers(0, 2**32 - 1), rows=st.integers(1, 5), use_perm=st.booleans())
def test_load_batch_twin_matches_interpreter(seed, rows, use_perm):
    rng = np.random.default_rng(seed)
    count = 12

    def build(lay):
        images = lay.put(rng.integers(0, 256, (count, 784)).astype(np.uint8))
        labels = lay.put(rng.integers(0, 10, count).astype(np.uint8))
        perm = lay.put(rng.permutation(count).astype(np.uint32)) if use_perm else 0
        start = int(rng.integers(0, count - rows + 1))
        X, out = lay.reserve(4 * rows * 784), lay.reserve(rows)
        return [images, labels, perm, start, rows, X, out], 0

    _check("load_batch", build)


@settings(max_examples=5, deadline=None)
@given(seed=st.integers(1, 2**64 - 1), n=st.integers(0, 300))
def test_shuffle_twin_matches_interpreter(seed, n):
    def build(lay):
        perm = lay.put(np.arange(n, dtype=np.uint32)) if n else lay.reserve(16)
        return [perm, n], 0

    routine = "shuffle"
    img = _image(routine)
    rng_state = img.symbols["rng_state"].value
    lay = Layout(img.symbols["scratch"].value)
    params, _ = build(lay)
    lay.items.append((rng_state, seed.to_bytes(8, "little")))
    slow = _run(routine, lay, params, 0, fast=False)
    fast = _run(routine, lay, params, 0, fast=True)
    _compare(slow, fast, None)


@pytest.mark.slow
def test_init_weights_twin_matches_interpreter():
    lay = Layout(_image("init_weights").symbols["scratch"].value)
    slow = _run("init_weights", lay, [], 0, fast=False)
    fast = _run("init_weights", lay, [], 0, fast=True)
    _compare(slow, fast, None)


# ---- full-size layers (the shapes of programs/mnist, MNIST-like data) ------------
# The hypothesis cases above are small; these run the layers at the sizes of
# the real network (where the kernels cut the work into many slabs and take
# the dense forms), with clean data and with special values sprinkled in
# (which switch the dense forms off where they would not be exact).
def _pixels(rng, rows, cols=784, fill=0.2):
    """Rows that look like load_batch output: p/255 with about `fill` nonzero."""
    p = rng.integers(1, 256, (rows, cols)) * (rng.random((rows, cols)) < fill)
    return (p.astype(F32) / F32(255)).astype(F32)


def _relu_like(rng, shape, fill=0.7):
    a = np.abs(rng.standard_normal(shape)).astype(F32)
    a[rng.random(shape) >= fill] = 0.0
    return a


def _sprinkle(rng, a, frac):
    a = a.copy()
    sp = rng.random(a.shape) < frac
    a[sp] = rng.choice(SPECIALS, size=int(sp.sum()))
    return a


def _full_cases():
    # sx: fraction of special values in the layer input X, sp: in the others
    def fwd1(rng, lay, sx, sp):
        return [
            lay.put(_sprinkle(rng, _pixels(rng, 64), sx)),
            lay.put(_floats(rng, (784, 128), 0.0, sp)),
            lay.put(_floats(rng, (128,), 0.1, sp)),
            lay.reserve(4 * 64 * 128),
            64,
            784,
            128,
        ]

    def fwd2(rng, lay, sx, sp):
        return [
            lay.put(_sprinkle(rng, _relu_like(rng, (64, 128)), sx)),
            lay.put(_floats(rng, (128, 64), 0.0, sp)),
            lay.put(_floats(rng, (64,), 0.1, sp)),
            lay.reserve(4 * 64 * 64),
            64,
            128,
            64,
        ]

    def fwd3(rng, lay, sx, sp):  # the last, partial evaluation chunk
        return [
            lay.put(_sprinkle(rng, _relu_like(rng, (16, 64)), sx)),
            lay.put(_floats(rng, (64, 10), 0.0, sp)),
            lay.put(_floats(rng, (10,), 0.1, sp)),
            lay.reserve(4 * 16 * 10),
            16,
            64,
            10,
        ]

    def bwd1(rng, lay, sx, sp):
        return [
            lay.put(_sprinkle(rng, _pixels(rng, 64), sx)),
            lay.put(_scaled(_floats(rng, (64, 128), 0.3, sp), 1e-3)),
            lay.put(_floats(rng, (784, 128), 0.0, sp)),
            lay.reserve(4 * 784 * 128),
            lay.reserve(4 * 128),
            0,
            64,
            784,
            128,
        ]

    def bwd2(rng, lay, sx, sp):
        return [
            lay.put(_sprinkle(rng, _relu_like(rng, (64, 128)), sx)),
            lay.put(_floats(rng, (64, 64), 0.3, sp)),
            lay.put(_floats(rng, (128, 64), 0.0, sp)),
            lay.reserve(4 * 128 * 64),
            lay.reserve(4 * 64),
            lay.reserve(4 * 64 * 128),
            64,
            128,
            64,
        ]

    def bwd3(rng, lay, sx, sp):
        return [
            lay.put(_sprinkle(rng, _relu_like(rng, (64, 64)), sx)),
            lay.put(_floats(rng, (64, 10), 0.0, sp)),
            lay.put(_floats(rng, (64, 10), 0.0, sp)),
            lay.reserve(4 * 64 * 10),
            lay.reserve(4 * 10),
            lay.reserve(4 * 64 * 64),
            64,
            64,
            10,
        ]

    return {
        "forward 784->128": ("dense_forward", fwd1),
        "forward 128->64": ("dense_forward", fwd2),
        "forward 64->10, 16 rows": ("dense_forward", fwd3),
        "backward 784->128": ("dense_backward", bwd1),
        "backward 128->64": ("dense_backward", bwd2),
        "backward 64->10": ("dense_backward", bwd3),
    }


FULL = _full_cases()


@pytest.mark.parametrize(
    "specials",
    [(0.0, 0.0), (0.01, 0.0), (0.002, 0.002), (0.02, 0.02)],
    ids=["clean", "specials-in-X", "few-specials", "many-specials"],
)
@pytest.mark.parametrize("layer", sorted(FULL))
def test_full_size_layer_twins_match_interpreter(layer, specials):
    routine, build = FULL[layer]
    rng = np.random.default_rng(zlib.crc32(f"{layer} {specials}".encode()))
    _check(routine, lambda lay: (build(rng, lay, *specials), 0))


@pytest.mark.parametrize("specials", [0.0, 0.01], ids=["clean", "specials"])
def test_full_size_sgd_update_twin_matches_interpreter(specials):
    """All six parameter arrays of the program in one call."""
    rng = np.random.default_rng(int(specials * 1000) + 11)
    n = 784 * 128 + 128 + 128 * 64 + 64 + 64 * 10 + 10

    def build(lay):
        W = lay.put(_floats(rng, (n,), 0.0, specials))
        dW = lay.put(_scaled(_floats(rng, (n,), 0.3, specials), 1e-3))
        return [W, dW, n], int(np.array([0.01], F32).view(np.uint32)[0])

    _check("sgd_update", build)


NANS = np.array([0x7FC00000, 0xFFC00000, 0x7FC12345, 0x7FA00001, 0xFFE00002], np.uint32).view(F32)


def _nanny(rng, shape, frac=0.3, zero_frac=0.2):
    """Floats with many NaNs of different signs and payloads (signalling too)."""
    a = _floats(rng, shape, zero_frac, 0.0)
    sp = rng.random(shape) < frac
    a[sp] = rng.choice(NANS, size=int(sp.sum()))
    return a


@pytest.mark.slow
@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    seed=st.integers(0, 2**32 - 1),
    rows=st.integers(1, 5),
    n_in=st.integers(1, 12),
    n_out=st.integers(1, 9),
)
def test_twins_return_the_nan_sse_returns_when_nans_meet(seed, rows, n_in, n_out):
    """Where two NaNs meet, SSE returns the first operand's; numpy does not
    promise which. The twins must still match the interpreter bit for bit."""
    rng = np.random.default_rng(seed)
    X, W, b = _nanny(rng, (rows, n_in)), _nanny(rng, (n_in, n_out)), _nanny(rng, (n_out,))
    dY = _nanny(rng, (rows, n_out))
    _check_dense_twins(X, W, b, dY)
    lr = int(NANS[seed % len(NANS)].view(np.uint32)) if seed % 3 == 0 else 0x3C23D70A
    _check(
        "sgd_update",
        lambda lay: ([lay.put(W.ravel()), lay.put(_nanny(rng, (n_in * n_out,))), n_in * n_out], lr),
    )
    labels = rng.integers(0, 10, rows).astype(np.uint8)
    _check(
        "softmax_xent",
        lambda lay: (
            [
                lay.put(_nanny(rng, (rows, 10), 0.1)),
                lay.put(labels),
                lay.reserve(4 * rows * 10),
                lay.reserve(4 * rows * 10),
                rows,
                10,
            ],
            0,
        ),
        returns="xmm0.s",
    )


@pytest.mark.parametrize("n_out", [9, 37])
def test_dense_twins_match_interpreter_on_sums_each_side_of_eight_terms(n_out):
    """The kernels add eight products per pass over the outputs while eight
    are left, then one at a time. Row b of X has b nonzero inputs and column
    k has 19-k, so every count of terms from 0 to 19 (each side of 8 and 16)
    occurs in dense_forward's and dW's sums; n_out = 37 gives dX's four lane
    accumulators nine terms each and one tail term."""
    rng = np.random.default_rng(n_out)
    rows = n_in = 20
    X = _floats(rng, (rows, n_in), 0.0, 0.0)
    X[X == 0] = 1.0
    below = np.arange(n_in)[None, :] >= np.arange(rows)[:, None]
    X[below] = np.where(rng.random(int(below.sum())) < 0.5, F32(0.0), F32(-0.0))
    W = _floats(rng, (n_in, n_out), 0.0, 0.0)
    dY = _floats(rng, (rows, n_out), 0.0, 0.0)
    bias = _floats(rng, (n_out,), 0.0, 0.0)
    _check_dense_twins(X, W, bias, dY)


def test_dense_forward_twin_keeps_a_bias_that_no_input_touches():
    """A row whose inputs are all zero ends as the bias, bit for bit: also a
    -0.0 or a signalling NaN bias (here the inputs are mostly nonzero, where
    the twin would like to add every input)."""
    rng = np.random.default_rng(7)
    X = _relu_like(rng, (16, 64), fill=0.9)
    X[3] = 0.0
    X[5] = -0.0
    bias = _floats(rng, (32,), 0.0, 0.0)
    bias[[0, 7, 9]] = np.array([0x80000000, 0x7FA00001, 0xFFC00000], np.uint32).view(F32)

    def build(lay):
        return [
            lay.put(X),
            lay.put(_floats(rng, (64, 32), 0.0, 0.0)),
            lay.put(bias),
            lay.reserve(4 * 16 * 32),
            16,
            64,
            32,
        ], 0

    _check("dense_forward", build)


# ---- the accelerated call itself ----------------------------------------------------
@pytest.mark.parametrize("returns", [(), ("rax",), ("xmm0.s",), ("xmm0.lo",), ("xmm0",)])
def test_run_twin_leaves_the_registers_poison_caller_saved_leaves(returns):
    from vm.accel import Twin, run_twin
    from vm.runtime import POISON32, poison_caller_saved

    def fn(m, a, b):
        m.r[0] = a + b
        m.xb[0:16] = bytes(range(1, 17))

    def machine():
        m = _machine("relu_forward")
        m.r[:] = list(range(100, 116))
        m.xb[:] = bytes(i & 255 for i in range(len(m.xb)))
        return m

    a, b = machine(), machine()
    run_twin(a, Twin("t", fn, ("rdi", "rsi"), returns))
    fn(b, b.r[7], b.r[6])
    keep_rax, keep_x = b.r[0], bytes(b.xb[0:16])
    poison_caller_saved(b, returns)
    # twins also poison the vector bits above xmm0-15 (zmm uppers, zmm16-31),
    # which the libm host call's poison_caller_saved leaves alone
    b.xb[256:] = struct.pack("<I", POISON32) * ((len(b.xb) - 256) // 4)
    if "rax" in returns:
        b.r[0] = keep_rax
    n = {"xmm0": 16, "xmm0.lo": 8, "xmm0.s": 4}.get(returns[0] if returns else "", 0)
    b.xb[0:n] = keep_x[:n]
    assert a.r == b.r and a.xb == b.xb and a.fl == b.fl


@pytest.mark.parametrize("name", ["exp", "log"])
def test_compiled_libm_calls_are_the_c_librarys(name):
    """The exp/log the compiled softmax_xent calls against the C library the
    VM calls, on a million arguments of the kind softmax_xent passes (exp:
    fl(z - m) <= 0; log: a probability) plus edges: every double bit equal."""
    from numba import njit

    from mnist_vm.kernels import nn
    from vm.runtime import libm

    rng = np.random.default_rng(20261125)
    if name == "exp":
        x = np.concatenate(
            [
                -rng.exponential(3.0, 500_000),
                rng.uniform(-110, 0, 500_000),
                [0.0, -0.0, -87.3, -87.4, -103.9, -104.0, -745.2, -800.0, -np.inf, 1e-30, -1e-30],
            ]
        )
        f = nn._c_exp
    else:
        x = np.concatenate(
            [
                rng.uniform(0, 1, 500_000),
                np.exp(-rng.exponential(8.0, 500_000)),
                [1.0, 0.5, 1e-45, 1.4e-45, 1e-38, 0.0, 2.0**-149, -1.0, np.inf],
            ]
        )
        f = nn._c_log

    @njit
    def each(x, out):
        for i in range(x.size):
            out[i] = f(x[i])

    x = x.astype(F32).astype(np.float64)  # the routine widens a float32
    c = libm(name)
    want = np.array([c(v) for v in x.tolist()])
    got = np.empty_like(x)
    each(x, got)
    assert np.array_equal(got.view(np.uint64), want.view(np.uint64))


def test_no_fused_multiply_add_in_the_compiled_kernels():
    """The assembly rounds every product before adding it: the compiled
    kernels must contain no FMA (LLVM fuses only under fast-math, which they
    do not use; this checks the machine code numba generates here)."""
    import re

    from numba import njit

    from mnist_vm.kernels import nn

    F = F32
    cases = {
        "_dense_forward": (
            np.ones((2, 3), F),
            np.ones((3, 8), F),
            np.ones(8, F),
            np.ones((2, 8), F),
        ),
        "_dense_backward_weights": (np.ones((2, 3), F), np.ones((2, 8), F), np.ones((3, 8), F)),
        "_dense_backward_input": (np.ones((2, 8), F), np.ones((3, 8), F), np.ones((2, 3), F)),
        "_sgd_update": (np.ones(8, F), np.ones(8, F), F(0.5)),
    }
    for name, args in cases.items():
        fresh = njit(getattr(nn, name).py_func)  # a fresh compile: cached code has no listing
        fresh(*args)
        asm = fresh.inspect_asm(fresh.signatures[0])
        assert "mulps" in asm or "mulss" in asm, name
        assert not re.search(r"vfn?m(add|sub)", asm), f"{name} uses a fused multiply-add"


def test_a_program_is_its_own_known_program_only_while_its_sources_are_the_files(tmp_path):
    """attach fingerprints the running image itself, instead of assembling the
    shipped files again, only while that would give the same image: the same
    files, and every source it read (includes too) unchanged on disk."""
    import shutil

    from mnist_vm.kernels.mnist import _is_shipped_program

    for p in (ROOT / "programs" / "mnist").iterdir():
        if p.suffix in (".asm", ".inc"):
            shutil.copy(p, tmp_path / p.name)
    files = [str(tmp_path / "main.asm")] + sorted(
        str(p) for p in tmp_path.glob("*.asm") if p.name != "main.asm"
    )
    image = assemble(files, defines={"EPOCHS": "1"})
    assert _is_shipped_program(image, files)
    assert not _is_shipped_program(image, files[::-1])  # other files (order matters to ld)
    inc = tmp_path / "config.inc"
    inc.write_text(inc.read_text().replace("%define H1 128", "%define H1 100"))
    assert not _is_shipped_program(image, files)  # an included file changed since
