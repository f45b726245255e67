"""Syscall numbers (x86-64 `syscall` and i386 `int 0x80`) and the syscalls
that are not about files: time, process identity, randomness, memory maps.

The Runtime (vm/runtime.py) mixes `ProcessCalls` in; every method gets the
six raw argument registers and returns the value for rax (a negative errno
on failure), as Linux does. Structures are written in the x86-64 layouts
(`struct timespec`, `struct utsname`); values come from the host (its clock,
its pid, its `uname`), so a program printing them natively and in the VM on
the same host sees the same thing.
"""

from __future__ import annotations

import errno
import os
import struct
import time
from typing import Any

M64 = (1 << 64) - 1

# x86-64 `syscall` numbers -> name (Runtime.sys_<name>)
SYSCALLS = {
    0: "read",
    1: "write",
    2: "open",
    3: "close",
    5: "fstat",
    8: "lseek",
    9: "mmap",
    11: "munmap",
    12: "brk",
    19: "readv",
    20: "writev",
    35: "nanosleep",
    39: "getpid",
    60: "exit",
    63: "uname",
    96: "gettimeofday",
    201: "time",
    228: "clock_gettime",
    231: "exit_group",
    318: "getrandom",
}

# i386 `int 0x80` numbers -> name. Arguments in ebx, ecx, edx, esi, edi, ebp
# (zero-extended 32-bit values); calls whose structures differ in the 32-bit
# ABI (stat, iovec, timespec) are not offered and return -ENOSYS.
SYSCALLS_I386 = {
    1: "exit",
    3: "read",
    4: "write",
    5: "open",
    6: "close",
    13: "time32",
    19: "lseek32",
    20: "getpid",
    45: "brk",
    91: "munmap",
    122: "uname",
    252: "exit_group",
    355: "getrandom",
}

PROT_MASK = 0x7  # PROT_READ | PROT_WRITE | PROT_EXEC
MAP_SHARED, MAP_PRIVATE, MAP_FIXED, MAP_ANONYMOUS = 0x01, 0x02, 0x10, 0x20
MAP_TYPE = 0x0F
PAGE = 4096
GRND_MASK = 0x7  # GRND_NONBLOCK | GRND_RANDOM | GRND_INSECURE
GETRANDOM_MAX = (1 << 25) - 1  # Linux returns at most this much per call
CLOCKS = range(0, 12)  # CLOCK_REALTIME .. CLOCK_TAI (host-checked)
NSEC = 1_000_000_000


def _signed(v: int) -> int:
    return v - (1 << 64) if v >> 63 else v


