"""Saving and loading a whole machine: registers, memory and the program.

A state file is self-contained: it carries the program's source texts (every
file and %include) and the bytes its incbin lines read (up to
MAX_CARRIED_BINARY), the defines it was assembled with, a fingerprint of the
assembled image, the registers, and every mapped byte of writable memory
(.data/.bss/heap and the stack), zlib-compressed. Loading re-assembles the
program from the carried sources, checks the fingerprint, and restores the
rest, so `mnist-vm debug --state` works on another machine or after the
source files changed.

Layout (version 1):
    b"MNISTVM-STATE\\n"  magic
    u32 little-endian   version
    u64 little-endian   length of the JSON header
    JSON header         program, registers, memory map, meta
    zlib stream         data region then stack region (raw bytes)

Files are written to a temporary file in the same directory, flushed to
disk and renamed over the target, so an interrupted save never leaves a
half-written state behind.

A state file is untrusted input. Loading checks the whole header against
HEADER (vm/schema.py) before using any of it, assembles only the sources the
state carries (an %include of anything else fails; no host file named in a
state is ever opened), checks the memory map against the program's and the
machine's limits, and inflates the memory image incrementally, never past the
size the header declares. Anything wrong is one StateError line.
"""

from __future__ import annotations

import base64
import errno
import hashlib
import json
import os
import struct
import zlib
from dataclasses import dataclass

from . import schema as S
from .asm.assembler import Assembler
from .asm.directives import find_file
from .atomic import atomic_write
from .errors import AsmError, VMError
from .image import PAGE, Image
from .isa import flags as F
from .memory import ImageTooLarge, address_map, page_up

MAGIC = b"MNISTVM-STATE\n"
VERSION = 1
FORMAT = "mnist-vm machine state"
MAX_HEADER_BYTES = 64 << 20  # the JSON header (it carries the program's sources)
MAX_CARRIED_BINARY = 32 << 20  # incbin bytes a state carries (base64 in the header)
MAX_BINARIES = 10_000  # incbin lines a state carries
_CHUNK = 1 << 22
_U64 = S.Int(0, (1 << 64) - 1)
_TEXT = S.Str(MAX_HEADER_BYTES)
_NAME = S.Str(4096)
_RANGE = S.List(_U64, 2, 2)  # [lo, hi)
_MAX_MMAPS = 1 << 16
_COUNT = S.Int(0, (1 << 63) - 1)
# what one incbin line read: the file as the assembler found it, its skip and
# count arguments, and the bytes (the program's bytes are checked again by the
# fingerprint once it is re-assembled)
_BINARY = S.Obj(
    {
        "file": _NAME,
        "skip": _COUNT,
        "count": S.Nullable(_COUNT),
        "data": S.Base64(MAX_CARRIED_BINARY),
    }
)

# Every key load_state reads, with its type and range (others are ignored).
HEADER = S.Obj(
    {
        "format": S.Const(FORMAT),
        "version": S.Const(VERSION),
        "program": S.Obj(
            {
                "files": S.List(_NAME, 1, 10_000),
                "defines": S.Map(
                    S.OneOf((_NAME, S.Int(-(1 << 63), (1 << 64) - 1)), "a string or an integer"),
                    10_000,
                ),
                "sources": S.Map(_TEXT, 100_000),
                "fingerprint": S.Hex((64,)),
            },
            optional={"binaries": S.List(_BINARY, 0, MAX_BINARIES)},  # incbin's bytes
        ),
        "registers": S.Obj(
            {
                "gpr": S.List(_U64, 16, 16),
                "rip": _U64,
                "rflags": _U64,
                # 16 x 16 bytes (xmm0-15, states before AVX) or 32 x 64 bytes (zmm0-31)
                "xmm": S.Hex((2 * 256, 2 * 2048)),
            },
            # bits 16-31 are reserved (ldmxcsr would #GP); absent in older states: 0x1F80
            optional={"mxcsr": S.Int(0, 0xFFFF)},
        ),
        "icount": S.Int(0, (1 << 63) - 1),
        "exit_status": S.Nullable(S.Int(0, 255)),
        "brk": _U64,
        "regions": S.List(_RANGE, 1, 2 + _MAX_MMAPS),
        "open_files": S.List(S.Int(0, (1 << 31) - 1), 0, 1 << 16),
        "meta": S.Map(S.Anything(), 1 << 16),
    },
    optional={"mmaps": S.List(_RANGE, 0, _MAX_MMAPS)},  # anonymous mappings (mmap), sorted
)


