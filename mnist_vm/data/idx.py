"""The IDX format of the MNIST family: headers, sizes, labels, checksums.

Every reader takes raw or gzip (`.gz`) files and raises DataError naming the
file and what is wrong with it (bad magic, wrong dimensions, size mismatch,
corrupt or truncated gzip, label out of range).
"""

from __future__ import annotations

import gzip
import hashlib
import os
import struct
import zlib
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import IO

import numpy as np

IMAGES_MAGIC = 2051  # 0x00000803: unsigned bytes, 3 dimensions
LABELS_MAGIC = 2049  # 0x00000801: unsigned bytes, 1 dimension
ROWS = COLS = 28
CLASSES = 10
CHUNK = 1 << 16


class DataError(Exception):
    """A user-facing problem with the data; str() is the whole message.

    `where` is the file, directory or URL concerned (or None) and `problem` what is wrong.
    """

    def __init__(self, problem: str, where: str | os.PathLike | None = None):
        self.problem = problem
        self.where = None if where is None else str(where)
        super().__init__(f"{self.where}: {problem}" if self.where else problem)


def header_size(kind: str) -> int:
    return 16 if kind == "images" else 8


def item_size(kind: str) -> int:
    return ROWS * COLS if kind == "images" else 1


def is_gz(path: Path) -> bool:
    return path.name.endswith(".gz")


def gzip_problem(e: BaseException) -> str:
    if isinstance(e, EOFError):
        return "gzip data is truncated (the compressed stream ends early)"
    text = str(e)
    if "Not a gzipped file" in text:
        return "not a gzip file (bad gzip header)"
    return f"gzip data is corrupt ({text or type(e).__name__})"


def os_problem(e: OSError) -> str:
    if isinstance(e, FileNotFoundError):
        return "no such file"
    if isinstance(e, IsADirectoryError):
        return "is a directory, not a file"
    return f"cannot read ({e.strerror or e})"


def read_chunks(path: Path) -> Iterator[bytes]:
    """The uncompressed content of path (raw, or gzip if named .gz) in chunks."""
    try:
        opener = gzip.open if is_gz(path) else open
        with opener(path, "rb") as f:
            while chunk := f.read(CHUNK):
                yield chunk
    except (gzip.BadGzipFile, EOFError, zlib.error) as e:
        raise DataError(gzip_problem(e), path) from None
    except OSError as e:
        raise DataError(os_problem(e), path) from None


def check_header(head: bytes, kind: str, where, count: int | None = None) -> int:
    """Validate an IDX header for kind; return the item count."""
    hsize = header_size(kind)
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
    if n == 0:
        raise DataError(f"the file holds no {kind} (count 0 in the header)", where)
    if count is not None and n != count:
        raise DataError(f"wrong {kind} count in the header: {n}, expected {count}", where)
    return n


def size_problem(kind: str, n: int, expected: int, got: int, more: bool = False) -> str:
    what = f"{n} {kind} of {ROWS}x{COLS}" if kind == "images" else f"{n} labels"
    got_s = f"more than {got:,}" if more else f"{got:,}"
    tail = " (truncated)" if got < expected and not more else " (trailing data)"
    return (
        f"size mismatch: expected {expected:,} bytes ({what} plus the "
        f"{header_size(kind)}-byte header), got {got_s}{tail}"
    )


def scan(
    chunks: Iterable[bytes],
    kind: str,
    where,
    count: int | None = None,
    out: IO[bytes] | None = None,
) -> tuple[int, str]:
    """Check header, size and (labels) the range 0-9 of uncompressed IDX content;
    copy it to `out` on the way. Returns (item count, MD5 of the content).

    Stops as soon as the content is longer than its header says (no gzip bombs).
    """
    md5 = hashlib.md5()
    head = b""
    total = 0
    n = -1
    expected = -1
    hsize = header_size(kind)
    for chunk in chunks:
        if not chunk:
            continue
        start = total
        md5.update(chunk)
        total += len(chunk)
        if out is not None:
            out.write(chunk)
        if expected < 0:
            head += chunk
            if len(head) < hsize:
                continue
            n = check_header(head, kind, where, count)
            expected = hsize + n * item_size(kind)
            head = b""
        if total > expected:
            raise DataError(size_problem(kind, n, expected, expected, more=True), where)
        if kind == "labels":
            body = chunk[max(0, hsize - start) :]
            if body and max(body) >= CLASSES:
                i = next(j for j, v in enumerate(body) if v >= CLASSES)
                index = max(start, hsize) + i - hsize
                raise DataError(
                    f"label out of range 0-{CLASSES - 1}: label {index} is {body[i]}", where
                )
    if expected < 0:
        check_header(head, kind, where, count)  # raises: too short
    if total != expected:
        raise DataError(size_problem(kind, n, expected, total), where)
    return n, md5.hexdigest()


def check_file(path: str | os.PathLike, kind: str, count: int | None = None) -> tuple[int, str]:
    """Fully check one IDX file (raw or .gz); return (item count, MD5 of the content)."""
    path = Path(path)
    return scan(read_chunks(path), kind, path, count)


def kind_of(name: str) -> str:
    """'images' or 'labels' from an MNIST-style file name."""
    return "images" if "-images-" in name else "labels"


def _parse(path: Path, kind: str) -> tuple[bytes, int]:
    data = b"".join(read_chunks(path))
    n = check_header(data, kind, path)
    expected = header_size(kind) + n * item_size(kind)
    if len(data) != expected:
        raise DataError(size_problem(kind, n, expected, len(data)), path)
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
    if n and labels.max() >= CLASSES:
        i = int(np.argmax(labels >= CLASSES))
        raise DataError(f"label out of range 0-{CLASSES - 1}: label {i} is {labels[i]}", path)
    return labels


def count_of(path: str | os.PathLike, kind: str) -> int:
    """The item count in an IDX file's header (raw or .gz)."""
    path = Path(path)
    try:
        opener = gzip.open if is_gz(path) else open
        with opener(path, "rb") as f:
            return check_header(f.read(header_size(kind)), kind, path)
    except (gzip.BadGzipFile, EOFError, zlib.error) as e:
        raise DataError(gzip_problem(e), path) from None
    except OSError as e:
        raise DataError(os_problem(e), path) from None


def read_item(path: str | os.PathLike, kind: str, index: int):
    """Image `index` (28x28 uint8 array) or label `index` (int) without loading the whole file."""
    path = Path(path)
    hsize, isize = header_size(kind), item_size(kind)
    try:
        opener = gzip.open if is_gz(path) else open
        with opener(path, "rb") as f:
            n = check_header(f.read(hsize), kind, path)
            if not 0 <= index < n:
                raise IndexError(f"index {index} is out of range: {path.name} holds {n} {kind}")
            f.seek(hsize + index * isize)
            raw = f.read(isize)
    except (gzip.BadGzipFile, EOFError, zlib.error) as e:
        raise DataError(gzip_problem(e), path) from None
    except OSError as e:
        raise DataError(os_problem(e), path) from None
    if len(raw) != isize:
        raise DataError(f"size mismatch: file ends before {kind[:-1]} {index} (truncated)", path)
    if kind == "labels":
        if raw[0] >= CLASSES:
            raise DataError(f"label out of range 0-9: label {index} is {raw[0]}", path)
        return raw[0]
    return np.frombuffer(raw, dtype=np.uint8).reshape(ROWS, COLS)
