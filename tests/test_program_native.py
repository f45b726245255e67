"""programs/mnist and programs/examples assembled with nasm and run on the real CPU.

These tests do not use the emulator at all: they pin down what the assembly
programs do on hardware (the emulator must then do the same). They need
`nasm` and `ld` (binutils); without nasm they are skipped.

MNIST comes from $MNIST_DATA (default: <repo>/../shared/mnist), as .gz or raw
IDX files; each run gets its own directory with the four files uncompressed.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
from native_vec import missing_feature

try:
    import reference_model as rm
except ImportError:  # tests/ imported as a package
    from . import reference_model as rm

REPO = Path(__file__).resolve().parents[1]
MNIST_SRC = REPO / "programs" / "mnist"
EXAMPLES = REPO / "programs" / "examples"
DYNAMIC_LINKER = "/lib64/ld-linux-x86-64.so.2"

pytestmark = [
    pytest.mark.native,
    pytest.mark.skipif(
        shutil.which("nasm") is None,
        reason="nasm is not on PATH (install it: apt-get install nasm)",
    ),
]

# A small configuration: 3 batches of 64, a test set of 200 (4 chunks, the last partial).
SMALL = {"EPOCHS": 1, "TRAIN_LIMIT": 192, "BATCH": 64, "TEST_LIMIT": 200, "PRINT_EVERY": 1}


# ---------------------------------------------------------------------------
# building and running
# ---------------------------------------------------------------------------


def build(sources: list[Path], out: Path, defines: dict | None = None, libm: bool = False) -> Path:
    """nasm -felf64 each source (include path: its directory), then link.

    With libm the executable is linked dynamically against libc/libm (for
    exp/log): `ld ... -dynamic-linker /lib64/ld-linux-x86-64.so.2 -lc -lm`,
    falling back to `gcc -nostartfiles -no-pie ... -lm`.
    """
    out.parent.mkdir(parents=True, exist_ok=True)
    dflags = [f"-d{k}={v}" if v is not None else f"-d{k}" for k, v in (defines or {}).items()]
    objs = []
    for src in sources:
        obj = out.parent / (out.name + "." + src.stem + ".o")
        subprocess.run(
            ["nasm", "-felf64", f"-I{src.parent}/", *dflags, str(src), "-o", str(obj)],
            check=True,
            capture_output=True,
            text=True,
        )
        objs.append(str(obj))
    if not libm:
        subprocess.run(["ld", "-o", str(out), *objs], check=True, capture_output=True)
        return out
    r = subprocess.run(
        ["ld", "-o", str(out), *objs, "-dynamic-linker", DYNAMIC_LINKER, "-lc", "-lm"],
        capture_output=True,
        text=True,
    )
    if r.returncode != 0 or not os.path.exists(DYNAMIC_LINKER):
        subprocess.run(
            ["gcc", "-nostartfiles", "-no-pie", "-o", str(out), *objs, "-lm"],
            check=True,
            capture_output=True,
        )
    return out


def build_mnist(tmp_path: Path, **defines) -> Path:
    return build(sorted(MNIST_SRC.glob("*.asm")), tmp_path / "bin" / "mnist", defines, libm=True)


def run(exe: Path, cwd: Path, timeout: float = 600) -> subprocess.CompletedProcess:
    return subprocess.run([str(exe)], cwd=cwd, capture_output=True, text=True, timeout=timeout)


# ---------------------------------------------------------------------------
# MNIST files
# ---------------------------------------------------------------------------


def run_dir(
    tmp_path: Path, mnist_dir: Path, replace: dict[str, bytes | None] | None = None
) -> Path:
    """A working directory with links to the four files; `replace` swaps in
    other contents (bytes) or removes a file (None)."""
    d = tmp_path / "run"
    d.mkdir()
    for name in rm.FILES.values():
        if replace and name in replace:
            if replace[name] is not None:
                (d / name).write_bytes(replace[name])
        else:
            (d / name).symlink_to(mnist_dir / name)
    return d


# ---------------------------------------------------------------------------
# output format
# ---------------------------------------------------------------------------

HEADER = re.compile(
    r"mnist-asm: 784-(\d+)-(\d+)-10 epochs=(\d+) batch=(\d+) lr=(\d+\.\d{6}) "
    r"train=(\d+) test=(\d+) seed=(\d+) shuffle=([01])"
)
BATCH_LINE = re.compile(r"epoch (\d+) batch (\d+)/(\d+) loss (\d+\.\d{6})")
EPOCH_LINE = re.compile(r"epoch (\d+) loss (\d+\.\d{6}) test_acc (\d+\.\d{2})%")
FINAL_LINE = re.compile(r"final test_acc (\d+\.\d{2})% \((\d+)/(\d+)\)")


def test_small_run_output_format(tmp_path, mnist_dir):
    exe = build_mnist(tmp_path, **SMALL)
    r = run(exe, run_dir(tmp_path, mnist_dir))
    assert r.returncode == 0, r.stderr
    assert r.stderr == ""
    lines = r.stdout.splitlines()
    assert r.stdout.endswith("\n")
    m = HEADER.fullmatch(lines[0])
    assert m, lines[0]
    assert m.groups() == (
        "128",
        "64",
        "1",
        "64",
        "0.010000",
        "192",
        "200",
        "88172645463325252",
        "1",
    )
    for i, line in enumerate(lines[1:4], start=1):
        b = BATCH_LINE.fullmatch(line)
        assert b, line
        assert (int(b[1]), int(b[2]), int(b[3])) == (1, i, 3)
        assert 1.0 < float(b[4]) < 4.0  # about ln(10) = 2.30 before training
    e = EPOCH_LINE.fullmatch(lines[4])
    assert e and e[1] == "1", lines[4]
    f = FINAL_LINE.fullmatch(lines[5])
    assert f, lines[5]
    assert f[3] == "200" and f[1] == e[3]
    assert f"{int(f[2]) * 100 / 200:.2f}" == f[1]
    assert len(lines) == 6


def test_print_every_and_defaults_in_header(tmp_path, mnist_dir):
    exe = build_mnist(
        tmp_path,
        EPOCHS=2,
        TRAIN_LIMIT=640,
        TEST_LIMIT=100,
        PRINT_EVERY=4,
        SHUFFLE=0,
        SEED=7,
        LR=0.05,
    )
    r = run(exe, run_dir(tmp_path, mnist_dir))
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert lines[0] == (
        "mnist-asm: 784-128-64-10 epochs=2 batch=64 lr=0.050000 train=640 test=100 seed=7 shuffle=0"
    )
    batches = [BATCH_LINE.fullmatch(x) for x in lines if " batch " in x]
    assert [(int(b[1]), int(b[2])) for b in batches] == [(1, 4), (1, 8), (2, 4), (2, 8)]
    assert all(b[3] == "10" for b in batches)
    assert len([x for x in lines if EPOCH_LINE.fullmatch(x)]) == 2


# ---------------------------------------------------------------------------
# against the numpy reference
# ---------------------------------------------------------------------------


def test_batch_losses_match_numpy_reference(tmp_path, mnist_dir, mnist_arrays):
    """The plain numpy model (BLAS matrix products) against the printed losses.

    Tolerance 2e-4 (absolute, on losses of about 2.3). Why that is enough and
    still meaningful: the two implementations differ only in the order of
    float32 additions inside the matrix products (up to 784 terms). Each
    ordering is accurate to about sqrt(n) * 2^-24 relative, i.e. ~1e-6, so
    logits and losses agree to ~1e-6; the SGD steps carry such differences
    into the weights scaled by lr = 0.01, so after ten batches they are still
    ~1e-6. Printing to 6 decimals adds at most 5e-7 per side. 2e-4 is 100x
    that, yet ~50x smaller than the batch-to-batch changes of the loss
    (~1e-2), so a wrong init, shuffle, batch order, gradient or update would
    be caught (the bit-exact test below checks the exact operation order).
    """
    cfg = rm.Config(epochs=1, train_limit=640, test_limit=100, print_every=1)
    exe = build_mnist(tmp_path, EPOCHS=1, TRAIN_LIMIT=640, TEST_LIMIT=100, PRINT_EVERY=1)
    r = run(exe, run_dir(tmp_path, mnist_dir))
    assert r.returncode == 0, r.stderr
    native = [float(m[4]) for m in map(BATCH_LINE.fullmatch, r.stdout.splitlines()) if m]
    model = rm.Model(cfg, mnist_arrays, exact=False)
    ref = [float(m[4]) for m in map(BATCH_LINE.fullmatch, model.run()) if m]
    assert len(native) == len(ref) == 10
    assert np.allclose(native, ref, rtol=0, atol=2e-4), list(zip(native, ref))


def _params_bits(model: rm.Model) -> np.ndarray:
    return np.concatenate([model.p[k].ravel() for k in ("W1", "b1", "W2", "b2", "W3", "b3")]).view(
        np.uint32
    )


@pytest.mark.parametrize(
    "config",
    [
        # the defaults, 10 batches
        dict(EPOCHS=1, TRAIN_LIMIT=640, TEST_LIMIT=100, PRINT_EVERY=1),
        # odd sizes: widths and batch not multiples of 4 (scalar tails everywhere),
        # no shuffle, a dropped partial training batch, a partial test chunk, 2 epochs
        dict(
            EPOCHS=2,
            BATCH=50,
            TRAIN_LIMIT=230,
            TEST_LIMIT=123,
            PRINT_EVERY=1,
            H1=30,
            H2=10,
            SHUFFLE=0,
            SEED=12345678901234567,
            LR=0.05,
        ),
    ],
    ids=["defaults", "odd-sizes"],
)
def test_bit_exact_against_routine_contracts(tmp_path, mnist_dir, mnist_arrays, config):
    """The numpy model that follows the documented per-routine operation order
    (rm exact=True) reproduces the program bit for bit: the same output text
    and the same trained parameters (dumped by the -dDUMP_PARAMS build)."""
    exe = build_mnist(tmp_path, **config, DUMP_PARAMS=None)
    d = run_dir(tmp_path, mnist_dir)
    r = run(exe, d)
    assert r.returncode == 0, r.stderr
    names = {
        "EPOCHS": "epochs",
        "BATCH": "batch",
        "TRAIN_LIMIT": "train_limit",
        "TEST_LIMIT": "test_limit",
        "PRINT_EVERY": "print_every",
        "H1": "h1",
        "H2": "h2",
        "SHUFFLE": "shuffle",
        "SEED": "seed",
        "LR": "lr",
    }
    cfg = rm.Config(**{names[k]: v for k, v in config.items()})
    model = rm.Model(cfg, mnist_arrays, exact=True)
    assert r.stdout.splitlines() == list(model.run())
    native = np.fromfile(d / "params.bin", dtype="<u4")
    expected = _params_bits(model)
    assert native.shape == expected.shape
    mismatch = np.flatnonzero(native != expected)
    assert mismatch.size == 0, f"{mismatch.size} parameters differ, first at index {mismatch[0]}"


@pytest.mark.slow
def test_full_training_reaches_95_percent(tmp_path, mnist_dir):
    """Defaults: 10 epochs on all 60000 images (about 8 s natively)."""
    exe = build_mnist(tmp_path)
    r = run(exe, run_dir(tmp_path, mnist_dir))
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert len([x for x in lines if BATCH_LINE.fullmatch(x)]) == 10 * 9  # 100..900 of 937
    f = FINAL_LINE.fullmatch(lines[-1])
    assert f and f[3] == "10000"
    assert float(f[1]) >= 95.0, lines[-1]


# ---------------------------------------------------------------------------
# error paths
# ---------------------------------------------------------------------------


def _err(r, name: str, what: str, status: int = 1):
    assert r.returncode == status, (r.returncode, r.stdout, r.stderr)
    assert r.stderr == f"error: {name}: {what}\n"
    assert r.stdout == ""


@pytest.fixture(scope="module")
def small_exe(tmp_path_factory):
    return build_mnist(tmp_path_factory.mktemp("small"), **SMALL)


@pytest.mark.parametrize("name", list(rm.FILES.values()))
def test_missing_file(tmp_path, mnist_dir, small_exe, name):
    r = run(small_exe, run_dir(tmp_path, mnist_dir, {name: None}))
    _err(r, name, "cannot open the file (missing?)")


def _with_header(name: str, mnist_dir: Path, offset: int, value: int) -> bytes:
    b = bytearray((mnist_dir / name).read_bytes())
    b[offset : offset + 4] = value.to_bytes(4, "big")
    return bytes(b)


@pytest.mark.parametrize(
    "name,what",
    [
        ("train-images-idx3-ubyte", "bad magic number (expected 2051, an IDX3 image file)"),
        ("t10k-images-idx3-ubyte", "bad magic number (expected 2051, an IDX3 image file)"),
        ("train-labels-idx1-ubyte", "bad magic number (expected 2049, an IDX1 label file)"),
        ("t10k-labels-idx1-ubyte", "bad magic number (expected 2049, an IDX1 label file)"),
    ],
)
def test_bad_magic(tmp_path, mnist_dir, small_exe, name, what):
    r = run(small_exe, run_dir(tmp_path, mnist_dir, {name: _with_header(name, mnist_dir, 0, 2050)}))
    _err(r, name, what)


def test_label_file_given_for_images(tmp_path, mnist_dir, small_exe):
    """Swapped files: the label file's magic (2049) where images are expected."""
    labels = (mnist_dir / "train-labels-idx1-ubyte").read_bytes()
    r = run(small_exe, run_dir(tmp_path, mnist_dir, {"train-images-idx3-ubyte": labels}))
    _err(r, "train-images-idx3-ubyte", "bad magic number (expected 2051, an IDX3 image file)")


