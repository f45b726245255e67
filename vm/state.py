"""Saving and loading a whole machine: registers, memory and the program.

A state file is self-contained: it carries the program's source texts (every
file and %include), the defines it was assembled with, a fingerprint of the
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
"""

from __future__ import annotations

import hashlib
import json
import os
import struct
import zlib
from dataclasses import dataclass

from .atomic import atomic_write
from .errors import AsmError, VMError
from .image import Image
from .isa import flags as F

MAGIC = b"MNISTVM-STATE\n"
VERSION = 1
_CHUNK = 1 << 22


class StateError(VMError):
    """A state file that cannot be written or loaded; the message says why."""


def fingerprint(image: Image) -> str:
    """A hash of what the machine executes: instructions, addresses, sections, entry."""
    h = hashlib.sha256()
    for insn in image.insns:
        h.update(f"{insn.addr:x} {insn.text()} {insn.host or ''}\n".encode())
    for sec in image.sections.values():
        h.update(f"{sec.name} {sec.addr:x} {sec.size:x}\n".encode())
        h.update(bytes(sec.data))
    h.update(f"entry {image.entry:x}".encode())
    return h.hexdigest()


def _regions(machine) -> list[tuple[int, int]]:
    mem = machine.mem
    brk_end = (mem.brk + 0xFFF) & ~0xFFF
    return [(mem.data, brk_end), (mem.stack_lo, mem.top)]


def save_state(machine, path: str | os.PathLike, meta: dict | None = None) -> None:
    """Write machine to path atomically. Raises StateError (or OSError) on failure."""
    image = machine.image
    mem = machine.mem
    regions = _regions(machine)
    header = {
        "format": "mnist-vm machine state",
        "version": VERSION,
        "program": {
            "files": image.files,
            "defines": image.defines,
            "sources": {name: "\n".join(lines) + "\n" for name, lines in image.sources.items()},
            "fingerprint": fingerprint(image),
        },
        "registers": {
            "gpr": list(machine.r),
            "rip": machine.rip,
            "rflags": F.rflags(machine.fl),
            "xmm": bytes(machine.xb).hex(),
        },
        "icount": machine.icount,
        "exit_status": machine.exit_status,
        "brk": mem.brk,
        "regions": regions,
        "open_files": sorted(machine.runtime.fds),
        "meta": meta or {},
    }
    blob = json.dumps(header, default=_jsonable).encode()

    def fill(f) -> None:
        f.write(MAGIC + struct.pack("<IQ", VERSION, len(blob)) + blob)
        z = zlib.compressobj(1)
        for lo, hi in regions:
            for a in range(lo, hi, _CHUNK):
                f.write(z.compress(mem.buf[a : min(hi, a + _CHUNK)]))
        f.write(z.flush())

    atomic_write(path, fill)


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
    memory: bytes  # the regions' bytes, concatenated

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
        m.mem.brk = int(h["brk"])
        pos = 0
        for lo, hi in h["regions"]:
            n = hi - lo
            if lo < m.mem.data or hi > m.mem.top:
                raise StateError(
                    f"{self.path}: memory region {lo:#x}-{hi:#x} does not fit "
                    "the program's memory map"
                )
            m.mem.buf[lo:hi] = self.memory[pos : pos + n]
            pos += n
        regs = h["registers"]
        gprs = [int(v) for v in regs["gpr"]]
        m.r[: len(gprs)] = gprs  # 16 in states saved before DF joined them (r[16])
        m.rip = int(regs["rip"])
        m.fl = (F.RAW, 0, 0, 0, int(regs["rflags"]))
        m.xb[:] = bytes.fromhex(regs["xmm"])
        m.icount = int(h["icount"])
        m.exit_status = h["exit_status"]
        m.invalidate()


def load_state(path: str | os.PathLike) -> SavedState:
    """Read and check a state file; re-assemble its program. Raises StateError."""
    p = os.fspath(path)
    try:
        with open(p, "rb") as f:
            data = f.read()
    except OSError as e:
        raise StateError(f"cannot read state file {p}: {e.strerror or e}") from None
    if not data.startswith(MAGIC):
        raise StateError(
            f"{p} is not an mnist-vm machine state (saved with "
            "`mnist-vm run --save FILE` or the debugger's `save FILE`)"
        )
    try:
        version, hlen = struct.unpack_from("<IQ", data, len(MAGIC))
    except struct.error:
        raise StateError(f"{p}: the file is truncated (no header)") from None
    if version != VERSION:
        raise StateError(
            f"{p}: state format version {version} is not supported "
            f"(this mnist-vm reads version {VERSION})"
        )
    start = len(MAGIC) + 12
    try:
        header = json.loads(data[start : start + hlen])
        prog = header["program"]
        regions = header["regions"]
    except (ValueError, KeyError, TypeError):
        raise StateError(f"{p}: the header is damaged or truncated") from None
    try:
        memory = zlib.decompress(data[start + hlen :])
    except zlib.error:
        raise StateError(f"{p}: the memory image is damaged or truncated") from None
    expected = sum(hi - lo for lo, hi in regions)
    if len(memory) != expected:
        raise StateError(
            f"{p}: the memory image has {len(memory)} bytes, the header says {expected}"
        )
    from .asm import assemble

    sources = prog["sources"]
    try:
        image = assemble(
            [(f, sources[f]) if f in sources else f for f in prog["files"]],
            defines=prog["defines"],
            overlay=sources,
        )
    except AsmError as e:
        raise StateError(f"{p}: the saved program no longer assembles:\n{e}") from None
    if fingerprint(image) != prog["fingerprint"]:
        raise StateError(
            f"{p}: the re-assembled program differs from the one that was saved "
            "(saved by a different mnist-vm version?)"
        )
    return SavedState(p, header, image, memory)
