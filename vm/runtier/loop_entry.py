"""The code a fast loop runs when it starts: its range tests, turned into
bounds on the one register each test depends on, or a trip count."""

from __future__ import annotations

from ..environment import ranges
from .emitter import Emitter
from .pyast import Expr, Stmt, _expr, _stmts
from .state import Aff
from .trace import Block

M64 = (1 << 64) - 1


def _aff_source(a: Aff, skip: str | None = None) -> str:
    parts = [r if c == 1 else f"{c} * {r}" for r, c in a.terms if r != skip]
    if a.const or not parts:
        parts.append(str(a.const))
    return " + ".join(parts)


def _bounds(k: int, lo: int, hi: int) -> tuple[str, str]:
    """For lo <= _g + k*x <= hi (k != 0): the least and greatest integer x, as
    Python over _g."""
    if k > 0:
        return f"-((_g - {lo}) // {k})", f"({hi} - _g) // {k}"
    return f"-(({hi} - _g) // {-k})", f"(_g - {lo}) // {-k}"


def entry_code(block: Block, em: Emitter) -> tuple[list[Stmt], Expr | None, bool]:
    """Code run when the fast loop starts. Each constraint is affine in the
    registers the loop does not change (fixed now) and at most one register x
    it does change: either it holds for every iteration (checked now) or it
    bounds x, and each iteration starts with one range test per such x.
    Also the bases of memoryview indexes. Sets _ok = False when the fast loop
    cannot be used (the checked loop then runs and faults where it must)."""
    lines = ["_ok = True"]
    bounded: list[str] = []
    # a write range lies inside the read range: a read at an address also
    # written needs no range of its own
    written = {c.aff for c in em.constraints.values() if c.lo is None and c.write}
    for c in em.constraints.values():
        if (
            c.lo is None
            and not c.align
            and not c.write
            and c.aff in written
            and all(
                w.nbytes >= c.nbytes for w in em.constraints.values() if w.aff == c.aff and w.write
            )
        ):
            continue
        varying = [(r, k) for r, k in c.aff.terms if r not in block.invariant]
        x, k = varying[0] if varying else (None, 0)
        lines.append(f"_g = {_aff_source(c.aff, x)}")
        if c.align:
            lines.append(f"if _g % {c.align}: _ok = False")
            continue
        if x is not None and x not in bounded:
            bounded.append(x)
            lines += [f"_L{x} = 0", f"_H{x} = {M64}"]
        if c.lo is not None and c.hi is not None:
            choices = [(c.lo, c.hi)]
        else:
            choices = list(ranges(block.layout, c.nbytes, c.write))
        value = (f"_g + {x}" if k == 1 else f"_g + {k} * {x}") if x else "_g"
        for j, (lo, hi) in enumerate(choices):
            if x is None:
                update = "pass"
            else:
                lo_b, hi_b = _bounds(k, lo, hi)
                update = f"_L{x} = max(_L{x}, {lo_b}); _H{x} = min(_H{x}, {hi_b})"
            lines.append(f"{'if' if j == 0 else 'elif'} {lo} <= {value} <= {hi}: {update}")
        lines.append("else: _ok = False")
    for kb, (unit, const, inv) in em.bases.items():
        lines.append(f"{kb} = " + _aff_source(Aff(const, tuple(inv))))
        if unit > 1:
            lines += [f"if {kb} % {unit}: _ok = False", f"{kb} //= {unit}"]
    # a register that changes by the same step every iteration stays in its
    # range for a number of iterations known now: no test per iteration
    counted = [x for x in bounded if x in em.steps]
    if counted:
        lines.append(f"_T = {M64}")
        for x in counted:
            step = em.steps[x]
            lines.append(f"if not _L{x} <= {x} <= _H{x}: _T = -1")
            if step.terms:  # a step held in a register: its sign is known now
                lines += [
                    f"_s = {_aff_source(step)}",
                    f"elif _s > 0: _T = min(_T, (_H{x} - {x}) // _s)",
                    f"elif _s < 0: _T = min(_T, ({x} - _L{x}) // -_s)",
                ]
            elif step.const > 0:
                lines.append(f"else: _T = min(_T, (_H{x} - {x}) // {step.const})")
            elif step.const < 0:
                lines.append(f"else: _T = min(_T, ({x} - _L{x}) // {-step.const})")
    guard = " and ".join(f"_L{x} <= {x} <= _H{x}" for x in bounded if x not in counted)
    return _stmts("\n".join(lines)), (_expr(guard) if guard else None), bool(counted)