@pytest.mark.parametrize(
    "case,name,what",
    [
        ("empty", "t10k-images-idx3-ubyte", "file is too short for its header"),
        (
            "truncated",
            "train-images-idx3-ubyte",
            "file is truncated (shorter than its header says)",
        ),
        ("not28", "t10k-images-idx3-ubyte", "images are not 28x28"),
        ("few", "t10k-labels-idx1-ubyte", "holds fewer items than TEST_LIMIT"),
        ("few", "train-images-idx3-ubyte", "holds fewer items than TRAIN_LIMIT"),
        ("label", "train-labels-idx1-ubyte", "label out of range (must be 0-9)"),
        ("too-big", "t10k-labels-idx1-ubyte", "file is larger than a full MNIST file"),
    ],
)
def test_bad_file_contents(tmp_path, mnist_dir, small_exe, case, name, what):
    data = (mnist_dir / name).read_bytes()
    if case == "empty":
        new = b""
    elif case == "truncated":
        new = data[: 16 + 100 * 784]
    elif case == "not28":
        new = _with_header(name, mnist_dir, 8, 27)
    elif case == "few":  # a consistent file that is just too small
        n = 150 if "t10k" in name else 100
        size = 784 if "images" in name else 1
        hdr = 16 if "images" in name else 8
        new = bytearray(data[: hdr + n * size])
        new[4:8] = n.to_bytes(4, "big")
        new = bytes(new)
    elif case == "label":
        b = bytearray(data)
        b[8 + 100] = 10
        new = bytes(b)
    else:
        new = data + b"\0" * 64
    r = run(small_exe, run_dir(tmp_path, mnist_dir, {name: new}))
    _err(r, name, what)


