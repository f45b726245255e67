"""A second process for the big kernels: fast mode on two cores.

The dense layers' outputs are independent of each other (rows of Y, rows of
dW, dW apart from db and dX), so a twin can hand part of them to another
process and compute the rest itself (kernels/mnist.py decides the parts).
The result is bit-identical to computing all of it in one process: every
output is still produced by the same kernel (nn.py), from the same inputs,
with the same operations in the same order; only *which process* computes
it changes.

Why a process and not a thread: a kernel is a few dozen short numpy calls
with Python in between; two threads hand the GIL back and forth between
every call and gain little. A forked process has its own interpreter and
shares with its parent exactly what it needs: the machine's memory, which
is one anonymous shared mmap (vm/memory.py), so the child reads the inputs
and writes its part of the outputs in place, no copies.

The hand-off is a small shared control block: the parent writes a command
(which kernel, and the arrays as address/shape/strides into machine memory)
and bumps a sequence number; the child, spinning on that number, runs the
command and publishes the same number when done. That relies on x86's
ordered stores (a reader that sees the new number sees the command), so the
helper is only started on x86-64 hosts. Spinning costs a core while the
parent interprets between kernels, so after IDLE_S without work the child
sleeps on a pipe (polled, so a lost wake-up costs at most POLL_S). The child
ignores Ctrl-C (the parent handles it), exits when the parent goes away, and
never writes to the terminal.

If the child fails (an exception in a kernel, or it died), the parent
computes that part itself and stops using the child: a helper can make a
run faster, never different.

`start(machine)` is called by the commands that train (`mnist-vm run
--fast`, `exec --fast`); `worker(machine)` is what the twins ask. The
machine (vm/) knows nothing of this.
"""

from __future__ import annotations

import mmap
import os
import pickle
import platform
import select
import signal
import time
import warnings
import weakref
from collections.abc import Callable

import numpy as np

from . import nn

CTL_BYTES = 1 << 16
CACHED = 256  # commands remembered (pickled / as views) per side
HEADER = 64  # int64 words: see _REQ.._LEN
_REQ, _DONE, _SLEEPING, _STATUS, _LEN = 0, 1, 2, 3, 4
IDLE_S = 0.05  # spin this long without work, then sleep
POLL_S = 0.002  # sleeping: look at the control block this often
X86_64 = ("x86_64", "AMD64")  # hosts whose store order the hand-off relies on


# kernels the child may run, by name
KERNELS: dict[str, Callable[..., None]] = {
    "sgd_update": nn.sgd_update_,
    "dense_forward": nn.dense_forward,
    "dense_backward_weights": nn.dense_backward_weights,
}


def available_cpus() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):  # not Linux
        return os.cpu_count() or 1


class Worker:
    """One forked helper process bound to one machine's memory."""

    def __init__(self, buf: mmap.mmap) -> None:
        self.buf = buf
        self.ctl = mmap.mmap(-1, CTL_BYTES)  # MAP_SHARED: seen by the child
        self.c = memoryview(self.ctl).cast("q")
        self.seq = 0
        self._payloads: dict[tuple, bytes] = {}  # the same calls recur every batch
        self.completed = 0  # commands the child finished
        self.alive = True
        self.busy = False
        rfd, self.wfd = os.pipe()
        parent = os.getpid()
        with warnings.catch_warnings():  # 3.12+: "multi-threaded fork"
            warnings.simplefilter("ignore", DeprecationWarning)
            pid = os.fork()
        if pid == 0:  # the child
            code = 0
            try:
                os.close(self.wfd)
                _child(self.c, self.ctl, buf, rfd, parent)
            except BaseException:
                code = 1
            finally:
                os._exit(code)
        os.close(rfd)
        self.pid = pid

    # -- parent side ------------------------------------------------------------
    def submit(self, kernel: str, *regions) -> bool:
        """Start KERNELS[kernel] on the arrays `regions` describe (see
        `region`) in the child; False if it cannot take it now (then the
        caller computes it)."""
        if not self.alive or self.busy:
            return False
        key = (kernel, regions)
        payload = self._payloads.get(key)
        if payload is None:
            payload = pickle.dumps(key, protocol=pickle.HIGHEST_PROTOCOL)
            if HEADER + len(payload) > CTL_BYTES:
                return False
            if len(self._payloads) >= CACHED:
                self._payloads.clear()
            self._payloads[key] = payload
        self.ctl[HEADER : HEADER + len(payload)] = payload
        c = self.c
        c[_LEN] = len(payload)
        self.seq += 1
        c[_REQ] = self.seq
        if c[_SLEEPING]:
            try:
                os.write(self.wfd, b"w")
            except OSError:
                pass
        self.busy = True
        return True

    def wait(self) -> bool:
        """Wait for the submitted command; True if it completed."""
        if not self.busy:
            return False
        c = self.c
        seq = self.seq
        spins = 0
        while c[_DONE] != seq:
            spins += 1
            if spins & 0xFF == 0:
                os.sched_yield()  # a busy machine: let the child run
                if spins & 0xFFFF == 0 and not self._child_alive():
                    self._fail()
                    return False
        self.busy = False
        if c[_STATUS] != 0:
            self._fail()
            return False
        self.completed += 1
        return True

    def _child_alive(self) -> bool:
        try:
            pid, _ = os.waitpid(self.pid, os.WNOHANG)
        except ChildProcessError:
            return False
        return pid == 0

    def _fail(self) -> None:
        self.busy = False
        self.close()

    def close(self) -> None:
        if not self.alive:
            return
        self.alive = False
        try:
            payload = pickle.dumps(None)
            self.ctl[HEADER : HEADER + len(payload)] = payload
            self.c[_LEN] = len(payload)
            self.seq += 1
            self.c[_REQ] = self.seq
            os.write(self.wfd, b"q")
        except (OSError, ValueError):
            pass
        try:
            os.close(self.wfd)
        except OSError:
            pass
        for _ in range(100):
            try:
                pid, _ = os.waitpid(self.pid, os.WNOHANG)
            except ChildProcessError:
                return
            if pid:
                return
            time.sleep(0.002)
        try:
            os.kill(self.pid, signal.SIGKILL)
            os.waitpid(self.pid, 0)
        except (OSError, ChildProcessError):
            pass


