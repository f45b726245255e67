"""Flat little-endian memory with mapped regions and permissions.

One anonymous mapping holds the whole address space from 0 to the top of
the stack (pages are only backed when touched). The regions:

    [0, text)                 unmapped (null-pointer guard)
    [text, rodata)            .text   read + execute (instruction slots read as 0xCC)
    [rodata, data)            .rodata read only
    [data, brk)               .data, .bss, then the heap grown by brk   read + write
    [brk, heap_limit)         unmapped, except mmap regions (taken top-down
                              from heap_limit; brk cannot grow into them)
    [stack_lo, top)           stack (8 MiB)                             read + write

Every access the program makes is checked against this map; a violation is a
Fault naming the instruction and its source line. Limit: once an mmap region
exists, compiled code checks the span from .data to the highest mapping as
one range, so an access between brk and the lowest mapping does not fault
(the runtime's own checks, `mapped()`, are exact).
"""

from __future__ import annotations

import mmap

from .codegen import Layout
from .image import HEAP_MAX, PAGE, STACK_SIZE, TEXT_BASE, Image


def page_up(x: int) -> int:
    return (x + PAGE - 1) & ~(PAGE - 1)


class Memory:
    def __init__(self, image: Image):
        secs = image.sections
        self.text = TEXT_BASE
        self.rodata = secs[".rodata"].addr if ".rodata" in secs and secs[".rodata"].size else None
        writable = [s.addr for s in secs.values() if s.perms == "rw" and s.size]
        self.end_of_image = page_up(image.end)
        self.data = min(writable) if writable else self.end_of_image
        self.brk_start = self.end_of_image
        self.brk = self.brk_start
        self.heap_limit = self.brk_start + HEAP_MAX
        self.mmaps: list[tuple[int, int]] = []  # anonymous/private mappings [lo, hi), sorted
        self.top = page_up(self.heap_limit + PAGE * 16 + STACK_SIZE) + (1 << 20)
        self.stack_lo = self.top - STACK_SIZE
        self.buf = mmap.mmap(-1, self.top)
        self.view = memoryview(self.buf)
        for s in secs.values():
            if s.size and s.data and s.name != ".bss":  # fresh pages are already zero
                self.buf[s.addr : s.addr + len(s.data)] = s.data

    def layout(self) -> Layout:
        hi = self.mmaps[-1][1] if self.mmaps else page_up(self.brk)
        return Layout(self.text, self.data, hi, self.stack_lo, self.top)

    def brk_limit(self) -> int:
        """How far brk may grow: to the lowest mapping, else heap_limit."""
        return self.mmaps[0][0] if self.mmaps else self.heap_limit

    def map_anonymous(self, length: int) -> int | None:
        """Map length bytes (page-rounded) of zeros, top-down below heap_limit,
        first fit; None when there is no room above brk."""
        n = page_up(length)
        hi = self.heap_limit
        for lo_, hi_ in reversed(self.mmaps):
            if hi - hi_ >= n:
                break
            hi = lo_
        lo = hi - n
        if lo < page_up(self.brk):
            return None
        self.buf.madvise(mmap.MADV_DONTNEED, lo, n)  # fresh zero pages
        self.mmaps.append((lo, hi))
        self.mmaps.sort()
        return lo

    def unmap(self, addr: int, length: int) -> None:
        """Remove [addr, addr+length) from the mappings (parts of them too)."""
        end = addr + page_up(length)
        out = []
        for lo, hi in self.mmaps:
            if hi <= addr or lo >= end:
                out.append((lo, hi))
                continue
            if lo < addr:
                out.append((lo, addr))
            if hi > end:
                out.append((end, hi))
        self.mmaps = out

    def _in_mmap(self, addr: int, n: int) -> bool:
        return any(lo <= addr and addr + n <= hi for lo, hi in self.mmaps)

    def region(self, addr: int) -> str:
        if self.text <= addr < (self.rodata or self.data):
            return "text"
        if self.rodata and self.rodata <= addr < self.data:
            return "rodata"
        if self.data <= addr < page_up(self.brk):
            return "data"
        if self._in_mmap(addr, 1):
            return "mmap"
        if self.stack_lo <= addr < self.top:
            return "stack"
        return "unmapped"

    def mapped(self, addr: int, n: int, write: bool = False) -> bool:
        lo = self.data if write else self.text
        hi = page_up(self.brk)
        return (
            (lo <= addr and addr + n <= hi)
            or (self.stack_lo <= addr and addr + n <= self.top)
            or self._in_mmap(addr, n)
        )

    def extent(self, addr: int, n: int, write: bool = False) -> int:
        """How many of the n bytes from addr are mapped contiguously (0..n):
        what a syscall can copy before it would fault."""
        lo = self.data if write else self.text
        for a, b in ((lo, page_up(self.brk)), (self.stack_lo, self.top), *self.mmaps):
            if a <= addr < b:
                return max(0, min(n, b - addr))
        return 0

    # Checked helpers for the runtime and the debugger (not the hot path).
    def read(self, addr: int, n: int) -> bytes:
        if not self.mapped(addr, n):
            raise ValueError(f"address {addr:#x} ({n} bytes) is not mapped")
        return bytes(self.buf[addr : addr + n])

    def write(self, addr: int, data: bytes) -> None:
        if not self.mapped(addr, len(data), write=True):
            raise ValueError(f"address {addr:#x} ({len(data)} bytes) is not writable")
        self.buf[addr : addr + len(data)] = data

    def read_cstring(self, addr: int, limit: int = 4096) -> bytes | None:
        out = bytearray()
        while len(out) < limit:
            if not self.mapped(addr + len(out), 1):
                return None
            b = self.buf[addr + len(out)]
            if b == 0:
                return bytes(out)
            out.append(b)
        return None
