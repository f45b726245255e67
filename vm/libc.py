"""The built-in C library: the routines a learner's `main` program calls.

A program that defines `main` and no `_start` gets a C start-up, as `gcc`
links crt1.o: the built-in `_start` calls main(argc, argv, envp) with the
stack aligned as glibc aligns it, and when main returns, exit(its eax)
flushes stdio and ends the program. `extern printf` (and the others in LIBC)
resolve to host routines reached with `call`, like libm's exp/log: they
read their arguments as the System V ABI passes them (integers in rdi, rsi,
rdx, rcx, r8, r9, then the stack; varargs doubles in xmm0-7), return in rax
and poison the other caller-saved registers (vm/runtime.py).

stdio follows glibc where a program can see it: printf/puts/putchar write
into a stdout buffer that is flushed when full (4096 bytes), at exit() and
return from main, by fflush, and at each newline when stdout is a terminal;
a raw `write` syscall goes out at once, so output interleaves as natively.
The raw exit syscall does not flush (the buffered text is lost, as
natively). getchar/scanf read stdin through a 4096-byte buffer. malloc
hands out 16-byte aligned chunks from the brk heap with glibc's chunk sizes
(request + 8 rounded up to 16, at least 32; the pointer 16 bytes into it);
a freed chunk is reused first by a request of the same size.
"""

from __future__ import annotations

import struct
import time
from typing import Any

from .cformat import Args, FormatError, Scanner, Store, printf_format
from .errors import Exit, Fault

LIBC = (
    "printf",
    "sprintf",
    "snprintf",
    "puts",
    "putchar",
    "getchar",
    "scanf",
    "fflush",
    "malloc",
    "calloc",
    "realloc",
    "free",
    "strlen",
    "strcmp",
    "strncmp",
    "strcpy",
    "strncpy",
    "strcat",
    "memcpy",
    "memmove",
    "memset",
    "memcmp",
    "atoi",
    "atol",
    "strtol",
    "abs",
    "labs",
    "toupper",
    "tolower",
    "isdigit",
    "isalpha",
    "isspace",
    "isupper",
    "islower",
    "isalnum",
    "exit",
    "time",
    "rand",
    "srand",
)
CRT = ("_start", "__libc_main_return")  # the C start-up, for programs with main
ARG_REGS = (7, 6, 2, 1, 8, 9)  # rdi rsi rdx rcx r8 r9
BUFSIZ = 4096
M64 = (1 << 64) - 1
M32 = 0xFFFFFFFF
EOF_INT = M32  # EOF (-1) as an int in eax, upper half zero
SPACE = b" \t\n\v\f\r"


def _s64(v: int) -> int:
    return v - (1 << 64) if v >> 63 else v


class GlibcRandom:
    """glibc's random()/rand(): the TYPE_3 additive feedback generator."""

    def __init__(self, seed: int = 1):
        self.seed(seed)

    def seed(self, seed: int) -> None:
        seed &= M32
        if seed == 0:
            seed = 1
        r = [0] * 34
        r[0] = seed
        for i in range(1, 31):
            prev = _s32(r[i - 1])
            hi = abs(prev) // 127773 * (-1 if prev < 0 else 1)  # C division truncates
            lo = prev - hi * 127773
            word = 16807 * lo - 2836 * hi
            if word < 0:
                word += 2147483647
            r[i] = word
        for i in range(31, 34):
            r[i] = r[i - 31]
        self.r = r
        self.k = 34
        for _ in range(310):
            self._next()

    def _next(self) -> int:
        r = self.r
        v = (r[-31] + r[-3]) & M32
        r.append(v)
        if len(r) > 64:
            del r[:-34]
        return v >> 1

    def rand(self) -> int:
        return self._next()


def _s32(v: int) -> int:
    v &= M32
    return v - (1 << 32) if v >> 31 else v


