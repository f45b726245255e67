"""Machine state as the compiler sees it while it emits a trace: which xmm
lanes are cached in locals, pending flags, known constants and copies, and
(in a loop) the affine values and memory views of the fast path."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TypeGuard

from ..environment import LANE_WIDTH
from .flags import Pending

REG_LOCAL = re.compile(r"r\d+$")  # the local holding a general register

# ---- xmm lanes ------------------------------------------------------------------
# A lane key is (view, index) with view one of the machine's casts of the xmm
# bytes; keys alias when their bytes overlap.


def lane_span(key: tuple[str, int]) -> tuple[int, int]:
    w = LANE_WIDTH[key[0]]
    return key[1] * w, key[1] * w + w


def lane_local(key: tuple[str, int]) -> str:
    return f"_{key[0]}{key[1]}"


# ---- affine values (loop analysis) --------------------------------------------


@dataclass(frozen=True)
class Aff:
    """const + sum(coef * register value at the top of the iteration); `conds`
    lists (lo, hi, affine) that must hold for the machine value (which wraps
    at 2**64, or at a narrower mask) to equal this mathematical one."""

    const: int
    terms: tuple[tuple[str, int], ...] = ()
    conds: tuple = ()

    def plus(self, other: Aff, sign: int = 1) -> Aff:
        t = dict(self.terms)
        for r, c in other.terms:
            t[r] = t.get(r, 0) + sign * c
        return Aff(
            self.const + sign * other.const,
            tuple(sorted((r, c) for r, c in t.items() if c)),
            tuple(sorted(set(self.conds) | set(other.conds), key=repr)),
        )

    def times(self, k: int) -> Aff:
        return Aff(self.const * k, tuple((r, c * k) for r, c in self.terms if c * k), self.conds)

    def masked(self, mask: int) -> Aff:
        bare = Aff(self.const, self.terms)
        return Aff(
            self.const, self.terms, tuple(sorted(set(self.conds) | {(0, mask, bare)}, key=repr))
        )


def is_mask(v: object) -> TypeGuard[int]:
    """v is 2**n - 1 for some n > 0."""
    return isinstance(v, int) and v > 0 and (v & (v + 1)) == 0


@dataclass
class Constraint:
    """lo <= aff <= hi at every iteration; lo/hi None: one of the access ranges
    of an n-byte access (chosen when the loop starts)."""

    aff: Aff
    lo: int | None = None
    hi: int | None = None
    nbytes: int = 0
    write: bool = False
    align: int = 0

    def key(self) -> tuple:
        return (self.aff, self.lo, self.hi, self.nbytes, self.write, self.align)


@dataclass
class View:
    """How a guarded access reaches memory in the fast loop: index var `ix`
    counts `unit`-byte elements."""

    ix: str
    unit: int


# ---- machine state as the compiler sees it -----------------------------------------


class State:
    __slots__ = ("lanes", "memsrc", "memvals", "flags", "consts", "copies", "aff", "terms", "width")

    def __init__(self) -> None:
        self.lanes: dict[tuple[str, int], bool] = {}  # cached lane -> dirty
        self.memsrc: dict[tuple[str, int], tuple] = {}  # lane -> (View, byte offset)
        self.memvals: dict[str, tuple] = {}  # var -> (View, byte offset, width)
        self.flags: Pending | None = None  # None: flags are in local `fl`
        self.consts: dict[str, object] = {}
        self.copies: dict[str, str] = {}
        self.aff: dict[str, Aff | None] = {}
        self.terms: dict[str, tuple] = {}  # var -> address terms (current names)
        self.width: dict[str, int] = {}  # var -> its value is in [0, 2**width)

    def clone(self) -> State:
        s = State.__new__(State)
        s.lanes = dict(self.lanes)
        s.memsrc = dict(self.memsrc)
        s.memvals = dict(self.memvals)
        s.flags = self.flags
        s.consts = dict(self.consts)
        s.copies = dict(self.copies)
        s.aff = dict(self.aff)
        s.terms = dict(self.terms)
        s.width = dict(self.width)
        return s

    def header(self) -> State:
        """What carries over a loop's back edge: cached lanes (and which of
        them hold a constant) and pending flags. A lane's local keeps its
        constant after the lane leaves the cache (a wider write evicted it),
        but that is no longer the lane's value: only cached lanes count."""
        s = State()
        s.lanes = dict(self.lanes)
        s.flags = self.flags
        cached = {lane_local(key) for key in self.lanes}
        s.consts = {k: v for k, v in self.consts.items() if k in cached}
        return s

    def same_header(self, other: State) -> bool:
        fa = self.flags.key() if self.flags else None
        fb = other.flags.key() if other.flags else None
        return self.lanes == other.lanes and fa == fb and self.consts == other.consts
