"""Run-tier compiler: hot code's generated Python, rewritten to run fast.

The step tier runs each instruction's generated code (vm.codegen) on its own.
The run tier compiles a *trace* into one Python function: a basic block, or,
once the machine has seen which way its branches usually go, the
instructions in the order they usually run (vm.cpu.Machine._trace), leaving
the function where a branch goes the other way. This module rewrites the
concatenated code; it changes where values live and skips work whose result
nobody can observe, never what an instruction computes (every value still
comes from the instruction's template):

* general registers live in Python locals, loaded once and stored at exits;
* xmm lanes are cached in locals: a lane read twice is loaded once, a lane
  written twice is stored once, and a lane whose bits were just loaded from
  memory is read as a float straight from memory when a float is wanted;
* flags stay *pending*: a flag-writing instruction's record (kind, size,
  operands, result) is kept as expressions over locals and built as a tuple
  only when something needs the tuple (an exit, a fault, a generic reader).
  A conditional branch or a CF reader on a record of known kind tests the
  operands directly (cond_source/cf_source, checked against vm.isa.flags by
  tests/test_flags.py); records nobody can observe are never built;
* constants, copies and single-use temporaries are propagated, masks that
  cannot change a value are dropped, memory checks on constant addresses are
  decided at compile time, and dead code is removed;
* a trace that ends by branching back to its start becomes a loop, running
  from a steady state (what is in locals at the top of every iteration). A
  memory access whose address is affine in registers the loop does not
  change plus at most one register it does change is not checked at the
  access: when the loop starts, the range of that register for which every
  such access stays inside its mapping (aligned, without 64-bit wrap) is
  computed, and for a register that moves by a fixed step, the number of
  iterations that stay in range. Those iterations run with memoryview reads
  and writes instead of struct calls and checks; the rest of the loop runs
  in a copy of the body that checks every access, so faults are reported
  exactly as the step tier reports them.

Exits (faults, syscalls, host calls, observers, `wlog`, side exits, the end
of the trace) store what the locals hold first, so the machine state seen
there is the step tier's, and they report the exact number of instructions
run. The result is an `ast.Module`; `source(fn)` shows a compiled function
as Python. tests/test_run_tier.py compares it with the step tier.
"""

from __future__ import annotations

import ast
import operator
import re
from dataclasses import dataclass
from typing import Any, Literal

from .codegen import Layout, ranges
from .isa import packed

M64 = (1 << 64) - 1

# AST nodes are handled generically here (which fields a node has depends on
# its class, checked at run time), so annotations use these loose aliases.
Node = Any
Expr = Any
Stmt = Any

# ---- small AST constructors -------------------------------------------------


def _n(name: str) -> ast.Name:
    return ast.Name(id=name, ctx=ast.Load())


def _st(name: str) -> ast.Name:
    return ast.Name(id=name, ctx=ast.Store())


def _k(value) -> ast.Constant:
    return ast.Constant(value=value)


def _assign(name: str, value: Expr) -> ast.Assign:
    return ast.Assign(targets=[_st(name)], value=value)


def _sub(base: str, index: Expr, store: bool = False) -> ast.Subscript:
    return ast.Subscript(value=_n(base), slice=index, ctx=ast.Store() if store else ast.Load())


def _call(func: str, *args: Expr) -> ast.Call:
    return ast.Call(func=_n(func), args=list(args), keywords=[])


def _ccall(method: str, *args: Expr) -> ast.Call:
    return ast.Call(
        func=ast.Attribute(value=_n("c"), attr=method, ctx=ast.Load()), args=list(args), keywords=[]
    )


def _cstore(attr: str, value: Expr) -> ast.Assign:
    return ast.Assign(
        targets=[ast.Attribute(value=_n("c"), attr=attr, ctx=ast.Store())], value=value
    )


def _add(a: Expr, b: Expr | int) -> Expr:
    if isinstance(b, int):
        if b == 0:
            return a
        if isinstance(a, ast.Constant):
            return _k(a.value + b)
        return ast.BinOp(left=a, op=ast.Add() if b > 0 else ast.Sub(), right=_k(abs(b)))
    return ast.BinOp(left=a, op=ast.Add(), right=b)


_EXPRS: dict[str, Expr] = {}


def _expr(src: str) -> Expr:
    """A parsed expression (cached: expression nodes are shared, never changed)."""
    e = _EXPRS.get(src)
    if e is None:
        if len(_EXPRS) > 4096:
            _EXPRS.clear()
        e = _EXPRS[src] = ast.parse(src, mode="eval").body
    return e


def _stmts(src: str) -> list[Stmt]:
    return ast.parse(src).body


def _comment(text: str) -> ast.Expr:
    return ast.Expr(value=_k(text))  # a bare string: shown by source(), compiles to nothing


def _is_c_fl(node: Node) -> bool:
    return (
        isinstance(node, ast.Attribute)
        and node.attr == "fl"
        and isinstance(node.value, ast.Name)
        and node.value.id == "c"
    )


def _walk(node: Node):
    """All nodes of a tree (ast.walk, without its generators)."""
    stack = [node]
    while stack:
        n = stack.pop()
        yield n
        for f in n._fields:
            v = getattr(n, f, None)
            if isinstance(v, ast.AST):
                stack.append(v)
            elif isinstance(v, list):
                stack.extend(x for x in v if isinstance(x, ast.AST))


def _names(node: Node) -> set[str]:
    return {x.id for x in _walk(node) if type(x) is ast.Name}


def _subst(node: Expr, mapping: dict[str, Expr]) -> Expr:
    """node with names replaced; unchanged subtrees are shared, not copied."""
    if type(node) is ast.Name:
        return mapping.get(node.id, node)
    changed = False
    fields = {}
    for f in node._fields:
        v = getattr(node, f, None)
        if isinstance(v, ast.expr):
            nv = _subst(v, mapping)
            changed |= nv is not v
            fields[f] = nv
        elif isinstance(v, list):
            nl = [_subst(x, mapping) if isinstance(x, ast.expr) else x for x in v]
            changed |= any(a is not b for a, b in zip(nl, v))
            fields[f] = nl
        else:
            fields[f] = v
    return type(node)(**fields) if changed else node


def _locate(node: Node) -> None:
    """Give nodes built here a source position (compile() wants one). Parsed
    subtrees have theirs; new nodes are never put under parsed ones."""
    stack = [node]
    while stack:
        n = stack.pop()
        if "lineno" in n._attributes:
            if hasattr(n, "lineno"):
                continue
            n.lineno = n.end_lineno = 1
            n.col_offset = n.end_col_offset = 0
        for f in n._fields:
            v = getattr(n, f, None)
            if isinstance(v, ast.AST):
                stack.append(v)
            elif isinstance(v, list):
                stack.extend(x for x in v if isinstance(x, ast.AST))


# ---- flags of a known record -------------------------------------------------
# A record is (kind, n, a, b, r) as vm.isa.flags describes. For a record whose
# kind is known at compile time, each condition (and CF) is an expression over
# a, b and r. tests/test_flags.py checks every entry against the definition.

ADD, ADC, SUB, SBB, LOGIC, INC, DEC, RAW = range(8)