@pytest.mark.parametrize(
    "defines,what",
    [
        ({"EPOCHS": 0}, "EPOCHS must be at least 1"),
        ({"BATCH": 500, "TRAIN_LIMIT": 400}, "BATCH must be between 1 and TRAIN_LIMIT"),
        ({"TRAIN_LIMIT": 60001}, "TRAIN_LIMIT must be between 1 and 60000"),
        ({"TEST_LIMIT": 0}, "TEST_LIMIT must be between 1 and 10000"),
        ({"SEED": 0}, "SEED must not be 0 (xorshift would stay 0)"),
        ({"SHUFFLE": 2}, "SHUFFLE must be 0 or 1"),
        ({"PRINT_EVERY": 0}, "PRINT_EVERY must be at least 1"),
        ({"LR": 1}, "LR must be a positive float literal such as 0.01"),
        ({"LR": -0.5}, "LR must be a positive float literal such as 0.01"),
    ],
)
def test_bad_config_exits_2(tmp_path, defines, what):
    # checked before any file is opened: no MNIST needed in the directory
    exe = build_mnist(tmp_path, **{**SMALL, **defines})
    r = run(exe, tmp_path)
    _err(r, "config", what, status=2)


# ---------------------------------------------------------------------------
# programs/examples
# ---------------------------------------------------------------------------

