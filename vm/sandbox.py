"""Opening guest paths inside the granted root, with no check-then-use race.

The guest's path is walked one component at a time from a directory
descriptor of the root: every intermediate component is opened with
O_NOFOLLOW | O_DIRECTORY relative to the descriptor of the directory before
it, and the last one with O_NOFOLLOW, so the object that was checked is the
object that is opened. A symlink met on the way is read with readlinkat (one
atomic read of its text) and walked the same way; nothing is ever handed to a
call that follows links or walks `..` on the host.

Policy (the same as before this module, minus the race):
  * absolute guest paths fail with EACCES;
  * `..` is taken lexically against the directories walked so far; climbing
    above the root fails with EACCES;
  * a symlink is followed if what it names is inside the root: a relative
    target from the link's directory, an absolute target only if it starts
    with the root's host path (real or as given); anything else is EACCES;
  * more than 40 symlinks in one lookup is ELOOP (Linux's limit); a guest's
    own O_NOFOLLOW makes a final symlink ELOOP, as on Linux.

Every other error is the host kernel's own errno for the final openat
(ENOENT, EEXIST for O_CREAT|O_EXCL, EISDIR, ENOTDIR ...). A host process
that moves a directory out of the root while a lookup is inside it is outside
this model (the walk never leaves through `..`, but a directory it holds can
be renamed away under it).

openat2(RESOLVE_BENEATH) is not used: it refuses every absolute symlink and
RESOLVE_IN_ROOT reinterprets them, either of which would change the policy
above; the walk gives the same guarantee on every Linux.
"""

from __future__ import annotations

import errno
import os

MAX_SYMLINKS = 40  # Linux's MAXSYMLINKS
PATH_MAX = 4096  # Linux's, NUL included: a longer guest path is ENAMETOOLONG

# Linux x86-64 open(2) flag values (the guest's ABI) -> the host's.
GUEST_O_ACCMODE = 0o3
GUEST_O_CREAT = 0o100
GUEST_O_EXCL = 0o200
GUEST_O_NOCTTY = 0o400
GUEST_O_TRUNC = 0o1000
GUEST_O_APPEND = 0o2000
GUEST_O_NONBLOCK = 0o4000
GUEST_O_DSYNC = 0o10000
GUEST_O_DIRECTORY = 0o200000
GUEST_O_NOFOLLOW = 0o400000
GUEST_O_SYNC = 0o4010000
_PASSED = (
    (GUEST_O_CREAT, "O_CREAT"),
    (GUEST_O_EXCL, "O_EXCL"),
    (GUEST_O_NOCTTY, "O_NOCTTY"),
    (GUEST_O_TRUNC, "O_TRUNC"),
    (GUEST_O_APPEND, "O_APPEND"),
    (GUEST_O_NONBLOCK, "O_NONBLOCK"),
    (GUEST_O_SYNC, "O_SYNC"),  # includes O_DSYNC's bit
    (GUEST_O_DSYNC, "O_DSYNC"),
    (GUEST_O_DIRECTORY, "O_DIRECTORY"),
    (GUEST_O_NOFOLLOW, "O_NOFOLLOW"),
)
_ACCESS = {0: os.O_RDONLY, 1: os.O_WRONLY, 2: os.O_RDWR}
_CLOEXEC = getattr(os, "O_CLOEXEC", 0)
_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
_DIRECTORY = getattr(os, "O_DIRECTORY", 0)
# O_PATH: a lookup needs only search permission on a directory, as the kernel's own walk
_WALK = getattr(os, "O_PATH", os.O_RDONLY) | _DIRECTORY | _NOFOLLOW | _CLOEXEC


def host_flags(flags: int) -> int:
    """The host open flags for a guest's; raises OSError(EINVAL) for access mode 3.

    Flags the sandbox does not pass (O_PATH, O_TMPFILE, O_DIRECT, O_ASYNC ...)
    are ignored, as Linux ignores unknown open flags; the host descriptor is
    always close-on-exec."""
    hflags = _ACCESS.get(flags & GUEST_O_ACCMODE)
    if hflags is None:
        raise OSError(errno.EINVAL, "bad access mode")
    for bit, name in _PASSED:
        if flags & bit == bit:
            hflags |= getattr(os, name, 0)
    return hflags | _CLOEXEC


