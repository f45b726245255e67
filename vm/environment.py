"""The environment generated code runs in: the one contract between the code
vm.codegen expands from the table's templates and the machine that runs it.

Every tier takes the contract from here: vm.codegen writes these names,
vm.cpu binds them (step tier), vm.runtier rewrites code that uses them (run
tier: which calls it may drop or move, which views memory has) and
vm.native translates them to LLVM IR. The generated code sees:

  r              the general registers: a list of 17 ints (rax..r15, then DF)
  xf xd xi xq    the vector registers' bytes as float32 / float64 / uint32 /
                 uint64 lanes (LANE_VIEWS)
  m              memory, a bytearray; mb mw mI mQ mf md are memoryview casts of
                 it (MEM_VIEWS), which only the run tier's fast loops use
  RQ2(m, a)      struct readers: the prefix names the element (READERS), the
                 digits how many (READ_COUNTS); RQ2 reads two uint64 at a
  WI1(m, a, v)   struct writers of one element (WRITERS)
  c              the machine: the methods in COLD, SYNC and CLOBBERS
  helpers        functions registered with @helper (vm/isa/helpers.py,
                 packed.py, fused.py, flags.py), and the Python builtins in
                 PURE_BUILTINS
and its memory checks are compiled against a Layout (the memory map).

This module imports nothing of the machine: vm.memory (the map) and vm.isa
(the helpers) build on it, not the other way round.
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal, TypeVar

# ---- the memory map ------------------------------------------------------------


@dataclass
class Layout:
    """The memory map the generated checks are compiled against."""

    rlo: int  # lowest readable address (start of text)
    wlo: int  # lowest writable address (start of .data)
    hi: int  # end of the mapped data/heap (current brk, page-rounded)
    slo: int  # lowest stack address
    top: int  # end of the stack


def ranges(layout: Layout, nbytes: int, write: bool) -> tuple[tuple[int, int], ...]:
    """The (lo, hi) ranges an access's first byte may lie in (inclusive)."""
    lo = layout.wlo if write else layout.rlo
    return ((lo, layout.hi - nbytes), (layout.slo, layout.top - nbytes))


# ---- registers and memory --------------------------------------------------------

# the vector registers' bytes, cast to lanes (struct/memoryview formats)
LANE_VIEWS = {"xf": "f", "xd": "d", "xi": "I", "xq": "Q"}
# memory, cast to elements
ViewFormat = Literal["B", "H", "I", "Q", "f", "d"]  # memoryview.cast formats of the views
MEM_VIEWS: dict[str, ViewFormat] = {
    "mb": "B",
    "mw": "H",
    "mI": "I",
    "mQ": "Q",
    "mf": "f",
    "md": "d",
}
LANE_WIDTH = {view: struct.calcsize(fmt) for view, fmt in LANE_VIEWS.items()}
# views of unsigned integers: a value read from one lies in [0, 2**bits)
VIEW_BITS = {
    view: 8 * struct.calcsize(fmt)
    for view, fmt in {**MEM_VIEWS, **LANE_VIEWS}.items()
    if fmt in "BHIQ"
}

# struct readers and writers of memory, by name prefix: the view whose
# element they read or write
READERS = {"RB": "mb", "RW": "mw", "RI": "mI", "RQ": "mQ", "RF": "mf", "RDD": "md"}
WRITERS = {"WB": "mb", "WW": "mw", "WI": "mI", "WQ": "mQ"}
READ_COUNTS = (1, 2, 4, 8, 16)
_INT_READERS = {8 * struct.calcsize(MEM_VIEWS[v]): p for p, v in READERS.items() if v in VIEW_BITS}
_INT_WRITERS = {8 * struct.calcsize(MEM_VIEWS[v]): p for p, v in WRITERS.items()}
_LANE_READERS = {"F": "RF", "D": "RDD", "I": "RI", "Q": "RQ"}  # template lane letters


