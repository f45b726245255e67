"""Linux-style system calls and the built-in libm.

Syscalls use Linux x86-64 numbers and conventions: number in rax, arguments
in rdi, rsi, rdx, r10, r8, r9, result in rax (a negative errno on failure);
rcx receives the address of the instruction after the syscall (the VM's
address: instructions occupy 4 bytes) and r11 RFLAGS, as on hardware. A bad
buffer pointer gives -EFAULT, an unknown call -ENOSYS, as Linux would.

File syscalls are confined to one host directory (the granted root):
absolute paths, `..` that climbs out, and symlinks that lead out all fail
with EACCES and never reach the host file system outside the root.

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

M64 = (1 << 64) - 1
SYS_READ, SYS_WRITE, SYS_OPEN, SYS_CLOSE, SYS_LSEEK = 0, 1, 2, 3, 8
SYS_BRK, SYS_EXIT, SYS_EXIT_GROUP = 12, 60, 231
O_ACCMODE, O_CREAT, O_TRUNC, O_APPEND = 0o3, 0o100, 0o1000, 0o2000
SYSCALL_NAMES = {
    SYS_READ: "read",
    SYS_WRITE: "write",
    SYS_OPEN: "open",
    SYS_CLOSE: "close",
    SYS_LSEEK: "lseek",
    SYS_BRK: "brk",
    SYS_EXIT: "exit",
    SYS_EXIT_GROUP: "exit_group",
}

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


class Runtime:
    def __init__(self, machine, root: str, stdout, stderr, stdin):
        self.m = machine
        self.root = os.path.realpath(root)
        self.stdout, self.stderr, self.stdin = stdout, stderr, stdin
        self.fds: dict[int, int] = {}  # program fd -> host fd
        self.next_fd = 3
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
        m = self.m
        r = m.r
        nr = r[0]
        name = SYSCALL_NAMES.get(nr)
        self.calls[name or f"#{nr}"] = self.calls.get(name or f"#{nr}", 0) + 1
        if name is None:
            result = -errno.ENOSYS
        else:
            result = getattr(self, "sys_" + name)(r[7], r[6], r[2], r[10], r[8], r[9])
        r[0] = result & M64
        from .isa import flags as F

        r[1] = next_ip & M64  # rcx: where sysret returns
        r[11] = F.rflags(m.fl)  # r11: RFLAGS at the syscall

    def _buffer(self, addr: int, n: int, write: bool) -> memoryview | None:
        if n == 0:
            return memoryview(b"")
        if not self.m.mem.mapped(addr, n, write):
            return None
        return self.m.mem.view[addr : addr + n]

    def sys_read(self, fd, buf, count, *_):
        if fd != 0 and fd not in self.fds:
            return -errno.EBADF
        if count == 0:
            return 0  # Linux checks neither the buffer nor the stream for an empty read
        buf_view = self._buffer(buf, count, True)
        if buf_view is None:
            return -errno.EFAULT
        if fd == 0:
            return self._read_stdin(buf, buf_view, count)
        host = self.fds[fd]
        self.m.wlog(buf, count)  # a memory write, like a store (traced tier)
        total = 0
        while total < count:
            try:
                got = os.readv(host, [buf_view[total:]])
            except OSError as e:
                return -(e.errno or errno.EIO) if total == 0 else total
            if got == 0:
                break
            total += got
        return total

    def _read_stdin(self, buf: int, buf_view: memoryview, count: int) -> int:
        """read(0, ...): at most one host read, so a pipe or a terminal gives
        what is there now (a line, a chunk), as Linux does, never waiting to
        fill the whole buffer."""
        stream = self.stdin
        if stream is None:
            return 0
        try:
            read1 = getattr(stream, "read1", None)
            data = read1(count) if read1 is not None else stream.read(count)
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
        data = self._buffer(buf, count, False)
        if data is None:
            return -errno.EFAULT
        if fd in (1, 2):
            stream = self.stdout if fd == 1 else self.stderr
            stream.write(bytes(data))
            if hasattr(stream, "flush"):
                stream.flush()
            return count
        host = self.fds.get(fd)
        if host is None:
            return -errno.EBADF
        try:
            return os.write(host, data)
        except OSError as e:
            return -e.errno

    def resolve(self, path: bytes) -> str | None:
        """The host path for a program path inside the granted root, or None."""
        try:
            text = path.decode()
        except UnicodeDecodeError:
            return None
        if text.startswith("/"):
            return None
        full = os.path.realpath(os.path.join(self.root, text))
        if full != self.root and not full.startswith(self.root + os.sep):
            return None
        return full

    def sys_open(self, path_ptr, flags, mode, *_):
        path = self.m.mem.read_cstring(path_ptr)
        if path is None:
            return -errno.EFAULT
        host_path = self.resolve(path)
        if host_path is None:
            return -errno.EACCES
        acc = flags & O_ACCMODE
        hflags = {0: os.O_RDONLY, 1: os.O_WRONLY, 2: os.O_RDWR}.get(acc)
        if hflags is None:
            return -errno.EINVAL
        if flags & O_CREAT:
            hflags |= os.O_CREAT
        if flags & O_TRUNC:
            hflags |= os.O_TRUNC
        if flags & O_APPEND:
            hflags |= os.O_APPEND
        try:
            host = os.open(host_path, hflags | getattr(os, "O_CLOEXEC", 0), mode & 0o777 or 0o644)
        except OSError as e:
            return -e.errno
        fd = self.next_fd
        while fd in self.fds:
            fd += 1
        self.fds[fd] = host
        return fd

    def sys_close(self, fd, *_):
        host = self.fds.pop(fd, None)
        if host is None:
            return -errno.EBADF
        os.close(host)
        return 0

    def sys_lseek(self, fd, offset, whence, *_):
        host = self.fds.get(fd)
        if host is None:
            return -errno.EBADF
        if whence not in (0, 1, 2):
            return -errno.EINVAL
        off = offset - (1 << 64) if offset >> 63 else offset
        try:
            return os.lseek(host, off, whence)
        except OSError as e:
            return -e.errno

    def sys_brk(self, addr, *_):
        mem = self.m.mem
        if mem.brk_start <= addr <= mem.heap_limit:
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


def unpack_f32(bits: int) -> float:
    return struct.unpack("<f", struct.pack("<I", bits))[0]
