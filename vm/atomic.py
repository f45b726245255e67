"""Atomic file writes: the one helper every writer of the project uses.

A file is written to a temporary file beside its target, fsynced, renamed over
the target with os.replace and the directory fsynced: a reader sees the old
file or the new one, never half of one, whatever kills the writer. A writer
killed mid-write (SIGKILL, power loss) leaves its temporary behind; the
temporaries carry the writer's pid in their name (`.NAME.PID.XXXX.part`), so
the next write to the same directory removes those whose writer is gone.
"""

from __future__ import annotations

import os
import re
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import IO

_TEMP = re.compile(r"^\.(?P<name>.+)\.(?P<pid>\d+)\.[A-Za-z0-9_]+\.part$")


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # exists but not ours to signal
        return True
    return True


def clean_stale_temporaries(directory: str | os.PathLike, name: str) -> int:
    """Remove temporaries of `name` in directory left by writers that died.
    Returns how many were removed; errors are ignored (cleaning is best effort)."""
    removed = 0
    try:
        entries = os.listdir(directory)
    except OSError:
        return 0
    for entry in entries:
        m = _TEMP.match(entry)
        if m is None or m["name"] != name or _alive(int(m["pid"])):
            continue
        try:
            os.unlink(os.path.join(directory, entry))
            removed += 1
        except OSError:
            pass
    return removed


def fsync_directory(directory: str | os.PathLike) -> None:
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def atomic_write(path: str | os.PathLike, fill: Callable[[IO[bytes]], object]) -> None:
    """Create or replace path atomically: fill(f) writes the content to a binary
    file object. Any exception (or KeyboardInterrupt) leaves the old file and no
    temporary behind, and is re-raised. The new file gets the usual
    permissions (0666 less the umask), not mkstemp's 0600."""
    target = Path(path)
    directory = target.parent if str(target.parent) else Path(".")
    clean_stale_temporaries(directory, target.name)
    fd, tmp = tempfile.mkstemp(
        prefix=f".{target.name}.{os.getpid()}.", suffix=".part", dir=directory
    )
    try:
        with os.fdopen(fd, "wb") as f:
            fill(f)
            f.flush()
            os.fsync(f.fileno())
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)
        os.replace(tmp, target)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
    fsync_directory(directory)


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> None:
    atomic_write(path, lambda f: f.write(data))
