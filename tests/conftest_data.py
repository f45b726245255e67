"""Helpers for tests/test_data.py: the real MNIST files and a local HTTP mirror server.

Not a conftest.py (nothing here is collected or auto-loaded); test_data.py imports it.
"""

from __future__ import annotations

import gzip
import http.server
import os
import socket
import threading
from functools import cache
from pathlib import Path

from mnist_vm.data import FILES, NAMES

REPO = Path(__file__).resolve().parents[1]


def mnist_source_dir() -> Path | None:
    """$MNIST_DATA, else <repo>/../shared/mnist; None if neither has the four files."""
    candidates = [os.environ.get("MNIST_DATA"), str(REPO.parent / "shared" / "mnist")]
    for c in candidates:
        if c and all(source_file(Path(c), n) is not None for n in NAMES):
            return Path(c)
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
    spec = FILES[name]
    header = (
        (
            (2051).to_bytes(4, "big")
            + spec.count.to_bytes(4, "big")
            + (28).to_bytes(4, "big")
            + (28).to_bytes(4, "big")
        )
        if spec.kind == "images"
        else (2049).to_bytes(4, "big") + spec.count.to_bytes(4, "big")
    )
    body = bytes(spec.size - len(header))
    return gzip.compress(header + body, compresslevel=1)


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
                if name not in FILES or not fname.endswith(".gz") or mode == "missing":
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