EXPECTED = {
    "hello": "Hello from x86-64 assembly!\n",
    "loops_flags": (
        "count: 1 2 3 4 5 6 7 8 9 10\n"
        "sum 1..10 = 55\n"
        "cmp 3, 5          ZF=0 SF=1 CF=1 OF=0\n"
        "cmp 5, 5          ZF=1 SF=0 CF=0 OF=0\n"
        "cmp -1, 1         ZF=0 SF=1 CF=0 OF=0\n"
        "add8 127 + 1      ZF=0 SF=1 CF=0 OF=1\n"
        "add8 255 + 1      ZF=1 SF=0 CF=1 OF=0\n"
        "-1 < 1 signed (jl), -1 > 1 unsigned (ja)\n"
        "countdown: 3 2 1 liftoff\n"
    ),
    "dot_product": (
        "a.b scalar = 204.000\na.b packed = 204.000\nc.d scalar = 3.000\nc.d packed = 6.000\n"
    ),
    "dot_avx2": (
        "a.b scalar = 204.000\na.b avx2   = 204.000\nc.d scalar = 3.000\nc.d avx2   = 6.000\n"
    ),
    "dot_avx512": (
        "a.b scalar = 1496.000\na.b avx512 = 1496.000\nc.d scalar = 7.000\nc.d avx512 = 14.000\n"
    ),
    "call_exp": ("exp(1) = 2.718281828\nlog(10) = 2.302585092\nexp(log(10)) = 10.000000000\n"),
    "read_file": (EXAMPLES / "data.txt").read_text(),
}


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_example_output(tmp_path, name):
    need = {"dot_avx2": ("avx2", "fma"), "dot_avx512": ("avx512f",)}.get(name, ())
    if why := missing_feature(*need):
        pytest.skip(why)
    exe = build([EXAMPLES / f"{name}.asm"], tmp_path / name, libm=(name == "call_exp"))
    r = run(exe, EXAMPLES)  # read_file opens data.txt in the current directory
    assert (r.returncode, r.stderr) == (0, "")
    assert r.stdout == EXPECTED[name]