def int_reader(bits: int) -> str:
    """The reader prefix of an unsigned integer of `bits` (64 -> 'RQ')."""
    return _INT_READERS[bits]


def int_writer(bits: int) -> str:
    """The writer prefix of an integer of `bits` (32 -> 'WI')."""
    return _INT_WRITERS[bits]


def lane_reader(kind: str) -> str:
    """The reader prefix of a template lane kind: F, D, I or Q (codegen's AF0, AQ1 ...)."""
    return _LANE_READERS[kind]


def reader(name: str) -> tuple[str, int, int] | None:
    """A reader's view, element width and count ('RF4' -> ('mf', 4, 4)); None: not a reader."""
    for prefix, view in READERS.items():
        count = name[len(prefix) :]
        if name.startswith(prefix) and count.isdigit():
            return view, struct.calcsize(MEM_VIEWS[view]), int(count)
    return None


def writer(name: str) -> tuple[str, int] | None:
    """A writer's view and element width ('WQ1' -> ('mQ', 8)); None: not a writer."""
    prefix = name[:-1]
    if name.endswith("1") and prefix in WRITERS:
        view = WRITERS[prefix]
        return view, struct.calcsize(MEM_VIEWS[view])
    return None


def struct_functions() -> dict[str, Callable[..., Any]]:
    """Every reader and writer, by name, as the step tier binds them."""
    env: dict[str, Callable[..., Any]] = {}
    for prefix, view in READERS.items():
        for count in READ_COUNTS:
            env[f"{prefix}{count}"] = struct.Struct(f"<{count}{MEM_VIEWS[view]}").unpack_from
    for prefix, view in WRITERS.items():
        env[f"{prefix}1"] = struct.Struct(f"<{MEM_VIEWS[view]}").pack_into
    return env


# ---- the machine's methods ---------------------------------------------------------
# Generated code calls c.<name>(...); what each may do decides what the run
# tier must store before the call and reload after it.
COLD = frozenset({"fault", "bad_access", "misaligned"})  # raise a Fault
SYNC = frozenset({"wlog"})  # reads the machine state
CLOBBERS = frozenset({"syscall", "hostcall", "accel_call", "observe", "string_op"})  # any state
# read or write c.mxcsr only, called for their result (`_x = c.mxcsr_raise(fx)`):
# the run tier leaves them where they are and keeps its locals
MXCSR_ONLY = frozenset({"mxcsr_load", "mxcsr_raise"})

# ---- helpers --------------------------------------------------------------------------


@dataclass(frozen=True)
class Helper:
    fn: Callable[..., Any]
    pure: bool  # no effect but its result: a call whose result is unused may go


HELPERS: dict[str, Helper] = {}
# Python builtins the templates call (they need no binding)
PURE_BUILTINS = frozenset({"float", "abs", "divmod", "max", "min"})

_Fn = TypeVar("_Fn", bound=Callable[..., Any])


def register(name: str, fn: Callable[..., Any], pure: bool = True) -> None:
    """Make fn callable from generated code as `name`."""
    old = HELPERS.get(name)
    if old is not None and old.fn is not fn:
        raise ValueError(f"helper {name!r} is registered twice")
    HELPERS[name] = Helper(fn, pure)


def helper(pure: bool = True) -> Callable[[_Fn], _Fn]:
    """Decorator: the function is a helper generated code calls by its name."""

    def add(fn: _Fn) -> _Fn:
        register(fn.__name__, fn, pure)
        return fn

    return add


register("bit_length", int.bit_length)
register("bit_count", int.bit_count)


def is_pure(name: str) -> bool:
    """Calling `name` has no effect but its result (a helper, builtin or reader)."""
    h = HELPERS.get(name)
    if h is not None:
        return h.pure
    return name in PURE_BUILTINS or reader(name) is not None


def static_env() -> dict[str, object]:
    """The names generated code finds in every machine: readers, writers and
    helpers (vm.isa must be imported: its modules register the helpers)."""
    return {**struct_functions(), **{name: h.fn for name, h in HELPERS.items()}}