def _child(c, ctl, buf, rfd: int, parent: int) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    os.set_blocking(rfd, False)
    np.seterr(all="ignore")  # as the twins (mnist._twin)
    last = 0  # the parent numbers commands from 1
    cache: dict[bytes, tuple] = {}
    clock = time.monotonic
    while True:
        idle_since = clock()
        spins = 0
        while c[_REQ] == last:
            spins += 1
            if spins & 0x3FF == 0:
                os.sched_yield()  # a busy machine: let others run
                if clock() - idle_since <= IDLE_S:
                    continue
                c[_SLEEPING] = 1
                while c[_REQ] == last:
                    select.select([rfd], [], [], POLL_S)
                    try:
                        os.read(rfd, 64)
                    except BlockingIOError:
                        pass
                    except OSError:
                        return
                    if os.getppid() != parent:
                        return
                c[_SLEEPING] = 0
        last = c[_REQ]
        payload = bytes(ctl[HEADER : HEADER + c[_LEN]])
        job = cache.get(payload)
        status = 0
        try:
            if job is None:
                cmd = pickle.loads(payload)
                if cmd is None:
                    return
                kernel, regions = cmd
                job = (KERNELS[kernel], [arg(buf, r) for r in regions])
                if len(cache) >= CACHED:
                    cache.clear()
                cache[payload] = job
            job[0](*job[1])
        except BaseException:
            status = 1
        c[_STATUS] = status
        c[_DONE] = last


# ---- arrays in machine memory ----------------------------------------------------
def region(addr: int, shape: tuple) -> tuple:
    """The C-order float32 array of `shape` at addr (an offset into the
    machine's mmap), as a command names it."""
    strides, size = [], 4
    for n in reversed(shape):
        strides.append(size)
        size *= n
    return (addr, tuple(shape), tuple(reversed(strides)), "<f4")


def rows(addr: int, shape: tuple, lo: int, hi: int) -> tuple:
    """Rows lo..hi-1 of the C-order float32 matrix of `shape` at addr."""
    r, c = shape
    return (addr + 4 * lo * c, (hi - lo, c), (4 * c, 4), "<f4")


def cols(addr: int, shape: tuple, lo: int, hi: int) -> tuple:
    """Columns lo..hi-1 of the C-order float32 matrix of `shape` at addr."""
    r, c = shape
    return (addr + 4 * lo, (r, hi - lo), (4 * c, 4), "<f4")


def view(buf, reg: tuple) -> np.ndarray:
    addr, shape, strides, dtype = reg
    return np.ndarray(shape, dtype, buffer=buf, offset=addr, strides=strides)


def arg(buf, a):
    """A command's argument: a region as a view, anything else (a number) as is."""
    return view(buf, a) if isinstance(a, tuple) else a


def run_here(buf, kernel: str, *regions) -> None:
    """A command computed in this process (when the helper cannot)."""
    KERNELS[kernel](*[arg(buf, r) for r in regions])


# ---- per machine ----------------------------------------------------------------
_workers: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def start(machine, jobs: int | None = None) -> int:
    """Give the machine's twins a helper process if jobs (default: the CPUs
    this process may use) is at least 2. Returns the number of processes the
    big kernels will use (1 or 2)."""
    if jobs is None:
        jobs = available_cpus()
    if jobs < 2 or not hasattr(os, "fork") or platform.machine() not in X86_64:
        return 1
    if machine in _workers and _workers[machine].alive:
        return 2
    w = Worker(machine.mem.buf)
    _workers[machine] = w
    weakref.finalize(machine, w.close)  # also runs at exit (atexit=True)
    return 2


def stop(machine) -> None:
    w = _workers.pop(machine, None)
    if w is not None:
        w.close()


def worker(machine) -> Worker | None:
    w = _workers.get(machine)
    return w if w is not None and w.alive else None