class Libc:
    """The C library's state for one machine: stdio buffers, heap, rand."""

    def __init__(self, runtime: Any):
        self.rt = runtime
        self.m = runtime.m
        self.out = bytearray()  # stdout's buffer
        self.inbuf = b""
        self.inpos = 0
        self.in_eof = False
        self.live: dict[int, int] = {}  # user pointer -> chunk size
        self.free_chunks: list[tuple[int, int]] = []  # (user pointer, chunk size), LIFO
        self.heap_top = 0  # end of the chunks handed out so far (0: heap not started)
        self.random = GlibcRandom()
        self.line_buffered = _isatty(runtime.stdout)

    # ---- calling convention ------------------------------------------------------
    def call(self, name: str) -> int | None:
        """Run one routine. Returns the address to continue at when it does not
        return to its caller (the start-up), else None (the caller pops the
        return address); rax is set here, the other caller-saved registers are
        poisoned."""
        m = self.m
        self._ip = struct.unpack_from("<Q", m.mem.buf, m.r[4])[0] - 4  # the call
        fn = getattr(self, "c_" + name)
        try:
            result = fn()
        except FormatError as e:
            raise self.fault("unsupported", f"{name}: {e}") from None
        if name == "_start":
            return result
        from .runtime import poison_caller_saved

        poison_caller_saved(m, keep=("rax",))
        m.r[0] = (result or 0) & M64
        return None

    def fault(self, kind: str, msg: str) -> Fault:
        return Fault(kind, msg, self._ip)

    def arg(self, i: int) -> int:
        """The i-th integer argument (0-based) of a non-variadic call."""
        if i < 6:
            return self.m.r[ARG_REGS[i]]
        return self._stack_word(i - 6)

    def _stack_word(self, k: int) -> int:
        addr = self.m.r[4] + 8 + 8 * k  # above the return address
        if not self.m.mem.mapped(addr, 8):
            raise self.fault("segfault", f"argument read at unmapped address {addr:#x}")
        return struct.unpack_from("<Q", self.m.mem.buf, addr)[0]

    def varargs(self, fixed: int) -> Args:
        """The variadic arguments after `fixed` integer arguments: integers
        from the remaining argument registers, doubles from xmm0-7, then both
        from the stack in order, as va_arg reads them."""
        gp, fp, stack = fixed, 0, 0
        m = self.m
        if (m.r[4] + 8) & 15 and m.r[0] & 0xFF:
            raise self.fault(
                "misaligned",
                "variadic call with rsp not 16-byte aligned before the call (glibc saves "
                "xmm registers with movaps and crashes natively): keep rsp aligned",
            )

        def next_int() -> int:
            nonlocal gp, stack
            if gp < 6:
                gp += 1
                return m.r[ARG_REGS[gp - 1]]
            stack += 1
            return self._stack_word(stack - 1)

        def next_float() -> float:
            nonlocal fp, stack
            if fp < 8:
                fp += 1
                return m.xd[2 * (fp - 1)]
            stack += 1
            return struct.unpack("<d", struct.pack("<Q", self._stack_word(stack - 1)))[0]

        return Args(next_int, next_float)

    # ---- guest memory --------------------------------------------------------------
    def string(self, addr: int, limit: int | None = None) -> bytes:
        """The C string at addr (at most limit bytes); a fault if it runs into
        unmapped memory, as the native routine would."""
        mem = self.m.mem
        n = mem.extent(addr, limit if limit is not None else 1 << 30)
        end = mem.buf.find(b"\0", addr, addr + n)
        if end < 0:
            if limit is not None and n == limit:
                return bytes(mem.buf[addr : addr + n])
            raise self.fault("segfault", f"string read at {addr:#x} runs into unmapped memory")
        return bytes(mem.buf[addr:end])

    def read(self, addr: int, n: int) -> bytes:
        if n and not self.m.mem.mapped(addr, n):
            raise self.fault("segfault", f"read of {n} bytes at unmapped address {addr:#x}")
        return bytes(self.m.mem.buf[addr : addr + n])

    def write(self, addr: int, data: bytes) -> None:
        if not data:
            return
        if not self.m.mem.mapped(addr, len(data), True):
            raise self.fault(
                "segfault", f"write of {len(data)} bytes at unmapped address {addr:#x}"
            )
        self.m.wlog(addr, len(data))
        self.m.mem.buf[addr : addr + len(data)] = data

    # ---- stdio ------------------------------------------------------------------------
    def emit(self, data: bytes) -> None:
        self.out += data
        if self.line_buffered and b"\n" in data:
            self.flush()
        elif len(self.out) >= BUFSIZ:
            cut = len(self.out) - len(self.out) % BUFSIZ
            self._write(bytes(self.out[:cut]))
            del self.out[:cut]

    def flush(self) -> None:
        if self.out:
            self._write(bytes(self.out))
            self.out.clear()

    def _write(self, data: bytes) -> None:
        if 1 in self.rt.closed_std:
            return
        while data:
            n = self.rt._write(1, data)
            if n <= 0:
                return  # an error: glibc drops the buffer
            data = data[n:]

    def _peek(self) -> int | None:
        if self.inpos >= len(self.inbuf):
            if self.in_eof:
                return None
            if self.line_buffered:
                self.flush()
            data = self.rt.read_stdin_bytes(BUFSIZ)
            if isinstance(data, int) or not data:  # end of input or an error
                self.in_eof = True  # glibc's sticky EOF
                return None
            self.inbuf, self.inpos = data, 0
        return self.inbuf[self.inpos]

    def _take(self) -> None:
        self.inpos += 1

    # ---- start-up and exit --------------------------------------------------------------
    def c__start(self) -> int:
        m = self.m
        sp = m.r[4]
        argc = struct.unpack_from("<Q", m.mem.buf, sp)[0]
        m.r[7], m.r[6], m.r[2] = argc, sp + 8, sp + 16 + 8 * argc
        sp -= 8  # main is entered as if called: rsp = 8 mod 16
        struct.pack_into("<Q", m.mem.buf, sp, m.image.symbols["__libc_main_return"].value)
        m.r[4] = sp
        return m.image.symbols["main"].value

    def c___libc_main_return(self) -> None:
        self._exit(self.m.r[0] & M32)

    def c_exit(self) -> None:
        self._exit(self.arg(0) & M32)

    def _exit(self, status: int) -> None:
        self.flush()
        self.rt.close_all()
        raise Exit(status & 0xFF)

    def c_fflush(self) -> int:
        self.flush()
        return 0

    # ---- output --------------------------------------------------------------------------
    def _format(self, fmt_index: int) -> bytes:
        fmt = self.string(self.arg(fmt_index))
        return printf_format(fmt, self.varargs(fmt_index + 1), self.string)

    def c_printf(self) -> int:
        text = self._format(0)
        self.emit(text)
        return len(text) & M32

    def c_sprintf(self) -> int:
        dst = self.arg(0)
        text = self._format(1)
        self.write(dst, text + b"\0")
        return len(text) & M32

    def c_snprintf(self) -> int:
        dst, size = self.arg(0), self.arg(1)
        text = self._format(2)
        if size:
            self.write(dst, text[: size - 1] + b"\0")
        return len(text) & M32

    def c_puts(self) -> int:
        text = self.string(self.arg(0))
        self.emit(text + b"\n")
        return min(len(text) + 1, 0x7FFFFFFF)

    def c_putchar(self) -> int:
        c = self.arg(0) & 0xFF
        self.emit(bytes([c]))
        return c

    # ---- input ----------------------------------------------------------------------------
    def c_getchar(self) -> int:
        c = self._peek()
        if c is None:
            return EOF_INT
        self._take()
        return c

    def c_scanf(self) -> int:
        fmt = self.string(self.arg(0))
        args = self.varargs(1)

        def store(addr: int, item: Store) -> None:
            if item.kind == "int":
                v = int(item.value) & ((1 << (8 * item.size)) - 1)
                self.write(addr, v.to_bytes(item.size, "little"))
            elif item.kind == "float":
                self.write(addr, struct.pack("<d" if item.size == 8 else "<f", item.value))
            elif isinstance(item.value, bytes):  # kind 'bytes'
                self.write(addr, item.value)

        n = Scanner(self._peek, self._take).scan(fmt, args.next_int, store)
        return n & M32

    # ---- heap ------------------------------------------------------------------------------
    def _malloc(self, n: int) -> int:
        if n > (1 << 40):
            return 0
        size = max(32, (n + 8 + 15) & ~15)
        for i in range(len(self.free_chunks) - 1, -1, -1):
            ptr, csize = self.free_chunks[i]
            if csize == size:
                del self.free_chunks[i]
                self.live[ptr] = size
                return ptr
        if self.heap_top == 0:
            base = self.rt.sys_brk(0)
            self.heap_top = (base + 15) & ~15
        chunk = self.heap_top
        end = chunk + size
        if end + 16 > self.m.mem.brk:
            want = (end + 16 + 0x20FFF) & ~0xFFF  # glibc grows the heap by 132 KiB steps
            if self.rt.sys_brk(want) < end + 16:
                return 0
        self.heap_top = end
        ptr = chunk + 16
        self.live[ptr] = size
        return ptr

    def c_malloc(self) -> int:
        return self._malloc(self.arg(0))

    def c_calloc(self) -> int:
        n, k = self.arg(0), self.arg(1)
        total = n * k
        if total > M64:
            return 0
        ptr = self._malloc(total)
        if ptr:
            self.write(ptr, bytes(total))
        return ptr

    def _free(self, ptr: int) -> None:
        if ptr == 0:
            return
        size = self.live.pop(ptr, None)
        if size is None:
            raise self.fault(
                "abort", f"free(): invalid pointer {ptr:#x} (not from malloc, or freed twice)"
            )
        self.free_chunks.append((ptr, size))

    def c_free(self) -> None:
        self._free(self.arg(0))

    def c_realloc(self) -> int:
        ptr, n = self.arg(0), self.arg(1)
        if ptr == 0:
            return self._malloc(n)
        if n == 0:
            self._free(ptr)
            return 0
        size = self.live.get(ptr)
        if size is None:
            raise self.fault("abort", f"realloc(): invalid pointer {ptr:#x}")
        if n + 8 <= size:
            return ptr
        new = self._malloc(n)
        if new:
            self.write(new, self.read(ptr, size - 8))  # usable: the chunk minus its header
            self._free(ptr)
        return new

    # ---- strings and memory ---------------------------------------------------------------
    def c_strlen(self) -> int:
        return len(self.string(self.arg(0)))

    def c_strcmp(self) -> int:
        return self._cmp(self.string(self.arg(0)) + b"\0", self.string(self.arg(1)) + b"\0")

    def c_strncmp(self) -> int:
        n = self.arg(2)
        a = self.string(self.arg(0), n) + b"\0"
        b = self.string(self.arg(1), n) + b"\0"
        return self._cmp(a[:n], b[:n])

    def c_memcmp(self) -> int:
        n = self.arg(2)
        return self._cmp(self.read(self.arg(0), n), self.read(self.arg(1), n))

    @staticmethod
    def _cmp(a: bytes, b: bytes) -> int:
        """glibc's x86-64 string compare: the difference of the first differing bytes."""
        for x, y in zip(a, b):
            if x != y:
                return (x - y) & M32
        return 0

    def c_strcpy(self) -> int:
        dst = self.arg(0)
        self.write(dst, self.string(self.arg(1)) + b"\0")
        return dst

    def c_strncpy(self) -> int:
        dst, n = self.arg(0), self.arg(2)
        src = self.string(self.arg(1), n)
        self.write(dst, src[:n].ljust(n, b"\0"))
        return dst

    def c_strcat(self) -> int:
        dst = self.arg(0)
        self.write(dst + len(self.string(dst)), self.string(self.arg(1)) + b"\0")
        return dst

    def c_memcpy(self) -> int:
        dst = self.arg(0)
        self.write(dst, self.read(self.arg(1), self.arg(2)))
        return dst

    c_memmove = c_memcpy  # the source is read whole before the write

    def c_memset(self) -> int:
        dst = self.arg(0)
        self.write(dst, bytes([self.arg(1) & 0xFF]) * self.arg(2))
        return dst

    # ---- numbers and characters --------------------------------------------------------------
    def _strtol(self, addr: int, base: int) -> tuple[int, int]:
        """(value clamped to a long, address after the number) as strtol."""
        s = self.string(addr)
        i = 0
        while i < len(s) and s[i] in SPACE:
            i += 1
        neg = False
        if i < len(s) and s[i] in b"+-":
            neg = s[i] == ord("-")
            i += 1
        if base in (0, 16) and s[i : i + 2].lower() == b"0x" and i + 2 < len(s):
            if chr(s[i + 2]).lower() in "0123456789abcdef":
                i += 2
                base = 16
        if base == 0:
            base = 8 if s[i : i + 1] == b"0" else 10
        j = i
        while j < len(s) and chr(s[j]).lower() in "0123456789abcdefghijklmnopqrstuvwxyz"[:base]:
            j += 1
        if j == i:
            return 0, addr  # no digits: endptr = nptr
        v = int(s[i:j], base)
        v = -v if neg else v
        return max(-(1 << 63), min((1 << 63) - 1, v)), addr + j

    def c_atoi(self) -> int:
        return self._strtol(self.arg(0), 10)[0]

    c_atol = c_atoi

    def c_strtol(self) -> int:
        value, end = self._strtol(self.arg(0), self.arg(2) & M32)
        if self.arg(1):
            self.write(self.arg(1), struct.pack("<Q", end))
        return value

    def c_abs(self) -> int:
        return abs(_s32(self.arg(0))) & M32

    def c_labs(self) -> int:
        return abs(_s64(self.arg(0))) & M64

    def _ctype(self, test) -> int:
        c = self.arg(0) & M32
        return 1 if c < 128 and test(chr(c)) else 0

    def c_isdigit(self) -> int:
        return self._ctype(str.isdigit) * 2048

    def c_isalpha(self) -> int:
        return self._ctype(str.isalpha) * 1024

    def c_isspace(self) -> int:
        return self._ctype(lambda ch: ch in " \t\n\v\f\r") * 8192

    def c_isupper(self) -> int:
        return self._ctype(str.isupper) * 256

    def c_islower(self) -> int:
        return self._ctype(str.islower) * 512

    def c_isalnum(self) -> int:
        return self._ctype(str.isalnum) * 8

    def c_toupper(self) -> int:
        c = self.arg(0) & M32
        return c - 32 if 97 <= c <= 122 else c

    def c_tolower(self) -> int:
        c = self.arg(0) & M32
        return c + 32 if 65 <= c <= 90 else c

    # ---- misc ------------------------------------------------------------------------------------
    def c_time(self) -> int:
        now = time.time_ns() // 1_000_000_000
        if self.arg(0):
            self.write(self.arg(0), struct.pack("<q", now))
        return now

    def c_rand(self) -> int:
        return self.random.rand()

    def c_srand(self) -> None:
        self.random.seed(self.arg(0))


def _isatty(stream) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError, OSError):
        return False
