"""Linux-style system calls and the built-in libm.

Syscalls use Linux x86-64 numbers and conventions: number in rax, arguments
in rdi, rsi, rdx, r10, r8, r9, result in rax (a negative errno on failure);
rcx receives the address of the instruction after the syscall (the VM's
address: instructions occupy 4 bytes) and r11 RFLAGS, as on hardware. A bad
buffer pointer gives -EFAULT, an unknown call -ENOSYS, as Linux would.

File syscalls are confined to one host directory (the granted root):
absolute paths, `..` that climbs out, and symlinks that lead out all fail
with EACCES and never reach the host file system outside the root. Paths
are opened by vm/sandbox.py, one component at a time beneath a descriptor
of the root, so a symlink swapped in during the lookup cannot lead out.

libm: exp, log (double) and expf, logf (float) are the host C library's own
functions called through ctypes, so on Linux they return exactly the bits a
natively linked program gets.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import errno
import math
import os
import struct

from .errors import Exit
from .sandbox import PATH_MAX, Sandbox
from .syscalls import SYSCALLS, SYSCALLS_I386, ProcessCalls

M64 = (1 << 64) - 1
O_ACCMODE, O_CREAT, O_TRUNC, O_APPEND = 0o3, 0o100, 0o1000, 0o2000
SYSCALL_NAMES = SYSCALLS  # x86-64 number -> name
UIO_MAXIOV = 1024
SEEK_MAX = 4  # SEEK_SET, SEEK_CUR, SEEK_END, SEEK_DATA, SEEK_HOLE
STDIO = (0, 1, 2)

CALLER_SAVED_GPRS = (0, 1, 2, 6, 7, 8, 9, 10, 11)  # rax rcx rdx rsi rdi r8-r11
POISON64 = 0xDEADBEEFDEADBEEF
POISON32 = 0x7FC0DEAD  # a quiet NaN as float32


def _load_libm():
    name = ctypes.util.find_library("m")
    try:
        lib = ctypes.CDLL(name or "libm.so.6")
    except OSError:
        return None
    fns = {}
    for fname, ctype in (
        ("exp", ctypes.c_double),
        ("log", ctypes.c_double),
        ("expf", ctypes.c_float),
        ("logf", ctypes.c_float),
    ):
        f = getattr(lib, fname)
        f.restype, f.argtypes = ctype, [ctype]
        fns[fname] = f
    return fns


_LIBM = _load_libm()


def _fallback(name: str):
    """math-module versions for hosts without a loadable libm (not bit-exact
    with any particular C library at the edges)."""

    def exp(x):
        try:
            return math.exp(x)
        except OverflowError:
            return math.inf

    def log(x):
        if x != x:
            return x
        if x == 0:
            return -math.inf
        if x < 0:
            return -math.nan
        return math.log(x)

    return {"exp": exp, "log": log, "expf": exp, "logf": log}[name]


def libm(name: str):
    return _LIBM[name] if _LIBM else _fallback(name)


def poison_caller_saved(machine, keep: tuple[str, ...] = ()) -> None:
    """Give every caller-saved register a fixed poison value, except the
    return registers named in keep ('rax', 'xmm0', 'xmm0.lo' ...)."""
    r = machine.r
    for i in CALLER_SAVED_GPRS:
        if not (i == 0 and "rax" in keep):
            r[i] = POISON64
    xi = machine.xi
    for reg in range(16):
        for lane in range(4):
            if reg == 0 and (
                "xmm0" in keep
                or (lane < 2 and "xmm0.lo" in keep)
                or (lane == 0 and "xmm0.s" in keep)
            ):
                continue
            xi[4 * reg + lane] = POISON32
    from .isa import flags as F

    machine.fl = F.INITIAL


class Runtime(ProcessCalls):
    def __init__(self, machine, root: str, stdout, stderr, stdin):
        self.m = machine
        self.root = os.path.realpath(root)
        self.sandbox = Sandbox(root)
        self.stdout, self.stderr, self.stdin = stdout, stderr, stdin
        self.fds: dict[int, int] = {}  # program fd -> host fd
        self.next_fd = 3
        self.closed_std: set[int] = set()  # stdin/stdout/stderr the program closed
        self.calls: dict[str, int] = {}

    # ---- libm ------------------------------------------------------------
    def hostcall(self, name: str) -> None:
        m = self.m
        self.calls[name] = self.calls.get(name, 0) + 1
        fn = libm(name)
        if name.endswith("f"):
            x = m.xf[0]
            y = fn(x)
            poison_caller_saved(m)
            m.xf[0] = y
        else:
            x = m.xd[0]
            y = fn(x)
            poison_caller_saved(m)
            m.xd[0] = y

    # ---- syscalls ------------------------------------------------------------
    def syscall(self, next_ip: int, vector: int | None = None) -> None:
        """`syscall` (vector None): number in rax, arguments in rdi, rsi, rdx,
        r10, r8, r9; afterwards rcx = next_ip and r11 = RFLAGS. `int 0x80`:
        the i386 numbers, arguments in ebx, ecx, edx, esi, edi, ebp (32-bit),
        the result sign-extended into rax, every other register kept."""
        m = self.m
        r = m.r
        if vector is None:
            nr, table = r[0], SYSCALLS
            args = (r[7], r[6], r[2], r[10], r[8], r[9])
        else:  # int 0x80 (the table entry faults on other vectors)
            nr, table = r[0] & 0xFFFFFFFF, SYSCALLS_I386
            args = tuple(r[i] & 0xFFFFFFFF for i in (3, 1, 2, 6, 7, 5))
        name = table.get(nr)
        key = name or f"#{nr}"
        self.calls[key] = self.calls.get(key, 0) + 1
        result = -errno.ENOSYS if name is None else getattr(self, "sys_" + name)(*args)
        if vector is None:
            r[0] = result & M64
            from .isa import flags as F

            r[1] = next_ip & M64  # rcx: where sysret returns
            r[11] = F.rflags(m.fl)  # r11: RFLAGS at the syscall
        else:
            r[0] = (((result & 0xFFFFFFFF) ^ 0x80000000) - 0x80000000) & M64

    def _buffer(self, addr: int, n: int, write: bool) -> memoryview | None:
        """A view of the first bytes of [addr, addr+n) that are mapped (as many
        as a copy could reach before faulting), or None when none are."""
        k = self.m.mem.extent(addr, n, write)
        if k == 0:
            return None
        return self.m.mem.view[addr : addr + k]

    def _host_fd(self, fd: int) -> int | None:
        """The host fd behind a program fd the program opened (not stdio)."""
        return self.fds.get(fd)

    def _std_stream(self, fd: int):
        if fd not in STDIO or fd in self.closed_std:
            return None
        return (self.stdin, self.stdout, self.stderr)[fd]

    def _bad_fd(self, fd: int) -> bool:
        return fd not in self.fds and (fd not in STDIO or fd in self.closed_std)

    def sys_read(self, fd, buf, count, *_):
        if self._bad_fd(fd):
            return -errno.EBADF
        if fd in (1, 2):
            return -errno.EBADF  # the VM's stdout/stderr are write-only streams
        if count == 0:
            return 0  # Linux checks neither the buffer nor the stream for an empty read
        buf_view = self._buffer(buf, count, True)
        if buf_view is None:
            return -errno.EFAULT
        if fd == 0:
            return self._read_stdin(buf, buf_view)
        host = self.fds[fd]
        self.m.wlog(buf, len(buf_view))  # a memory write, like a store (traced tier)
        total = 0
        while total < len(buf_view):
            try:
                got = os.readv(host, [buf_view[total:]])
            except OSError as e:
                return -(e.errno or errno.EIO) if total == 0 else total
            if got == 0:
                break
            total += got
        return total

    def _read_stdin(self, buf: int, buf_view: memoryview) -> int:
        """read(0, ...): at most one host read, so a pipe or a terminal gives
        what is there now (a line, a chunk), as Linux does, never waiting to
        fill the whole buffer."""
        stream = self.stdin
        if stream is None:
            return 0
        try:
            read1 = getattr(stream, "read1", None)
            n = len(buf_view)
            data = read1(n) if read1 is not None else stream.read(n)
        except OSError as e:
            return -(e.errno or errno.EIO)
        except ValueError:  # a closed stream
            return -errno.EBADF
        data = data or b""
        if data:
            self.m.wlog(buf, len(data))  # a memory write, like a store (traced tier)
            buf_view[: len(data)] = data
        return len(data)

    def sys_write(self, fd, buf, count, *_):
        if self._bad_fd(fd) or fd == 0:
            return -errno.EBADF
        if count == 0:
            return 0
        data = self._buffer(buf, count, False)
        if data is None:
            return -errno.EFAULT
        return self._write(fd, bytes(data))

    def _write(self, fd: int, data: bytes) -> int:
        """Write to a program fd; a host error becomes -errno, as Linux gives
        it (ENOSPC on a full disk, EPIPE on a closed pipe: the VM behaves as a
        program that ignores SIGPIPE)."""
        try:
            if fd in (1, 2):
                return self._write_stream(self.stdout if fd == 1 else self.stderr, data)
            return os.write(self.fds[fd], data)
        except OSError as e:
            return -(e.errno or errno.EIO)
        except ValueError:  # a closed host stream
            return -errno.EBADF

    @staticmethod
    def _write_stream(stream, data: bytes) -> int:
        """A stream with a real file descriptor is written with one write(2)
        (after flushing what the host buffered), so short writes and errors
        are the kernel's; other streams (BytesIO, capture) take it whole."""
        try:
            fileno = stream.fileno()
        except (AttributeError, OSError, ValueError):
            fileno = None
        if fileno is not None:
            stream.flush()
            return os.write(fileno, data)
        stream.write(data)
        if hasattr(stream, "flush"):
            stream.flush()
        return len(data)

    def _iovecs(self, iov: int, iovcnt: int) -> list[tuple[int, int]] | int:
        """The (base, len) pairs of an iovec array, or -errno."""
        if iovcnt > UIO_MAXIOV:
            return -errno.EINVAL
        raw = self._get(iov, 16 * iovcnt)
        if raw is None:
            return -errno.EFAULT
        vecs = list(zip(*[iter(struct.unpack(f"<{2 * iovcnt}Q", raw))] * 2))
        if any(n >> 63 for _, n in vecs):
            return -errno.EINVAL
        return vecs

    def sys_writev(self, fd, iov, iovcnt, *_):
        if self._bad_fd(fd) or fd == 0:
            return -errno.EBADF
        vecs = self._iovecs(iov, iovcnt)
        if isinstance(vecs, int):
            return vecs
        parts = []
        for base, n in vecs:
            if n and not self.m.mem.mapped(base, n):
                return -errno.EFAULT
            parts.append(bytes(self.m.mem.buf[base : base + n]))
        data = b"".join(parts)
        return self._write(fd, data) if data else 0

    def sys_readv(self, fd, iov, iovcnt, *_):
        if self._bad_fd(fd) or fd in (1, 2):
            return -errno.EBADF
        vecs = self._iovecs(iov, iovcnt)
        if isinstance(vecs, int):
            return vecs
        total = 0
        for base, n in vecs:
            if n == 0:
                continue
            got = self.sys_read(fd, base, n)
            if got < 0:
                return got if total == 0 else total
            total += got
            if got < n or fd == 0:
                break  # a short read (or a pipe chunk) ends it, as readv does
        return total

    def sys_fstat(self, fd, statbuf, *_):
        """struct stat (x86-64, 144 bytes). stdio streams without a host file
        descriptor (e.g. captured output) are described as pipes."""
        if self._bad_fd(fd):
            return -errno.EBADF
        host = self.fds.get(fd)
        if host is None:
            stream = self._std_stream(fd)
            try:
                host = stream.fileno() if stream is not None else None
            except (AttributeError, OSError, ValueError):
                host = None
        if host is None:
            data = _pack_stat(None)
        else:
            try:
                data = _pack_stat(os.fstat(host))
            except OSError as e:
                return -(e.errno or errno.EIO)
        return 0 if self._put(statbuf, data) else -errno.EFAULT

    def sys_open(self, path_ptr, flags, mode, *_):
        path = self.m.mem.read_cstring(path_ptr, PATH_MAX)
        if path is None:  # no NUL in PATH_MAX mapped bytes, or an unmapped byte first
            return -errno.ENAMETOOLONG if self.m.mem.mapped(path_ptr, PATH_MAX) else -errno.EFAULT
        try:
            host = self.sandbox.open(path, flags, mode & 0o7777)
        except OSError as e:
            return -(e.errno or errno.EIO)
        fd = self.next_fd
        while fd in self.fds:
            fd += 1
        self.fds[fd] = host
        return fd

    def sys_close(self, fd, *_):
        if fd in STDIO and fd not in self.fds:
            if fd in self.closed_std:
                return -errno.EBADF
            self.closed_std.add(fd)  # the host's own streams stay open
            return 0
        host = self.fds.pop(fd, None)
        if host is None:
            return -errno.EBADF
        try:
            os.close(host)
        except OSError as e:
            return -(e.errno or errno.EIO)
        return 0

    def sys_lseek(self, fd, offset, whence, *_):
        if self._bad_fd(fd):
            return -errno.EBADF
        host = self.fds.get(fd)
        if host is None:
            return -errno.ESPIPE  # stdio are streams (pipes, terminals) in the VM
        if whence > SEEK_MAX:
            return -errno.EINVAL
        off = offset - (1 << 64) if offset >> 63 else offset
        try:
            return os.lseek(host, off, whence)
        except OSError as e:
            return -(e.errno or errno.EIO)

    def sys_lseek32(self, fd, offset, whence, *_):
        return self.sys_lseek(fd, ((offset ^ 0x80000000) - 0x80000000) & M64, whence)

    def sys_brk(self, addr, *_):
        mem = self.m.mem
        if mem.brk_start <= addr <= mem.brk_limit():
            old_pages = mem.layout().hi
            mem.brk = addr
            if mem.layout().hi != old_pages:
                self.m.invalidate()
        return mem.brk

    def sys_exit(self, status, *_):
        self.close_all()
        raise Exit(status & 0xFF)

    sys_exit_group = sys_exit

    def close_all(self) -> None:
        for host in self.fds.values():
            try:
                os.close(host)
            except OSError:
                pass
        self.fds.clear()

    def __del__(self):
        self.close_all()
        self.sandbox.close()


def _pack_stat(st: os.stat_result | None) -> bytes:
    """struct stat as x86-64 Linux lays it out; None: an anonymous pipe."""
    if st is None:
        return struct.pack(
            "<QQQIIIIQqqq", 0, 0, 1, 0o10600, os.getuid(), os.getgid(), 0, 0, 0, 4096, 0
        ) + bytes(72)
    times: list[int] = []
    for t in (st.st_atime_ns, st.st_mtime_ns, st.st_ctime_ns):
        times += divmod(t, 1_000_000_000)
    return (
        struct.pack(
            "<QQQIIIIQqqq",
            st.st_dev,
            st.st_ino,
            st.st_nlink,
            st.st_mode,
            st.st_uid,
            st.st_gid,
            0,
            st.st_rdev,
            st.st_size,
            st.st_blksize,
            st.st_blocks,
        )
        + struct.pack("<6q", *times)
        + bytes(24)
    )


def unpack_f32(bits: int) -> float:
    return struct.unpack("<f", struct.pack("<I", bits))[0]