class ProcessCalls:
    """Syscalls about time, identity, randomness and memory maps."""

    m: Any  # the Machine (set by Runtime)

    def _host_fd(self, fd: int) -> int | None:
        """The host descriptor behind guest descriptor fd (Runtime owns the table)."""
        raise NotImplementedError

    def _put(self, addr: int, data: bytes) -> bool:
        """Copy data into guest memory (False: not mapped writable)."""
        mem = self.m.mem
        if not mem.mapped(addr, len(data), True):
            return False
        self.m.wlog(addr, len(data))
        mem.buf[addr : addr + len(data)] = data
        return True

    def _get(self, addr: int, n: int) -> bytes | None:
        mem = self.m.mem
        if not mem.mapped(addr, n):
            return None
        return bytes(mem.buf[addr : addr + n])

    # ---- identity -------------------------------------------------------------
    def sys_getpid(self, *_):
        return os.getpid()

    def sys_uname(self, buf, *_):
        u = os.uname()
        try:
            with open("/proc/sys/kernel/domainname", "rb") as f:
                domain = f.read().strip()
        except OSError:
            domain = b"(none)"
        fields = [x.encode() for x in (u.sysname, u.nodename, u.release, u.version, u.machine)]
        data = b"".join(f[:64].ljust(65, b"\0") for f in [*fields, domain])
        return 0 if self._put(buf, data) else -errno.EFAULT

    # ---- time -------------------------------------------------------------------
    def sys_clock_gettime(self, clock, tp, *_):
        clock = _signed(clock)
        if clock not in CLOCKS:
            return -errno.EINVAL
        try:
            ns = time.clock_gettime_ns(clock)
        except OSError as e:
            return -(e.errno or errno.EINVAL)
        return 0 if self._put(tp, struct.pack("<qq", *divmod(ns, NSEC))) else -errno.EFAULT

    def sys_gettimeofday(self, tv, tz, *_):
        sec, ns = divmod(time.time_ns(), NSEC)
        if tv and not self._put(tv, struct.pack("<qq", sec, ns // 1000)):
            return -errno.EFAULT
        if tz and not self._put(tz, bytes(8)):  # struct timezone: UTC
            return -errno.EFAULT
        return 0

    def sys_time(self, tloc, *_):
        now = time.time_ns() // NSEC
        if tloc and not self._put(tloc, struct.pack("<q", now)):
            return -errno.EFAULT
        return now

    def sys_time32(self, tloc, *_):
        now = time.time_ns() // NSEC
        if tloc and not self._put(tloc, struct.pack("<i", now)):
            return -errno.EFAULT
        return now

    def sys_nanosleep(self, req, rem, *_):
        raw = self._get(req, 16)
        if raw is None:
            return -errno.EFAULT
        sec, nsec = struct.unpack("<qq", raw)
        if sec < 0 or not 0 <= nsec < NSEC:
            return -errno.EINVAL
        remaining = sec + nsec / NSEC
        while remaining > 0:  # in steps: time.sleep refuses very long sleeps
            step = min(remaining, 86400.0)
            time.sleep(step)
            remaining -= step
        return 0

    # ---- randomness ---------------------------------------------------------------
    def sys_getrandom(self, buf, count, flags, *_):
        if flags & ~GRND_MASK:
            return -errno.EINVAL
        n = min(count, GETRANDOM_MAX)
        if n == 0:
            return 0
        return n if self._put(buf, os.urandom(n)) else -errno.EFAULT

    # ---- memory maps ----------------------------------------------------------------
    def sys_mmap(self, addr, length, prot, flags, fd, offset):
        """Anonymous or private file mappings anywhere the VM picks (the hint
        is ignored; MAP_FIXED is refused). Pages are zero; a file mapping is a
        private copy of the file's bytes. Protections are not enforced."""
        mem = self.m.mem
        kind = flags & MAP_TYPE
        if length == 0 or kind not in (MAP_SHARED, MAP_PRIVATE) or offset & (PAGE - 1):
            return -errno.EINVAL
        if prot & ~PROT_MASK:
            return -errno.EINVAL
        if flags & MAP_FIXED:
            return -errno.EINVAL  # not supported: the VM chooses the address
        if length > mem.heap_limit - mem.brk_start:
            return -errno.ENOMEM
        host = None
        if not flags & MAP_ANONYMOUS:
            host = self._host_fd(fd & 0xFFFFFFFF)
            if host is None:
                return -errno.EBADF
            if kind == MAP_SHARED:
                return -errno.ENODEV  # VM limit: no shared file mappings
        lo = mem.map_anonymous(length)
        if lo is None:
            return -errno.ENOMEM
        self.m.invalidate()
        if host is not None:
            try:
                data = os.pread(host, length, offset)
            except OSError as e:
                mem.unmap(lo, length)
                return -(e.errno or errno.EIO)
            mem.buf[lo : lo + len(data)] = data
        return lo

    def sys_munmap(self, addr, length, *_):
        if addr & (PAGE - 1) or length == 0:
            return -errno.EINVAL
        mem = self.m.mem
        before = list(mem.mmaps)
        mem.unmap(addr, length)
        if mem.mmaps != before:
            self.m.invalidate()
        return 0
