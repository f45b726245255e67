"""Dead code removal and forwarding of single-use temporaries over the
structured code the compiler emits."""

from __future__ import annotations

import ast

from ..environment import is_pure as is_pure_call
from .pyast import Expr, Node, Stmt, id_of, is_comment, loaded_names, subst, walk

# ---- dead code ----------------------------------------------------------------------


def is_pure(node: Node) -> bool:
    """node calls nothing with an effect (only pure helpers, builtins and readers)."""
    for x in walk(node):
        if type(x) is ast.Call:
            f = x.func
            if not (isinstance(f, ast.Name) and is_pure_call(f.id)):
                return False
    return True


class _Liveness:
    """Backward liveness over the structured code the compiler emits
    (assignments, if, for with break/else, return), treating assignments that
    are dead as never reading their operands."""

    def __init__(self, cache: dict | None = None):
        self.dead: dict[int, bool] = {}
        self.cache: dict[int, tuple] = {} if cache is None else cache
        self.after: dict[int, set[str]] = {}  # simple statement -> names live after it

    def facts(self, s: Stmt) -> tuple:
        """(statement, kind, names assigned, names read) of a simple statement,
        cached (the statement is kept, so its id cannot be reused)."""
        f = self.cache.get(id(s))
        if f is None or f[0] is not s:
            tgt = s.targets[0] if isinstance(s, ast.Assign) else None
            if isinstance(tgt, (ast.Name, ast.Tuple)) and is_pure(s.value):
                names = {x.id for x in walk(tgt) if type(x) is ast.Name}
                f = (s, "def", names, loaded_names(s.value))
            else:
                f = (s, "use", set(), loaded_names(s))
            self.cache[id(s)] = f
        return f

    def block(self, stmts: list[Stmt], live: set[str], brk: set[str] | None) -> set[str]:
        for s in reversed(stmts):
            live = self.stmt(s, live, brk)
        return live

    def stmt(self, s: Stmt, live: set[str], brk: set[str] | None) -> set[str]:
        if isinstance(s, (ast.Assign, ast.Expr)):
            self.after[id(s)] = live
            _, kind, names, used = self.facts(s)
            if kind == "def":
                dead = not (names & live)
                self.dead[id(s)] = dead
                if dead:
                    return live
                return (live - names) | used
            return live | used
        if isinstance(s, ast.If):
            f = self.cache.get(id(s))
            if f is None or f[0] is not s:
                f = self.cache[id(s)] = (s, loaded_names(s.test))
            used = f[1]
            return used | self.block(s.body, set(live), brk) | self.block(s.orelse, set(live), brk)
        if isinstance(s, ast.For):
            after = self.block(s.orelse, set(live), brk)
            head = set(after)
            for _ in range(20):
                inner = self.block(s.body, set(head), live)
                new = after | (inner - {id_of(s.target)})
                if new == head:
                    break
                head = new
            return head | loaded_names(s.iter)
        if isinstance(s, ast.Return):
            return loaded_names(s.value) if s.value is not None else set()
        if isinstance(s, ast.Break):
            return set(brk or ())
        return live | loaded_names(s)


def _remove_dead(stmts: list[Stmt], dead: dict[int, bool]) -> list[Stmt]:
    out = []
    for s in stmts:
        if dead.get(id(s)):
            continue
        if isinstance(s, ast.If):
            s.body = _remove_dead(s.body, dead)
            s.orelse = _remove_dead(s.orelse, dead)
            body = [x for x in s.body if not is_comment(x)]
            if not body and not s.orelse and is_pure(s.test):
                continue
            if not s.body:
                s.body = [ast.Pass()]
        elif isinstance(s, ast.For):
            s.body = _remove_dead(s.body, dead)
            s.orelse = _remove_dead(s.orelse, dead)
        out.append(s)
    return out


def eliminate_dead(stmts: list[Stmt]) -> tuple[list[Stmt], set[str]]:
    """Remove dead assignments (and the ifs they leave empty, which can make
    more assignments dead: repeat until none is left), then forward
    single-use temporaries using the liveness of the final code. Also
    returns the names the code reads before assigning them."""
    cache: dict = {}
    for _ in range(8):
        lv = _Liveness(cache)
        free = lv.block(stmts, set(), None)
        if not any(lv.dead.values()):
            return _forward(stmts, lv), free
        stmts = _remove_dead(stmts, lv.dead)
    return stmts, _Liveness(cache).block(stmts, set(), None)  # not settled: unforwarded


def _loads(node: Node, name: str) -> int:
    return sum(
        1 for x in walk(node) if type(x) is ast.Name and x.id == name and type(x.ctx) is ast.Load
    )


def _subst_stmt(s: Stmt, mapping: dict[str, Expr]) -> Stmt:
    if isinstance(s, ast.Assign):
        targets = [subst(t, mapping) if not isinstance(t, ast.Name) else t for t in s.targets]
        return ast.Assign(targets=targets, value=subst(s.value, mapping))
    return ast.Expr(value=subst(s.value, mapping))


def _forward(stmts: list[Stmt], lv: _Liveness, window: int = 8) -> list[Stmt]:
    """Put a temporary's expression where the temporary is used, when that is
    its only use, a few statements later, with nothing in between that could
    change what the expression reads (t = r0 + 1; r0 = t  ->  r0 = r0 + 1)."""
    after = lv.after
    for s in stmts:
        if isinstance(s, (ast.If, ast.For)):
            s.body = _forward(s.body, lv, window)
            s.orelse = _forward(s.orelse, lv, window)
    out = list(stmts)
    i = 0
    while i < len(out):
        s = out[i]
        if not (type(s) is ast.Assign and type(s.targets[0]) is ast.Name):
            i += 1
            continue
        _, kind, _, reads = lv.facts(s)
        v = s.targets[0].id
        if kind != "def" or v in reads:
            i += 1
            continue
        for j in range(i + 1, min(i + 1 + window, len(out))):
            u = out[j]
            if is_comment(u):
                continue
            if not isinstance(u, (ast.Assign, ast.Expr)):
                break
            _, ukind, stored, used = lv.facts(u)
            if v in used:
                if v not in after.get(id(u), {v}) and _loads(u, v) == 1:
                    new = _subst_stmt(u, {v: s.value})
                    after[id(new)] = after[id(u)]
                    out[j] = new
                    del out[i]
                    i -= 1
                break
            # only pure assignments to other names may lie in between
            if ukind != "def" or v in stored or stored & reads:
                break
        i += 1
    return out
