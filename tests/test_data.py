"""mnist_vm.data: locations, downloads with mirror fallback, the IDX format, datasets, CLI.

The real files come from where `mnist-vm` finds them ($MNIST_VM_DATA, alias
$MNIST_DATA, else the download cache: the `mnist_source` fixture of conftest.py,
through conftest_data.mnist_source_dir). Downloads only ever
go to a local HTTP server on 127.0.0.1; every test runs with XDG_CACHE_HOME and
HOME in a temporary directory and MNIST_VM_MIRRORS pointing at a port where
nothing listens, so nothing touches the network or ~/.cache. The source
directory is only read, so its permissions and history do not matter.
"""

from __future__ import annotations

import argparse
import errno
import gzip
import hashlib
import io
import os
import re
import struct
import subprocess
import sys

import numpy as np
import pytest
from conftest_data import (
    MirrorServer,
    dead_url,
    gz_bytes,
    snapshot,
    source_file,
    synthetic_set,
)
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mnist_vm import data
from mnist_vm.data import (
    NAMES,
    DataError,
    add_data_parser,
    check_file,
    class_label,
    class_names,
    data_dir,
    fetch,
    load_images,
    load_labels,
    prepare,
    store,
)
from mnist_vm.data.datasets import DATASETS

MD5 = DATASETS["mnist"].md5
LABELS = "train-labels-idx1-ubyte"
TEST_LABELS = "t10k-labels-idx1-ubyte"
TEST_IMAGES = "t10k-images-idx3-ubyte"


