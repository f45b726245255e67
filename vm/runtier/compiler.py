"""One Python function for a trace: the plain body, or a loop with its
first iteration, its fast loop behind range tests and its checked loop."""

from __future__ import annotations

import ast

from ..environment import Layout
from .deadcode import eliminate_dead
from .emit_base import leave
from .emitter import Emitter
from .loop_entry import entry_code
from .loops import header_state, loop_body, reconcile
from .pyast import Stmt, _assign, _expr, _k, _n, _st, _stmts, _sub, locate
from .state import State
from .trace import Block, Item


def compile_block(
    items: list[Item],
    layout: Layout,
    start: int,
    fallthrough: int | None,
    loop: bool,
    name: str,
    params: list[str],
    counted: bool = False,
) -> ast.Module:
    """One function for a trace (a basic block, or instructions in the order
    they usually run, exiting where a branch goes the other way): fn() ->
    next rip, or when `counted` fn(max_iterations) -> (next rip, instructions
    run); a loop trace runs up to max_iterations times round."""
    block = Block(items, layout, start, fallthrough)
    n = len(items)
    if fallthrough is not None:
        items[-1].stmts.append(_assign("_n", _k(fallthrough)))
    code: list[Stmt] = [_assign(f"r{i}", _sub("r", _k(i))) for i in block.used]
    code.append(_assign("fl", _expr("c.fl")))
    if not loop:
        em = Emitter(block, "plain", loop=False)
        st = State()
        em.body(st, code)
        code += em.store_state(st, cold=False)
        if not counted:
            code.append(ast.Return(value=_n("_n")))
            return function_module(name, params, code)
        code.append(ast.Return(value=ast.Tuple(elts=[_n("_n"), _k(n)], ctx=ast.Load())))
        return function_module(name, ["_max"] + params, code)
    # the steady state at the top of each iteration, found from a plain first
    # iteration (whose code runs when the fast loop cannot start)
    em, first, end1 = loop_body(block, "plain", State(), None, _k(1))
    head = header_state(block, end1)
    fast, fbody, _ = loop_body(block, "fast", head.clone(), head, _n("_it"))
    leave_max = leave(em, head.clone(), start, _expr(f"_max * {n}"))
    slow = first + [
        ast.If(test=_expr("_max < 2"), body=leave(em, end1.clone(), start, _k(n)), orelse=[])
    ]
    reconcile(em, end1.clone(), head, slow)
    if not fast.constraints:  # nothing hoisted: one loop
        for_loop = ast.For(
            target=_st("_it"),
            iter=_expr("range(2, _max + 1)"),
            body=fbody,
            orelse=[],
            type_comment=None,
        )
        return function_module(name, ["_max"] + params, code + slow + [for_loop] + leave_max)
    # the fast loop: range tests (or a trip count) instead of per-access checks;
    # it starts with the first iteration when the tests already hold there
    entry, guard, counted = entry_code(block, fast)
    f1, f1body, _ = loop_body(block, "fast", State(), head, _k(1), hints=(fast.bounded, fast.steps))
    if f1.constraints.keys() != fast.constraints.keys():
        raise ValueError("run tier: the first iteration needs other range tests")
    _, cbody, _ = loop_body(block, "checked", head.clone(), head, _n("_it"))
    if guard is not None:
        fbody = [
            ast.If(
                test=ast.UnaryOp(op=ast.Not(), operand=guard),
                body=_stmts("_it0 = _it\nbreak"),
                orelse=[],
            )
        ] + fbody
    tests = (
        [_n("_ok")]
        + ([_expr("_T >= 0")] if counted else [])
        + ([guard] if guard is not None else [])
    )
    go = tests[0] if len(tests) == 1 else ast.BoolOp(op=ast.And(), values=tests)
    quick = f1body + [
        ast.If(test=_expr("_max < 2"), body=leave(f1, head.clone(), start, _k(n)), orelse=[])
    ]
    if counted:  # _T + 1 iterations from the first stay in range
        quick += _stmts("_end = min(_max + 1, _T + 2)") + [
            ast.For(
                target=_st("_it"),
                iter=_expr("range(2, _end)"),
                body=fbody,
                orelse=_stmts("_it0 = max(_end, 2)"),
                type_comment=None,
            )
        ]
    else:
        quick += [
            _assign("_it0", _k(2)),
            ast.For(
                target=_st("_it"),
                iter=_expr("range(2, _max + 1)"),
                body=fbody,
                orelse=leave(fast, head.clone(), start, _expr(f"_max * {n}")),
                type_comment=None,
            ),
        ]
    code += entry + [ast.If(test=go, body=quick, orelse=slow + [_assign("_it0", _k(2))])]
    code.append(
        ast.For(
            target=_st("_it"),
            iter=_expr("range(_it0, _max + 1)"),
            body=cbody,
            orelse=[],
            type_comment=None,
        )
    )
    return function_module(name, ["_max"] + params, code + leave_max)


def function_module(name: str, params: list[str], body: list[Stmt]) -> ast.Module:
    """def name(params=params): body - environment names come in as defaults
    (fast locals), only those the body uses."""
    body, used = eliminate_dead(body)
    params = [p for p in params if p == "_max" or p in used]
    args = ast.arguments(
        posonlyargs=[],
        args=[ast.arg(arg=p) for p in params],
        vararg=None,
        kwonlyargs=[],
        kw_defaults=[],
        kwarg=None,
        defaults=[_n(p) for p in params if p != "_max"],
    )
    fn = ast.FunctionDef(
        name=name,
        args=args,
        body=body or [ast.Pass()],
        decorator_list=[],
        returns=None,
        type_comment=None,
    )
    mod = ast.Module(body=[fn], type_ignores=[])
    locate(mod)
    return mod


def source(fn) -> str:
    """The Python source of a compiled block function (for reading)."""
    tree = getattr(fn, "tree", None)
    return ast.unparse(tree) if tree is not None else getattr(fn, "source", "")