class StateError(VMError):
    """A state file that cannot be written or loaded; the message says why."""


def fingerprint(image: Image) -> str:
    """A hash of what the machine executes: instructions, addresses, sections, entry."""
    h = hashlib.sha256()
    for insn in image.insns:
        h.update(f"{insn.addr:x} {insn.text()} {insn.host or ''}\n".encode())
    for sec in image.sections.values():
        h.update(f"{sec.name} {sec.addr:x} {sec.size:x}\n".encode())
        h.update(sec.data)
    h.update(f"entry {image.entry:x}".encode())
    return h.hexdigest()


def _regions(machine) -> list[tuple[int, int]]:
    mem = machine.mem
    brk_end = (mem.brk + 0xFFF) & ~0xFFF
    return [(mem.data, brk_end), *mem.mmaps, (mem.stack_lo, mem.top)]


def save_state(machine, path: str | os.PathLike, meta: dict | None = None) -> None:
    """Write machine to path atomically. Raises StateError (or OSError) on failure."""
    image = machine.image
    mem = machine.mem
    regions = _regions(machine)
    header = {
        "format": FORMAT,
        "version": VERSION,
        "program": {
            "files": image.files,
            "defines": image.defines,
            "sources": {name: "\n".join(lines) + "\n" for name, lines in image.sources.items()},
            "fingerprint": fingerprint(image),
            "binaries": _carried_binaries(image),
        },
        "registers": {
            "gpr": list(machine.r[:16]),
            "rip": machine.rip,
            "rflags": F.rflags(machine.fl) | machine.r[F.DF] << 10,  # DF is r[16]
            "xmm": bytes(machine.xb).hex(),
            "mxcsr": machine.mxcsr,
        },
        "icount": machine.icount,
        "exit_status": machine.exit_status,
        "brk": mem.brk,
        "regions": regions,
        "mmaps": mem.mmaps,
        "open_files": sorted(machine.runtime.fds),
        "meta": meta or {},
    }
    blob = json.dumps(header, default=_jsonable).encode()
    if len(blob) > MAX_HEADER_BYTES:
        raise StateError(
            f"cannot save the state: its header (the program's sources and incbin data) "
            f"would be {len(blob):,} bytes, more than the {MAX_HEADER_BYTES:,} a state may have"
        )

    def fill(f) -> None:
        f.write(MAGIC + struct.pack("<IQ", VERSION, len(blob)) + blob)
        z = zlib.compressobj(1)
        for lo, hi in regions:
            for a in range(lo, hi, _CHUNK):
                f.write(z.compress(mem.buf[a : min(hi, a + _CHUNK)]))
        f.write(z.flush())

    atomic_write(path, fill)


def _carried_binaries(image: Image) -> list[dict]:
    """Image.binaries for the header (each file, skip and count once), refused
    past the limits load_state checks."""
    unique = {(f, skip, count): data for f, skip, count, data in image.binaries}
    total = sum(len(data) for data in unique.values())
    if total > MAX_CARRIED_BINARY or len(unique) > MAX_BINARIES:
        raise StateError(
            f"cannot save the state: the program includes {total:,} bytes with "
            f"{len(unique):,} different incbin lines; a state carries at most "
            f"{MAX_CARRIED_BINARY:,} bytes in {MAX_BINARIES:,} lines"
        )
    return [
        {"file": f, "skip": skip, "count": count, "data": base64.b64encode(data).decode()}
        for (f, skip, count), data in unique.items()
    ]


def _jsonable(x):
    """json.dumps fallback for meta values it cannot write (sets, paths ...)."""
    if isinstance(x, (set, frozenset)):
        return sorted(x)
    return str(x)