def cond_source(cc: str, kind: int, n: int) -> str | None:
    """Condition `cc` of a record of this kind as Python over a, b, r (None:
    use the generic cc_ function on the built tuple)."""
    s, m = 1 << (n - 1) if n else 0, (1 << n) - 1
    if kind == SUB:
        return {
            "e": "a == b",
            "ne": "a != b",
            "b": "a < b",
            "ae": "a >= b",
            "be": "a <= b",
            "a": "a > b",
            "l": f"(a ^ {s}) < (b ^ {s})",
            "ge": f"(a ^ {s}) >= (b ^ {s})",
            "le": f"(a ^ {s}) <= (b ^ {s})",
            "g": f"(a ^ {s}) > (b ^ {s})",
            "s": f"r & {s} != 0",
            "ns": f"r & {s} == 0",
        }.get(cc)
    if kind == LOGIC:
        return {
            "e": "r == 0",
            "ne": "r != 0",
            "s": f"r & {s} != 0",
            "ns": f"r & {s} == 0",
            "l": f"r & {s} != 0",
            "ge": f"r & {s} == 0",
            "le": f"(r == 0 or r & {s} != 0)",
            "g": f"(r != 0 and r & {s} == 0)",
            "be": "r == 0",
            "a": "r != 0",
            "b": "False",
            "ae": "True",
            "o": "False",
            "no": "True",
        }.get(cc)
    if kind in (ADD, ADC, SBB, INC, DEC):
        out = {
            "e": f"r & {m} == 0",
            "ne": f"r & {m} != 0",
            "s": f"r & {s} != 0",
            "ns": f"r & {s} == 0",
        }
        if kind in (ADD, ADC):
            out.update({"b": f"r >> {n} != 0", "ae": f"r >> {n} == 0"})
        elif kind == SBB:
            out.update({"b": "r < 0", "ae": "r >= 0"})
        else:
            out.update({"b": "b != 0", "ae": "b == 0"})
        return out.get(cc)
    if kind == RAW:
        sxo = "(r >> 7 ^ r >> 11) & 1"
        return {
            "o": "r & 2048 != 0",
            "no": "r & 2048 == 0",
            "b": "r & 1 != 0",
            "ae": "r & 1 == 0",
            "e": "r & 64 != 0",
            "ne": "r & 64 == 0",
            "be": "r & 65 != 0",
            "a": "r & 65 == 0",
            "s": "r & 128 != 0",
            "ns": "r & 128 == 0",
            "p": "r & 4 != 0",
            "np": "r & 4 == 0",
            "l": f"{sxo} != 0",
            "ge": f"{sxo} == 0",
            "le": f"(r & 64 != 0 or {sxo} != 0)",
            "g": f"(r & 64 == 0 and {sxo} == 0)",
        }.get(cc)
    return None


def cf_source(kind: int, n: int) -> str:
    """CF of a record of this kind, as Python over a, b, r."""
    if kind in (ADD, ADC):
        return f"(r >> {n}) & 1"
    if kind in (SUB, SBB):
        return "(1 if r < 0 else 0)"
    if kind == LOGIC:
        return "0"
    if kind == RAW:
        return "r & 1"
    return "b"  # INC/DEC keep the CF they found


_TEMPLATE_CACHE: dict[str, Expr] = {}


def _fill(src: str, comps: dict[str, Expr]) -> Expr:
    tree = _TEMPLATE_CACHE.get(src)
    if tree is None:
        tree = _TEMPLATE_CACHE[src] = _expr(src)
    return _subst(tree, comps)


class Pending:
    """A flags record not built yet: its components are expressions over
    locals that keep their values while the record is pending."""

    __slots__ = ("kind", "n", "a", "b", "r", "names", "_key")

    def __init__(self, kind: int, n: int, a: Expr, b: Expr, r: Expr):
        self.kind, self.n, self.a, self.b, self.r = kind, n, a, b, r
        self.names = _names(a) | _names(b) | _names(r)
        self._key = None

    def comps(self) -> dict[str, Expr]:
        return {"a": self.a, "b": self.b, "r": self.r}

    def tuple(self) -> ast.Tuple:
        return ast.Tuple(elts=[_k(self.kind), _k(self.n), self.a, self.b, self.r], ctx=ast.Load())

    def key(self) -> tuple:
        if self._key is None:
            self._key = (self.kind, self.n, ast.dump(self.a), ast.dump(self.b), ast.dump(self.r))
        return self._key

    def renamed(self, old: str, new: str) -> Pending:
        m = {old: _n(new)}
        return Pending(self.kind, self.n, _subst(self.a, m), _subst(self.b, m), _subst(self.r, m))


# ---- xmm lanes ------------------------------------------------------------------
# A lane key is (view, index) with view one of the machine's casts of the xmm
# bytes; keys alias when their bytes overlap.

LANE_WIDTH = {"xf": 4, "xi": 4, "xd": 8, "xq": 8}


def _span(key: tuple[str, int]) -> tuple[int, int]:
    w = LANE_WIDTH[key[0]]
    return key[1] * w, key[1] * w + w


def _lane_local(key: tuple[str, int]) -> str:
    return f"_{key[0]}{key[1]}"


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
_VIEW_BITS = {"mb": 8, "mw": 16, "mI": 32, "mQ": 64, "xi": 32, "xq": 64}
_REG = re.compile(r"r\d+$")


def _reader(name: str) -> tuple[str, int, int] | None:
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


def _pure(node: Node) -> bool:
    for x in _walk(node):
        if type(x) is ast.Call:
            f = x.func
            if not (
                isinstance(f, ast.Name)
                and (f.id in PURE or f.id.startswith("cc_") or _reader(f.id))
            ):
                return False
    return True


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


def _is_mask(v) -> bool:
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

    def __init__(self):
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
        """What carries over a loop's back edge: cached lanes (and which hold
        a constant) and pending flags."""
        s = State()
        s.lanes = dict(self.lanes)
        s.flags = self.flags
        s.consts = {k: v for k, v in self.consts.items() if k.startswith("_x")}
        return s

    def same_header(self, other: State) -> bool:
        fa = self.flags.key() if self.flags else None
        fb = other.flags.key() if other.flags else None
        return self.lanes == other.lanes and fa == fb and self.consts == other.consts


# ---- the trace ------------------------------------------------------------------------------


@dataclass
class Item:
    """One instruction of a trace: its parsed generated code."""

    addr: int
    text: str
    stmts: list[Stmt]
    expect: int | None = None  # a branch inside a trace: where the trace goes on


def parse_item(addr: int, text: str, k: int, lines: list[str]) -> Item:
    """Parse one instruction's generated lines, giving its temporaries names
    of their own (t -> t_3) so values from different instructions never mix."""
    stmts = ast.parse("\n".join(lines)).body
    stores = {
        x.id for s in stmts for x in _walk(s) if type(x) is ast.Name and type(x.ctx) is ast.Store
    } - {"_n"}
    if stores:
        for s in stmts:
            for x in _walk(s):
                if type(x) is ast.Name and x.id in stores:
                    x.id = f"{x.id}_{k}"
    return Item(addr, text, stmts)


class Block:
    """A trace to compile: its instructions and what they touch."""

    def __init__(self, items: list[Item], layout: Layout, start: int, fallthrough: int | None):
        self.items = items
        self.layout = layout
        self.start = start
        self.fallthrough = fallthrough  # next rip when the block does not jump
        used, written = set(), set()
        self.flags_written = False
        for it in items:
            for s in it.stmts:
                for x in _walk(s):
                    if (
                        isinstance(x, ast.Subscript)
                        and isinstance(x.value, ast.Name)
                        and x.value.id == "r"
                        and isinstance(x.slice, ast.Constant)
                    ):
                        used.add(x.slice.value)
                        if isinstance(x.ctx, ast.Store):
                            written.add(x.slice.value)
                    elif _is_c_fl(x) and isinstance(x.ctx, ast.Store):
                        self.flags_written = True
                    elif (
                        isinstance(x, ast.Call)
                        and isinstance(x.func, ast.Attribute)
                        and x.func.attr in CLOBBERS
                    ):
                        written.update(range(16))
                        used.update(range(16))
                        self.flags_written = True
        self.used = sorted(used)
        self.written = sorted(written)
        self.invariant = {f"r{i}" for i in range(16)} - {f"r{i}" for i in written}