def test_every_example_is_tested():
    assert sorted(p.stem for p in EXAMPLES.glob("*.asm")) == sorted(EXPECTED)


def test_read_file_other_file_and_missing_file(tmp_path):
    exe = build([EXAMPLES / "read_file.asm"], tmp_path / "rf", {"FILE": '"notes.txt"'})
    (tmp_path / "notes.txt").write_bytes(bytes(range(256)) * 3)  # binary, several reads
    r = subprocess.run([str(exe)], cwd=tmp_path, capture_output=True)
    assert r.returncode == 0 and r.stdout == bytes(range(256)) * 3
    (tmp_path / "notes.txt").unlink()
    r = run(exe, tmp_path)
    assert (r.returncode, r.stdout, r.stderr) == (1, "", "read_file: cannot open the file\n")


# ---------------------------------------------------------------------------
# print.asm on its own: exact decimal printing
# ---------------------------------------------------------------------------

PRINT_DRIVER = """
%include "config.inc"
global _start
extern out_fixed, out_percent, out_uint, out_char, out_line
section .data
values: dd {values}
pairs:  dq {pairs}
section .text
_start:
    xor ebx, ebx
.v: movss xmm0, [values + rbx*4]
    mov edi, {decimals}
    call out_fixed
    call out_line
    inc ebx
    cmp ebx, {n_values}
    jb .v
    xor ebx, ebx
.p: mov rdi, [pairs + rbx*8]
    mov rsi, [pairs + rbx*8 + 8]
    call out_percent
    call out_line
    add ebx, 2
    cmp ebx, {n_pairs2}
    jb .p
    mov rdi, 18446744073709551615
    call out_uint
    mov edi, ' '
    call out_char
    xor edi, edi
    call out_uint
    call out_line
    mov eax, 231
    xor edi, edi
    syscall
"""


@pytest.mark.parametrize("decimals", [6, 2, 0])
def test_out_fixed_and_out_percent_are_exact(tmp_path, decimals):
    rng = np.random.default_rng(decimals)
    special = [
        0.0,
        -0.0,
        0.5,
        1.5,
        2.5,
        0.0000005,
        0.0000015,
        0.1,
        2.302585,
        1e-45,
        1e-30,
        123456.789,
        2.0**39,
        2.0**40 - 65536,
        2.0**40,
        3e38,
        -1.25,
        -0.0000004,
        float("inf"),
        float("-inf"),
        float("nan"),
    ]
    bits = list(np.array(special, dtype=np.float32).view(np.uint32))
    bits += list(rng.integers(0, 2**32, 300, dtype=np.uint64).astype(np.uint32))
    bits += list(np.float32(rng.uniform(0, 5, 300)).view(np.uint32))
    values = np.array(bits, dtype=np.uint32).view(np.float32)
    pairs = [
        (0, 7),
        (1, 3),
        (2, 3),
        (9521, 10000),
        (1, 8),
        (5, 8),
        (7, 7),
        (123, 200),
        (1, 200000),
        (3, 0),
    ]
    src = tmp_path / "driver.asm"
    src.write_text(
        PRINT_DRIVER.format(
            values=", ".join(hex(b) for b in bits),
            n_values=len(bits),
            decimals=decimals,
            pairs=", ".join(f"{a}, {b}" for a, b in pairs),
            n_pairs2=2 * len(pairs),
        )
    )
    shutil.copy(MNIST_SRC / "config.inc", tmp_path / "config.inc")
    exe = build([src, MNIST_SRC / "print.asm"], tmp_path / "drv")
    r = run(exe, tmp_path)
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert lines[: len(bits)] == [rm.fmt_fixed(v, decimals) for v in values]
    expected = [rm.fmt_percent(a, b) if b else "nan" for a, b in pairs]
    assert lines[len(bits) : -1] == expected
    assert lines[-1] == "18446744073709551615 0"
