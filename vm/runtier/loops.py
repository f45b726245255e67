"""Loops: the steady state at the top of each iteration, the back edge,
and one iteration's body in each of the emitter's modes."""

from __future__ import annotations

import ast

from .emit_base import count_after, leave
from .emitter import Emitter
from .pyast import Expr, Stmt, _assign, _k, _sub, int_of, is_const
from .state import Aff, State, lane_local, lane_span
from .trace import Block

# ---- putting a block together ------------------------------------------------------------


def reconcile(em: Emitter, st: State, target: State, out: list[Stmt]) -> None:
    """Code that turns state `st` into `target` (at a loop's back edge or entry)."""
    for key, dirty in sorted(st.lanes.items()):
        if dirty and not target.lanes.get(key, False):
            em.flush_lane(key, st, out)
    for key in sorted(target.lanes):
        if key not in st.lanes:
            lo, hi = lane_span(key)
            for k2, dirty in sorted(st.lanes.items()):
                if dirty and lane_span(k2)[0] < hi and lo < lane_span(k2)[1]:
                    em.flush_lane(k2, st, out)
            out.append(_assign(lane_local(key), _sub(key[0], _k(key[1]))))
            st.lanes[key] = False
    fa = st.flags.key() if st.flags else None
    fb = target.flags.key() if target.flags else None
    if fa != fb:
        if st.flags is not None:
            out.append(_assign("fl", st.flags.as_tuple()))
        st.flags = None
    for name, value in target.consts.items():
        if st.consts.get(name) != value:
            raise ValueError(f"run tier: a loop's steady state does not hold ({name})")


def header_state(block: Block, first: State) -> State:
    """The state at the top of every loop iteration after the first: run the
    compiler over the body until the state at its back edge repeats."""
    head = first.header()
    for _ in range(4):
        ends: list[State] = []
        em = Emitter(block, "checked", loop=True)
        em.on_branch = lambda v, s, o, ends=ends: ends.append(s.clone())
        em.body(head.clone(), [])
        if not ends:
            break
        nxt = ends[0].header()
        if nxt.same_header(head):
            return head
        head = nxt
    return State()


def _loop_branch(block: Block, value: Expr) -> tuple[Expr | None, int | None]:
    """The back edge of a loop block's last instruction: (condition to stay in
    the loop or None for always, the exit address or None)."""
    start = block.start
    if isinstance(value, ast.Constant):
        return (None, None) if value.value == start else (_k(False), int_of(value))
    if (
        isinstance(value, ast.IfExp)
        and is_const(value.body, start)
        and isinstance(value.orelse, ast.Constant)
    ):
        return value.test, int_of(value.orelse)
    if (
        isinstance(value, ast.IfExp)
        and is_const(value.orelse, start)
        and isinstance(value.body, ast.Constant)
    ):
        return ast.UnaryOp(op=ast.Not(), operand=value.test), int_of(value.body)
    return None, None


def loop_body(
    block: Block, mode: str, st: State, head: State | None, it: Expr, hints: tuple | None = None
) -> tuple[Emitter, list[Stmt], State]:
    """One iteration of a loop block: exits when the last branch leaves the
    loop, and at its end turns the state into `head` (the steady state)."""
    bounded, steps = hints or (set(), {})
    if mode == "fast" and hints is None:
        # a first pass finds the registers the range tests bound and how each
        # register changes per iteration; the second uses both
        pre, _, pre_end = loop_body(block, "fast-pre", st.clone(), head, it)
        bounded = {
            r for c in pre.constraints.values() for r, _ in c.aff.terms if r not in block.invariant
        }
        for r in {f"r{i}" for i in range(16)} - block.invariant:
            a = pre_end.aff.get(r)
            # r + step exactly, the step fixed for the loop (registers it does
            # not change); no wrap condition on another register (the fast
            # loop bounds r so that its own cannot wrap)
            if a is None or dict(a.terms).get(r) != 1:
                continue
            step = Aff(a.const, tuple((x, k) for x, k in a.terms if x != r))
            if all(x in block.invariant for x, _ in step.terms) and all(
                {x for x, _ in c.terms} <= {r} for _lo, _hi, c in a.conds
            ):
                steps[r] = step
    em = Emitter(
        block,
        "fast" if mode == "fast-pre" else mode,
        loop=head is not None,
        bounded=bounded,
        steps=steps,
    )
    em.it = it
    out: list[Stmt] = []
    end: list[State] = []

    def on_branch(v: Expr, s: State, o: list[Stmt]) -> None:
        stay, exit_rip = _loop_branch(block, v)
        if exit_rip is not None:
            exit_code = leave(
                em, s.clone(), exit_rip, count_after(it, len(block.items) - 1, len(block.items))
            )
            if stay is None or (isinstance(stay, ast.Constant) and not stay.value):
                o.extend(exit_code)
            else:
                o.append(
                    ast.If(test=ast.UnaryOp(op=ast.Not(), operand=stay), body=exit_code, orelse=[])
                )
        if head is not None:
            reconcile(em, s, head, o)
        end.append(s.clone())

    em.on_branch = on_branch
    if em.mode == "fast":
        for i in range(16):
            st.aff[f"r{i}"] = Aff(0, ((f"r{i}", 1),))
    em.body(st, out)
    return em, out, (end[0] if end else st)
