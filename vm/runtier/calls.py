"""What the generated code calls, as the run-tier compiler must know it:
struct readers and writers of memory (and the memoryview casts with the same
element format), helpers without side effects, and machine methods."""

from __future__ import annotations

import ast
from typing import Literal

from ..isa import packed
from .pyast import Node, walk

# ---- memory -----------------------------------------------------------------------
# struct readers/writers of the generated code (vm.cpu) and the memoryview
# casts of memory with the same element format.
READERS = {
    "RB": ("mb", 1),
    "RW": ("mw", 2),
    "RI": ("mI", 4),
    "RQ": ("mQ", 8),
    "RF": ("mf", 4),
    "RDD": ("md", 8),
}
WRITERS = {"WB1": ("mb", 1), "WW1": ("mw", 2), "WI1": ("mI", 4), "WQ1": ("mQ", 8)}
ViewFormat = Literal["B", "H", "I", "Q", "f", "d"]  # memoryview.cast formats of the views
MEM_VIEWS: dict[str, ViewFormat] = {
    "mb": "B",
    "mw": "H",
    "mI": "I",
    "mQ": "Q",
    "mf": "f",
    "md": "d",
}
VIEW_BITS = {"mb": 8, "mw": 16, "mI": 32, "mQ": 64, "xi": 32, "xq": 64}


def reader(name: str) -> tuple[str, int, int] | None:
    """'RF4' -> ('mf', 4, 4): view, element width, count."""
    for prefix, (view, w) in READERS.items():
        if name.startswith(prefix) and name[len(prefix) :].isdigit():
            return view, w, int(name[len(prefix) :])
    return None


PURE = {
    "cf",
    "fdiv",
    "fnan",
    "fsqrt",
    "fcmp",
    "cvtt",
    "i2f32",
    "mul_flags",
    "shl_flags",
    "shr_flags",
    "sar_flags",
    "rol",
    "ror",
    "rflags",
    "with_cf",
    "bswap",
    "shld",
    "shrd",
    "f32",
    "cvtr",
    "fcmpp",
    "fround",
    "dpps",
    "bit_length",
    "bit_count",
    *packed.HELPERS,
    "float",
    "abs",
    "divmod",
    "max",
    "min",
}


def is_pure(node: Node) -> bool:
    for x in walk(node):
        if type(x) is ast.Call:
            f = x.func
            if not (
                isinstance(f, ast.Name) and (f.id in PURE or f.id.startswith("cc_") or reader(f.id))
            ):
                return False
    return True


CLOBBERS = {"syscall", "hostcall", "accel_call", "observe", "string_op"}  # may change any state
SYNC = {"wlog"}  # reads the machine state
COLD = {"fault", "bad_access", "misaligned"}  # raise a Fault
