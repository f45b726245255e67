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
from dataclasses import dataclass

from .environment import Layout
from .errors import VMError
from .image import HEAP_MAX, MAX_IMAGE_BYTES, PAGE, STACK_SIZE, TEXT_BASE, Image

_COPY_CHUNK = 1 << 16
_ZEROS = bytes(_COPY_CHUNK)


class ImageTooLarge(VMError):
    """The program's image does not fit the machine's memory limit.

    An image larger than MAX_IMAGE_BYTES (its sections together, .bss
    included; the assembler has the same limit) is refused before anything is
    mapped. .bss is never materialised: fresh pages of the mapping are zero
    and cost nothing until written, and all-zero pages of .data are not
    copied either."""


def page_up(x: int) -> int:
    return (x + PAGE - 1) & ~(PAGE - 1)


@dataclass(frozen=True)
class AddressMap:
    """Where an image's regions go (see the module docstring); brk starts at brk_start."""

    rodata: int | None
    data: int
    brk_start: int
    heap_limit: int
    stack_lo: int
    top: int


def address_map(image: Image) -> AddressMap:
    """The memory map for image; raises ImageTooLarge past MAX_IMAGE_BYTES."""
    secs = image.sections
    size = sum(s.size for s in secs.values())
    if size > MAX_IMAGE_BYTES:
        raise ImageTooLarge(
            f"the program needs {size:,} bytes of memory (its sections, .bss included), "
            f"more than the machine's {MAX_IMAGE_BYTES:,} (MAX_IMAGE_BYTES)"
        )
    rodata = secs[".rodata"].addr if ".rodata" in secs and secs[".rodata"].size else None
    writable = [s.addr for s in secs.values() if s.perms == "rw" and s.size]
    end_of_image = page_up(image.end)
    heap_limit = end_of_image + HEAP_MAX
    top = page_up(heap_limit + PAGE * 16 + STACK_SIZE) + (1 << 20)
    return AddressMap(
        rodata=rodata,
        data=min(writable) if writable else end_of_image,
        brk_start=end_of_image,
        heap_limit=heap_limit,
        stack_lo=top - STACK_SIZE,
        top=top,
    )


class Memory:
    def __init__(self, image: Image):
        amap = address_map(image)
        self.text = TEXT_BASE
        self.rodata = amap.rodata
        self.end_of_image = amap.brk_start
        self.data = amap.data
        self.brk_start = amap.brk_start
        self.brk = self.brk_start
        self.heap_limit = amap.heap_limit
        self.mmaps: list[tuple[int, int]] = []  # anonymous/private mappings [lo, hi), sorted
        self.top = amap.top
        self.stack_lo = amap.stack_lo
        self.buf = mmap.mmap(-1, self.top)
        self.view = memoryview(self.buf)
        for s in image.sections.values():
            if s.size and s.data and s.name != ".bss":  # fresh pages are already zero
                self._copy_nonzero(s.addr, s.data)

    def _copy_nonzero(self, addr: int, data) -> None:
        """Copy data to addr, skipping all-zero chunks (they are zero already,
        and writing them would make the host back those pages)."""
        src = memoryview(data)
        for off in range(0, len(src), _COPY_CHUNK):
            chunk = src[off : off + _COPY_CHUNK].tobytes()  # bytes compare with memcmp
            if chunk != _ZEROS[: len(chunk)]:
                self.buf[addr + off : addr + off + len(chunk)] = chunk

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