@dataclass
class SavedState:
    path: str
    header: dict
    image: Image
    memory: bytes | bytearray  # the regions' bytes, concatenated

    @property
    def meta(self) -> dict:
        return self.header.get("meta", {})

    def machine(self, root: str = ".", stdout=None, stderr=None, stdin=None):
        """A new Machine in exactly the saved state."""
        from .cpu import Machine

        m = Machine(self.image, root=root, stdout=stdout, stderr=stderr, stdin=stdin)
        self.restore_into(m)
        return m

    def restore_into(self, m) -> None:
        h = self.header
        pos = 0
        for lo, hi in h["regions"]:
            if lo < m.mem.data or hi > m.mem.top:  # checked at load; m may be another machine
                raise StateError(
                    f"{self.path}: memory region {lo:#x}-{hi:#x} does not fit "
                    "the program's memory map"
                )
        regs = h["registers"]
        xmm = bytes.fromhex(regs["xmm"])
        width = len(m.xb)
        if any(xmm[width:]):
            raise StateError(
                f"{self.path}: the state uses vector registers wider than this machine's "
                f"({len(xmm)} bytes saved, {width} here)"
            )
        m.mem.brk = h["brk"]
        m.mem.mmaps = [(lo, hi) for lo, hi in h.get("mmaps", [])]
        for lo, hi in h["regions"]:
            m.mem.buf[lo:hi] = self.memory[pos : pos + hi - lo]
            pos += hi - lo
        m.r[:16] = regs["gpr"]
        m.r[F.DF] = (regs["rflags"] >> 10) & 1  # DF lives beside the GPRs (vm.isa.flags)
        m.rip = regs["rip"]
        m.fl = (F.RAW, 0, 0, 0, regs["rflags"] & ~F.DF_BIT)
        m.xb[:] = xmm[:width].ljust(width, b"\0")  # older, narrower states: the rest is zero
        m.set_mxcsr(regs.get("mxcsr", 0x1F80))  # not the default: MXCSR-exact mode
        m.icount = h["icount"]
        m.exit_status = h["exit_status"]
        m.invalidate()


def load_state(path: str | os.PathLike) -> SavedState:
    """Read and check a state file; re-assemble its program. Raises StateError."""
    p = os.fspath(path)
    try:
        f = open(p, "rb")
    except OSError as e:
        raise StateError(f"cannot read state file {p}: {e.strerror or e}") from None
    try:
        with f:
            header = _read_header(f, p)
            image = _assemble_carried(header["program"], p)
            _check_memory_map(header, image, p)
            expected = sum(hi - lo for lo, hi in header["regions"])
            memory = _inflate(f, expected, p)
    except OSError as e:
        raise StateError(f"cannot read state file {p}: {e.strerror or e}") from None
    return SavedState(p, header, image, memory)


def _read_header(f, p: str) -> dict:
    head = f.read(len(MAGIC) + 12)
    if not head.startswith(MAGIC):
        raise StateError(
            f"{p} is not an mnist-vm machine state (saved with "
            "`mnist-vm run --save FILE` or the debugger's `save FILE`)"
        )
    if len(head) < len(MAGIC) + 12:
        raise StateError(f"{p}: the file is truncated (no header)")
    version, hlen = struct.unpack_from("<IQ", head, len(MAGIC))
    if version != VERSION:
        raise StateError(
            f"{p}: state format version {version} is not supported "
            f"(this mnist-vm reads version {VERSION})"
        )
    if hlen > MAX_HEADER_BYTES:
        raise StateError(
            f"{p}: the header says it is {hlen:,} bytes, more than the "
            f"{MAX_HEADER_BYTES:,} a state may have (damaged?)"
        )
    blob = f.read(hlen)
    if len(blob) < hlen:
        raise StateError(f"{p}: the header is damaged or truncated")
    try:
        header = json.loads(blob)
    except (ValueError, RecursionError):  # bad JSON, bad UTF-8, huge numbers, deep nesting
        raise StateError(f"{p}: the header is damaged or truncated") from None
    try:
        HEADER.check(header, "")
    except S.SchemaError as e:
        raise StateError(f"{p}: bad header: {e}") from None
    return header


def _assemble_carried(prog: dict, p: str) -> Image:
    """The program assembled from the sources the state carries, and nothing else."""
    sources = prog["sources"]
    missing = [f for f in prog["files"] if f not in sources]
    if missing:
        raise StateError(f"{p}: bad header: program file {missing[0]!r} is not among its sources")
    try:
        asm = _CarriedSources(prog["defines"], [], sources)
        asm.carry(prog.get("binaries", []), p)
        image = asm.assemble([(f, sources[f]) for f in prog["files"]])
    except AsmError as e:
        raise StateError(f"{p}: the saved program no longer assembles:\n{e}") from None
    except (RecursionError, MemoryError) as e:
        raise StateError(
            f"{p}: the saved program cannot be assembled ({type(e).__name__})"
        ) from None
    if fingerprint(image) != prog["fingerprint"]:
        raise StateError(
            f"{p}: the re-assembled program differs from the one that was saved "
            "(saved by a different mnist-vm version?)"
        )
    return image