CLOBBERS = {"syscall", "hostcall", "accel_call", "observe", "string_op"}  # may change any state
SYNC = {"wlog"}  # reads the machine state
COLD = {"fault", "bad_access", "misaligned"}  # raise a Fault


class Emitter:
    """Compiles a trace's body once, from a given State. mode: 'plain' (every
    access checked), 'fast' (a loop body whose guarded accesses are checked by
    the loop's range tests instead) or 'checked' (a loop body, every access
    checked)."""

    def __init__(
        self,
        block: Block,
        mode: str,
        loop: bool,
        bounded: set | None = None,
        steps: dict | None = None,
    ):
        self.block = block
        self.mode = mode
        self.loop = loop  # inside the loop (faults report the iteration)
        self.constraints: dict[tuple, Constraint] = {}
        self.bases: dict[str, tuple] = {}  # _kb var -> (unit, const, inv terms)
        self.views: dict[str, View] = {}  # ea var -> View
        self.assigned: dict[str, ast.Assign] = {}
        self.pending_align: dict[str, int] = {}
        self.k = 0
        self.addr = 0
        self.snaps = 0
        self.on_branch = None  # loop: called with the last `_n = ...`
        self.it: Expr = _k(1)  # the iteration (loops: _it), for counts
        self.bounded = bounded or set()  # (fast) registers the range test bounds
        self.steps = steps or {}  # (fast) register -> its change per iteration

    # -- driving ------------------------------------------------------------------
    def body(self, st: State, out: list[Stmt]) -> None:
        last = len(self.block.items) - 1
        for k, it in enumerate(self.block.items):
            self.k, self.addr, self.snaps = k, it.addr, 0
            self.expect = it.expect
            out.append(_comment(f"{it.addr:#x}: {it.text}"))
            self.last = k == last
            for s in it.stmts:
                self.stmt(s, st, out)
            for ea, align in list(self.pending_align.items()):
                self._align_check(ea, align, st, out)
            self.pending_align.clear()

    # -- statements -----------------------------------------------------------------
    def stmt(self, s: Stmt, st: State, out: list[Stmt]) -> None:
        if isinstance(s, ast.Assign):
            tgt, value = s.targets[0], s.value
            if isinstance(tgt, ast.Name):
                if tgt.id == "_n":
                    return self.next_rip(value, st, out)
                return self.var_write(tgt.id, self.rx(value, st, out), st, out)
            if isinstance(tgt, ast.Tuple):
                return self.tuple_write(tgt, value, st, out)
            if isinstance(tgt, ast.Subscript) and isinstance(tgt.value, ast.Name):
                base, idx = tgt.value.id, tgt.slice
                if base == "r":
                    return self.var_write(f"r{idx.value}", self.rx(value, st, out), st, out)
                if base in LANE_WIDTH:
                    return self.lane_write((base, idx.value), value, st, out)
            if _is_c_fl(tgt):
                return self.flags_write(value, st, out)
        elif isinstance(s, ast.Expr) and isinstance(s.value, ast.Call):
            call = s.value
            f = call.func
            if isinstance(f, ast.Name):
                if f.id == "CHECK":
                    ea, n, kind = call.args
                    return self.check(ea.id, n.value, kind.value == "write", st, out)
                if f.id == "ALIGN":
                    self.pending_align[call.args[0].id] = call.args[1].value
                    return
                if f.id in WRITERS:
                    return self.mem_write(f.id, call.args[1], call.args[2], st, out)
            elif isinstance(f, ast.Attribute):
                self.machine_call(call, st, out)
                return
        elif isinstance(s, ast.If):
            return self.if_stmt(s, st, out)
        elif isinstance(s, ast.Pass):
            return
        raise ValueError(f"run tier: unexpected generated statement {ast.unparse(s)!r}")

    def if_stmt(self, s: ast.If, st: State, out: list[Stmt]) -> None:
        test = self.rx(s.test, st, out)
        if isinstance(test, ast.Constant):
            for x in s.body if test.value else s.orelse:
                self.stmt(x, st, out)
            return
        st1, o1 = st.clone(), []
        for x in s.body:
            self.stmt(x, st1, o1)
        st2, o2 = st.clone(), []
        for x in s.orelse:
            self.stmt(x, st2, o2)
        self.merge(st, st1, o1, st2, o2)
        out.append(ast.If(test=test, body=o1 or [ast.Pass()], orelse=o2))

    def merge(self, st: State, a: State, oa: list, b: State, ob: list) -> None:
        lanes = {}
        for key in set(a.lanes) | set(b.lanes):
            if key in a.lanes and key in b.lanes:
                lanes[key] = a.lanes[key] or b.lanes[key]
            else:
                one, o = (a, oa) if key in a.lanes else (b, ob)
                if one.lanes[key]:
                    self.flush_lane(key, one, o)
        st.lanes = lanes
        fa = a.flags.key() if a.flags else None
        fb = b.flags.key() if b.flags else None
        if fa == fb:
            st.flags = a.flags
        else:
            for one, o in ((a, oa), (b, ob)):
                if one.flags is not None:
                    o.append(_assign("fl", one.flags.tuple()))
            st.flags = None
        for attr in ("memsrc", "memvals", "consts", "copies", "aff", "terms", "width"):
            da, db = getattr(a, attr), getattr(b, attr)
            setattr(st, attr, {k: v for k, v in da.items() if k in db and db[k] == v})

    # -- values -------------------------------------------------------------------------
    def rx(self, node: Expr, st: State, out: list[Stmt]) -> Expr:
        """Rewrite an expression of the generated code for the current state."""
        t = type(node)
        if t is ast.Constant:
            return node
        if t is ast.Name:
            v = node.id
            if v in st.consts:
                return _k(st.consts[v])
            if v in st.copies:
                return _n(st.copies[v])
            return _n(v)
        if t is ast.Subscript:
            base = node.value
            if isinstance(base, ast.Name) and isinstance(node.slice, ast.Constant):
                if base.id == "r":
                    return _n(f"r{node.slice.value}")
                if base.id in LANE_WIDTH:
                    return _n(self.lane_read((base.id, node.slice.value), st, out))
            if (
                isinstance(base, ast.Call)
                and isinstance(base.func, ast.Name)
                and _reader(base.func.id)
                and isinstance(node.slice, ast.Constant)
            ):
                return self.mem_read(base.func.id, base.args[1], st, out)[node.slice.value]
            value, index = self.rx(base, st, out), self.rx(node.slice, st, out)
            if isinstance(value, ast.Tuple) and isinstance(index, ast.Constant):
                return value.elts[index.value]
            return ast.Subscript(value=value, slice=index, ctx=ast.Load())
        if t is ast.Attribute:
            if _is_c_fl(node):
                return _n(self.flags_local(st, out))
            return node
        if t is ast.Call:
            f = node.func
            if isinstance(f, ast.Name) and len(node.args) == 1 and _is_c_fl(node.args[0]):
                if f.id.startswith("cc_"):
                    return self.cond(f.id[3:], st, out)
                if f.id == "cf":
                    return self.cf(st, out)
            return ast.Call(func=f, args=[self.rx(a, st, out) for a in node.args], keywords=[])
        if t is ast.BinOp:
            left, right = self.rx(node.left, st, out), self.rx(node.right, st, out)
            if (
                type(node.op) is ast.BitAnd
                and type(right) is ast.Constant
                and _is_mask(right.value)
            ):
                w = self.width(left, st)
                if w is not None and w <= right.value.bit_length():
                    return left  # the value already fits the mask
            res = ast.BinOp(left=left, op=node.op, right=right)
            return (
                _fold(res)
                if isinstance(left, ast.Constant) and isinstance(right, ast.Constant)
                else res
            )
        if t is ast.UnaryOp:
            operand = self.rx(node.operand, st, out)
            res = ast.UnaryOp(op=node.op, operand=operand)
            return _fold(res) if isinstance(operand, ast.Constant) else res
        if t is ast.Compare:
            left = self.rx(node.left, st, out)
            comps = [self.rx(c, st, out) for c in node.comparators]
            res = ast.Compare(left=left, ops=node.ops, comparators=comps)
            if isinstance(left, ast.Constant) and all(isinstance(c, ast.Constant) for c in comps):
                return _fold(res)
            return res
        if t is ast.BoolOp:
            vals = [self.rx(v, st, out) for v in node.values]
            res = ast.BoolOp(op=node.op, values=vals)
            return _fold(res) if all(isinstance(v, ast.Constant) for v in vals) else res
        if t is ast.IfExp:
            test = self.rx(node.test, st, out)
            if isinstance(test, ast.Constant):
                return self.rx(node.body if test.value else node.orelse, st, out)
            return ast.IfExp(
                test=test, body=self.rx(node.body, st, out), orelse=self.rx(node.orelse, st, out)
            )
        if t is ast.Tuple:
            return ast.Tuple(elts=[self.rx(e, st, out) for e in node.elts], ctx=ast.Load())
        raise ValueError(f"run tier: unexpected expression {ast.unparse(node)!r}")

    def before_write(self, name: str, st: State, out: list[Stmt]) -> None:
        """`name` is about to change: keep what still refers to its old value."""
        p = st.flags
        if p is not None and name in p.names:
            snap = f"_s{self.k}_{self.snaps}"
            self.snaps += 1
            self.emit_assign(snap, _n(name), out)
            st.flags = p.renamed(name, snap)
        if name in st.copies:
            del st.copies[name]
        for v in [v for v, w in st.copies.items() if w == name]:
            del st.copies[v]
        st.consts.pop(name, None)
        if st.memvals:
            st.memvals.pop(name, None)
            for v in [v for v, src in st.memvals.items() if src[0].ix == name]:
                del st.memvals[v]
        if st.memsrc:
            for key in [key for key, src in st.memsrc.items() if src[0].ix == name]:
                del st.memsrc[key]
        if st.terms:
            st.terms.pop(name, None)
            for v in [v for v, (c, terms) in st.terms.items() if any(r == name for r, _ in terms)]:
                del st.terms[v]

    def emit_assign(self, name: str, value: Expr, out: list[Stmt]) -> ast.Assign:
        node = _assign(name, value)
        out.append(node)
        self.assigned[name] = node
        return node

    def var_write(self, name: str, value: Expr, st: State, out: list[Stmt]) -> None:
        width = self.width(value, st)
        if self.mode == "fast":
            aff = self.affine(value, st)
            terms = (
                _addr_terms(value)
                if name.startswith(("_e", "_sp")) and name not in _names(value)
                else None
            )
            if _REG.match(name):
                value = self._unmask(value, st)
        self.before_write(name, st, out)
        if isinstance(value, ast.Constant):
            st.consts[name] = value.value
        elif isinstance(value, ast.Name) and value.id != name and not _REG.match(name):
            st.copies[name] = value.id
        if width is not None:
            st.width[name] = width
        else:
            st.width.pop(name, None)
        if self.mode == "fast":
            st.aff[name] = aff
            if terms is not None:
                st.terms[name] = terms
        self.emit_assign(name, value, out)

    def width(self, node: Expr, st: State) -> int | None:
        """n such that the value of node is known to lie in [0, 2**n)."""
        t = type(node)
        if t is ast.Name:
            return 64 if _REG.match(node.id) else st.width.get(node.id)
        if t is ast.Constant:
            v = node.value
            return v.bit_length() if type(v) is int and v >= 0 else None
        if t is ast.BinOp:
            op = type(node.op)
            a, b = self.width(node.left, st), self.width(node.right, st)
            if op is ast.BitAnd:
                known = [w for w in (a, b) if w is not None]
                return min(known) if known else None
            if a is None:
                return None
            if op is ast.RShift:
                if type(node.right) is ast.Constant and type(node.right.value) is int:
                    return max(a - node.right.value, 0)
                return a
            if b is None:
                return None
            if op in (ast.BitOr, ast.BitXor):
                return max(a, b)
            if op is ast.Add:
                return max(a, b) + 1
            if op is ast.Mult:
                return a + b
            if op is ast.LShift and type(node.right) is ast.Constant:
                return a + node.right.value
            return None
        if t is ast.IfExp:
            a, b = self.width(node.body, st), self.width(node.orelse, st)
            return max(a, b) if a is not None and b is not None else None
        if t is ast.Subscript and type(node.value) is ast.Name:
            return _VIEW_BITS.get(node.value.id)
        return None

    def _unmask(self, value: Expr, st: State) -> Expr:
        """Fast loop: `(x + c) & mask` written to a register, x a register the
        loop's range test already bounds: bound it so that the sum cannot
        wrap, and drop the mask."""
        if not (
            type(value) is ast.BinOp
            and type(value.op) is ast.BitAnd
            and type(value.right) is ast.Constant
            and _is_mask(value.right.value)
        ):
            return value
        a = self.affine(value.left, st)
        if a is None:
            return value
        varying = {r for r, _ in a.terms if r not in self.block.invariant}
        for _lo, _hi, c in a.conds:
            varying |= {r for r, _ in c.terms if r not in self.block.invariant}
        if len(varying) != 1 or not varying <= self.bounded:
            return value
        for c in [Constraint(Aff(a.const, a.terms), lo=0, hi=value.right.value)] + [
            Constraint(c, lo=lo, hi=hi) for lo, hi, c in a.conds
        ]:
            self.constraints.setdefault(c.key(), c)
        return value.left

    def tuple_write(self, tgt: ast.Tuple, value: Expr, st: State, out: list[Stmt]) -> None:
        names = [e.id for e in tgt.elts]
        reader = (
            _reader(value.func.id)
            if isinstance(value, ast.Call) and isinstance(value.func, ast.Name)
            else None
        )
        if reader is None:
            return self._tuple_assign(names, self.rx(value, st, out), st, out)
        view_name, w, _ = reader
        src = self._memval_view(value.args[1])
        res = self.mem_read(value.func.id, value.args[1], st, out, names)
        if isinstance(res, list):
            for name, e in zip(names, res):
                if name != f"__{self.k}":
                    self.var_write(name, e, st, out)
        else:
            self._tuple_assign(names, res, st, out)
        for j, name in enumerate(names):
            if _VIEW_BITS.get(view_name):
                st.width[name] = _VIEW_BITS[view_name]
            if src is not None:
                st.memvals[name] = (src[0], src[1] + j * w, w)

    def _tuple_assign(self, names: list[str], value: Expr, st: State, out: list[Stmt]) -> None:
        for name in names:
            self.before_write(name, st, out)
            st.width.pop(name, None)
            if self.mode == "fast":
                st.aff[name] = None
        out.append(
            ast.Assign(
                targets=[ast.Tuple(elts=[_st(x) for x in names], ctx=ast.Store())], value=value
            )
        )

    # -- registers of the loop: affine tracking ---------------------------------------------
    def affine(self, node: Expr, st: State) -> Aff | None:
        t = type(node)
        if t is ast.Constant:
            return Aff(node.value) if isinstance(node.value, int) else None
        if t is ast.Name:
            return st.aff.get(node.id)
        if t is ast.BinOp:
            op = type(node.op)
            if (
                op is ast.BitAnd
                and isinstance(node.right, ast.Constant)
                and _is_mask(node.right.value)
            ):
                a = self.affine(node.left, st)
                return a.masked(node.right.value) if a is not None else None
            a, b = self.affine(node.left, st), self.affine(node.right, st)
            if a is None or b is None:
                return None
            if op is ast.Add:
                return a.plus(b)
            if op is ast.Sub:
                return a.plus(b, -1)
            if op is ast.Mult:
                if not a.terms and not a.conds:
                    return b.times(a.const)
                if not b.terms and not b.conds:
                    return a.times(b.const)
        return None

    # -- xmm lanes ---------------------------------------------------------------------------
    def flush_lane(self, key, st: State, out: list[Stmt]) -> None:
        out.append(
            ast.Assign(targets=[_sub(key[0], _k(key[1]), store=True)], value=_n(_lane_local(key)))
        )
        st.lanes[key] = False

    def lane_read(self, key, st: State, out: list[Stmt]) -> str:
        name = _lane_local(key)
        if key in st.lanes:
            return name
        src = self._lane_from_memory(key, st)
        if src is None:
            lo, hi = _span(key)
            for k2, dirty in list(st.lanes.items()):
                if dirty and _span(k2)[0] < hi and lo < _span(k2)[1]:
                    self.flush_lane(k2, st, out)
            src = _sub(key[0], _k(key[1]))
        self.before_write(name, st, out)
        self.emit_assign(name, src, out)
        st.lanes[key] = False
        return name

    def _lane_from_memory(self, key, st: State) -> Expr | None:
        """A 32-bit lane whose bits are still those of a memory operand
        loaded by a guarded access: read them from memory in the wanted form."""
        if key[0] not in ("xf", "xi") or not st.memsrc:
            return None
        lo, hi = _span(key)
        for k2, (view, off) in st.memsrc.items():
            lo2, hi2 = _span(k2)
            if k2 in st.lanes and lo2 <= lo and hi <= hi2 and view.unit % 4 == 0:
                byte = off + lo - lo2
                if byte % 4:
                    return None
                idx = (
                    _n(view.ix)
                    if view.unit == 4
                    else ast.BinOp(left=_n(view.ix), op=ast.Mult(), right=_k(view.unit // 4))
                )
                return _sub("mf" if key[0] == "xf" else "mI", _add(idx, byte // 4))
        return None

    def lane_write(self, key, value: Expr, st: State, out: list[Stmt]) -> None:
        v = self.rx(value, st, out)
        src = None
        if isinstance(v, ast.Name) and v.id in st.memvals:
            view, off, width = st.memvals[v.id]
            if width == LANE_WIDTH[key[0]]:
                src = (view, off)
        if src is not None and key[0] in ("xq", "xd") and src[0].unit % 4 == 0 and src[1] % 4 == 0:
            # 64 bits straight from memory: keep them as two 32-bit lanes read
            # from memory, so that a float32 write to one half later needs no
            # store of the whole 64 bits first
            view, off = src
            base = (
                _n(view.ix)
                if view.unit == 4
                else ast.BinOp(left=_n(view.ix), op=ast.Mult(), right=_k(view.unit // 4))
            )
            for half in (0, 1):
                self._lane_store(
                    ("xi", 2 * key[1] + half),
                    _sub("mI", _add(base, off // 4 + half)),
                    st,
                    out,
                    (view, off + 4 * half),
                )
            return
        self._lane_store(key, v, st, out, src)

    def _lane_store(self, key, v: Expr, st: State, out: list[Stmt], src) -> None:
        name = _lane_local(key)
        if (
            key[0] != "xf"
            and type(v) is ast.Constant
            and key in st.lanes
            and name in st.consts
            and st.consts[name] == v.value
        ):
            return  # it already holds that value (a loop's zeroed lanes)
        lo, hi = _span(key)
        for k2 in list(st.lanes):
            if k2 != key:
                lo2, hi2 = _span(k2)
                if lo2 < hi and lo < hi2:
                    if st.lanes[k2] and not (lo <= lo2 and hi2 <= hi):
                        self.flush_lane(k2, st, out)
                    del st.lanes[k2]
                    st.memsrc.pop(k2, None)
        self.before_write(name, st, out)
        st.memsrc.pop(key, None)
        if key[0] == "xf":
            # a float32 lane: the store rounds; keep the rounded value
            out.append(ast.Assign(targets=[_sub("xf", _k(key[1]), store=True)], value=v))
            self.emit_assign(name, _sub("xf", _k(key[1])), out)
            st.lanes[key] = False
        else:
            self.emit_assign(name, v, out)
            st.lanes[key] = True
            if type(v) is ast.Constant:
                st.consts[name] = v.value
            if src is not None:
                st.memsrc[key] = src

    # -- flags -------------------------------------------------------------------------------
    def flags_write(self, value: Expr, st: State, out: list[Stmt]) -> None:
        # the components stay expressions (a helper call such as mul_flags is
        # only made where the record is built or read)
        elts = [self.rx(e, st, out) for e in value.elts]
        st.flags = Pending(elts[0].value, elts[1].value, *elts[2:])

    def flags_local(self, st: State, out: list[Stmt]) -> str:
        if st.flags is not None:
            out.append(_assign("fl", st.flags.tuple()))
            st.flags = None
        return "fl"

    def cond(self, cc: str, st: State, out: list[Stmt]) -> Expr:
        p = st.flags
        if p is not None:
            src = cond_source(cc, p.kind, p.n)
            if src is not None:
                return _fold_all(_fill(src, p.comps()))
        return _call(f"cc_{cc}", _n(self.flags_local(st, out)))

    def cf(self, st: State, out: list[Stmt]) -> Expr:
        p = st.flags
        if p is not None:
            return _fold_all(_fill(cf_source(p.kind, p.n), p.comps()))
        return _call("cf", _n(self.flags_local(st, out)))

    # -- exits ---------------------------------------------------------------------------------
    def store_state(self, st: State, cold: bool) -> list[Stmt]:
        """Statements that store what locals hold into the machine."""
        out: list[Stmt] = [
            ast.Assign(targets=[_sub("r", _k(i), store=True)], value=_n(f"r{i}"))
            for i in self.block.written
        ]
        if st.flags is not None:
            out.append(_cstore("fl", st.flags.tuple()))
        elif self.block.flags_written:
            out.append(_cstore("fl", _n("fl")))
        for key, dirty in sorted(st.lanes.items()):
            if dirty:
                out.append(
                    ast.Assign(
                        targets=[_sub(key[0], _k(key[1]), store=True)], value=_n(_lane_local(key))
                    )
                )
        if cold and self.loop and not (isinstance(self.it, ast.Constant) and self.it.value == 1):
            out.append(_cstore("_fault_base", _expr(f"(_it - 1) * {len(self.block.items)}")))
        return out

    def machine_call(
        self, call: ast.Call, st: State, out: list[Stmt], result: str | None = None
    ) -> None:
        """A call of a machine method from generated code: everything is
        stored first; after one that may change anything, reloaded."""
        name = call.func.attr
        if name not in COLD | SYNC | CLOBBERS:
            raise ValueError(
                f"run tier: unknown machine call c.{name}(): "
                "add it to vm/optimize.py's COLD, SYNC or CLOBBERS"
            )
        args = [self.rx(a, st, out) for a in call.args]
        node = ast.Call(func=call.func, args=args, keywords=[])
        if name in COLD:
            out.extend(self.store_state(st, cold=True))
            out.append(ast.Expr(value=node))
            return
        out.extend(self.store_state(st, cold=False))
        for key in st.lanes:
            st.lanes[key] = False
        out.append(_assign(result, node) if result else ast.Expr(value=node))
        if name in CLOBBERS:
            for i in self.block.used:
                self.var_write(f"r{i}", _sub("r", _k(i)), st, out)
                if self.mode == "fast":
                    st.aff[f"r{i}"] = None
            out.append(_assign("fl", _expr("c.fl")))
            st.flags = None
            st.lanes.clear()
            st.memsrc.clear()
            st.memvals.clear()

    def next_rip(self, value: Expr, st: State, out: list[Stmt]) -> None:
        if isinstance(value, ast.Call) and isinstance(value.func, ast.Attribute):
            return self.machine_call(value, st, out, result="_n")
        v = self.rx(value, st, out)
        if self.on_branch is not None and self.last:
            return self.on_branch(v, st, out)
        if self.expect is not None and not self.last:
            return self.side_exit(v, st, out)
        self.emit_assign("_n", v, out)

    def count(self) -> Expr:
        """Instructions run so far when the current one completes."""
        return _count(self.it, self.k, len(self.block.items))

    def side_exit(self, v: Expr, st: State, out: list[Stmt]) -> None:
        """A branch inside a trace: go on to the next instruction (item.expect)
        or leave the trace with the other target."""
        if isinstance(v, ast.Constant):
            if v.value != self.expect:
                out.extend(_leave(self, st.clone(), v.value, self.count()))
            return
        if (
            isinstance(v, ast.IfExp)
            and isinstance(v.body, ast.Constant)
            and isinstance(v.orelse, ast.Constant)
        ):
            if v.orelse.value == self.expect:
                test, target = v.test, v.body.value
            elif v.body.value == self.expect:
                test, target = ast.UnaryOp(op=ast.Not(), operand=v.test), v.orelse.value
            else:
                raise ValueError("run tier: a trace goes on where its branch does not lead")
            out.append(
                ast.If(test=test, body=_leave(self, st.clone(), target, self.count()), orelse=[])
            )
            return
        raise ValueError(f"run tier: a trace continues after a computed jump {ast.unparse(v)}")

    # -- memory -----------------------------------------------------------------------------------
    def check(self, ea: str, nbytes: int, write: bool, st: State, out: list[Stmt]) -> None:
        align = self.pending_align.pop(ea, 0)
        value = self.rx(_n(ea), st, out)
        if isinstance(value, ast.Constant):  # a fixed address: decide now
            a = value.value
            if align and a % align:
                self._align_check(ea, align, st, out)
            if not any(lo <= a <= hi for lo, hi in ranges(self.block.layout, nbytes, write)):
                self._range_check(value, nbytes, write, st, out)
            return
        if self.mode == "fast" and self._guard(ea, nbytes, write, align, st, out):
            return
        if align:
            self._align_check(ea, align, st, out)
        self._range_check(value, nbytes, write, st, out)

    def _align_check(self, ea: str, align: int, st: State, out: list[Stmt]) -> None:
        v = self.rx(_n(ea), st, out)
        cold = self.store_state(st, cold=True) + [
            ast.Expr(value=_ccall("misaligned", v, _k(align), _k(self.addr), _k(self.k)))
        ]
        out.append(
            ast.If(
                test=ast.BinOp(left=v, op=ast.BitAnd(), right=_k(align - 1)), body=cold, orelse=[]
            )
        )

    def _range_check(self, v: Expr, nbytes: int, write: bool, st: State, out: list) -> None:
        (lo1, hi1), (lo2, hi2) = ranges(self.block.layout, nbytes, write)
        test = _expr(f"not ({lo1} <= _v <= {hi1} or {lo2} <= _v <= {hi2})")
        test = _fill_name(test, "_v", v)
        cold = self.store_state(st, cold=True) + [
            ast.Expr(
                value=_ccall(
                    "bad_access",
                    v,
                    _k(nbytes),
                    _k("write" if write else "read"),
                    _k(self.addr),
                    _k(self.k),
                )
            )
        ]
        out.append(ast.If(test=test, body=cold, orelse=[]))

    def _guard(
        self, ea: str, nbytes: int, write: bool, align: int, st: State, out: list[Stmt]
    ) -> bool:
        """Fast loop: replace the check of this access by constraints tested
        once per iteration, if its address is affine in at most one register
        the loop changes."""
        a = st.aff.get(ea)
        if a is None:
            return False
        varying = {r for r, _ in a.terms if r not in self.block.invariant}
        for _lo, _hi, c in a.conds:
            varying |= {r for r, _ in c.terms if r not in self.block.invariant}
        if len(varying) > 1:
            return False
        bare = Aff(a.const, a.terms)
        cons = [Constraint(bare, nbytes=nbytes, write=write)]
        # a 64-bit wrap of the address itself is ruled out by the range check
        cons += [
            Constraint(c, lo=lo, hi=hi)
            for lo, hi, c in a.conds
            if not (c == bare and lo == 0 and hi == M64)
        ]
        if align:
            # aligned at the first iteration and moving by a multiple of align
            coef = dict(a.terms)
            if all(
                r in self.steps
                and not self.steps[r].terms
                and coef.get(r, 0) * self.steps[r].const % align == 0
                for r in varying
            ):
                cons.append(Constraint(bare, align=align))
            else:
                self._align_check(ea, align, st, out)
        for c in cons:
            self.constraints.setdefault(c.key(), c)
        node = self.assigned.get(ea)
        if (
            node is not None
            and isinstance(node.value, ast.BinOp)
            and isinstance(node.value.op, ast.BitAnd)
            and _is_c(node.value.right, M64)
        ):
            node.value = node.value.left  # in range, so the 64-bit wrap cannot happen
        # memoryview access: address = invariant part + varying registers * scale
        terms = st.terms.get(ea)
        unit = nbytes if nbytes <= 8 else 4
        if terms is not None:
            const, ts = terms
            inv = [(r, s) for r, s in ts if r in self.block.invariant]
            var = [(r, s) for r, s in ts if r not in self.block.invariant]
            if all(r.startswith("r") and r[1:].isdigit() for r, _ in ts) and all(
                s % unit == 0 for _, s in var
            ):
                base = (unit, const, tuple(inv))
                kb = next((b for b, v in self.bases.items() if v == base), f"_kb{self.k}_{ea}")
                self.bases[kb] = base
                idx: Expr = _n(kb)
                for r, s in var:
                    term = (
                        _n(r)
                        if s == unit
                        else ast.BinOp(left=_n(r), op=ast.Mult(), right=_k(s // unit))
                    )
                    idx = ast.BinOp(left=idx, op=ast.Add(), right=term)
                ix = f"_ix_{ea}"
                self.before_write(ix, st, out)
                self.emit_assign(ix, idx, out)
                self.views[ea] = View(ix, unit)
        return True

    def _memval_view(self, addr: Expr) -> tuple[View, int] | None:
        base, off = _addr_parts(addr)
        if base is None or base not in self.views:
            return None
        return self.views[base], off

    def mem_read(
        self, fn: str, addr: Expr, st: State, out: list[Stmt], names: list[str] | None = None
    ):
        """A struct read of memory: element expressions (views) or the call."""
        view_name, w, count = _reader(fn)
        base, off = _addr_parts(addr)
        v = self.views.get(base) if base is not None else None
        used = count if names is None else sum(1 for x in names if x != f"__{self.k}")
        if v is not None and v.unit == w and (off % w == 0) and (count <= 2 or used <= 2):
            return [_sub(view_name, _add(_n(v.ix), off // w + j)) for j in range(count)]
        call = _call(fn, _n("m"), self.rx(addr, st, out))
        if names is None:
            return [ast.Subscript(value=call, slice=_k(j), ctx=ast.Load()) for j in range(count)]
        return call

    def mem_write(self, fn: str, addr: Expr, value: Expr, st: State, out: list[Stmt]) -> None:
        val = self.rx(value, st, out)
        view_name, w = WRITERS[fn]
        base, off = _addr_parts(addr)
        v = self.views.get(base) if base is not None else None
        if v is not None and v.unit == w and off % w == 0:
            out.append(
                ast.Assign(
                    targets=[_sub(view_name, _add(_n(v.ix), off // w), store=True)], value=val
                )
            )
        else:
            out.append(ast.Expr(value=_call(fn, _n("m"), self.rx(addr, st, out), val)))
        st.memsrc.clear()
        st.memvals.clear()


def _is_c(node: Expr, value) -> bool:
    return isinstance(node, ast.Constant) and node.value == value


def _addr_parts(addr: Expr) -> tuple[str | None, int]:
    """`_ea` -> ('_ea', 0); `_ea + 8` -> ('_ea', 8)."""
    if isinstance(addr, ast.Name):
        return addr.id, 0
    if (
        isinstance(addr, ast.BinOp)
        and isinstance(addr.op, ast.Add)
        and isinstance(addr.left, ast.Name)
        and isinstance(addr.right, ast.Constant)
    ):
        return addr.left.id, addr.right.value
    return None, 0


def _addr_terms(node: Expr) -> tuple[int, tuple] | None:
    """An address expression as (const, ((name, scale), ...)) over current names."""
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.BitAnd) and _is_c(node.right, M64):
        node = node.left
    const, terms = 0, []

    def walk(n: Expr, sign: int) -> bool:
        nonlocal const
        if isinstance(n, ast.Constant) and isinstance(n.value, int):
            const += sign * n.value
            return True
        if isinstance(n, ast.Name):
            terms.append((n.id, sign))
            return True
        if isinstance(n, ast.BinOp):
            if isinstance(n.op, ast.Add):
                return walk(n.left, sign) and walk(n.right, sign)
            if isinstance(n.op, ast.Sub):
                return walk(n.left, sign) and walk(n.right, -sign)
            if (
                isinstance(n.op, ast.Mult)
                and isinstance(n.left, ast.Name)
                and isinstance(n.right, ast.Constant)
                and isinstance(n.right.value, int)
            ):
                terms.append((n.left.id, sign * n.right.value))
                return True
        return False

    if not walk(node, 1):
        return None
    merged: dict[str, int] = {}
    for r, s in terms:
        merged[r] = merged.get(r, 0) + s
    if any(s <= 0 for s in merged.values()):
        return None
    return const, tuple(sorted(merged.items()))


def _fill_name(tree: Expr, name: str, value: Expr) -> Expr:
    return _subst(tree, {name: value})


_FOLDABLE = (ast.BinOp, ast.UnaryOp, ast.Compare, ast.BoolOp)


_BIN = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.BitAnd: operator.and_,
    ast.BitOr: operator.or_,
    ast.BitXor: operator.xor,
    ast.LShift: operator.lshift,
    ast.RShift: operator.rshift,
    ast.FloorDiv: operator.floordiv,
    ast.Mod: operator.mod,
}
_CMP = {
    ast.Eq: operator.eq,
    ast.NotEq: operator.ne,
    ast.Lt: operator.lt,
    ast.LtE: operator.le,
    ast.Gt: operator.gt,
    ast.GtE: operator.ge,
}
_UNARY = {
    ast.USub: operator.neg,
    ast.Invert: operator.invert,
    ast.Not: operator.not_,
    ast.UAdd: operator.pos,
}


def _fold(node: Expr) -> Expr:
    """Evaluate an operation on constants (left as is if Python would raise,
    or the result is not worth a constant)."""
    try:
        t = type(node)
        if t is ast.BinOp:
            a, b = node.left.value, node.right.value
            if type(node.op) is ast.LShift and b > 256:
                return node
            value = _BIN[type(node.op)](a, b)
        elif t is ast.UnaryOp:
            value = _UNARY[type(node.op)](node.operand.value)
        elif t is ast.Compare:
            vals = [node.left.value] + [c.value for c in node.comparators]
            value = all(_CMP[type(op)](x, y) for op, x, y in zip(node.ops, vals, vals[1:]))
        elif t is ast.BoolOp:
            vals = [v.value for v in node.values]
            if isinstance(node.op, ast.And):
                value = next((v for v in vals if not v), vals[-1])
            else:
                value = next((v for v in vals if v), vals[-1])
        else:
            return node
    except Exception:  # noqa: BLE001 - e.g. a negative shift count: keep the expression
        return node
    if isinstance(value, int) and abs(value) > (1 << 200):
        return node
    return _k(value)


def _fold_all(node: Expr) -> Expr:
    """Fold every operation whose operands are constants (a new tree)."""
    if not isinstance(node, _FOLDABLE):
        return node
    fields = {}
    for f in node._fields:
        v = getattr(node, f, None)
        if isinstance(v, ast.expr):
            v = _fold_all(v)
        elif isinstance(v, list):
            v = [_fold_all(x) if isinstance(x, ast.expr) else x for x in v]
        fields[f] = v
    new = type(node)(**fields)
    kids = [
        x
        for f in new._fields
        for x in (getattr(new, f) if isinstance(getattr(new, f), list) else [getattr(new, f)])
        if isinstance(x, ast.expr)
    ]
    if all(isinstance(x, ast.Constant) for x in kids):
        return _fold(new)
    return new


# ---- dead code ----------------------------------------------------------------------


def _uses(node: Node) -> set[str]:
    return {x.id for x in _walk(node) if type(x) is ast.Name and type(x.ctx) is ast.Load}


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
            if isinstance(tgt, (ast.Name, ast.Tuple)) and _pure(s.value):
                names = {x.id for x in _walk(tgt) if type(x) is ast.Name}
                f = (s, "def", names, _uses(s.value))
            else:
                f = (s, "use", set(), _uses(s))
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
                f = self.cache[id(s)] = (s, _uses(s.test))
            used = f[1]
            return used | self.block(s.body, set(live), brk) | self.block(s.orelse, set(live), brk)
        if isinstance(s, ast.For):
            after = self.block(s.orelse, set(live), brk)
            head = set(after)
            for _ in range(20):
                inner = self.block(s.body, set(head), live)
                new = after | (inner - {s.target.id})
                if new == head:
                    break
                head = new
            return head | _uses(s.iter)
        if isinstance(s, ast.Return):
            return _uses(s.value) if s.value is not None else set()
        if isinstance(s, ast.Break):
            return set(brk or ())
        return live | _uses(s)


def _remove_dead(stmts: list[Stmt], dead: dict[int, bool]) -> list[Stmt]:
    out = []
    for s in stmts:
        if dead.get(id(s)):
            continue
        if isinstance(s, ast.If):
            s.body = _remove_dead(s.body, dead)
            s.orelse = _remove_dead(s.orelse, dead)
            body = [x for x in s.body if not _is_comment(x)]
            if not body and not s.orelse and _pure(s.test):
                continue
            if not s.body:
                s.body = [ast.Pass()]
        elif isinstance(s, ast.For):
            s.body = _remove_dead(s.body, dead)
            s.orelse = _remove_dead(s.orelse, dead)
        out.append(s)
    return out


def _is_comment(s: Stmt) -> bool:
    return isinstance(s, ast.Expr) and isinstance(s.value, ast.Constant)


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
        1 for x in _walk(node) if type(x) is ast.Name and x.id == name and type(x.ctx) is ast.Load
    )


def _subst_stmt(s: Stmt, mapping: dict[str, Expr]) -> Stmt:
    if isinstance(s, ast.Assign):
        targets = [_subst(t, mapping) if not isinstance(t, ast.Name) else t for t in s.targets]
        return ast.Assign(targets=targets, value=_subst(s.value, mapping))
    return ast.Expr(value=_subst(s.value, mapping))


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
            if _is_comment(u):
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


# ---- putting a block together ------------------------------------------------------------


def _reconcile(em: Emitter, st: State, target: State, out: list[Stmt]) -> None:
    """Code that turns state `st` into `target` (at a loop's back edge or entry)."""
    for key, dirty in sorted(st.lanes.items()):
        if dirty and not target.lanes.get(key, False):
            em.flush_lane(key, st, out)
    for key in sorted(target.lanes):
        if key not in st.lanes:
            lo, hi = _span(key)
            for k2, dirty in sorted(st.lanes.items()):
                if dirty and _span(k2)[0] < hi and lo < _span(k2)[1]:
                    em.flush_lane(k2, st, out)
            out.append(_assign(_lane_local(key), _sub(key[0], _k(key[1]))))
            st.lanes[key] = False
    fa = st.flags.key() if st.flags else None
    fb = target.flags.key() if target.flags else None
    if fa != fb:
        if st.flags is not None:
            out.append(_assign("fl", st.flags.tuple()))
        st.flags = None
    for name, value in target.consts.items():
        if st.consts.get(name) != value:
            raise ValueError(f"run tier: a loop's steady state does not hold ({name})")


def _header_state(block: Block, first: State) -> State:
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
        return (None, None) if value.value == start else (_k(False), value.value)
    if (
        isinstance(value, ast.IfExp)
        and _is_c(value.body, start)
        and isinstance(value.orelse, ast.Constant)
    ):
        return value.test, value.orelse.value
    if (
        isinstance(value, ast.IfExp)
        and _is_c(value.orelse, start)
        and isinstance(value.body, ast.Constant)
    ):
        return ast.UnaryOp(op=ast.Not(), operand=value.test), value.body.value
    return None, None


def _leave(em: Emitter, st: State, rip: int | Expr, count: Expr) -> list[Stmt]:
    """Store the state, return (next rip, instructions run)."""
    target = _k(rip) if isinstance(rip, int) else rip
    return em.store_state(st, cold=False) + [
        ast.Return(value=ast.Tuple(elts=[target, count], ctx=ast.Load()))
    ]


def _count(it: Expr, k: int, n: int) -> Expr:
    """Instructions run after instruction k of iteration `it` of an n-long trace."""
    if isinstance(it, ast.Constant):
        return _k((it.value - 1) * n + k + 1)
    if k + 1 == n:
        return ast.BinOp(left=it, op=ast.Mult(), right=_k(n))
    return _expr(f"{it.id} * {n} - {n - k - 1}")


def _loop_body(
    block: Block, mode: str, st: State, head: State | None, it: Expr, hints: tuple | None = None
) -> tuple[Emitter, list[Stmt], State]:
    """One iteration of a loop block: exits when the last branch leaves the
    loop, and at its end turns the state into `head` (the steady state)."""
    bounded, steps = hints or (set(), {})
    if mode == "fast" and hints is None:
        # a first pass finds the registers the range tests bound and how each
        # register changes per iteration; the second uses both
        pre, _, pre_end = _loop_body(block, "fast-pre", st.clone(), head, it)
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
            leave = _leave(
                em, s.clone(), exit_rip, _count(it, len(block.items) - 1, len(block.items))
            )
            if stay is None or (isinstance(stay, ast.Constant) and not stay.value):
                o.extend(leave)
            else:
                o.append(
                    ast.If(test=ast.UnaryOp(op=ast.Not(), operand=stay), body=leave, orelse=[])
                )
        if head is not None:
            _reconcile(em, s, head, o)
        end.append(s.clone())

    em.on_branch = on_branch
    if em.mode == "fast":
        for i in range(16):
            st.aff[f"r{i}"] = Aff(0, ((f"r{i}", 1),))
    em.body(st, out)
    return em, out, (end[0] if end else st)


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
    code = [_assign(f"r{i}", _sub("r", _k(i))) for i in block.used] + [_assign("fl", _expr("c.fl"))]
    if not loop:
        em = Emitter(block, "plain", loop=False)
        st = State()
        em.body(st, code)
        code += em.store_state(st, cold=False)
        if not counted:
            code.append(ast.Return(value=_n("_n")))
            return _function(name, params, code)
        code.append(ast.Return(value=ast.Tuple(elts=[_n("_n"), _k(n)], ctx=ast.Load())))
        return _function(name, ["_max"] + params, code)
    # the steady state at the top of each iteration, found from a plain first
    # iteration (whose code runs when the fast loop cannot start)
    em, first, end1 = _loop_body(block, "plain", State(), None, _k(1))
    head = _header_state(block, end1)
    fast, fbody, _ = _loop_body(block, "fast", head.clone(), head, _n("_it"))
    leave_max = _leave(em, head.clone(), start, _expr(f"_max * {n}"))
    slow = first + [
        ast.If(test=_expr("_max < 2"), body=_leave(em, end1.clone(), start, _k(n)), orelse=[])
    ]
    _reconcile(em, end1.clone(), head, slow)
    if not fast.constraints:  # nothing hoisted: one loop
        loop = ast.For(
            target=_st("_it"),
            iter=_expr("range(2, _max + 1)"),
            body=fbody,
            orelse=[],
            type_comment=None,
        )
        return _function(name, ["_max"] + params, code + slow + [loop] + leave_max)
    # the fast loop: range tests (or a trip count) instead of per-access checks;
    # it starts with the first iteration when the tests already hold there
    entry, guard, counted = _entry_code(block, fast)
    f1, f1body, _ = _loop_body(
        block, "fast", State(), head, _k(1), hints=(fast.bounded, fast.steps)
    )
    if f1.constraints.keys() != fast.constraints.keys():
        raise ValueError("run tier: the first iteration needs other range tests")
    _, cbody, _ = _loop_body(block, "checked", head.clone(), head, _n("_it"))
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
        ast.If(test=_expr("_max < 2"), body=_leave(f1, head.clone(), start, _k(n)), orelse=[])
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
                orelse=_leave(fast, head.clone(), start, _expr(f"_max * {n}")),
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
    return _function(name, ["_max"] + params, code + leave_max)


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


def _entry_code(block: Block, em: Emitter) -> tuple[list[Stmt], Expr | None, bool]:
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
        if c.lo is not None:
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


def _function(name: str, params: list[str], body: list[Stmt]) -> ast.Module:
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
    _locate(mod)
    return mod


def source(fn) -> str:
    """The Python source of a compiled block function (for reading)."""
    tree = getattr(fn, "tree", None)
    return ast.unparse(tree) if tree is not None else getattr(fn, "source", "")
