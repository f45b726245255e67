"""MNIST data: where it lives, download, verification, IDX parsing, `mnist-vm data`.

The assembly program opens the four IDX files by their plain names with
open/read syscalls, so the host's job is to hand it a directory holding the
four *uncompressed*, verified files:

    data_dir(explicit)   --data DIR  >  $MNIST_VM_DATA  >  $XDG_CACHE_HOME/mnist-vm
                         (or ~/.cache/mnist-vm)
    prepare(dir)         find each file raw or as .gz, download what is missing,
                         unpack .gz files next to it (<dir>/raw, or a cache
                         directory when <dir> is read-only), verify the MD5 of
                         the uncompressed content, and return the directory.

Verification is remembered in a small stamp file (size, mtime and inode of
each verified file) so the MD5 is not recomputed on every run. Every write is
atomic: a temporary file in the target directory, fsync, os.replace, and the
temporary file is removed on any failure, so a failed download or a checksum
mismatch leaves nothing behind.

Every problem is a DataError whose message names the file and what is wrong.
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import http.client
import json
import os
import shutil
import struct
import sys
import time
import urllib.error
import urllib.request
import zlib
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from vm.atomic import atomic_write, atomic_write_bytes

ENV_DATA = "MNIST_VM_DATA"
ENV_MIRRORS = "MNIST_VM_MIRRORS"
DEFAULT_MIRRORS = (
    "https://ossci-datasets.s3.amazonaws.com/mnist/",
    "http://yann.lecun.com/exdb/mnist/",
    "https://storage.googleapis.com/cvdf-datasets/mnist/",
)
DEFAULT_TIMEOUT = 30.0
STAMP_NAME = ".mnist-vm-verified.json"
UNPACK_SUBDIR = "raw"
CHUNK = 1 << 16
USER_AGENT = "mnist-vm (python urllib)"

IMAGES_MAGIC = 2051  # 0x00000803: unsigned bytes, 3 dimensions
LABELS_MAGIC = 2049  # 0x00000801: unsigned bytes, 1 dimension
ROWS = COLS = 28


@dataclass(frozen=True)
class FileSpec:
    name: str
    kind: str  # "images" or "labels"
    count: int
    md5: str  # of the uncompressed content

    @property
    def header_size(self) -> int:
        return _header_size(self.kind)

    @property
    def size(self) -> int:
        return self.header_size + self.count * _item_size(self.kind)


FILES: dict[str, FileSpec] = {
    s.name: s
    for s in (
        FileSpec("train-images-idx3-ubyte", "images", 60000, "6bbc9ace898e44ae57da46a324031adb"),
        FileSpec("train-labels-idx1-ubyte", "labels", 60000, "a25bea736e30d166cdddb491f175f624"),
        FileSpec("t10k-images-idx3-ubyte", "images", 10000, "2646ac647ad5339dbf082846283269ea"),
        FileSpec("t10k-labels-idx1-ubyte", "labels", 10000, "27ae3e4e09519cfbb04c329615203637"),
    )
}
NAMES = tuple(FILES)
SPLITS = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}


class DataError(Exception):
    """A user-facing problem with the MNIST data; str() is the whole message.

    `where` is the file or URL concerned (or None) and `problem` what is wrong.
    """

    def __init__(self, problem: str, where: str | os.PathLike | None = None):
        self.problem = problem
        self.where = None if where is None else str(where)
        super().__init__(f"{self.where}: {problem}" if self.where else problem)


# ---- locations ----------------------------------------------------------------
def cache_base() -> Path:
    """$XDG_CACHE_HOME/mnist-vm, or ~/.cache/mnist-vm."""
    xdg = os.environ.get("XDG_CACHE_HOME", "")
    base = Path(xdg) if xdg and os.path.isabs(xdg) else Path.home() / ".cache"
    return base / "mnist-vm"


def data_dir(explicit: str | os.PathLike | None = None) -> Path:
    """The MNIST directory: explicit (--data) > $MNIST_VM_DATA > the cache directory."""
    if explicit is not None and str(explicit) != "":
        chosen = Path(explicit)
    elif os.environ.get(ENV_DATA):
        chosen = Path(os.environ[ENV_DATA])
    else:
        chosen = cache_base()
    return chosen.expanduser().absolute()


def mirrors() -> list[str]:
    """Base URLs to download from, in order ($MNIST_VM_MIRRORS, comma-separated, overrides)."""
    env = os.environ.get(ENV_MIRRORS)
    if env is not None and env.strip():
        return [m.strip() for m in env.split(",") if m.strip()]
    return list(DEFAULT_MIRRORS)


def _fallback_dir(src: Path) -> Path:
    key = hashlib.sha1(str(src).encode()).hexdigest()[:10]
    slug = "".join(c if c.isalnum() or c in "-_." else "_" for c in src.name) or "root"
    return cache_base() / "unpacked" / f"{slug}-{key}"


def _writable(d: Path) -> bool:
    """Is d an existing directory we may write to?

    A directory without any write permission bit counts as read-only even for
    root (who could write there anyway): that is the owner's stated intent.
    """
    try:
        st = d.stat()
    except OSError:
        return False
    return d.is_dir() and bool(st.st_mode & 0o222) and os.access(d, os.W_OK | os.X_OK)


def _make_dir(d: Path) -> bool:
    """Create d (and parents) if missing; True if it is then writable."""
    if not d.exists():
        parent = d.parent
        while not parent.exists() and parent != parent.parent:
            parent = parent.parent
        if not _writable(parent):
            return False
        try:
            d.mkdir(parents=True, exist_ok=True)
        except OSError:
            return False
    return _writable(d)


def _require_dir(d: Path, why: str) -> Path:
    if not _make_dir(d):
        raise DataError(
            f"cannot write to this directory ({why}); point XDG_CACHE_HOME at a "
            "writable place, or use --data / MNIST_VM_DATA with a writable directory",
            d,
        )
    _sweep(d)
    return d


def _sweep(d: Path, age: float = 3600.0) -> None:
    """Remove temporary files an interrupted earlier run left behind."""
    now = time.time()
    ours = tuple(f".{n}." for n in (*NAMES, STAMP_NAME))
    for p in d.glob(".*.part"):
        if not p.name.startswith(ours):
            continue
        try:
            if now - p.stat().st_mtime > age:
                p.unlink()
        except OSError:
            pass


# ---- reading and checking IDX content ----------------------------------------
def _header_size(kind: str) -> int:
    return 16 if kind == "images" else 8


def _item_size(kind: str) -> int:
    return ROWS * COLS if kind == "images" else 1


def _is_gz(path: Path) -> bool:
    return path.name.endswith(".gz")


def _gzip_problem(e: BaseException) -> str:
    if isinstance(e, EOFError):
        return "gzip data is truncated (the compressed stream ends early)"
    text = str(e)
    if "Not a gzipped file" in text:
        return "not a gzip file (bad gzip header)"
    if "CRC" in text or "length" in text.lower():
        return f"gzip data is corrupt ({text})"
    return f"gzip data is corrupt ({text or type(e).__name__})"


def _os_problem(e: OSError) -> str:
    if isinstance(e, FileNotFoundError):
        return "no such file"
    if isinstance(e, IsADirectoryError):
        return "is a directory, not a file"
    return f"cannot read ({e.strerror or e})"


def _read_chunks(path: Path) -> Iterator[bytes]:
    """The uncompressed content of path (raw, or gzip if named .gz) in chunks."""
    try:
        opener = gzip.open if _is_gz(path) else open
        with opener(path, "rb") as f:
            while chunk := f.read(CHUNK):
                yield chunk
    except (gzip.BadGzipFile, EOFError, zlib.error) as e:
        raise DataError(_gzip_problem(e), path) from None
    except OSError as e:
        raise DataError(_os_problem(e), path) from None


def _read_all(path: Path) -> bytes:
    return b"".join(_read_chunks(path))


def _check_header(head: bytes, kind: str, where, count: int | None = None) -> int:
    """Validate an IDX header for kind; return the item count."""
    hsize = _header_size(kind)
    if len(head) < hsize:
        raise DataError(
            f"file too short for an IDX {kind} header: got {len(head)} bytes, need {hsize}", where
        )
    if kind == "images":
        magic, n, rows, cols = struct.unpack(">IIII", head[:16])
    else:
        magic, n = struct.unpack(">II", head[:8])
        rows = cols = None
    want = IMAGES_MAGIC if kind == "images" else LABELS_MAGIC
    if magic != want:
        hint = ""
        if magic == (LABELS_MAGIC if kind == "images" else IMAGES_MAGIC):
            hint = f" (this looks like an IDX {'labels' if kind == 'images' else 'images'} file)"
        elif head[:2] == b"\x1f\x8b":
            hint = " (this is gzip data in a file not named .gz)"
        raise DataError(
            f"bad magic number {magic} (0x{magic:08x}), expected {want} "
            f"(0x{want:08x}) for an IDX {kind} file{hint}",
            where,
        )
    if kind == "images" and (rows, cols) != (ROWS, COLS):
        raise DataError(f"wrong image dimensions {rows}x{cols}, expected {ROWS}x{COLS}", where)
    if count is not None and n != count:
        raise DataError(f"wrong {kind} count in the header: {n}, expected {count}", where)
    return n


def _size_problem(kind: str, n: int, expected: int, got: int, more: bool = False) -> str:
    what = f"{n} {kind} of {ROWS}x{COLS}" if kind == "images" else f"{n} labels"
    got_s = f"more than {got:,}" if more else f"{got:,}"
    tail = " (truncated)" if got < expected and not more else " (trailing data)"
    return (
        f"size mismatch: expected {expected:,} bytes ({what} plus the "
        f"{_header_size(kind)}-byte header), got {got_s}{tail}"
    )


def _scan(chunks: Iterable[bytes], spec: FileSpec, where, out=None) -> str:
    """Check header, size and MD5 of uncompressed content against spec; copy it to out.

    Stops as soon as the content is longer than it should be (no gzip bombs).
    """
    md5 = hashlib.md5()
    head = b""
    total = 0
    expected = None
    for chunk in chunks:
        if not chunk:
            continue
        md5.update(chunk)
        total += len(chunk)
        if out is not None:
            out.write(chunk)
        if expected is None:
            head += chunk
            if len(head) >= spec.header_size:
                _check_header(head, spec.kind, where, spec.count)
                expected = spec.size
                head = b""
        if expected is not None and total > expected:
            raise DataError(
                _size_problem(spec.kind, spec.count, expected, expected, more=True), where
            )
    if expected is None:
        _check_header(head, spec.kind, where, spec.count)  # raises: too short
    if total != expected:
        raise DataError(_size_problem(spec.kind, spec.count, expected, total), where)
    got = md5.hexdigest()
    if got != spec.md5:
        raise DataError(
            f"checksum mismatch: MD5 of the uncompressed content is {got}, expected {spec.md5}",
            where,
        )
    return got


def check_file(path: str | os.PathLike, name: str | None = None) -> str:
    """Fully verify one MNIST file (raw or .gz); return its MD5. Raises DataError."""
    path = Path(path)
    name = name or path.name.removesuffix(".gz")
    if name not in FILES:
        raise DataError(f"not one of the MNIST files ({', '.join(NAMES)})", path)
    return _scan(_read_chunks(path), FILES[name], path)


def _parse(path: Path, kind: str) -> tuple[bytes, int]:
    data = _read_all(path)
    n = _check_header(data, kind, path)
    expected = _header_size(kind) + n * _item_size(kind)
    if len(data) != expected:
        raise DataError(_size_problem(kind, n, expected, len(data)), path)
    return data, n


def load_images(path: str | os.PathLike) -> np.ndarray:
    """An IDX images file (raw or .gz) as a uint8 array of shape (N, 28, 28)."""
    path = Path(path)
    data, n = _parse(path, "images")
    return np.frombuffer(bytearray(data), dtype=np.uint8, offset=16).reshape(n, ROWS, COLS)


def load_labels(path: str | os.PathLike) -> np.ndarray:
    """An IDX labels file (raw or .gz) as a uint8 array of shape (N,), values 0-9."""
    path = Path(path)
    data, n = _parse(path, "labels")
    labels = np.frombuffer(bytearray(data), dtype=np.uint8, offset=8)
    if n and labels.max() > 9:
        i = int(np.argmax(labels > 9))
        raise DataError(f"label out of range 0-9: label {i} is {labels[i]}", path)
    return labels


def read_item(path: str | os.PathLike, kind: str, index: int):
    """Image `index` (28x28 uint8 array) or label `index` (int) without loading the whole file."""
    path = Path(path)
    hsize, isize = _header_size(kind), _item_size(kind)
    try:
        opener = gzip.open if _is_gz(path) else open
        with opener(path, "rb") as f:
            n = _check_header(f.read(hsize), kind, path)
            if not 0 <= index < n:
                raise IndexError(f"index {index} is out of range: {path.name} holds {n} {kind}")
            f.seek(hsize + index * isize)
            raw = f.read(isize)
    except (gzip.BadGzipFile, EOFError, zlib.error) as e:
        raise DataError(_gzip_problem(e), path) from None
    except OSError as e:
        raise DataError(_os_problem(e), path) from None
    if len(raw) != isize:
        raise DataError(f"size mismatch: file ends before {kind[:-1]} {index} (truncated)", path)
    if kind == "labels":
        if raw[0] > 9:
            raise DataError(f"label out of range 0-9: label {index} is {raw[0]}", path)
        return raw[0]
    return np.frombuffer(raw, dtype=np.uint8).reshape(ROWS, COLS)


def load_split(root: str | os.PathLike, split: str = "train") -> tuple[np.ndarray, np.ndarray]:
    """(images, labels) of "train" or "test" from a directory holding the files (raw or .gz)."""
    root = Path(root)
    img_name, lab_name = SPLITS[split]
    found = _locate(root)
    for name in (img_name, lab_name):
        if found[name] is None:
            raise DataError(f"{name} not found (raw or .gz)", root)
    images, labels = load_images(found[img_name]), load_labels(found[lab_name])
    if len(images) != len(labels):
        raise DataError(f"{len(images)} images but {len(labels)} labels", root)
    return images, labels


# ---- verification stamps ------------------------------------------------------
def _stamp_file(d: Path) -> Path:
    if _writable(d):
        return d / STAMP_NAME
    key = hashlib.sha1(str(d.absolute()).encode()).hexdigest()[:16]
    return cache_base() / "verified" / f"{key}.json"


def _read_stamps(d: Path) -> dict:
    try:
        data = json.loads(_stamp_file(d).read_text())
        return data if isinstance(data, dict) else {}
    except (OSError, ValueError):
        return {}


def _fingerprint(p: Path) -> dict | None:
    try:
        st = p.stat()
    except OSError:
        return None
    return {"size": st.st_size, "mtime_ns": st.st_mtime_ns, "ino": st.st_ino}


def _stamped(d: Path, name: str, source: Path | None = None) -> bool:
    """Was d/name verified before and is it unchanged (and so is its source, if given)?"""
    entry = _read_stamps(d).get(name)
    fp = _fingerprint(d / name)
    if not isinstance(entry, dict) or fp is None or entry.get("md5") != FILES[name].md5:
        return False
    if any(entry.get(k) != v for k, v in fp.items()):
        return False
    if source is not None and source != d / name:
        rec = entry.get("source")
        if not isinstance(rec, dict) or rec.get("path") != str(source):
            return False
        sfp = _fingerprint(source)
        if sfp is None or rec.get("size") != sfp["size"] or rec.get("mtime_ns") != sfp["mtime_ns"]:
            return False
    return True


def _stamp(d: Path, name: str, source: Path | None = None) -> None:
    """Record that d/name is verified (best effort: a lost stamp only costs a re-check)."""
    fp = _fingerprint(d / name)
    if fp is None:
        return
    entry = {**fp, "md5": FILES[name].md5}
    if source is not None and source != d / name:
        sfp = _fingerprint(source) or {}
        entry["source"] = {
            "path": str(source),
            "size": sfp.get("size"),
            "mtime_ns": sfp.get("mtime_ns"),
        }
    target = _stamp_file(d)
    stamps = _read_stamps(d)
    stamps[name] = entry
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        _atomic_write_bytes(target, (json.dumps(stamps, indent=1, sort_keys=True) + "\n").encode())
    except OSError:
        pass


def _verify_cached(path: Path, name: str) -> None:
    """Raise DataError unless path is a good copy of `name`; use/refresh the stamp."""
    if _stamped(path.parent, name):
        return
    check_file(path, name)
    _stamp(path.parent, name)


# ---- atomic writes -----------------------------------------------------------
def _atomic_fill(dst: Path, fill: Callable) -> None:
    atomic_write(dst, fill)


def _atomic_write_bytes(dst: Path, data: bytes) -> None:
    atomic_write_bytes(dst, data)


def _unpack(source: Path, dst: Path, name: str) -> None:
    """Decompress (or copy) source into dst, verifying on the way."""
    _atomic_fill(dst, lambda f: _scan(_read_chunks(source), FILES[name], source, out=f))
    _stamp(dst.parent, name, source)


def _link_or_copy(source: Path, dst: Path, name: str) -> None:
    """Put a verified raw file into the unpack directory (hard link if possible)."""
    tmp = dst.parent / f".{name}.{os.getpid()}.link.part"
    try:
        os.link(source, tmp)
        os.replace(tmp, dst)
    except OSError:
        try:
            tmp.unlink()
        except OSError:
            pass
        _atomic_fill(dst, lambda f: _copy_into(source, f))
    _stamp(dst.parent, name, source)


def _copy_into(source: Path, f) -> None:
    with open(source, "rb") as s:
        shutil.copyfileobj(s, f, CHUNK)


# ---- download ----------------------------------------------------------------
class _Failures:
    """What went wrong where, for one message at the end."""

    def __init__(self):
        self.by_mirror: dict[str, list[tuple[str, str]]] = {}

    def add(self, mirror: str, name: str, reason: str) -> None:
        self.by_mirror.setdefault(mirror, []).append((name, reason))

    def lines(self) -> list[str]:
        out = []
        for mirror, items in self.by_mirror.items():
            reasons = {r for _, r in items}
            if len(reasons) == 1:
                out.append(f"  {mirror}: {reasons.pop()}")
            else:
                out.append(f"  {mirror}: " + "; ".join(f"{n}.gz: {r}" for n, r in items))
        return out


def where_to_put(d: Path) -> str:
    return (
        f"To work offline, put the four files ({', '.join(NAMES)}) in {d}, "
        f"gzip-compressed (.gz) or uncompressed, both work; or point --data DIR or "
        f"{ENV_DATA} at a directory that holds them."
    )


def _reason(e: BaseException) -> str:
    if isinstance(e, urllib.error.HTTPError):
        return f"HTTP {e.code} {e.reason}".strip()
    if isinstance(e, urllib.error.URLError):
        r = e.reason
        if isinstance(r, TimeoutError) or "timed out" in str(r):
            return "cannot connect (timed out)"
        return f"cannot connect ({getattr(r, 'strerror', None) or r})"
    if isinstance(e, TimeoutError):
        return "timed out"
    if isinstance(e, DataError):
        if e.problem.startswith("checksum mismatch"):
            return "wrong content (MD5 of the uncompressed data does not match)"
        return e.problem
    if isinstance(e, http.client.HTTPException):
        return f"broken HTTP response ({type(e).__name__}: {e})"
    if isinstance(e, OSError):
        return f"connection error ({e.strerror or e})"
    return f"{type(e).__name__}: {e}"


def _net_chunks(resp, length: int | None, advance: Callable[[int], None]) -> Iterator[bytes]:
    """The uncompressed payload of a response carrying a .gz (raw is accepted too)."""
    received = 0
    dec = None
    first = True
    while True:
        try:
            block = resp.read(CHUNK)
        except http.client.IncompleteRead as e:
            received += len(e.partial)
            of = f" of {length:,}" if length is not None else ""
            raise DataError(f"transfer interrupted after {received:,}{of} bytes") from None
        if not block:
            break
        received += len(block)
        advance(len(block))
        if first:
            first = False
            if block[:2] == b"\x1f\x8b":
                dec = zlib.decompressobj(wbits=31)
            elif block[:3] != b"\x00\x00\x08":  # neither gzip nor a raw IDX file
                raise DataError(f"the response is not gzip data (it starts with {block[:12]!r})")
        if dec is None:
            yield block
            continue
        try:
            out = dec.decompress(block)
            while dec.eof and dec.unused_data:  # multi-member gzip
                rest = dec.unused_data
                dec = zlib.decompressobj(wbits=31)
                out += dec.decompress(rest)
        except zlib.error as e:
            raise DataError(f"downloaded data is not valid gzip ({e})") from None
        yield out
    if length is not None and received < length:
        raise DataError(f"transfer interrupted after {received:,} of {length:,} bytes")
    if dec is not None:
        if not dec.eof:
            raise DataError(
                f"download truncated: the gzip stream ends early (after {received:,} bytes)"
            )
        yield dec.flush()


class _Reporter:
    """Progress bars on a terminal, one line per event otherwise, nothing without a console."""

    def __init__(self, console):
        self.console = console
        self.progress = None
        if console is not None and console.is_terminal:
            from rich.progress import (
                BarColumn,
                DownloadColumn,
                Progress,
                TextColumn,
                TimeRemainingColumn,
                TransferSpeedColumn,
            )

            self.progress = Progress(
                TextColumn("{task.description}"),
                BarColumn(),
                DownloadColumn(),
                TransferSpeedColumn(),
                TimeRemainingColumn(),
                console=console,
                transient=False,
            )

    def __enter__(self):
        if self.progress is not None:
            self.progress.start()
        return self

    def __exit__(self, *exc):
        if self.progress is not None:
            self.progress.stop()

    def say(self, text: str) -> None:
        if self.console is not None:
            self.console.print(text, markup=False, highlight=False, soft_wrap=True)

    def start(self, label: str, url: str, total: int | None):
        """Begin one transfer; returns (advance(nbytes), failed())."""
        if self.progress is None:
            self.say(f"downloading {url}")
            return (lambda n: None), (lambda: None)
        task = self.progress.add_task(label, total=total)
        return (
            (lambda n: self.progress.advance(task, n)),
            (lambda: self.progress.update(task, description=f"{label} (failed)")),
        )


def download_file(
    name: str,
    dest: str | os.PathLike,
    *,
    mirrors_: list[str] | None = None,
    console=None,
    timeout: float = DEFAULT_TIMEOUT,
    failures: _Failures | None = None,
    dead: set[str] | None = None,
    reporter: _Reporter | None = None,
) -> Path:
    """Download <name>.gz, verify it, and store it uncompressed as dest/name.

    Mirrors are tried in order; any failure (HTTP error, connection error,
    interrupted transfer, bad gzip, wrong content) moves on to the next. The
    file appears only once verified; nothing is left behind on failure.
    Raises DataError listing every attempt if no mirror worked.
    """
    dest = Path(dest)
    spec = FILES[name]
    failures = failures if failures is not None else _Failures()
    dead = dead if dead is not None else set()
    own_reporter = reporter is None
    reporter = reporter or _Reporter(console)
    bases = mirrors_ if mirrors_ is not None else mirrors()
    if own_reporter:
        reporter.__enter__()
    try:
        for base in bases:
            if base in dead:
                continue
            url = base.rstrip("/") + "/" + name + ".gz"
            try:
                req = urllib.request.Request(url, headers={"User-Agent": USER_AGENT})
                resp = urllib.request.urlopen(req, timeout=timeout)  # noqa: S310 (http/https/file)
            except urllib.error.HTTPError as e:
                e.close()
                failures.add(base, name, _reason(e))
                reporter.say(f"{url}: {_reason(e)}")
                continue
            except (OSError, http.client.HTTPException, ValueError) as e:
                # no connection at all: do not try this mirror for the other files
                dead.add(base)
                failures.add(base, name, _reason(e))
                reporter.say(f"{url}: {_reason(e)}")
                continue
            failed = None
            try:
                with resp:
                    cl = resp.headers.get("Content-Length")
                    length = int(cl) if cl and cl.isdigit() else None
                    advance, failed = reporter.start(f"{name}.gz", url, length)
                    chunks = _net_chunks(resp, length, advance)
                    _atomic_fill(dest / name, lambda f, c=chunks, u=url: _scan(c, spec, u, out=f))
            except (DataError, OSError, http.client.HTTPException, ValueError) as e:
                if failed is not None:
                    failed()
                failures.add(base, name, _reason(e))
                reporter.say(f"{url}: {_reason(e)}")
                continue
            _stamp(dest, name)
            return dest / name
    finally:
        if own_reporter:
            reporter.__exit__(None, None, None)
    tried = ", ".join(bases) if bases else "no mirrors configured"
    raise DataError(
        f"could not download {name}.gz (tried {tried}):\n" + "\n".join(failures.lines())
    )


def _download_all(names: list[str], dest: Path, where: Path, console, mirror_list, timeout):
    failures = _Failures()
    dead: set[str] = set()
    failed = []
    bases = mirror_list if mirror_list is not None else mirrors()
    with _Reporter(console) as reporter:
        for name in names:
            try:
                download_file(
                    name,
                    dest,
                    mirrors_=bases,
                    timeout=timeout,
                    failures=failures,
                    dead=dead,
                    reporter=reporter,
                )
            except DataError:
                failed.append(name)
    if failed:
        got = [n for n in names if n not in failed]
        lines = [
            f"could not download {', '.join(n + '.gz' for n in failed)} from any mirror"
            + (f" (downloaded {', '.join(got)})" if got else "")
            + ". Tried:"
        ]
        lines += failures.lines() if bases else ["  no mirrors (MNIST_VM_MIRRORS is empty)"]
        lines.append(where_to_put(where))
        raise DataError("\n".join(lines))


# ---- prepare -----------------------------------------------------------------
def _source(d: Path, name: str) -> Path | None:
    for candidate in (d / name, d / (name + ".gz")):
        if candidate.is_file():
            return candidate
    return None


def _locate(src: Path) -> dict[str, Path | None]:
    """Where each file is: raw or .gz in src, else an unpacked copy from an earlier run."""
    out = {}
    for name in NAMES:
        found = _source(src, name)
        if found is None:
            for d in (src / UNPACK_SUBDIR, _fallback_dir(src)):
                if (d / name).is_file():
                    found = d / name
                    break
        out[name] = found
    return out


def prepare(
    dir: str | os.PathLike,
    download: bool = True,
    console=None,
    *,
    mirror_list: list[str] | None = None,
    timeout: float = DEFAULT_TIMEOUT,
) -> Path:
    """A directory holding the four verified, uncompressed IDX files under their plain names.

    Files in `dir` may be raw or .gz. Missing ones are downloaded (unless
    download=False) into `dir` if it is writable, else into a cache directory.
    .gz files are unpacked into <dir>/raw, or a cache directory when `dir` is
    read-only. Raises DataError with a complete, user-facing message.
    """
    src = Path(dir).expanduser().absolute()
    if src.exists() and not src.is_dir():
        raise DataError("not a directory (--data and MNIST_VM_DATA name a directory)", src)
    if console is None and sys.stderr.isatty():
        from rich.console import Console

        console = Console(stderr=True)
    src_writable = _make_dir(src)
    work = src / UNPACK_SUBDIR if src_writable else _fallback_dir(src)
    if src_writable:
        _sweep(src)

    found: dict[str, Path | None] = {name: _source(src, name) for name in NAMES}
    for name in NAMES:
        if found[name] is None and (work / name).is_file():
            # an unpacked or downloaded copy from an earlier run, without its source
            try:
                _verify_cached(work / name, name)
                found[name] = work / name
            except DataError:
                try:
                    (work / name).unlink()  # ours: derived data, safe to drop
                except OSError:
                    pass

    missing = [name for name in NAMES if found[name] is None]
    if missing:
        if not download:
            raise DataError(
                f"missing {', '.join(missing)} (neither raw nor .gz) in {src}. " + where_to_put(src)
            )
        target = src if src_writable else _require_dir(work, "downloading MNIST")
        if console is not None:
            console.print(
                f"MNIST: downloading {len(missing)} file(s) into {target}",
                markup=False,
                highlight=False,
            )
        _download_all(missing, target, src, console, mirror_list, timeout)
        for name in missing:
            found[name] = target / name

    # all four raw in the directory itself: use it as it is
    if all(found[n] == src / n for n in NAMES):
        for name in NAMES:
            _check_source(found[name], name)
        return src

    _require_dir(work, f"unpacking the MNIST files from {src}")
    for name in NAMES:
        source, dst = found[name], work / name
        if source == dst:
            continue  # verified above
        if _stamped(work, name, source):
            continue
        if _is_gz(source):
            if console is not None:
                console.print(
                    f"MNIST: unpacking {source} into {work}", markup=False, highlight=False
                )
            _unpack(source, dst, name)
        else:
            _check_source(source, name)
            _link_or_copy(source, dst, name)
    return work


def _check_source(path: Path, name: str) -> None:
    try:
        _verify_cached(path, name)
    except DataError as e:
        if e.where and Path(e.where) == path and "no such file" not in e.problem:
            raise DataError(
                f"{e.problem}. Delete or replace this file (a missing file is downloaded again).",
                path,
            ) from None
        raise


# ---- verify (for `mnist-vm data verify`) -------------------------------------
@dataclass
class FileStatus:
    name: str
    path: Path | None
    ok: bool
    md5: str | None
    problem: str | None


def verify(dir: str | os.PathLike) -> list[FileStatus]:
    """Fully check each of the four files (raw, .gz or an unpacked copy) in dir."""
    src = Path(dir).expanduser().absolute()
    out = []
    for name, path in _locate(src).items():
        if path is None:
            out.append(FileStatus(name, None, False, None, "missing"))
            continue
        try:
            md5 = check_file(path, name)
        except DataError as e:
            md5 = _md5_or_none(path)
            out.append(FileStatus(name, path, False, md5, e.problem))
            continue
        if not _is_gz(path):
            _stamp(path.parent, name)
        out.append(FileStatus(name, path, True, md5, None))
    return out


def _md5_or_none(path: Path) -> str | None:
    try:
        md5 = hashlib.md5()
        for chunk in _read_chunks(path):
            md5.update(chunk)
        return md5.hexdigest()
    except DataError:
        return None


# ---- terminal rendering ------------------------------------------------------
ASCII_RAMP = " .:-=+*#%@"


def ascii_image(img: np.ndarray) -> str:
    """Plain-text rendering: two characters per pixel, darkest to brightest ink."""
    steps = len(ASCII_RAMP) - 1
    rows = []
    for row in np.asarray(img, dtype=np.uint8):
        rows.append("".join(ASCII_RAMP[(int(v) * steps + 127) // 255] * 2 for v in row).rstrip())
    return "\n".join(rows)


def halfblock_image(img: np.ndarray):
    """Rich Text: one '▀' per two vertical pixels (fg = upper, bg = lower), 28 cols x 14 rows."""
    from rich.text import Text

    img = np.asarray(img, dtype=np.uint8)
    if img.shape[0] % 2:
        img = np.vstack([img, np.zeros((1, img.shape[1]), np.uint8)])
    text = Text()
    for r in range(0, img.shape[0], 2):
        for c in range(img.shape[1]):
            t, b = int(img[r, c]), int(img[r + 1, c])
            text.append("▀", style=f"rgb({t},{t},{t}) on rgb({b},{b},{b})")
        if r + 2 < img.shape[0]:
            text.append("\n")
    return text


# ---- CLI ---------------------------------------------------------------------
def _index(text: str) -> int:
    try:
        v = int(text.replace("_", ""))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an image number, got {text!r}") from None
    if v < 0:
        raise argparse.ArgumentTypeError(f"expected an image number >= 0, got {v}")
    return v


def add_data_parser(subparsers) -> argparse.ArgumentParser:
    """Register `data` (download, verify, path, show) on an argparse subparsers object."""
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--data",
        metavar="DIR",
        help=f"MNIST directory (default: ${ENV_DATA}, else ~/.cache/mnist-vm)",
    )
    p = subparsers.add_parser(
        "data",
        help="download, verify and look at the MNIST files",
        description="Manage the MNIST files. They live in --data DIR, else $MNIST_VM_DATA, else "
        "$XDG_CACHE_HOME/mnist-vm (~/.cache/mnist-vm); raw or .gz both work. "
        "Mirrors: $MNIST_VM_MIRRORS (comma-separated base URLs).",
    )
    sub = p.add_subparsers(dest="data_command", metavar="ACTION")
    sub.add_parser(
        "download",
        parents=[common],
        help="download missing files and unpack them",
        description="Download the files that are missing, verify all four and unpack "
        "them for the assembly program.",
    )
    sub.add_parser(
        "verify",
        parents=[common],
        help="check all four files (exit 1 on problems)",
        description="Check header, size and MD5 of each file.",
    )
    sub.add_parser(
        "path",
        parents=[common],
        help="print the data directory",
        description="Print the directory the MNIST files are looked for in.",
    )
    s = sub.add_parser(
        "show",
        parents=[common],
        help="draw image N and print its label",
        description="Draw training image N (or test image N with --test) "
        "in the terminal and print its label.",
    )
    s.add_argument("index", type=_index, metavar="N", help="image number, from 0")
    s.add_argument("--test", action="store_true", help="use the test set")
    s.add_argument("--ascii", action="store_true", help="plain ASCII even on a colour terminal")
    p.set_defaults(func=cmd_data, _data_parser=p)
    return p


def cmd_data(args) -> int:
    """Run `mnist-vm data ...`; returns the exit status."""
    from rich.console import Console

    action = getattr(args, "data_command", None)
    if not action:
        parser = getattr(args, "_data_parser", None)
        if parser is not None:
            parser.print_help(sys.stderr)
        return 2
    out, err = Console(), Console(stderr=True)
    try:
        root = data_dir(getattr(args, "data", None))
        if action == "path":
            print(root)
            return 0
        if action == "download":
            ready = prepare(root, download=True, console=err)
            print(f"MNIST is ready in {ready}")
            return 0
        if action == "verify":
            return _cmd_verify(root, out)
        if action == "show":
            return _cmd_show(root, args, out, err)
    except DataError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    except OSError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    print(f"error: unknown data action {action!r}", file=sys.stderr)
    return 2


def _cmd_verify(root: Path, out) -> int:
    from rich.table import Table
    from rich.text import Text

    statuses = verify(root)
    table = Table(title=f"MNIST in {root}", title_justify="left")
    table.add_column("file")
    table.add_column("status")
    table.add_column("md5")
    for st in statuses:
        shown = st.name if st.path is None else _rel(st.path, root)
        status = Text("ok", style="green") if st.ok else Text(st.problem or "bad", style="red")
        table.add_row(Text(shown), status, Text(st.md5 or "-"))
    out.print(table)
    bad = [st for st in statuses if not st.ok]
    if bad:
        print(
            f"error: {len(bad)} of 4 files missing or bad in {root}; "
            f"`mnist-vm data download` fetches missing files. " + where_to_put(root),
            file=sys.stderr,
        )
        return 1
    return 0


def _rel(path: Path, root: Path) -> str:
    try:
        return str(path.relative_to(root))
    except ValueError:
        return str(path)


def _cmd_show(root: Path, args, out, err) -> int:
    img_name, lab_name = SPLITS["test" if args.test else "train"]
    found = _locate(root)
    if found[img_name] is None or found[lab_name] is None:
        ready = prepare(root, download=True, console=err)
        found = {n: ready / n for n in NAMES}
    try:
        img = read_item(found[img_name], "images", args.index)
        label = read_item(found[lab_name], "labels", args.index)
    except IndexError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    which = "test" if args.test else "training"
    fancy = out.is_terminal and out.color_system is not None and not out.no_color
    if fancy and not args.ascii:
        out.print(halfblock_image(img))
    else:
        print(ascii_image(img))
    print(f"{which} image {args.index}: label {label}")
    return 0