class _CarriedSources(Assembler):
    """An assembler whose files are the state's sources only: an %include (or
    incbin) of anything else is an error, and the host file is never opened."""

    def _read(self, path: str) -> str:
        if path in self.overlay:
            return self.overlay[path]
        raise FileNotFoundError(errno.ENOENT, "not among the sources the state carries")

    carried: dict[tuple[str, int, int | None], bytes] = {}

    def carry(self, binaries: list[dict], p: str) -> None:
        """The header's incbin records (checked against HEADER), bounded in total."""
        self.carried = {}
        total = 0
        for b in binaries:
            data = base64.b64decode(b["data"], validate=True)
            total += len(data)
            if total > MAX_CARRIED_BINARY:
                raise StateError(
                    f"{p}: bad header: program.binaries: more than {MAX_CARRIED_BINARY:,} bytes"
                )
            self.carried[b["file"], b["skip"], b["count"]] = data

    def binary_path(self, target: str, including: str) -> str | None:
        """The carried file incbin target names (no host file is looked at)."""
        names = {k[0] for k in self.carried}
        return find_file(target, including, [], lambda c: c in self.overlay or c in names)

    def read_binary(self, target: str, including: str, loc, skip: int, count):
        """incbin's bytes as the state carries them (the same file, skip and count)."""
        path = self.binary_path(target, including)
        data = self.carried.get((path, skip, count)) if path is not None else None
        if data is not None:
            return data
        if path is not None and path in self.overlay:  # a carried source read as bytes
            return super().read_binary(target, including, loc, skip, count)
        raise AsmError(f"incbin file '{target}' is not among the files the state carries", loc)


def _check_memory_map(header: dict, image: Image, p: str) -> None:
    """brk and every region inside the program's map (as Memory would lay it out)."""
    try:
        amap = address_map(image)
    except ImageTooLarge as e:
        raise StateError(f"{p}: {e}") from None
    brk = header["brk"]
    if not amap.brk_start <= brk <= amap.heap_limit:
        raise StateError(
            f"{p}: bad header: brk {brk:#x} is outside the heap "
            f"({amap.brk_start:#x}-{amap.heap_limit:#x})"
        )
    data_end = page_up(brk)
    mmaps = header.get("mmaps", [])
    floor = data_end
    for lo, hi in mmaps:
        if not (floor <= lo < hi <= amap.heap_limit and lo % PAGE == 0 and hi % PAGE == 0):
            raise StateError(
                f"{p}: bad header: mapping {lo:#x}-{hi:#x} is not a sorted, page-aligned "
                f"range between the break and the heap limit ({data_end:#x}-{amap.heap_limit:#x})"
            )
        floor = hi
    for lo, hi in header["regions"]:
        inside = (
            (amap.data <= lo <= hi <= data_end)
            or (amap.stack_lo <= lo <= hi <= amap.top)
            or any(a <= lo <= hi <= b for a, b in mmaps)
        )
        if not inside:
            raise StateError(
                f"{p}: bad header: memory region {lo:#x}-{hi:#x} does not fit the program's "
                f"memory map (data {amap.data:#x}-{data_end:#x}, "
                f"stack {amap.stack_lo:#x}-{amap.top:#x})"
            )


def _inflate(f, expected: int, p: str) -> bytearray:
    """The zlib stream that follows the header, inflated chunk by chunk and
    never past expected bytes (a zlib bomb stops at the first extra byte)."""
    d = zlib.decompressobj()
    out = bytearray()
    try:
        while not d.eof:
            data = f.read(_CHUNK)
            if not data:
                break
            while data and not d.eof:
                out += d.decompress(data, expected - len(out) + 1)
                if len(out) > expected:
                    raise StateError(
                        f"{p}: the memory image is larger than the {expected:,} bytes "
                        "the header says"
                    )
                data = d.unconsumed_tail
    except zlib.error:
        raise StateError(f"{p}: the memory image is damaged or truncated") from None
    if not d.eof:
        raise StateError(f"{p}: the memory image is damaged or truncated")
    if len(out) != expected:
        raise StateError(f"{p}: the memory image has {len(out)} bytes, the header says {expected}")
    return out
