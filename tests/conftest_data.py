"""The one place the tests look for MNIST, plus helpers for tests/test_data.py
(a local HTTP mirror server, synthetic IDX sets).

The real files are found as `mnist-vm` finds them (mnist_vm.data.data_dir): $MNIST_VM_DATA
(alias $MNIST_DATA), else the download cache. Not a conftest.py (nothing here is
collected or auto-loaded); conftest.py and the test modules import it.
"""

from __future__ import annotations

import gzip
import http.server
import socket
import struct
import threading
from functools import cache
from pathlib import Path

import numpy as np

from mnist_vm.data import COUNTS, ENV_DATA, KINDS, NAMES, data_dir

MISSING = (
    f"MNIST not found: set {ENV_DATA} to a directory holding the four IDX files "
    "(train-images-idx3-ubyte[.gz], ...), or run `mnist-vm data download` once"
)


@cache
def mnist_source_dir() -> Path | None:
    """Where the real MNIST files are (as `mnist-vm` looks for them); None if nowhere."""
    d = data_dir(None)
    if all(source_file(d, n) is not None for n in NAMES):
        return d
    return None


def source_file(d: Path, name: str) -> Path | None:
    for p in (d / name, d / (name + ".gz")):
        if p.is_file():
            return p
    return None


@cache
def gz_bytes(d: Path, name: str) -> bytes:
    """<name>.gz as a mirror would serve it."""
    p = source_file(d, name)
    data = p.read_bytes()
    return data if p.name.endswith(".gz") else gzip.compress(data, compresslevel=1)


@cache
def wrong_gz(name: str) -> bytes:
    """A well-formed file of the right size with the wrong content (checksum mismatch)."""
    n = COUNTS[name]
    content = (
        idx_images(np.zeros((n, 28, 28), np.uint8))
        if KINDS[name] == "images"
        else idx_labels(bytes(n))
    )
    return gzip.compress(content, compresslevel=1)


def idx_images(images) -> bytes:
    images = np.asarray(images, dtype=np.uint8)
    n, rows, cols = images.shape
    return struct.pack(">IIII", 2051, n, rows, cols) + images.tobytes()


def idx_labels(labels) -> bytes:
    labels = bytes(labels)
    return struct.pack(">II", 2049, len(labels)) + labels


def synthetic_set(
    d: Path, train: int = 128, test: int = 64, seed: int = 1, gz: bool = False
) -> Path:
    """A small learnable MNIST-format set in d: class k is a bright square at spot k."""
    rng = np.random.default_rng(seed)
    d.mkdir(parents=True, exist_ok=True)
    for prefix, n in (("train", train), ("t10k", test)):
        labels = rng.integers(0, 10, n).astype(np.uint8)
        images = rng.integers(0, 40, (n, 28, 28)).astype(np.uint8)
        for i, k in enumerate(labels):
            r, c = 2 + 8 * (k // 4), 2 + 6 * (k % 4)
            images[i, r : r + 6, c : c + 5] = 250
        for kind, content in (
            ("images-idx3", idx_images(images)),
            ("labels-idx1", idx_labels(labels)),
        ):
            name = f"{prefix}-{kind}-ubyte"
            if gz:
                (d / (name + ".gz")).write_bytes(gzip.compress(content, compresslevel=1))
            else:
                (d / name).write_bytes(content)
    return d


def snapshot(d: Path) -> dict:
    """Names, sizes and mtimes of everything under d (to prove nothing changed)."""
    out = {}
    for p in sorted(d.rglob("*")):
        st = p.stat()
        out[str(p.relative_to(d))] = (st.st_size, st.st_mtime_ns)
    return out


def dead_url() -> str:
    """A base URL on 127.0.0.1 where nothing listens (connection refused)."""
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return f"http://127.0.0.1:{port}/"


class MirrorServer:
    """A local HTTP server; the first path component picks the mirror's behaviour.

    good      the real .gz files
    missing   404 for everything
    wrong     gzip of a well-formed file with wrong content (checksum mismatch)
    garbage   200 with an HTML page instead of gzip
    short     Content-Length of the whole file, but only half of it is sent
    cut       no Content-Length, connection closed after half the file
    """

    def __init__(self, mnist: Path):
        self.mnist = mnist
        self.requests: list[str] = []
        state = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_GET(self):
                state.requests.append(self.path)
                mode, _, fname = self.path.lstrip("/").partition("/")
                name = fname.removesuffix(".gz")
                if name not in NAMES or not fname.endswith(".gz") or mode == "missing":
                    self.send_error(404)
                    return
                if mode == "garbage":
                    body = b"<html><body>Moved</body></html>"
                elif mode == "wrong":
                    body = wrong_gz(name)
                else:
                    body = gz_bytes(state.mnist, name)
                self.send_response(200)
                self.send_header("Content-Type", "application/octet-stream")
                if mode != "cut":
                    self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                if mode in ("short", "cut"):
                    body = body[: len(body) // 2]
                try:
                    self.wfile.write(body)
                    self.wfile.flush()
                except OSError:
                    pass
                self.close_connection = True

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.port = self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def url(self, mode: str) -> str:
        return f"http://127.0.0.1:{self.port}/{mode}/"

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