@pytest.fixture(autouse=True)
def isolated(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.delenv("MNIST_VM_DATA", raising=False)
    monkeypatch.delenv("MNIST_DATA", raising=False)
    monkeypatch.setenv("MNIST_VM_MIRRORS", dead_url())


@pytest.fixture(scope="module")
def server(mnist_source):
    s = MirrorServer(mnist_source)
    yield s
    s.close()


@pytest.fixture(scope="module")
def unpacked(tmp_path_factory, mnist_source):
    """prepare() on the real MNIST directory, once; returns (result dir, xdg)."""
    xdg = tmp_path_factory.mktemp("xdg-shared")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("XDG_CACHE_HOME", str(xdg))
        out = prepare(mnist_source, download=False)
    return out, xdg


def raw_copy(unpacked_dir, dest, names=NAMES):
    """Put verified raw files into dest (hard links: instant, no extra disk)."""
    dest.mkdir(parents=True, exist_ok=True)
    for n in names:
        try:
            os.link(unpacked_dir / n, dest / n)
        except OSError:
            (dest / n).write_bytes((unpacked_dir / n).read_bytes())
    return dest


def md5(path) -> str:
    return hashlib.md5(path.read_bytes()).hexdigest()


def files_in(d):
    return sorted(p.name for p in d.rglob("*")) if d.exists() else []


def cache(tmp_path):
    return tmp_path / "xdg" / "mnist-vm"


def run_cli(argv):
    p = argparse.ArgumentParser(prog="mnist-vm")
    add_data_parser(p.add_subparsers(dest="command"))
    args = p.parse_args(argv)
    return args.func(args)


def console_buffer(terminal=False):
    from rich.console import Console

    buf = io.StringIO()
    return Console(file=buf, force_terminal=terminal, width=100), buf


def enospc(*a, **k):
    raise OSError(errno.ENOSPC, "No space left on device")


# ---- locations -----------------------------------------------------------------
def test_data_dir_precedence(tmp_path, monkeypatch):
    assert data_dir(None) == cache(tmp_path) / "mnist"
    assert data_dir(None, "fashion-mnist") == cache(tmp_path) / "fashion-mnist"
    monkeypatch.delenv("XDG_CACHE_HOME")
    assert data_dir(None) == tmp_path / "home" / ".cache" / "mnist-vm" / "mnist"
    monkeypatch.setenv("MNIST_DATA", str(tmp_path / "alias"))  # the documented alias
    assert data_dir(None) == tmp_path / "alias"
    monkeypatch.setenv("MNIST_VM_DATA", str(tmp_path / "env"))
    assert data_dir(None) == tmp_path / "env"
    assert data_dir(tmp_path / "explicit") == tmp_path / "explicit"
    assert data_dir("~/x") == tmp_path / "home" / "x"


def test_mirror_list_override(monkeypatch):
    monkeypatch.delenv("MNIST_VM_MIRRORS")
    assert fetch.mirrors(DATASETS["mnist"])[0] == "https://ossci-datasets.s3.amazonaws.com/mnist/"
    assert len(fetch.mirrors(DATASETS["mnist"])) == 3
    assert "fashion-mnist" in fetch.mirrors(DATASETS["fashion-mnist"])[0]
    monkeypatch.setenv("MNIST_VM_MIRRORS", " http://a/x/ , http://b ,")
    assert fetch.mirrors(DATASETS["mnist"]) == ["http://a/x/", "http://b"]


# ---- loading the real data -----------------------------------------------------
def test_load_real_files(mnist_source):
    images = load_images(source_file(mnist_source, TEST_IMAGES))
    labels = load_labels(source_file(mnist_source, TEST_LABELS))
    assert images.shape == (10000, 28, 28) and images.dtype == np.uint8
    assert labels.shape == (10000,) and labels.dtype == np.uint8
    assert labels[:10].tolist() == [7, 2, 1, 0, 4, 1, 4, 9, 5, 9]
    train_labels = load_labels(source_file(mnist_source, LABELS))
    assert train_labels[:10].tolist() == [5, 0, 4, 1, 9, 2, 1, 3, 1, 4]
    assert np.bincount(train_labels).sum() == 60000


def test_read_item_matches_load(mnist_source):
    path = source_file(mnist_source, TEST_IMAGES)
    images = load_images(path)
    assert np.array_equal(data.read_item(path, "images", 1234), images[1234])
    assert data.read_item(source_file(mnist_source, TEST_LABELS), "labels", 0) == 7
    with pytest.raises(IndexError, match="out of range"):
        data.read_item(path, "images", 10000)


def test_load_split(mnist_source, unpacked, tmp_path):
    x, y = data.load_split(mnist_source, "test")
    assert x.shape == (10000, 28, 28) and y[0] == 7
    x2, _ = data.load_split(unpacked[0], "test")
    assert np.array_equal(x, x2)
    with pytest.raises(DataError, match="not found"):
        data.load_split(tmp_path, "train")


# ---- prepare: the user's directory is only read ----------------------------------
def test_prepare_gz_dir_unpacks_into_the_cache(unpacked, mnist_source):
    out, xdg = unpacked
    assert out.is_relative_to(xdg / "mnist-vm" / "unpacked")
    for name in NAMES:
        assert (out / name).is_file() and not (out / name).is_symlink()
        assert md5(out / name) == MD5[name]
    assert not [p for p in out.iterdir() if p.name.endswith(".part")]


def test_prepare_never_writes_into_a_writable_source(mnist_source, tmp_path):
    d = tmp_path / "mine"
    d.mkdir()
    for name in NAMES:
        (d / (name + ".gz")).write_bytes(gz_bytes(mnist_source, name))
    d.chmod(0o755)
    before = snapshot(d)
    out = prepare(d, download=False)
    assert snapshot(d) == before  # no raw/, no stamp, nothing
    assert out.is_relative_to(cache(tmp_path) / "unpacked")
    assert all(md5(out / n) == MD5[n] for n in NAMES)
    # a damaged unpacked copy is noticed (stamp mismatch) and rebuilt from the .gz
    with open(out / TEST_LABELS, "r+b") as f:
        f.truncate(100)
    assert prepare(d, download=False) == out
    assert md5(out / TEST_LABELS) == MD5[TEST_LABELS]
    assert snapshot(d) == before


def test_prepare_reuses_stamp_without_rehashing(unpacked, mnist_source, monkeypatch):
    out, xdg = unpacked
    monkeypatch.setenv("XDG_CACHE_HOME", str(xdg))

    def boom(*a, **k):
        raise AssertionError("re-verified or re-unpacked a stamped file")

    monkeypatch.setattr(store, "scan", boom)
    monkeypatch.setattr(store, "check_file", boom)
    assert prepare(mnist_source, download=False) == out


def test_prepare_raw_dir_is_used_as_is(unpacked, tmp_path):
    d = raw_copy(unpacked[0], tmp_path / "raw-mnist")
    before = snapshot(d)
    assert prepare(d, download=False) == d
    assert snapshot(d) == before


def test_symlinked_raw_files_are_followed_into_the_cache(unpacked, tmp_path):
    """The guest may not follow symlinks out of its root: hand it real files."""
    d = tmp_path / "links"
    d.mkdir()
    for name in NAMES:
        (d / name).symlink_to(unpacked[0] / name)
    out = prepare(d, download=False)
    assert out != d and out.is_relative_to(cache(tmp_path) / "unpacked")
    for name in NAMES:
        assert (out / name).is_file() and not (out / name).is_symlink()
        assert md5(out / name) == MD5[name]


def test_a_typo_is_no_such_directory_and_nothing_is_created(tmp_path):
    d = tmp_path / "nonexistent" / "mnist"
    with pytest.raises(DataError, match="no such directory"):
        prepare(d)
    assert not (tmp_path / "nonexistent").exists()


def test_missing_files_in_a_named_directory_are_not_downloaded(
    server, mnist_source, tmp_path, monkeypatch
):
    monkeypatch.setenv("MNIST_VM_MIRRORS", server.url("good"))
    d = tmp_path / "partial"
    d.mkdir()
    (d / (LABELS + ".gz")).write_bytes(gz_bytes(mnist_source, LABELS))
    server.requests.clear()
    with pytest.raises(DataError) as e:
        prepare(d)
    msg = str(e.value)
    assert "missing" in msg and TEST_LABELS in msg and "--data" in msg and "MNIST_VM_DATA" in msg
    assert server.requests == [] and files_in(d) == [LABELS + ".gz"]


def test_prepare_rejects_a_file(tmp_path):
    f = tmp_path / "file"
    f.write_text("x")
    with pytest.raises(DataError, match="not a directory"):
        prepare(f)


def test_prepare_corrupt_gz_names_file_and_leaves_nothing(unpacked, mnist_source, tmp_path):
    d = raw_copy(unpacked[0], tmp_path / "m", [n for n in NAMES if n != TEST_LABELS])
    good = gz_bytes(mnist_source, TEST_LABELS)
    (d / (TEST_LABELS + ".gz")).write_bytes(good[: len(good) // 2])
    with pytest.raises(DataError) as e:
        prepare(d, download=False)
    assert f"{TEST_LABELS}.gz" in str(e.value) and "truncated" in str(e.value)
    work = store.unpack_dir(d)
    assert not [p for p in work.iterdir() if p.name.endswith(".part") or p.name == TEST_LABELS]


def test_a_modified_file_is_used_and_its_checksum_reported(unpacked, tmp_path):
    """Any valid IDX set is accepted; the checksum found is reported, not refused."""
    d = raw_copy(unpacked[0], tmp_path / "m", [n for n in NAMES if n != LABELS])
    content = bytearray((unpacked[0] / LABELS).read_bytes())
    content[500] = (content[500] + 1) % 10
    (d / LABELS).write_bytes(bytes(content))
    console, buf = console_buffer()
    assert prepare(d, download=False, console=console) == d
    note = buf.getvalue()
    assert "not hold the official MNIST" in note and hashlib.md5(content).hexdigest() in note
    assert MD5[TEST_LABELS] not in note  # only the files that differ


def test_disk_full_while_unpacking_is_one_clear_error(mnist_source, tmp_path, monkeypatch):
    monkeypatch.setattr(store, "atomic_write", enospc)
    with pytest.raises(DataError) as e:
        prepare(mnist_source, download=False)
    assert "no space left" in str(e.value) and "XDG_CACHE_HOME" in str(e.value)


def test_disk_full_in_run_and_debug_is_not_a_traceback(mnist_source, monkeypatch, capfd):
    from mnist_vm.cli import main

    monkeypatch.setattr(store, "atomic_write", enospc)
    assert main(["run", "--fast", "--quiet", "--data", str(mnist_source)]) == 1
    err = capfd.readouterr().err
    assert "no space left" in err and "Traceback" not in err
    status = main(
        ["debug", "--batch", os.devnull, "--data", str(mnist_source), "--state", __file__]
    )
    err = capfd.readouterr().err
    assert "no space left" in err and "Traceback" not in err and status != 0


# ---- download ------------------------------------------------------------------
def download(name, dest, bases, **kw):
    return fetch.download_file(name, dest, DATASETS["mnist"], mirror_list=bases, **kw)


def test_download_success(server, tmp_path):
    out = download(LABELS, tmp_path, [server.url("good")])
    assert out == tmp_path / (LABELS + ".gz")
    assert hashlib.md5(gzip.decompress(out.read_bytes())).hexdigest() == MD5[LABELS]
    assert files_in(tmp_path) == [LABELS + ".gz"]


@pytest.mark.parametrize("first", ["missing", "wrong", "garbage", "short", "cut"])
def test_download_falls_back_to_next_mirror(server, tmp_path, first):
    server.requests.clear()
    out = download(TEST_LABELS, tmp_path, [server.url(first), server.url("good")])
    assert hashlib.md5(gzip.decompress(out.read_bytes())).hexdigest() == MD5[TEST_LABELS]
    assert server.requests == [f"/{first}/{TEST_LABELS}.gz", f"/good/{TEST_LABELS}.gz"]
    assert files_in(tmp_path) == [TEST_LABELS + ".gz"]


def test_download_progress_on_a_terminal(server, tmp_path):
    console, buf = console_buffer(terminal=True)
    download(TEST_LABELS, tmp_path, [server.url("missing"), server.url("good")], console=console)
    out = buf.getvalue()
    assert "HTTP 404" in out and f"{TEST_LABELS}.gz" in out and "4.5 kB" in out


def test_interrupted_transfer_everywhere_is_a_clear_error(server, tmp_path):
    with pytest.raises(DataError) as e:
        download(TEST_LABELS, tmp_path, [server.url("short"), server.url("cut")])
    msg = str(e.value)
    assert "transfer interrupted" in msg and "truncated" in msg
    assert server.url("short") in msg and server.url("cut") in msg
    assert files_in(tmp_path) == []


def test_disk_full_during_download_is_not_a_connection_error(server, tmp_path, monkeypatch):
    calls = []

    def full(url, bar, timeout):
        def write(url, output_file, pooch_instance=None):
            calls.append(url)
            raise OSError(errno.ENOSPC, "No space left on device")

        return write

    monkeypatch.setattr(fetch, "downloader", full)
    with pytest.raises(DataError) as e:
        download(TEST_LABELS, tmp_path, [server.url("good"), server.url("good")])
    msg = str(e.value)
    assert "no space left" in msg and "connect" not in msg
    assert len(calls) == 1  # no other mirror can help with a full disk
    assert files_in(tmp_path) == []


def test_checksum_mismatch_on_all_mirrors_leaves_nothing(server, tmp_path, monkeypatch):
    monkeypatch.setenv("MNIST_VM_MIRRORS", f"{server.url('wrong')},{server.url('garbage')}")
    d = data_dir(None)
    with pytest.raises(DataError) as e:
        prepare(d)
    msg = str(e.value)
    assert "wrong content" in msg and "not a gzip file" in msg and "--data" in msg
    assert files_in(d) == []


def test_offline_message(tmp_path, monkeypatch):
    dead = [dead_url(), dead_url()]
    monkeypatch.setenv("MNIST_VM_MIRRORS", ",".join(dead))
    d = data_dir(None)
    with pytest.raises(DataError) as e:
        prepare(d)
    msg = str(e.value)
    for url in dead:
        assert url in msg
    assert "cannot connect" in msg
    assert "--data" in msg and "MNIST_VM_DATA" in msg and ".gz" in msg
    assert all(n in msg for n in NAMES)
    assert files_in(d) == []


def test_prepare_downloads_everything_into_the_cache_then_reuses(server, tmp_path, monkeypatch):
    # the one test that transfers train-images (9.7 MB over loopback)
    monkeypatch.setenv("MNIST_VM_MIRRORS", f"{server.url('missing')},{server.url('good')}")
    server.requests.clear()
    d = data_dir(None)
    out = prepare(d)
    assert out.is_relative_to(cache(tmp_path))
    assert all(md5(out / n) == MD5[n] for n in NAMES)
    assert len(server.requests) == 8
    assert prepare(d) == out
    assert len(server.requests) == 8  # nothing fetched the second time
    assert not [p for p in d.iterdir() if p.name.endswith(".part")]


# ---- corrupted and truncated IDX files -----------------------------------------
def idx_labels(values, magic=2049, count=None):
    values = bytes(values)
    return struct.pack(">II", magic, len(values) if count is None else count) + values


def idx_images(n=2, rows=28, cols=28, magic=2051, body=None):
    head = struct.pack(">IIII", magic, n, rows, cols)
    return head + (bytes(n * rows * cols) if body is None else body)


@pytest.mark.parametrize(
    "content, loader, expect",
    [
        (idx_labels([1, 2, 3], magic=2051), load_labels, "bad magic number 2051 .* expected 2049"),
        (idx_images(magic=2049), load_images, "looks like an IDX labels file"),
        (idx_images(magic=0x12345678), load_images, "bad magic number 305419896"),
        (idx_images(rows=28, cols=27), load_images, "wrong image dimensions 28x27"),
        (
            idx_images(n=3, body=bytes(784 * 2 + 5)),
            load_images,
            "expected 2,368 bytes .* got 1,589 .*truncated",
        ),
        (idx_labels([1, 2, 3], count=5), load_labels, "expected 13 bytes .* got 11"),
        (idx_labels([1, 2, 3]) + b"xx", load_labels, "trailing data"),
        (idx_labels([1, 12, 3]), load_labels, "label out of range 0-9: label 1 is 12"),
        (b"\x00\x00\x08", load_labels, "too short for an IDX labels header"),
        (b"", load_images, "too short"),
    ],
)
def test_bad_idx_raw(tmp_path, content, loader, expect):
    p = tmp_path / "some-file-idx"
    p.write_bytes(content)
    with pytest.raises(DataError, match=expect) as e:
        loader(p)
    assert str(p) in str(e.value)


def test_bad_gzip(tmp_path):
    good = gzip.compress(idx_labels(range(10)) * 1)
    assert load_labels(_write(tmp_path / "ok.gz", good)).tolist() == list(range(10))
    cases = {
        "notgzip.gz": (b"this is not gzip at all", "not a gzip file"),
        "truncated.gz": (good[:-12], "truncated"),
        "corrupt.gz": (good[:12] + b"\xff" * 8 + good[20:], "corrupt"),
        "badcrc.gz": (good[:-8] + b"\0\0\0\0" + good[-4:], "corrupt"),
    }
    for fname, (content, expect) in cases.items():
        p = _write(tmp_path / fname, content)
        with pytest.raises(DataError, match=expect) as e:
            load_labels(p)
        assert fname in str(e.value)


def test_gzip_not_named_gz_is_explained(tmp_path):
    p = _write(tmp_path / "labels", gzip.compress(idx_labels([1])))
    with pytest.raises(DataError, match="gzip data in a file not named .gz"):
        load_labels(p)


def test_missing_file(tmp_path):
    with pytest.raises(DataError, match="no such file"):
        load_images(tmp_path / "nope")


def test_check_file_wrong_count(tmp_path):
    p = _write(tmp_path / LABELS, idx_labels([1, 2, 3]))
    with pytest.raises(DataError, match="wrong labels count in the header: 3, expected 60000"):
        check_file(p, "labels", 60000)
    assert check_file(p, "labels") == (3, hashlib.md5(idx_labels([1, 2, 3])).hexdigest())


def _write(p, content):
    p.write_bytes(content)
    return p


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(blob=st.binary(max_size=64), gz=st.booleans(), cut=st.integers(0, 64))
def test_fuzz_only_data_errors(tmp_path, blob, gz, cut):
    """Arbitrary or truncated input: a result or a DataError, never another exception."""
    content = (idx_labels([3, 1, 4]) + blob)[: 8 + cut] if cut < 32 else blob
    if gz:
        content = (
            gzip.compress(content)[: len(content) // 2 + 10] if cut % 2 else gzip.compress(content)
        )
    p = _write(tmp_path / ("f.gz" if gz else "f"), content)
    for loader in (load_labels, load_images):
        try:
            loader(p)
        except DataError:
            pass


# ---- datasets: any MNIST-format set ---------------------------------------------
def test_class_names():
    assert class_names("mnist") == tuple("0123456789")
    assert class_names("fashion-mnist")[9] == "Ankle boot"
    assert class_label(9, "fashion-mnist") == "9 (Ankle boot)"
    assert class_label(7, "mnist") == class_label(7) == "7"
    assert class_label(1, "kmnist") == "1 (ki)"
    for ds in DATASETS.values():
        assert len(ds.classes) == 10 and set(ds.gz_md5) == set(NAMES)


@pytest.mark.parametrize("gz", [False, True])
def test_a_synthetic_set_is_accepted_with_its_checksums(tmp_path, gz):
    d = synthetic_set(tmp_path / "synth", train=100, test=30, gz=gz)
    console, buf = console_buffer()
    out = prepare(d, download=False, console=console, dataset_name="fashion-mnist")
    assert (out == d) != gz
    assert data.counts(out) == {
        "train-images-idx3-ubyte": 100,
        "train-labels-idx1-ubyte": 100,
        "t10k-images-idx3-ubyte": 30,
        "t10k-labels-idx1-ubyte": 30,
    }
    note = buf.getvalue()
    assert "not hold the official Fashion-MNIST" in note
    assert md5(out / LABELS) in note


@pytest.mark.parametrize(
    "name, content, expect",
    [
        (LABELS, struct.pack(">II", 2049, 99) + bytes(99), "99 labels|100 images but 99 labels"),
        (LABELS, struct.pack(">II", 2049, 100) + bytes([12]) * 100, "label out of range"),
        (
            "train-images-idx3-ubyte",
            struct.pack(">IIII", 2051, 100, 28, 27) + bytes(100 * 28 * 27),
            "wrong image dimensions 28x27",
        ),
    ],
)
def test_a_set_of_the_wrong_shape_is_refused(tmp_path, name, content, expect):
    d = synthetic_set(tmp_path / "synth", train=100, test=30)
    (d / name).write_bytes(content)
    with pytest.raises(DataError, match=expect):
        prepare(d, download=False)


def test_cli_verify_a_synthetic_set(tmp_path, capsys):
    d = synthetic_set(tmp_path / "synth", train=100, test=30)
    assert run_cli(["data", "verify", "--data", str(d)]) == 0
    out = capsys.readouterr().out
    assert out.count("not the official MNIST") == 4 and md5(d / LABELS) in out
    assert "100 items (official: 60,000)" in out


def test_cli_show_names_fashion_classes(tmp_path, capsys):
    d = synthetic_set(tmp_path / "synth", train=100, test=30)
    label = int((d / LABELS).read_bytes()[8])
    assert run_cli(["data", "show", "0", "--data", str(d), "--dataset", "fashion-mnist"]) == 0
    want = f"label {label} ({class_names('fashion-mnist')[label]})"
    assert want in capsys.readouterr().out


# ---- CLI -----------------------------------------------------------------------
def test_cli_show_first_training_image(mnist_source, capsys):
    assert run_cli(["data", "show", "0", "--data", str(mnist_source)]) == 0
    out = capsys.readouterr().out
    assert "label 5" in out
    assert "@@" in out and len(out.splitlines()) == 29  # 28 rows of ASCII + the label


def test_cli_show_test_image_and_range(mnist_source, capsys):
    assert run_cli(["data", "show", "0", "--test", "--data", str(mnist_source)]) == 0
    assert "test image 0: label 7" in capsys.readouterr().out
    assert run_cli(["data", "show", "10000", "--test", "--data", str(mnist_source)]) == 2
    assert "error:" in capsys.readouterr().err


def test_cli_show_into_a_closed_pipe_ends_quietly(mnist_source):
    """`mnist-vm data show 7 | head -1`: no 'Broken pipe' message, like cat."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "mnist_vm.cli", "data", "show", "7", "--data", str(mnist_source)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    proc.stdout.close()  # the reader is gone before the first line
    err = proc.stderr.read().decode()
    proc.wait()
    assert err == "" and proc.returncode in (0, 141)


def test_halfblock_rendering(mnist_source):
    from rich.console import Console

    img = data.read_item(source_file(mnist_source, TEST_IMAGES), "images", 0)
    buf = io.StringIO()
    console = Console(file=buf, force_terminal=True, color_system="truecolor", width=80)
    console.print(data.halfblock_image(img))
    lines = re.sub(r"\x1b\[[0-9;]*m", "", buf.getvalue()).rstrip("\n").split("\n")
    assert len(lines) == 14 and all(line == "▀" * 28 for line in lines)
    assert "\x1b[38;2;255;255;255;48;2;238;238;238m▀" in buf.getvalue()  # fg upper, bg lower


def test_cli_verify_real_data(mnist_source, capsys):
    assert run_cli(["data", "verify", "--data", str(mnist_source)]) == 0
    out = capsys.readouterr().out
    assert out.count("official MNIST") == 4 and MD5[LABELS] in out


def test_cli_verify_reports_problems(unpacked, tmp_path, capsys):
    d = raw_copy(unpacked[0], tmp_path / "m", [n for n in NAMES if n not in (LABELS, TEST_LABELS)])
    _write(d / TEST_LABELS, idx_labels([1, 12]))
    assert run_cli(["data", "verify", "--data", str(d)]) == 1
    cap = capsys.readouterr()
    assert "missing" in cap.out and "label out of range" in cap.out
    assert "error:" in cap.err and "Traceback" not in cap.err


def test_cli_path_prints_the_directory_the_program_reads(
    mnist_source, tmp_path, capsys, monkeypatch
):
    """README: `--root "$(mnist-vm data path)"` must hold the four uncompressed files."""
    monkeypatch.setenv("MNIST_VM_DATA", str(mnist_source))
    assert run_cli(["data", "path"]) == 0
    shown = capsys.readouterr().out.strip()
    assert shown.startswith(str(cache(tmp_path)))
    assert all(md5(data_dir(shown) / n) == MD5[n] for n in NAMES)
    assert run_cli(["data", "path", "--data", str(tmp_path / "typo")]) == 1
    assert "no such directory" in capsys.readouterr().err


def test_cli_download_offline_is_one_error(tmp_path, capfd):
    assert run_cli(["data", "download"]) == 1
    err = capfd.readouterr().err
    assert err.count("error:") == 1 and "Traceback" not in err and "cannot connect" in err
    assert "Downloading data from" not in err  # pooch's own log line: we report transfers


def test_cli_download_from_local_mirror(server, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("MNIST_VM_MIRRORS", server.url("good"))
    assert run_cli(["data", "download"]) == 0
    out = capsys.readouterr().out
    ready = out.strip().split(" in ")[-1]
    assert ready.startswith(str(cache(tmp_path)))
    assert all(md5(data_dir(ready) / n) == MD5[n] for n in NAMES)


def test_cli_without_action_is_usage_error(capsys):
    assert run_cli(["data"]) == 2


def test_wired_into_main_cli(mnist_source, capsys):
    from mnist_vm.cli import main

    assert main(["data", "show", "0", "--data", str(mnist_source)]) == 0
    assert "label 5" in capsys.readouterr().out


def test_a_damaged_download_in_the_cache_is_removed_to_be_fetched_again(mnist_source, tmp_path):
    d = data_dir(None)
    d.mkdir(parents=True)
    for name in NAMES:
        (d / (name + ".gz")).write_bytes(gz_bytes(mnist_source, name))
    good = gz_bytes(mnist_source, TEST_LABELS)
    (d / (TEST_LABELS + ".gz")).write_bytes(good[: len(good) // 2])
    with pytest.raises(DataError, match="truncated.*removed it from the cache"):
        prepare(d, download=False)
    assert not (d / (TEST_LABELS + ".gz")).exists() and (d / (LABELS + ".gz")).exists()