class Sandbox:
    """The granted root directory and the one way of opening a path inside it."""

    def __init__(self, root: str):
        self.root = os.path.realpath(root)
        # absolute symlink targets may name the root by either spelling
        self._prefixes = sorted(
            {_components(os.fsencode(p)) for p in (self.root, os.path.abspath(root))},
            key=len,
            reverse=True,
        )
        self._fd: int | None = None

    def root_fd(self) -> int:
        if self._fd is None:
            self._fd = os.open(self.root, os.O_RDONLY | _DIRECTORY | _CLOEXEC)
        return self._fd

    def close(self) -> None:
        if self._fd is not None:
            fd, self._fd = self._fd, None
            os.close(fd)

    def open(self, path: bytes, flags: int, mode: int = 0o666) -> int:
        """A host descriptor for the guest's open(path, flags, mode), opened
        beneath the root. Raises OSError with the errno the guest should get."""
        hflags = host_flags(flags)
        if not path:
            raise OSError(errno.ENOENT, "empty path")
        if path.startswith(b"/"):
            raise OSError(errno.EACCES, "absolute path")
        if path.endswith(b"/"):
            hflags |= _DIRECTORY  # "name/" must be a directory, as on Linux
        follow_last = not flags & GUEST_O_NOFOLLOW
        root = self.root_fd()
        stack = [root]  # descriptors of the directories walked, root first
        pending = list(reversed(_split(path)))  # components still to walk, next last
        links = 0
        try:
            while True:
                name = pending.pop() if pending else b"."
                last = not pending
                if name == b"..":
                    if len(stack) == 1:
                        raise OSError(errno.EACCES, "path leaves the root")
                    os.close(stack.pop())
                    if not last:
                        continue
                    name = b"."
                if last:
                    try:
                        return os.open(
                            name,
                            hflags | (_NOFOLLOW if name != b"." else 0),
                            mode,
                            dir_fd=stack[-1],
                        )
                    except OSError as e:
                        if not (follow_last and e.errno in (errno.ELOOP, errno.ENOTDIR)):
                            raise
                        target = _readlink(name, stack[-1], e)
                else:
                    try:
                        stack.append(os.open(name, _WALK, dir_fd=stack[-1]))
                        continue
                    except OSError as e:
                        if e.errno not in (errno.ELOOP, errno.ENOTDIR):
                            raise
                        target = _readlink(name, stack[-1], e)
                links += 1
                if links > MAX_SYMLINKS:
                    raise OSError(errno.ELOOP, "too many levels of symbolic links")
                if target.startswith(b"/"):
                    inside = self._beneath_root(target)
                    if inside is None:
                        raise OSError(errno.EACCES, "symlink leads out of the root")
                    while len(stack) > 1:
                        os.close(stack.pop())
                    target = inside
                parts = _split(target)
                if not parts:
                    parts = [b"."]
                if last and target.endswith(b"/"):
                    hflags |= _DIRECTORY
                pending.extend(reversed(parts))
        finally:
            for fd in stack[1:]:
                os.close(fd)

    def _beneath_root(self, target: bytes) -> bytes | None:
        """An absolute symlink target as a path relative to the root, or None."""
        parts = _components(target)
        for prefix in self._prefixes:
            if parts[: len(prefix)] == prefix:
                return b"/".join(parts[len(prefix) :])
        return None


def _split(path: bytes) -> list[bytes]:
    """Components of a relative path, `.` and empty ones dropped (`..` kept)."""
    return [c for c in path.split(b"/") if c and c != b"."]


def _components(path: bytes) -> tuple[bytes, ...]:
    return tuple(_split(path))


def _readlink(name: bytes, dir_fd: int, why: OSError) -> bytes:
    """The text of symlink name in dir_fd; re-raises why if it is not a symlink
    (it was not one, or it was swapped for something else since: either way
    the lookup fails rather than guessing)."""
    try:
        return os.readlink(name, dir_fd=dir_fd)
    except OSError:
        raise why from None
