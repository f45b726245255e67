"""MNIST data module: locations, download with mirror fallback, verification, IDX parsing, CLI.

Real data comes from $MNIST_DATA (default <repo>/../shared/mnist, read-only .gz files).
Downloads only ever go to a local HTTP server on 127.0.0.1; every test runs with
XDG_CACHE_HOME and HOME in a temporary directory and MNIST_VM_MIRRORS pointing
at a port where nothing listens, so nothing touches the network or ~/.cache.
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import io
import os
import re
import shutil
import struct

import numpy as np
import pytest
from conftest_data import MirrorServer, dead_url, gz_bytes, mnist_source_dir, snapshot, source_file
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mnist_vm import data
from mnist_vm.data import (
    FILES,
    NAMES,
    DataError,
    add_data_parser,
    check_file,
    data_dir,
    download_file,
    load_images,
    load_labels,
    prepare,
)

MNIST = mnist_source_dir()
pytestmark = pytest.mark.skipif(MNIST is None, reason="MNIST files not found: set MNIST_DATA")

LABELS = "train-labels-idx1-ubyte"
TEST_LABELS = "t10k-labels-idx1-ubyte"


@pytest.fixture(autouse=True)
def isolated(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.delenv("MNIST_VM_DATA", raising=False)
    monkeypatch.setenv("MNIST_VM_MIRRORS", dead_url())


@pytest.fixture(scope="module")
def server():
    s = MirrorServer(MNIST)
    yield s
    s.close()


@pytest.fixture(scope="module")
def unpacked(tmp_path_factory):
    """prepare() on the real (read-only) MNIST directory, once; returns (result dir, xdg)."""
    xdg = tmp_path_factory.mktemp("xdg-shared")
    before = snapshot(MNIST)
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("XDG_CACHE_HOME", str(xdg))
        mp.delenv("MNIST_VM_DATA", raising=False)
        out = prepare(MNIST, download=False)
    assert snapshot(MNIST) == before, "prepare() wrote into the source directory"
    return out, xdg


def raw_copy(unpacked_dir, dest, names=NAMES):
    """Put verified raw files into dest (hard links: instant, no extra disk)."""
    dest.mkdir(parents=True, exist_ok=True)
    for n in names:
        try:
            os.link(unpacked_dir / n, dest / n)
        except OSError:
            shutil.copyfile(unpacked_dir / n, dest / n)
    return dest


def md5(path) -> str:
    return hashlib.md5(path.read_bytes()).hexdigest()


def files_in(d):
    return sorted(p.name for p in d.rglob("*")) if d.exists() else []


def run_cli(argv):
    p = argparse.ArgumentParser(prog="mnist-vm")
    add_data_parser(p.add_subparsers(dest="command"))
    args = p.parse_args(argv)
    return args.func(args)


# ---- locations -----------------------------------------------------------------
def test_data_dir_precedence(tmp_path, monkeypatch):
    assert data_dir(None) == tmp_path / "xdg" / "mnist-vm"
    monkeypatch.delenv("XDG_CACHE_HOME")
    assert data_dir(None) == tmp_path / "home" / ".cache" / "mnist-vm"
    monkeypatch.setenv("XDG_CACHE_HOME", "relative/ignored")  # XDG spec: must be absolute
    assert data_dir(None) == tmp_path / "home" / ".cache" / "mnist-vm"
    monkeypatch.setenv("MNIST_VM_DATA", str(tmp_path / "env"))
    assert data_dir(None) == tmp_path / "env"
    assert data_dir(tmp_path / "explicit") == tmp_path / "explicit"
    assert data_dir("~/x") == tmp_path / "home" / "x"


def test_mirror_list_override(monkeypatch):
    monkeypatch.delenv("MNIST_VM_MIRRORS")
    assert data.mirrors()[0] == "https://ossci-datasets.s3.amazonaws.com/mnist/"
    assert len(data.mirrors()) == 3
    monkeypatch.setenv("MNIST_VM_MIRRORS", " http://a/x/ , http://b ,")
    assert data.mirrors() == ["http://a/x/", "http://b"]


# ---- loading the real data -----------------------------------------------------
def test_load_real_files():
    images = load_images(source_file(MNIST, "t10k-images-idx3-ubyte"))
    labels = load_labels(source_file(MNIST, TEST_LABELS))
    assert images.shape == (10000, 28, 28) and images.dtype == np.uint8
    assert labels.shape == (10000,) and labels.dtype == np.uint8
    assert labels[:10].tolist() == [7, 2, 1, 0, 4, 1, 4, 9, 5, 9]
    train_labels = load_labels(source_file(MNIST, LABELS))
    assert train_labels[:10].tolist() == [5, 0, 4, 1, 9, 2, 1, 3, 1, 4]
    assert np.bincount(train_labels).sum() == 60000


def test_read_item_matches_load():
    path = source_file(MNIST, "t10k-images-idx3-ubyte")
    images = load_images(path)
    assert np.array_equal(data.read_item(path, "images", 1234), images[1234])
    assert data.read_item(source_file(MNIST, TEST_LABELS), "labels", 0) == 7
    with pytest.raises(IndexError, match="out of range"):
        data.read_item(path, "images", 10000)


def test_load_split(unpacked, tmp_path):
    x, y = data.load_split(MNIST, "test")
    assert x.shape == (10000, 28, 28) and y[0] == 7
    x2, _ = data.load_split(unpacked[0], "test")
    assert np.array_equal(x, x2)
    with pytest.raises(DataError, match="not found"):
        data.load_split(tmp_path, "train")


def test_stale_part_files_are_swept(tmp_path):
    d = tmp_path / "m"
    d.mkdir()
    stale, fresh, other = d / f".{LABELS}.abc.part", d / f".{LABELS}.def.part", d / ".x.part"
    for p in (stale, fresh, other):
        p.write_bytes(b"x")
    os.utime(stale, (1, 1))
    os.utime(other, (1, 1))
    with pytest.raises(DataError):
        prepare(d, download=False)
    assert not stale.exists() and fresh.exists() and other.exists()


# ---- prepare -------------------------------------------------------------------
def test_prepare_readonly_gz_dir_unpacks_to_cache(unpacked):
    out, xdg = unpacked
    assert out.is_relative_to(xdg / "mnist-vm" / "unpacked")
    for name in NAMES:
        assert (out / name).is_file()
        assert md5(out / name) == FILES[name].md5
    assert not [p for p in out.iterdir() if p.name.endswith(".part")]


def test_prepare_reuses_stamp_without_rehashing(unpacked, monkeypatch):
    out, xdg = unpacked
    monkeypatch.setenv("XDG_CACHE_HOME", str(xdg))

    def boom(*a, **k):
        raise AssertionError("re-verified or re-unpacked a stamped file")

    monkeypatch.setattr(data, "_scan", boom)
    assert prepare(MNIST, download=False) == out


def test_prepare_writable_gz_dir(tmp_path):
    d = tmp_path / "mnist"
    d.mkdir()
    for name in NAMES:
        (d / (name + ".gz")).write_bytes(gz_bytes(MNIST, name))
    out = prepare(d, download=False)
    assert out == d / "raw"
    assert all(md5(out / n) == FILES[n].md5 for n in NAMES)
    # a damaged unpacked copy is noticed (stamp mismatch) and rebuilt from the .gz
    with open(out / TEST_LABELS, "r+b") as f:
        f.truncate(100)
    assert prepare(d, download=False) == out
    assert md5(out / TEST_LABELS) == FILES[TEST_LABELS].md5
    assert not [p for p in out.iterdir() if p.name.endswith(".part")]


def test_prepare_raw_dir_is_used_as_is(unpacked, tmp_path):
    d = raw_copy(unpacked[0], tmp_path / "raw-mnist")
    assert prepare(d, download=False) == d
    assert not (d / "raw").exists()


def test_prepare_missing_without_download(tmp_path):
    d = tmp_path / "nothing"
    with pytest.raises(DataError) as e:
        prepare(d, download=False)
    msg = str(e.value)
    assert str(d) in msg and ".gz" in msg and "--data" in msg and "MNIST_VM_DATA" in msg


def test_prepare_rejects_a_file(tmp_path):
    f = tmp_path / "file"
    f.write_text("x")
    with pytest.raises(DataError, match="not a directory"):
        prepare(f)


def test_prepare_corrupt_gz_names_file_and_leaves_nothing(unpacked, tmp_path):
    d = raw_copy(unpacked[0], tmp_path / "m", [n for n in NAMES if n != TEST_LABELS])
    good = gz_bytes(MNIST, TEST_LABELS)
    (d / (TEST_LABELS + ".gz")).write_bytes(good[: len(good) // 2])
    with pytest.raises(DataError) as e:
        prepare(d, download=False)
    assert f"{TEST_LABELS}.gz" in str(e.value) and "truncated" in str(e.value)
    assert not [
        p for p in (d / "raw").iterdir() if p.name.endswith(".part") or p.name == TEST_LABELS
    ]


def test_prepare_corrupt_raw_file_says_what_to_do(unpacked, tmp_path):
    d = raw_copy(unpacked[0], tmp_path / "m", [n for n in NAMES if n != LABELS])
    content = bytearray((unpacked[0] / LABELS).read_bytes())
    content[500] ^= 1
    (d / LABELS).write_bytes(bytes(content))
    with pytest.raises(DataError) as e:
        prepare(d, download=False)
    msg = str(e.value)
    assert LABELS in msg and "checksum mismatch" in msg and "Delete or replace" in msg


# ---- download ------------------------------------------------------------------
def test_download_success(server, tmp_path):
    out = download_file(LABELS, tmp_path, mirrors_=[server.url("good")])
    assert out == tmp_path / LABELS
    assert md5(out) == FILES[LABELS].md5
    assert files_in(tmp_path) == sorted([LABELS, data.STAMP_NAME])


@pytest.mark.parametrize("first", ["missing", "wrong", "garbage", "short", "cut"])
def test_download_falls_back_to_next_mirror(server, tmp_path, first):
    server.requests.clear()
    out = download_file(TEST_LABELS, tmp_path, mirrors_=[server.url(first), server.url("good")])
    assert md5(out) == FILES[TEST_LABELS].md5
    assert server.requests == [f"/{first}/{TEST_LABELS}.gz", f"/good/{TEST_LABELS}.gz"]
    assert files_in(tmp_path) == sorted([TEST_LABELS, data.STAMP_NAME])


def test_download_progress_on_a_terminal(server, tmp_path):
    from rich.console import Console

    buf = io.StringIO()
    console = Console(file=buf, force_terminal=True, width=100)
    download_file(
        TEST_LABELS, tmp_path, mirrors_=[server.url("missing"), server.url("good")], console=console
    )
    out = buf.getvalue()
    assert "HTTP 404" in out and f"{TEST_LABELS}.gz" in out and "4.5 kB" in out


def test_interrupted_transfer_everywhere_is_a_clear_error(server, tmp_path):
    with pytest.raises(DataError) as e:
        download_file(TEST_LABELS, tmp_path, mirrors_=[server.url("short"), server.url("cut")])
    msg = str(e.value)
    assert "interrupted after" in msg and "truncated" in msg
    assert server.url("short") in msg and server.url("cut") in msg
    assert files_in(tmp_path) == []


def test_checksum_mismatch_on_all_mirrors_leaves_nothing(server, tmp_path, monkeypatch):
    monkeypatch.setenv("MNIST_VM_MIRRORS", f"{server.url('wrong')},{server.url('garbage')}")
    d = tmp_path / "cache"
    with pytest.raises(DataError) as e:
        prepare(d)
    msg = str(e.value)
    assert "wrong content (MD5" in msg and "not gzip data" in msg and str(d) in msg
    assert files_in(d) == []


def test_offline_message(tmp_path, monkeypatch):
    dead = [dead_url(), dead_url()]
    monkeypatch.setenv("MNIST_VM_MIRRORS", ",".join(dead))
    d = tmp_path / "offline"
    with pytest.raises(DataError) as e:
        prepare(d)
    msg = str(e.value)
    for url in dead:
        assert url in msg
    assert "cannot connect" in msg
    assert str(d) in msg and "--data" in msg and "MNIST_VM_DATA" in msg and ".gz" in msg
    assert all(n in msg for n in NAMES)
    assert files_in(d) == []


def test_prepare_downloads_everything_then_reuses(server, tmp_path, monkeypatch):
    # the one test that transfers train-images (9.7 MB over loopback)
    monkeypatch.setenv("MNIST_VM_MIRRORS", f"{server.url('missing')},{server.url('good')}")
    server.requests.clear()
    d = tmp_path / "fresh"
    assert prepare(d) == d
    assert all(md5(d / n) == FILES[n].md5 for n in NAMES)
    assert len(server.requests) == 8
    assert prepare(d) == d
    assert len(server.requests) == 8  # nothing fetched the second time
    assert not [p for p in d.iterdir() if p.name.endswith(".part")]


def test_readonly_dir_downloads_into_cache(server, unpacked, tmp_path, monkeypatch):
    monkeypatch.setenv("MNIST_VM_MIRRORS", server.url("good"))
    d = raw_copy(unpacked[0], tmp_path / "ro", [n for n in NAMES if n != LABELS])
    d.chmod(0o555)
    try:
        before = snapshot(d)
        out = prepare(d)
        assert snapshot(d) == before
        assert out.is_relative_to(tmp_path / "xdg" / "mnist-vm" / "unpacked")
        assert all(md5(out / n) == FILES[n].md5 for n in NAMES)
        server.requests.clear()
        assert prepare(d) == out
        assert server.requests == []
    finally:
        d.chmod(0o755)


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
        check_file(p)


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


# ---- CLI -----------------------------------------------------------------------
def test_cli_show_first_training_image(capsys):
    assert run_cli(["data", "show", "0", "--data", str(MNIST)]) == 0
    out = capsys.readouterr().out
    assert "label 5" in out
    assert "@@" in out and len(out.splitlines()) == 29  # 28 rows of ASCII + the label


def test_cli_show_test_image_and_range(capsys):
    assert run_cli(["data", "show", "0", "--test", "--data", str(MNIST)]) == 0
    assert "test image 0: label 7" in capsys.readouterr().out
    assert run_cli(["data", "show", "10000", "--test", "--data", str(MNIST)]) == 2
    assert "error:" in capsys.readouterr().err


def test_halfblock_rendering():
    from rich.console import Console

    img = data.read_item(source_file(MNIST, "t10k-images-idx3-ubyte"), "images", 0)
    buf = io.StringIO()
    console = Console(file=buf, force_terminal=True, color_system="truecolor", width=80)
    console.print(data.halfblock_image(img))
    lines = re.sub(r"\x1b\[[0-9;]*m", "", buf.getvalue()).rstrip("\n").split("\n")
    assert len(lines) == 14 and all(line == "▀" * 28 for line in lines)
    assert "\x1b[38;2;255;255;255;48;2;238;238;238m▀" in buf.getvalue()  # fg upper, bg lower


def test_cli_verify_real_data(capsys):
    assert run_cli(["data", "verify", "--data", str(MNIST)]) == 0
    out = capsys.readouterr().out
    assert out.count("ok") >= 4 and FILES[LABELS].md5 in out


def test_cli_verify_reports_problems(unpacked, tmp_path, capsys):
    d = raw_copy(unpacked[0], tmp_path / "m", [n for n in NAMES if n not in (LABELS, TEST_LABELS)])
    _write(d / TEST_LABELS, idx_labels([1, 2]))
    assert run_cli(["data", "verify", "--data", str(d)]) == 1
    cap = capsys.readouterr()
    assert "missing" in cap.out and "wrong labels count" in cap.out
    assert "error:" in cap.err and "Traceback" not in cap.err


def test_cli_path(tmp_path, monkeypatch, capsys):
    assert run_cli(["data", "path"]) == 0
    assert capsys.readouterr().out.strip() == str(tmp_path / "xdg" / "mnist-vm")
    monkeypatch.setenv("MNIST_VM_DATA", str(tmp_path / "env"))
    assert run_cli(["data", "path"]) == 0
    assert capsys.readouterr().out.strip() == str(tmp_path / "env")
    assert run_cli(["data", "path", "--data", str(tmp_path / "x")]) == 0
    assert capsys.readouterr().out.strip() == str(tmp_path / "x")


def test_cli_download_offline_is_one_error(tmp_path, capsys):
    assert run_cli(["data", "download", "--data", str(tmp_path / "d")]) == 1
    err = capsys.readouterr().err
    assert err.count("error:") == 1 and "Traceback" not in err and str(tmp_path / "d") in err


def test_cli_download_from_local_mirror(server, unpacked, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("MNIST_VM_MIRRORS", server.url("good"))
    d = raw_copy(unpacked[0], tmp_path / "m", [n for n in NAMES if n != TEST_LABELS])
    assert run_cli(["data", "download", "--data", str(d)]) == 0
    assert md5(d / TEST_LABELS) == FILES[TEST_LABELS].md5
    assert str(d) in capsys.readouterr().out


def test_cli_without_action_is_usage_error(capsys):
    assert run_cli(["data"]) == 2


def test_wired_into_main_cli(capsys):
    from mnist_vm.cli import main

    assert main(["data", "show", "0", "--data", str(MNIST)]) == 0
    assert "label 5" in capsys.readouterr().out
