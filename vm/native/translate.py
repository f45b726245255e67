"""A trace's generated Python, translated to LLVM IR (the native tier).

The input is what the step and run tiers compile: each instruction's code as
vm.codegen expands it from the table's template (plus the CHECK/ALIGN
pseudo-statements). This module evaluates that Python symbolically, one
statement at a time, building LLVM IR with llvmlite.ir; it never looks at a
mnemonic, so an instruction's semantics are still only its template.

Values:
  * Python ints become i128 (every value carries the interval it can take;
    an operation whose interval leaves i128 is untranslatable), Python bools
    i1, Python floats double. A float32 lane read also keeps its float form,
    and +, -, *, /, sqrt of two such values are done in float32 as well,
    which is exactly the double result rounded once to float32 (the fact the
    Python tiers rely on); the float32 form is used only where the template
    stores the result into a float32 lane (or tests it for NaN).
  * Machine state - the 16 general registers (i64), the 512 32-bit lanes of
    the 32 x 512-bit vector file and the lazy flags record (kind, n, a, b, r as vm.isa.flags defines it) -
    lives in SSA values: loaded where first used, stored back at exits. A
    condition or CF reader needs the flags record's kind known at that point
    of the trace (vm.runtier.cond_source/cf_source give the test).
  * `if` statements become branches joined with phis; they may not check
    addresses inside (`if ...: c.fault(...)` is itself such a check).

Memory checks run where the template has them; a failed check, a branch that
goes another way than the trace, the end of the trace and the step budget
each leave the function with the exact machine state and instruction count
(the instruction that would fault has not run: the step tier then runs it
and reports the fault). A trace that ends by branching to its start is a
loop. Anything this module does not know (a helper without an IR version,
syscalls, twins, observers, integers past 128 bits ...) raises Untranslatable;
the trace is then cut before that instruction.

The compiled function is
    void trace(i8* memory, i64* gprs, i32* xmm, i64* out, i64 max_iterations)
and writes out = [next rip, instructions run, flags kind (-1: unchanged), n,
a lo, a hi, b lo, b hi, r lo, r hi].
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from typing import Any

from llvmlite import ir

from .. import runtier
from ..environment import MEM_VIEWS, READERS, WRITERS, Layout, ranges
from ..isa import flags as F
from ..isa import helpers as H
from .lanes import STATE_VIEWS, LaneBuilder, find_groups, lane_name, splat

I1, I8, I16, I32, I64, I128 = (ir.IntType(n) for n in (1, 8, 16, 32, 64, 128))
F32, F64 = ir.FloatType(), ir.DoubleType()
CHUNK = ir.VectorType(I32, 4)  # 128 bits of the vector register file, as the state keeps it
# a register-file lane view: (element type, elements per 128-bit chunk)
_VIEW = {"xf": (F32, 4), "xi": (I32, 4), "xq": (I64, 2), "xd": (F64, 2)}
LO, HI = -(1 << 127), (1 << 127) - 1
M64 = (1 << 64) - 1
INSN_SIZE = 4
OUT_WORDS = 10
_DEFAULT_NAN32 = 0xFFC00000
_DEFAULT_NAN64 = 0xFFF8000000000000


class Untranslatable(Exception):
    """A construct the native tier does not translate (the trace ends before it)."""


@dataclass
class V:
    """A Python value in IR: kind 'int' (i128), 'bool' (i1) or 'float' (double)."""

    kind: str
    v: Any
    lo: int = 0
    hi: int = 0
    const: Any = None  # the Python value, when known at compile time
    exact32: Any = None  # float: a float32 equal to the value
    round32: Any = None  # float: the value rounded to float32


class _Wide:
    """The IR value of a constant wider than 128 bits: usable only folded into
    other constants (an immediate's sign extension masked later); any use in
    IR is untranslatable."""

    def __getattr__(self, name):
        raise Untranslatable("a constant wider than 128 bits")


def _cint(x: int) -> V:
    if not LO <= x <= HI:
        return V("int", _Wide(), x, x, const=x)
    return V("int", ir.Constant(I128, x), x, x, const=x)


def _cbool(x: bool) -> V:
    return V("bool", ir.Constant(I1, int(bool(x))), const=bool(x))


def _cfloat(x: float) -> V:
    return V("float", ir.Constant(F64, x), const=x)


# Helpers the templates call, as Python over their arguments that this module
# translates (tests/test_native_tier.py checks each against vm/isa/helpers.py).
# shl's CF: the last bit shifted out (0 once the count passes the size)
_SHL_CARRY = "((a >> (bits - n if n <= bits else 0)) & (1 if n <= bits else 0))"
_HELPER_TEMPLATES = {
    "mul_flags": (
        ("o", "low", "bits"),
        "{FIXED} | (1 if o else 0) | parity(low) << 2 | {Z_MUL} << 6"
        " | ((low >> (bits - 1)) & 1) << 7 | (1 if o else 0) << 11",
    ),
    "shl_flags": (
        ("a", "n", "bits", "r"),
        "{FIXED} | {C} | parity(r) << 2 | (1 if r == 0 else 0) << 6"
        " | ((r >> (bits - 1)) & 1) << 7 | ({O_SHL}) << 11",
    ),
    "shr_flags": (
        ("a", "n", "bits", "r"),
        "{FIXED} | ((a >> (n - 1)) & 1) | parity(r) << 2 | (1 if r == 0 else 0) << 6"
        " | ((r >> (bits - 1)) & 1) << 7 | ((a >> (bits - 1)) & 1) << 11",
    ),
    "sar_flags": (
        ("a", "n", "bits", "r"),
        "{FIXED} | ((((a ^ (1 << (bits - 1))) - (1 << (bits - 1))) >> (n - 1)) & 1)"
        " | parity(r) << 2 | (1 if r == 0 else 0) << 6 | ((r >> (bits - 1)) & 1) << 7",
    ),
}
# A source is an expression or a function body ending in `return`.
# rol/ror/shld/shrd return (result, rflags); `fl` is an RFLAGS value (the
# translator reads the record `c.fl` as one); pred/imm/bits are constants.
_ROL = "(a << (n % bits) | a >> (bits - n % bits)) & ((1 << bits) - 1) if n % bits else a"
_ROR = "(a >> (n % bits) | a << (bits - n % bits)) & ((1 << bits) - 1) if n % bits else a"
_ROT_KEEP = f"(fl & ~{F.CF_BIT | F.OF_BIT})"
_DOUBLE_SHIFT_FLAGS = (
    "{FIXED} | c | parity(t) << 2 | (1 if t == 0 else 0) << 6 | s << 7"
    " | (s ^ ((a >> (bits - 1)) & 1)) << 11"
)


def _bswap_source(bits: int) -> str:
    n = bits // 8
    return " | ".join(f"((a >> {8 * i}) & 255) << {8 * (n - 1 - i)}" for i in range(n))


_HELPER_TEMPLATES.update(
    {
        "with_cf": (("fl", "c"), f"(fl & ~{F.CF_BIT}) | c"),
        "rol": (
            ("a", "n", "bits", "fl"),
            f"r = {_ROL}\n"
            f"return r, {_ROT_KEEP} | (r & 1) | ((((r >> (bits - 1)) & 1) ^ (r & 1)) << 11)",
        ),
        "ror": (
            ("a", "n", "bits", "fl"),
            f"r = {_ROR}\n"
            f"return r, {_ROT_KEEP} | ((r >> (bits - 1)) & 1)"
            " | ((((r >> (bits - 1)) ^ (r >> (bits - 2))) & 1) << 11)",
        ),
        "shld": (
            ("a", "b", "n", "bits"),
            "x = (a << 2 * bits) | (b << bits) | a\n"
            "t = (x >> (2 * bits - n)) & ((1 << bits) - 1)\n"
            "c = (x >> (3 * bits - n)) & 1\n"
            "s = (t >> (bits - 1)) & 1\n"
            f"return t, {_DOUBLE_SHIFT_FLAGS}",
        ),
        "shrd": (
            ("a", "b", "n", "bits"),
            "x = (b << 2 * bits) | (a << bits) | b\n"
            "t = (x >> (bits + n)) & ((1 << bits) - 1)\n"
            "c = (x >> (bits + n - 1)) & 1\n"
            "s = (t >> (bits - 1)) & 1\n"
            f"return t, {_DOUBLE_SHIFT_FLAGS}",
        ),
        "bswap": (
            ("a", "bits"),
            "({}, {}, {})[bits // 32]".format(*(_bswap_source(b) for b in (16, 32, 64))),
        ),
        # the cmpps/cmpss predicates 0-7: eq, lt, le, unord, neq, nlt, nle, ord
        "fcmpp": (
            ("a", "b", "pred"),
            "0xFFFFFFFF if (a == b, a < b, a <= b, a != a or b != b, not a == b, not a < b,"
            " not a <= b, a == a and b == b)[pred & 7] else 0",
        ),
        # roundeven/floor/ceil/trunc: the float-valued math functions (IR intrinsics)
        "fround": (
            ("x", "imm"),
            "x + 0.0 if x != x else copysign("
            "(roundeven(x), floor(x), ceil(x), trunc(x))[0 if imm & 4 else imm & 3], x)",
        ),
        "cvtr": (("x", "bits"), "cvtt(roundeven(x), bits)"),
        # vm.isa.fused.fnan3: the first NaN of x, y, z in x * y + z
        "fnan3": (("a", "b", "c"), "fnan(a, b) if a != a or b != b else fnan(c, c)"),
    }
)
# The undefined flags follow vm.isa.helpers.UNDEFINED_FLAGS (see there): intel
# clears ZF after mul and takes shl's OF from the operand's top two bits.
_UNDEFINED = {
    "intel": {"Z_MUL": "0", "O_SHL": "((a >> (bits - 1)) ^ (a >> (bits - 2))) & 1"},
    "lowhalf": {
        "Z_MUL": "(1 if (low & ((1 << bits) - 1)) == 0 else 0)",
        "O_SHL": "((r >> (bits - 1)) & 1) ^ {C}",
    },
}


def helper_sources() -> dict[str, tuple[tuple[str, ...], str]]:
    """The helpers of vm/isa/helpers.py as Python over their arguments
    (translated to IR), for the undefined-flags profile in force;
    tests/test_native_tier.py checks them against the helpers."""
    out = _SOURCES.get(H.UNDEFINED_FLAGS)
    if out is not None:
        return out
    out = _SOURCES[H.UNDEFINED_FLAGS] = {}
    for k, (args, src) in _HELPER_TEMPLATES.items():
        for key, val in _UNDEFINED[H.UNDEFINED_FLAGS].items():
            src = src.replace("{" + key + "}", val)
        out[k] = (args, src.replace("{FIXED}", str(F.FIXED)).replace("{C}", _SHL_CARRY))
    return out


_SOURCES: dict[str, dict[str, tuple[tuple[str, ...], str]]] = {}

# the generated code's struct readers and writers (vm.environment), as IR
_IR_ELEMENT = {
    "B": (I8, 1),
    "H": (I16, 2),
    "I": (I32, 4),
    "Q": (I64, 8),
    "f": (F32, 4),
    "d": (F64, 8),
}
_MEM_READ = {prefix: _IR_ELEMENT[MEM_VIEWS[view]] for prefix, view in READERS.items()}
_MEM_WRITE = {prefix: _IR_ELEMENT[MEM_VIEWS[view]][0] for prefix, view in WRITERS.items()}


@dataclass
class Item:
    addr: int
    lines: list[str]
    expect: int | None  # a branch inside the trace: where it goes on


class Trace:
    """Builds the IR function for one trace."""

    def __init__(
        self,
        name: str,
        items: list[Item],
        layout: Layout,
        head: int | None,
        phis: frozenset = frozenset(),
        scalar: frozenset = frozenset(),
    ):
        self.name, self.items, self.layout = name, items, layout
        self.scalar = scalar  # (instruction, statement) of lane groups translated lane by lane
        self.lanes = 0  # > 0: translating one lane group on vectors of this many lanes
        self.vlocals: dict[str, V] = {}  # the group's lane-numbered names, as vectors
        self.lane_idx: dict[int, list[int]] = {}  # a register-lane subscript -> its index per lane
        self.in_helper = 0
        self.headk, self.loop, self.phikeys = head, head is not None, phis
        self.start = items[0].addr
        self.module = ir.Module(name=name)
        self.module.triple = ""
        ptr = ir.PointerType
        fnty = ir.FunctionType(ir.VoidType(), [ptr(I8), ptr(I64), ptr(I32), ptr(I64), I64])
        self.fn = ir.Function(self.module, fnty, name=name)
        for a in self.fn.args[:4]:
            a.add_attribute("noalias")
        self.mem, self.gprs, self.xmm, self.out, self.maxit = self.fn.args
        self.entry = self.fn.append_basic_block("entry")
        self.eb = ir.IRBuilder(self.entry)
        self.head = self.fn.append_basic_block("top")
        self.eb.branch(self.head)
        self.b = LaneBuilder(self.head)
        self.entry_vals: dict[tuple, Any] = {}
        self.st: dict[tuple, Any] = {}
        self.written: set[tuple] = set()
        self.flk: tuple[int, int] | None = None  # static (kind, n) of the flags record
        self.phis: dict[tuple, Any] = {}
        self.it: Any = ir.Constant(I64, 0)
        # A loop after a prefix whose inner loop exits to the trace's start
        # runs as two nested loops: `top` has phis for the state and `base`,
        # the instructions run before this pass.
        self.nested = bool(head)
        self.base: Any = ir.Constant(I64, 0)
        self.top_phis: dict[tuple, Any] = {}
        self.budget: Any = None
        if self.nested:
            self.base = self.b.phi(I64, "base")
            self.base.add_incoming(ir.Constant(I64, 0), self.entry)
            for key in sorted(phis):
                p = self.b.phi(self._type(key), f"top_{key[0]}{key[1]}")
                p.add_incoming(self._entry(key), self.entry)
                self.top_phis[key] = p
                self.st[key] = p
        self.needs_flags = False  # a condition reads the RFLAGS value (maybe the caller's)
        self.branching = False  # inside an if-converted branch
        self._flag_vals: tuple | None = None
        self.nexits = 0

    # ---- machine state ----------------------------------------------------
    @staticmethod
    def _type(key: tuple):
        return I128 if key[0] == "fr" else CHUNK if key[0] == "v" else I64

    def _entry(self, key: tuple):
        v = self.entry_vals.get(key)
        if v is None:
            kind, i = key
            self.eb.position_before(self.entry.terminator)
            if kind == "r":
                v = self.eb.load(self.eb.gep(self.gprs, [ir.Constant(I32, i)]))
            elif kind == "v":
                v = self.eb.load(self._chunk_ptr(self.eb, i), align=4)
            elif kind == "fk":
                v = ir.Constant(I64, -1)
            elif kind == "fl":  # RFLAGS at entry, put in out[0] by the caller
                v = self.eb.load(self.eb.gep(self.out, [ir.Constant(I32, 0)]))
            else:
                v = ir.Constant(self._type(key), 0)
            self.entry_vals[key] = v
        return v

    def _chunk_ptr(self, b, c: int):
        p = b.gep(self.xmm, [ir.Constant(I32, 4 * c)])
        return b.bitcast(p, ir.PointerType(CHUNK))

    def get(self, key: tuple):
        v = self.st.get(key)
        if v is None:
            v = self.st[key] = self._entry(key)
        return v

    def put(self, key: tuple, v) -> None:
        self.st[key] = v
        self.written.add(key)

    # ---- building the function ---------------------------------------------------
    def build(self) -> ir.Module:
        """Translate every item (raises Untranslatable naming the item)."""
        n = len(self.items)
        for k, item in enumerate(self.items):
            if k == self.headk:
                self._open_loop()
            try:
                nxt = self._insn(k, item)
            except Untranslatable as e:
                e.k = k  # type: ignore[attr-defined]
                raise
            last = k == n - 1
            if nxt is None:
                nxt = _cint(item.addr + INSN_SIZE)
            if not last and item.expect is not None:
                self._side_exit(nxt, item.expect, k)
                continue
            if not last:
                continue
            if self.loop:
                self._close_loop(nxt, n)
            else:
                self._exit(nxt, self._count(n))
        return self.module

    def _count(self, k: int):
        """Instructions run when leaving at item k (this iteration's count)."""
        h = self.headk
        if h is None or k < h or not self.loop_block:
            here: Any = ir.Constant(I64, k)
        else:
            per = ir.Constant(I64, len(self.items) - h)
            here = self.b.add(self.b.mul(self.it, per), ir.Constant(I64, k))
        return here if not self.nested else self.b.add(self.base, here)

    loop_block = None

    def _open_loop(self) -> None:
        """The loop's head: phis for the state the loop changes; the flags'
        kind is not known here any more (it is the previous iteration's)."""
        b = self.b
        pre = b.block
        self.loop_block = hb = self._new("loop")
        vals = {key: self.get(key) for key in sorted(self.phikeys)}
        b.branch(hb)
        b.position_at_end(hb)
        self.it = b.phi(I64, "it")
        self.it.add_incoming(ir.Constant(I64, 0), pre)
        for key, v in vals.items():
            p = b.phi(self._type(key), f"{key[0]}{key[1]}")
            p.add_incoming(v, pre)
            self.phis[key] = p
            self.st[key] = p
        self.flk, self._flag_vals = None, None

    def _rip64(self, v: V):
        if v.kind != "int":
            raise Untranslatable("jump target is not an integer")
        return self.b.trunc(v.v, I64)

    def _side_exit(self, nxt: V, expect: int, k: int) -> None:
        if nxt.const is not None:
            if nxt.const == expect:
                return
            raise Untranslatable("a branch that never goes the trace's way")
        ok = self.b.icmp_signed("==", nxt.v, ir.Constant(I128, expect))
        self._guard(ok, nxt, k + 1)

    def _guard(self, ok, rip: V | int, count_k: int) -> None:
        """Go on if ok, else leave with rip and the count of count_k
        instructions of this iteration run."""
        if self.branching or self.lanes:
            raise Untranslatable("a check inside a conditional or per lane")
        go = self.fn.append_basic_block("go")
        out = self.fn.append_basic_block("out")
        br = self.b.cbranch(ok, go, out)
        br.set_metadata("prof", self._weights(2000, 1))
        self.b.position_at_end(out)
        self._exit(rip if isinstance(rip, V) else _cint(rip), self._count(count_k))
        self.b.position_at_end(go)

    def _exit(self, rip: V, count) -> None:
        b = self.b
        for key, v in self.st.items():
            if v is self.entry_vals.get(key) or key[0] in ("fk", "fn", "fa", "fb", "fr", "fl"):
                continue
            if key[0] == "r":
                b.store(v, b.gep(self.gprs, [ir.Constant(I32, key[1])]))
            else:
                b.store(v, self._chunk_ptr(b, key[1]), align=4)

        def put(i: int, v) -> None:
            b.store(v, b.gep(self.out, [ir.Constant(I32, i)]))

        put(0, self._rip64(rip))
        put(1, count)
        put(2, self.get(("fk", 0)))
        put(3, self.get(("fn", 0)))
        put(4, self.get(("fa", 0)))
        put(5, ir.Constant(I64, 0))
        put(6, self.get(("fb", 0)))
        put(7, ir.Constant(I64, 0))
        for j, name in enumerate(("fr",), 2):
            v = self.get((name, 0))
            put(4 + 2 * j, b.trunc(v, I64))
            put(5 + 2 * j, b.trunc(b.ashr(v, ir.Constant(I128, 64)), I64))
        b.ret_void()
        self.nexits += 1

    def _close_loop(self, nxt: V, n: int) -> None:
        """The back edge: another iteration while the budget (maxit passes'
        worth of instructions) allows one; a nested trace's inner loop
        leaving to the trace's start begins another outer pass."""
        b = self.b
        it1 = b.add(self.it, ir.Constant(I64, 1))
        target = self.items[self.headk].addr  # type: ignore[index]
        if self.budget is None:
            self.eb.position_before(self.entry.terminator)
            self.budget = self.eb.mul(self.maxit, ir.Constant(I64, n))
        if nxt.const is None:
            back = b.icmp_signed("==", nxt.v, ir.Constant(I128, target))
            if self.nested:
                self._outer_edge(back, nxt, n)
            else:
                self._guard(back, nxt, n)
        elif nxt.const != target:
            raise Untranslatable("loop trace does not branch back")
        room = ir.Constant(I64, n - self.headk)  # type: ignore[operator]
        more = b.icmp_unsigned("<=", b.add(self._count(n), room), self.budget)
        self._guard(more, target, n)
        latch = b.block
        for key, p in self.phis.items():
            p.add_incoming(self.get(key), latch)
        self.it.add_incoming(it1, latch)
        b.branch(self.loop_block)

    def _outer_edge(self, back, nxt: V, n: int) -> None:
        """Inner loop left: to the trace's start is another outer pass (if the
        budget allows a whole one), anywhere else an exit."""
        b = self.b
        inner, other = self._new("inner"), self._new("other")
        b.cbranch(back, inner, other)
        b.position_at_end(other)
        again = b.icmp_signed("==", nxt.v, ir.Constant(I128, self.start))
        outer, out = self._new("outer"), self._new("leave")
        b.cbranch(again, outer, out)
        b.position_at_end(out)
        self._exit(nxt, self._count(n))
        b.position_at_end(outer)
        done = self._count(n)
        fits = b.icmp_unsigned("<=", b.add(done, ir.Constant(I64, n)), self.budget)
        self._guard(fits, self.start, n)
        latch = b.block
        for key, p in self.top_phis.items():
            p.add_incoming(self.get(key), latch)
        self.base.add_incoming(self._count(n), latch)
        b.branch(self.head)
        b.position_at_end(inner)

    # ---- one instruction -------------------------------------------------------
    def _insn(self, k: int, item: Item) -> V | None:
        self.k, self.addr = k, item.addr
        self.locals: dict[str, V] = {}
        self.wrote = False
        self.next: V | None = None
        body = _parse_insn(item.lines)
        groups = _groups(item.lines, body)
        i = 0
        while i < len(body):
            g = groups.get(i)
            if g is None or (k, i) in self.scalar:
                self._stmt(body[i])
                i += 1
                continue
            size, n, _ = g
            self._lane_group(body, i, g, (k, i))
            i += size * n
        return self.next

    def _lane_group(self, body: list, i: int, g: tuple, key: tuple) -> None:
        """Lane 0's statements of a lane group (vm.native.lanes), translated
        once on vectors of n lanes; any construct that cannot be (a memory
        access or check per lane, flags ...) has the trace rebuilt with this
        group translated lane by lane."""
        size, n, _ = g
        first = body[i : i + size]
        self.lane_idx = {}
        for j in range(n):
            lane = body[i + j * size : i + (j + 1) * size]
            for node0, node in zip(_state_subscripts(first), _state_subscripts(lane)):
                self.lane_idx.setdefault(id(node0), []).append(node.slice.value)
        self.lanes, self.vlocals = n, {}
        try:
            for st in first:
                self._stmt(st)
            for name, v in self.vlocals.items():
                base, s0 = lane_name(name)  # type: ignore[misc]
                for j in range(n):
                    self.locals[f"{base}{s0 + j}"] = self._lane(v, j)
        except Untranslatable as e:
            raise ScalarLanes(key) from e
        finally:
            self.lanes, self.vlocals, self.lane_idx = 0, {}, {}

    def _lane(self, v: V, j: int) -> V:
        """Lane j of a vector value (a scalar value is every lane's)."""
        if v.kind == "tuple" or not isinstance(v.v.type, ir.VectorType):
            return v
        b = self.b
        idx = ir.Constant(I32, j)
        out = V(v.kind, b.extract_element(v.v, idx), v.lo, v.hi)
        if v.exact32 is not None:
            out.exact32 = b.extract_element(v.exact32, idx)
        if v.round32 is not None:
            out.round32 = b.extract_element(v.round32, idx)
        return out

    def _lane_value(self, name: str, base: str, s0: int) -> V:
        """A lane-numbered name in a lane group: the vector of its n lanes."""
        v = self.vlocals.get(name)
        if v is not None:
            return v
        vals = [self.locals.get(f"{base}{s0 + j}") for j in range(self.lanes)]
        if any(x is None for x in vals):
            raise Untranslatable(f"name {name} in a lane group")
        kinds = {x.kind for x in vals}  # type: ignore[union-attr]
        if len(kinds) != 1 or "tuple" in kinds:
            raise Untranslatable("lanes of different kinds")
        consts = {x.const for x in vals}  # type: ignore[union-attr]
        if len(consts) == 1 and vals[0].const is not None:  # type: ignore[union-attr]
            return vals[0]  # type: ignore[return-value]
        b = self.b

        def build(xs):
            vec = ir.Constant(ir.VectorType(xs[0].type, len(xs)), ir.Undefined)
            for j, x in enumerate(xs):
                vec = b.insert_element(vec, x, ir.Constant(I32, j))
            return vec

        out = V(
            vals[0].kind,  # type: ignore[union-attr]
            build([x.v for x in vals]),  # type: ignore[union-attr]
            min(x.lo for x in vals),  # type: ignore[union-attr]
            max(x.hi for x in vals),  # type: ignore[union-attr]
        )
        if all(x.exact32 is not None for x in vals):  # type: ignore[union-attr]
            out.exact32 = build([x.exact32 for x in vals])  # type: ignore[union-attr]
        if all(x.round32 is not None for x in vals):  # type: ignore[union-attr]
            out.round32 = build([x.round32 for x in vals])  # type: ignore[union-attr]
        return out

    def _stmt(self, s) -> None:
        if isinstance(s, ast.Pass):
            return
        if isinstance(s, ast.Assign) and len(s.targets) == 1:
            self._assign(s.targets[0], s.value)
            return
        if isinstance(s, ast.Expr) and isinstance(s.value, ast.Call):
            self._effect(s.value)
            return
        if isinstance(s, ast.If):
            self._if(s)
            return
        raise Untranslatable(f"statement {type(s).__name__}")

    def _assign(self, t, value) -> None:
        if isinstance(t, ast.Name) and self.lanes and not self.in_helper:
            if lane_name(t.id) is None:
                raise Untranslatable("a lane-invariant name assigned in a lane group")
            self.vlocals[t.id] = self.expr(value)
            return
        if self.lanes and not self.in_helper and not isinstance(t, ast.Subscript):
            raise Untranslatable("assignment in a lane group")
        if isinstance(t, ast.Name):
            v = self.expr(value)
            self.locals[t.id] = v
            if t.id == "_n":
                self.next = v
            return
        if isinstance(t, ast.Tuple):
            vals = self._tuple(value)
            if len(vals) != len(t.elts):
                raise Untranslatable("tuple assignment")
            for e, v in zip(t.elts, vals):
                if not isinstance(e, ast.Name):
                    raise Untranslatable("tuple target")
                if e.id != "_":
                    self.locals[e.id] = v
            return
        if isinstance(t, ast.Subscript) and isinstance(t.value, ast.Name):
            if self.lanes:
                idxs = self.lane_idx.get(id(t))
                if idxs is None:
                    raise Untranslatable("a state write in a lane group")
                self._write_lanes(t.value.id, idxs, self.expr(value))
                return
            idx = self._const_index(t.slice)
            self._write_state(t.value.id, idx, self.expr(value))
            return
        if (
            isinstance(t, ast.Attribute)
            and isinstance(t.value, ast.Name)
            and (t.value.id, t.attr) == ("c", "fl")
            and isinstance(value, ast.Tuple)
            and len(value.elts) == 5
        ):
            if self.lanes:
                raise Untranslatable("flags in a lane group")
            kind, n = (self._const_int(e) for e in value.elts[:2])
            a, bb, r = (self._as_int(self.expr(e)) for e in value.elts[2:])
            self.flk = (kind, n)
            self.put(("fk", 0), ir.Constant(I64, kind))
            self.put(("fn", 0), ir.Constant(I64, n))
            if min(a.lo, bb.lo) < 0 or max(a.hi, bb.hi) > M64:
                raise Untranslatable("flags operand wider than 64 bits")
            self.put(("fa", 0), self.b.trunc(a.v, I64))
            self.put(("fb", 0), self.b.trunc(bb.v, I64))
            self.put(("fr", 0), r.v)
            self._flag_vals = (a, bb, r)
            self.put(("fl", 0), self.b.trunc(self._flag_eval(rflags_source(kind, n)).v, I64))
            return
        raise Untranslatable("assignment target")

    def _tuple(self, node) -> list[V]:
        """The values of a tuple: a memory read or a tuple-valued expression."""
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
            name = node.func.id.rstrip("0123456789")
            if name in _MEM_READ:
                return self._reader(node)
        v = self.expr(node)
        if v.kind != "tuple":
            raise Untranslatable("unpacking a non-tuple")
        return v.v

    def _const_index(self, node) -> int:
        v = self.expr(node)
        if v.kind != "int" or v.const is None:
            raise Untranslatable("computed register index")
        return v.const

    def _const_int(self, node) -> int:
        v = self.expr(node)
        if v.const is None or v.kind != "int":
            raise Untranslatable("non-constant")
        return v.const

    # ---- state reads and writes ------------------------------------------------
    def _write_state(self, view: str, i: int, v: V) -> None:
        if view == "r":
            self.wrote = True
            self.put(("r", i), self.b.trunc(self._as_int(v).v, I64))
        elif view in STATE_VIEWS:
            self._write_lanes(view, [i], v)
        else:
            raise Untranslatable(f"write to {view}")

    def _read_state(self, view: str, i: int) -> V:
        if view == "r":
            return V("int", self.b.zext(self.get(("r", i)), I128), 0, M64)
        if view in STATE_VIEWS:
            return self._read_lanes(view, [i])
        raise Untranslatable(f"read of {view}")

    # The register file is kept as 128-bit chunks (<4 x i32>, chunk c = the
    # 32-bit lanes 4c .. 4c+3): a view's lanes are elements of a chunk seen as
    # <4 x float>, <2 x i64> ...; one lane or a vector of lanes (a lane group)
    # is read and written with extract/insert/shuffle, which LLVM turns into
    # whole-register moves where the lanes are whole registers.
    def _lane_places(self, view: str, idxs: list[int]) -> list[tuple[int, int]]:
        per = _VIEW[view][1]
        return [(i // per, i % per) for i in idxs]

    def _typed_chunk(self, view: str, c: int):
        ty, per = _VIEW[view]
        return ir.IRBuilder.bitcast(self.b, self.get(("v", c)), ir.VectorType(ty, per))

    def _read_lanes(self, view: str, idxs: list[int]) -> V:
        b = self.b
        ty, per = _VIEW[view]
        places = self._lane_places(view, idxs)
        if len(idxs) == 1:
            c, e = places[0]
            x = ir.IRBuilder.extract_element(b, self._typed_chunk(view, c), ir.Constant(I32, e))
        else:
            chunks = list(dict.fromkeys(c for c, _ in places))
            parts = [self._typed_chunk(view, c) for c in chunks]
            while len(parts) & (len(parts) - 1):
                parts.append(parts[0])
            while len(parts) > 1:  # concatenate pairwise
                m = parts[0].type.count
                mask = ir.Constant(ir.VectorType(I32, 2 * m), list(range(2 * m)))
                parts = [
                    ir.IRBuilder.shuffle_vector(b, parts[k], parts[k + 1], mask)
                    for k in range(0, len(parts), 2)
                ]
            big = parts[0]
            sel = [chunks.index(c) * per + e for c, e in places]
            if sel == list(range(big.type.count)):
                x = big
            else:
                mask = ir.Constant(ir.VectorType(I32, len(sel)), sel)
                x = ir.IRBuilder.shuffle_vector(b, big, big, mask)
        if ty is F32:
            return V("float", b.fpext(x, F64), exact32=x, round32=x)
        if ty is F64:
            return V("float", x)
        return V("int", b.zext(x, I128), 0, (1 << (8 * (4 if ty is I32 else 8))) - 1)

    def _lane_bits(self, view: str, v: V):
        """The IR value to store into lanes of this view (a vector in a group)."""
        b = self.b
        ty = _VIEW[view][0]
        if ty is F32:
            return self._f32(v)
        if ty is F64:
            if v.kind != "float":
                raise Untranslatable("float lane from a non-float")
            return v.v
        return b.trunc(self._as_int(v).v, ty)

    def _write_lanes(self, view: str, idxs: list[int], v: V) -> None:
        b = self.b
        self.wrote = True
        ty, per = _VIEW[view]
        x = self._lane_bits(view, v)
        places = self._lane_places(view, idxs)
        if len(idxs) > 1:
            x = splat(b, x, len(idxs))
        for c in dict.fromkeys(c for c, _ in places):
            at = {e: j for j, (cc, e) in enumerate(places) if cc == c}
            if len(idxs) == 1:
                old = self._typed_chunk(view, c)
                (e,) = at
                new = ir.IRBuilder.insert_element(b, old, x, ir.Constant(I32, e))
            else:
                pick = [at.get(e, 0) for e in range(per)]
                mask = ir.Constant(ir.VectorType(I32, per), pick)
                whole = len(idxs) == per and pick == list(range(per))
                sub = x if whole else ir.IRBuilder.shuffle_vector(b, x, x, mask)
                if len(at) < per:
                    old = self._typed_chunk(view, c)
                    blend = [per + e if e in at else e for e in range(per)]
                    bm = ir.Constant(ir.VectorType(I32, per), blend)
                    sub = ir.IRBuilder.shuffle_vector(b, old, sub, bm)
                new = sub
            self.put(("v", c), ir.IRBuilder.bitcast(b, new, CHUNK))

    def _f32(self, v: V):
        if v.kind != "float":
            raise Untranslatable("float32 lane from a non-float")
        if v.round32 is not None:
            return v.round32
        return self.b.fptrunc(v.v, F32)

    # ---- memory ------------------------------------------------------------------
    def _addr(self, ea: V, off: int = 0):
        p = self.b.gep(self.mem, [self.b.trunc(self._as_int(ea).v, I64)])
        if off:
            p = self.b.gep(p, [ir.Constant(I64, off)])
        return p

    def _reader(self, call) -> list[V]:
        if not (isinstance(call, ast.Call) and isinstance(call.func, ast.Name)):
            raise Untranslatable("tuple value")
        name = call.func.id
        base, count = name.rstrip("0123456789"), name[len(name.rstrip("0123456789")) :]
        if base not in _MEM_READ or not count or len(call.args) != 2:
            raise Untranslatable(f"call {name}")
        ty, width = _MEM_READ[base]
        ea = self.expr(call.args[1])
        if self.lanes:
            raise Untranslatable("a memory read per lane")
        out = []
        b = self.b
        n = int(count)
        whole = None
        if n > 1:  # one load of all the lanes (a vector register's worth)
            p = b.bitcast(self._addr(ea), ir.PointerType(ir.VectorType(ty, n)))
            whole = b.load(p, align=1)
        for j in range(n):
            if whole is not None:
                x = b.extract_element(whole, ir.Constant(I32, j))
            else:
                x = b.load(b.bitcast(self._addr(ea, j * width), ir.PointerType(ty)), align=1)
            if ty is F32:
                out.append(V("float", b.fpext(x, F64), exact32=x, round32=x))
            elif ty is F64:
                out.append(V("float", x))
            else:
                out.append(V("int", b.zext(x, I128), 0, (1 << (8 * width)) - 1))
        return out

    def _effect(self, call: ast.Call) -> None:
        if not isinstance(call.func, ast.Name) or self.lanes:
            raise Untranslatable("call (or a memory access per lane)")
        name = call.func.id
        b = self.b
        if name == "CHECK":
            if self.wrote:
                raise Untranslatable("a check after a write")
            ea = self._as_int(self.expr(call.args[0]))
            n = self._const_int(call.args[1])
            write = call.args[2].value == "write"  # type: ignore[attr-defined]
            e64 = b.trunc(ea.v, I64)
            ok = None
            for lo, hi in ranges(self.layout, n, write):
                inr = b.and_(
                    b.icmp_unsigned(">=", e64, ir.Constant(I64, lo)),
                    b.icmp_unsigned("<=", e64, ir.Constant(I64, hi)),
                )
                ok = inr if ok is None else b.or_(ok, inr)
            self._guard(ok, self.addr, self.k)
            return
        if name == "ALIGN":
            if self.wrote:
                raise Untranslatable("a check after a write")
            ea = self._as_int(self.expr(call.args[0]))
            n = self._const_int(call.args[1])
            low = b.and_(b.trunc(ea.v, I64), ir.Constant(I64, n - 1))
            self._guard(b.icmp_unsigned("==", low, ir.Constant(I64, 0)), self.addr, self.k)
            return
        base = name[:-1]
        if base in _MEM_WRITE and name.endswith("1") and len(call.args) == 3:
            ty = _MEM_WRITE[base]
            ea = self.expr(call.args[1])
            v = self._as_int(self.expr(call.args[2]))
            b.store(b.trunc(v.v, ty), b.bitcast(self._addr(ea), ir.PointerType(ty)), align=1)
            self.wrote = True
            return
        raise Untranslatable(f"call {name}")

    # ---- if-conversion --------------------------------------------------------------
    def _if(self, s: ast.If) -> None:
        """Both sides in blocks of their own, joined with phis. A float test
        (a NaN fix-up) is marked unlikely, keeping the fix-up off the fast path."""
        cond = self._test(s.test)
        if len(s.body) == 1 and _is_fault(s.body[0]) and not s.orelse:
            self._fault_check(cond)
            return
        if cond.const is not None:
            for x in s.body if cond.const else s.orelse:
                self._stmt(x)
            return
        if self.lanes:
            if self.in_helper:
                raise Untranslatable("a statement if in a helper, per lane")
            self._lane_if(s, cond)
            return
        unlikely = _is_float_test(s.test)
        saved = (dict(self.locals), dict(self.st), self.flk, self.next, self.branching)
        fv = self._flag_vals
        then_bb, else_bb = self._new("then"), self._new("else")
        join = self._new("join")
        br = self.b.cbranch(cond.v, then_bb, else_bb)
        if unlikely:
            br.set_metadata("prof", self._weights(1, 2000))
        self.branching = True
        self.b.position_at_end(then_bb)
        for x in s.body:
            self._stmt(x)
        then = (self.locals, self.st, self.flk, self.next, self._flag_vals, self.b.block)
        self.b.branch(join)
        self.locals, self.st, self.flk, self.next = (
            dict(saved[0]),
            dict(saved[1]),
            saved[2],
            saved[3],
        )
        self._flag_vals = fv
        self.b.position_at_end(else_bb)
        for x in s.orelse:
            self._stmt(x)
        other = self.b.block
        self.b.branch(join)
        self.branching = saved[4]
        self.b.position_at_end(join)
        ends = (then[5], other)
        loc: dict[str, V] = {}
        for name in set(then[0]) | set(self.locals):
            a, b = then[0].get(name), self.locals.get(name)
            if a is None or b is None or a.kind != b.kind or a.kind == "tuple":
                continue  # defined on one side only: not used after (templates)
            loc[name] = a if a is b else self._phi(a, b, ends)
        st = {}
        for key in set(then[1]) | set(self.st):
            a, b = then[1].get(key), self.st.get(key)
            a = a if a is not None else self._entry(key)
            b = b if b is not None else self._entry(key)
            if a is b:
                st[key] = a
            else:
                p = self.b.phi(a.type)
                p.add_incoming(a, ends[0])
                p.add_incoming(b, ends[1])
                st[key] = p
        if then[2] != self.flk or then[4] is None or self._flag_vals is None:
            self.flk = None  # kinds differ: nobody may read the flags statically
        elif then[4] is not self._flag_vals:
            self._flag_vals = tuple(
                x if x is y else self._phi(x, y, ends) for x, y in zip(then[4], self._flag_vals)
            )
        if then[3] is not None or self.next is not None:
            if then[3] is None or self.next is None or then[3].kind != self.next.kind:
                raise Untranslatable("a jump on one side of a conditional")
            self.next = self._phi(then[3], self.next, ends)
        self.locals, self.st = loc, st

    def _lane_if(self, s: ast.If, cond: V) -> None:
        """An `if` in a lane group: each side runs (on all lanes) when some
        lane takes it, and its names change only in the lanes that take it.
        Only lane-numbered names may change (no state, no jump)."""
        b = self.b
        mask = splat(b, cond.v, self.lanes)
        unlikely = _is_float_test(s.test)
        for body, take in ((s.body, mask), (s.orelse, b.not_(mask))):
            if not body:
                continue
            names = {
                n.id
                for st in body
                for n in ast.walk(st)
                if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store)
            }
            old = {}
            for name in sorted(names):
                ln = lane_name(name)
                if ln is None:
                    raise Untranslatable("a lane-invariant name assigned in a lane group")
                old[name] = self._lane_value(name, *ln)
            some = b.icmp_unsigned(
                "!=",
                ir.IRBuilder.bitcast(b, take, ir.IntType(self.lanes)),
                ir.Constant(ir.IntType(self.lanes), 0),
            )
            then_bb, join = self._new("lanes"), self._new("lanes_join")
            pre = b.block
            br = b.cbranch(some, then_bb, join)
            if unlikely:
                br.set_metadata("prof", self._weights(1, 2000))
            saved = (dict(self.st), self.next, self.flk, self.branching)
            b.position_at_end(then_bb)
            self.branching = True
            for st in body:
                self._stmt(st)
            if self.st != saved[0] or self.next is not saved[1] or self.flk != saved[2]:
                raise Untranslatable("state changed on one side of a lane test")
            self.branching = saved[3]
            merged = {}
            for name, was in old.items():
                new = self.vlocals.get(name)
                if new is None or new.kind != was.kind:
                    raise Untranslatable("a lane name of another kind")
                merged[name] = self._select(V("bool", take), new, was)
            end = b.block
            b.branch(join)
            b.position_at_end(join)
            for name, m in merged.items():
                self.vlocals[name] = self._phi_lanes(m, old[name], (end, pre))

    def _phi_lanes(self, a: V, b: V, ends: tuple) -> V:
        """_phi of two values that may be a vector and a scalar."""
        n = self.lanes

        def vec(x):
            return splat(self.b, x, n) if x is not None else None

        a = V(a.kind, vec(a.v), a.lo, a.hi, None, vec(a.exact32), vec(a.round32))
        b = V(b.kind, vec(b.v), b.lo, b.hi, None, vec(b.exact32), vec(b.round32))
        return self._phi(a, b, ends)

    def _fault_check(self, faults: V) -> None:
        """`if faults: c.fault(...)`: leave before this instruction when it
        would fault (the run tier then runs it and reports the fault)."""
        if faults.const is not None:
            if faults.const:
                raise Untranslatable("an instruction that always faults")
            return
        if self.wrote:
            raise Untranslatable("a fault check after a write")
        self._guard(self.b.not_(faults.v), self.addr, self.k)

    def _test(self, e) -> V:
        """The truth of an `if` test: `x and y` of integers is true when both are."""
        if isinstance(e, ast.BoolOp):
            vals = [self._test(x) for x in e.values]
            out = vals[0]
            for v in vals[1:]:
                out = self._and(out, v) if isinstance(e.op, ast.And) else self._or(out, v)
            return out
        return self._truth(self.expr(e))

    def _new(self, name: str):
        return self.fn.append_basic_block(name)

    def _weights(self, yes: int, no: int):
        return self.module.add_metadata(
            [
                ir.MetaDataString(self.module, "branch_weights"),
                ir.Constant(I32, yes),
                ir.Constant(I32, no),
            ]
        )

    def _phi(self, a: V, b: V, ends: tuple) -> V:
        def phi(x, y):
            p = self.b.phi(x.type)
            p.add_incoming(x, ends[0])
            p.add_incoming(y, ends[1])
            return p

        if a.kind == "int":
            return V("int", phi(a.v, b.v), min(a.lo, b.lo), max(a.hi, b.hi))
        out = V(a.kind, phi(a.v, b.v))
        if a.exact32 is not None and b.exact32 is not None:
            out.exact32 = phi(a.exact32, b.exact32)
        if a.round32 is not None and b.round32 is not None:
            out.round32 = phi(a.round32, b.round32)
        return out

    def _select(self, c: V, a: V, b: V) -> V:
        if a.kind != b.kind:
            if {a.kind, b.kind} == {"int", "bool"}:
                a, b = self._as_int(a), self._as_int(b)
            else:
                raise Untranslatable("select of different kinds")
        bb = self.b
        if a.kind == "int":
            return V("int", bb.select(c.v, a.v, b.v), min(a.lo, b.lo), max(a.hi, b.hi))
        if a.kind == "bool":
            return V("bool", bb.select(c.v, a.v, b.v))
        out = V("float", bb.select(c.v, a.v, b.v))
        if a.exact32 is not None and b.exact32 is not None:
            out.exact32 = bb.select(c.v, a.exact32, b.exact32)
        if a.round32 is not None and b.round32 is not None:
            out.round32 = bb.select(c.v, a.round32, b.round32)
        return out

    # ---- expressions -----------------------------------------------------------------
    def expr(self, e) -> V:
        if isinstance(e, ast.Constant):
            if isinstance(e.value, bool):
                return _cbool(e.value)
            if isinstance(e.value, int):
                return _cint(e.value)
            if isinstance(e.value, float):
                return _cfloat(e.value)
            raise Untranslatable("constant")
        if isinstance(e, ast.Name):
            if self.lanes and not self.in_helper:
                ln = lane_name(e.id)
                if ln is not None:
                    return self._lane_value(e.id, *ln)
            v = self.locals.get(e.id)
            if v is None:
                raise Untranslatable(f"name {e.id}")
            return v
        if isinstance(e, ast.BinOp):
            return self._binop(e.op, self.expr(e.left), self.expr(e.right))
        if isinstance(e, ast.UnaryOp):
            return self._unary(e.op, self.expr(e.operand))
        if isinstance(e, ast.Compare):
            left, out = self.expr(e.left), None
            for op, comp in zip(e.ops, e.comparators):
                right = self.expr(comp)
                c = self._compare(op, left, right)
                out = c if out is None else self._and(out, c)
                left = right
            return out  # type: ignore[return-value]
        if isinstance(e, ast.BoolOp):
            vals = [self.expr(x) for x in e.values]
            if any(v.kind != "bool" for v in vals):
                raise Untranslatable("and/or of non-bools")
            out = vals[0]
            for v in vals[1:]:
                out = self._and(out, v) if isinstance(e.op, ast.And) else self._or(out, v)
            return out
        if isinstance(e, ast.IfExp):
            c = self._test(e.test)
            if c.const is not None:
                return self.expr(e.body if c.const else e.orelse)
            return self._select(c, self.expr(e.body), self.expr(e.orelse))
        if isinstance(e, ast.Subscript):
            return self._subscript(e)
        if isinstance(e, ast.Call):
            return self._call(e)
        if isinstance(e, ast.Tuple):
            return V("tuple", [self.expr(x) for x in e.elts])
        if isinstance(e, ast.Attribute) and _is_flags(e):
            return self._rflags()
        raise Untranslatable(f"expression {type(e).__name__}")

    def _rflags(self) -> V:
        """`c.fl` as a value: the RFLAGS the record stands for (helpers take
        the record only to compute this)."""
        if self.lanes:
            raise Untranslatable("flags in a lane group")
        self.needs_flags = True  # the trace may read the flags it was entered with
        return V("int", self.b.zext(self.get(("fl", 0)), I128), 0, M64)

    def _subscript(self, e: ast.Subscript) -> V:
        if isinstance(e.value, ast.Name) and e.value.id in ("r", "xi", "xf", "xq", "xd"):
            if self.lanes:
                idxs = self.lane_idx.get(id(e))
                if idxs is None:
                    raise Untranslatable("a state read in a lane group")
                return self._read_lanes(e.value.id, idxs)
            return self._read_state(e.value.id, self._const_index(e.slice))
        if isinstance(e.value, ast.Call):
            vals = self._tuple(e.value)
            return vals[self._const_index(e.slice)]
        if isinstance(e.value, ast.Tuple):
            i = self.expr(e.slice)
            if i.const is not None:
                return self.expr(e.value.elts[i.const])
            n = len(e.value.elts)
            if i.kind != "int" or i.lo < 0 or i.hi >= n:
                raise Untranslatable("computed tuple index")
            out = self.expr(e.value.elts[i.hi])  # a chain of selects
            for j in range(i.hi - 1, i.lo - 1, -1):
                hit = V("bool", self.b.icmp_signed("==", i.v, ir.Constant(I128, j)))
                out = self._select(hit, self.expr(e.value.elts[j]), out)
            return out
        raise Untranslatable("subscript")

    # -- integers and bools
    def _as_int(self, v: V) -> V:
        if v.kind == "int":
            return v
        if v.kind == "bool":
            if v.const is not None:
                return _cint(int(v.const))
            return V("int", self.b.zext(v.v, I128), 0, 1)
        raise Untranslatable("float where an integer is needed")

    def _truth(self, v: V) -> V:
        if v.kind == "bool":
            return v
        if v.const is not None:
            return _cbool(bool(v.const))
        if v.kind == "int":
            return V("bool", self.b.icmp_signed("!=", v.v, ir.Constant(I128, 0)))
        return V("bool", self.b.fcmp_unordered("!=", v.v, ir.Constant(F64, 0.0)))

    def _and(self, a: V, b: V) -> V:
        if a.const is not None:
            return b if a.const else a
        if b.const is not None:
            return a if b.const else b
        return V("bool", self.b.and_(a.v, b.v))

    def _or(self, a: V, b: V) -> V:
        if a.const is not None:
            return a if a.const else b
        if b.const is not None:
            return b if b.const else a
        return V("bool", self.b.or_(a.v, b.v))

    def _int(self, lo: int, hi: int, v, const=None) -> V:
        if lo < LO or hi > HI:
            raise Untranslatable("integer wider than 128 bits")
        if const is not None:
            return _cint(const)
        return V("int", v, lo, hi)

    def _binop(self, op, a: V, b: V) -> V:
        if a.kind == "float" or b.kind == "float":
            return self._fbinop(op, a, b)
        a, b = self._as_int(a), self._as_int(b)
        bb = self.b
        t = type(op)
        if a.const is not None and b.const is not None:
            fn = {
                ast.Add: lambda x, y: x + y,
                ast.Sub: lambda x, y: x - y,
                ast.Mult: lambda x, y: x * y,
                ast.BitAnd: lambda x, y: x & y,
                ast.BitOr: lambda x, y: x | y,
                ast.BitXor: lambda x, y: x ^ y,
                ast.LShift: lambda x, y: x << y if 0 <= y < 256 else None,
                ast.RShift: lambda x, y: x >> y if 0 <= y else None,
                ast.FloorDiv: lambda x, y: x // y if y else None,
                ast.Mod: lambda x, y: x % y if y else None,
            }.get(t)
            r = fn(a.const, b.const) if fn else None
            if r is None:
                raise Untranslatable("constant operation")
            return _cint(r)
        if t is ast.Add:
            return self._int(a.lo + b.lo, a.hi + b.hi, bb.add(a.v, b.v))
        if t is ast.Sub:
            return self._int(a.lo - b.hi, a.hi - b.lo, bb.sub(a.v, b.v))
        if t is ast.Mult:
            cs = [x * y for x in (a.lo, a.hi) for y in (b.lo, b.hi)]
            return self._int(min(cs), max(cs), bb.mul(a.v, b.v))
        if t in (ast.FloorDiv, ast.Mod):
            return self._udiv(a, b, "udiv" if t is ast.FloorDiv else "urem")
        if t in (ast.BitAnd, ast.BitOr, ast.BitXor):
            if t is ast.BitAnd and a.const is not None and a.const >= 0:
                a, b = b, a
            if t is ast.BitAnd and b.const is not None and b.const >= 0:
                if a.lo >= 0 and a.hi <= b.const and (b.const + 1) & b.const == 0:
                    return a  # a mask that cannot change the value
                lo, hi = 0, min(b.const, a.hi) if a.lo >= 0 else b.const
            elif t is ast.BitAnd and (a.lo >= 0 or b.lo >= 0):
                lo, hi = 0, min(x.hi for x in (a, b) if x.lo >= 0)  # x & y <= y when y >= 0
            elif a.lo >= 0 and b.lo >= 0:
                hi = (1 << max(a.hi.bit_length(), b.hi.bit_length())) - 1
                lo, hi = 0, min(a.hi, b.hi) if t is ast.BitAnd else hi
            else:
                w = max(_width(a), _width(b))
                lo, hi = -(1 << (w - 1)), (1 << (w - 1)) - 1
            f = {ast.BitAnd: bb.and_, ast.BitOr: bb.or_, ast.BitXor: bb.xor}[t]
            return self._int(lo, hi, f(a.v, b.v))
        if t in (ast.LShift, ast.RShift):
            if b.hi < 0:
                raise Untranslatable("negative shift count")
            if b.lo < 0:
                # Python raises on a negative count, so no run reaches this
                # shift with one (a count on an if-converted side not taken)
                b = V("int", b.v, 0, b.hi)
            if t is ast.LShift:
                if b.hi >= 128:
                    raise Untranslatable("shift count too large")
                cs = [x << y for x in (a.lo, a.hi) for y in (b.lo, b.hi)]
                return self._int(min(cs), max(cs), bb.shl(a.v, b.v))
            cs = [x >> y for x in (a.lo, a.hi) for y in (b.lo, b.hi)]
            amount = b.v
            if b.hi >= 128:  # Python: a >> big is 0 or -1; clamp the count
                amount = bb.select(
                    bb.icmp_signed(">", b.v, ir.Constant(I128, 127)), ir.Constant(I128, 127), b.v
                )
            return self._int(min(cs), max(cs), bb.ashr(a.v, amount))
        raise Untranslatable(f"operator {t.__name__}")

    def _unary(self, op, a: V) -> V:
        t = type(op)
        if t is ast.Not:
            c = self._truth(a)
            if c.const is not None:
                return _cbool(not c.const)
            return V("bool", self.b.not_(c.v))
        if a.kind == "float":
            if t is ast.USub:
                out = V("float", self.b.fneg(a.v))
                if a.exact32 is not None:
                    out.exact32 = self.b.fneg(a.exact32)
                if a.round32 is not None:
                    out.round32 = self.b.fneg(a.round32)
                return out
            raise Untranslatable("float operator")
        a = self._as_int(a)
        if a.const is not None:
            return _cint(-a.const if t is ast.USub else ~a.const)
        if t is ast.USub:
            return self._int(-a.hi, -a.lo, self.b.neg(a.v))
        if t is ast.Invert:
            return self._int(-a.hi - 1, -a.lo - 1, self.b.not_(a.v))
        raise Untranslatable("operator")

    def _compare(self, op, a: V, b: V) -> V:
        sym = {
            ast.Eq: "==",
            ast.NotEq: "!=",
            ast.Lt: "<",
            ast.LtE: "<=",
            ast.Gt: ">",
            ast.GtE: ">=",
        }.get(type(op))
        if sym is None:
            raise Untranslatable("comparison")
        if a.kind == "float" or b.kind == "float":
            if a.kind != "float" or b.kind != "float":
                raise Untranslatable("mixed comparison")
            x, y = a.v, b.v
            if a is b and a.round32 is not None:
                x = y = a.round32  # NaN test: the float32 result is NaN when the double is
            elif a.exact32 is not None and b.exact32 is not None:
                x, y = a.exact32, b.exact32
            if sym == "!=":
                return V("bool", self.b.fcmp_unordered("!=", x, y))
            return V("bool", self.b.fcmp_ordered(sym, x, y))
        if a.kind == "bool" and b.kind == "bool" and sym in ("==", "!="):
            return V("bool", self.b.icmp_unsigned(sym, a.v, b.v))
        a, b = self._as_int(a), self._as_int(b)
        if a.const is not None and b.const is not None:
            return _cbool(eval(f"{a.const} {sym} {b.const}"))
        return V("bool", self.b.icmp_signed(sym, a.v, b.v))

    # -- floats
    def _fbinop(self, op, a: V, b: V) -> V:
        if a.kind != "float" or b.kind != "float":
            raise Untranslatable("arithmetic mixing floats and integers")
        t = type(op)
        names = {ast.Add: "fadd", ast.Sub: "fsub", ast.Mult: "fmul"}
        if t not in names:
            raise Untranslatable("float operator")
        return self._fop(names[t], a, b)

    def _fop(self, name: str, a: V, b: V) -> V:
        f = getattr(self.b, name)
        out = V("float", f(a.v, b.v))
        if a.exact32 is not None and b.exact32 is not None:
            out.round32 = f(a.exact32, b.exact32)  # = the double result rounded once
        return out

    def _isnan(self, v: V):
        x = v.exact32 if v.exact32 is not None else v.v
        return self.b.fcmp_unordered("uno", x, x)

    def _quiet(self, v: V) -> V:
        b = self.b
        bits = b.or_(b.bitcast(v.v, I64), ir.Constant(I64, 1 << 51))
        out = V("float", b.bitcast(bits, F64))
        if v.exact32 is not None:
            b32 = b.or_(b.bitcast(v.exact32, I32), ir.Constant(I32, 1 << 22))
            out.exact32 = out.round32 = b.bitcast(b32, F32)
        return out

    def _fnan(self, a: V, b: V) -> V:
        dflt = V(
            "float",
            ir.Constant(F64, _bits_to_double(_DEFAULT_NAN64)),
            exact32=ir.Constant(F32, _bits_to_float(_DEFAULT_NAN32)),
        )
        dflt.round32 = dflt.exact32
        # built from integer bits: an LLVM NaN constant keeps its payload
        dflt.v = self.b.bitcast(ir.Constant(I64, _DEFAULT_NAN64), F64)
        dflt.exact32 = dflt.round32 = self.b.bitcast(ir.Constant(I32, _DEFAULT_NAN32), F32)
        second = self._select(V("bool", self._isnan(b)), self._quiet(b), dflt)
        return self._select(V("bool", self._isnan(a)), self._quiet(a), second)

    # -- calls
    def _call(self, e: ast.Call) -> V:
        if not isinstance(e.func, ast.Name) or e.keywords:
            raise Untranslatable("call")
        name = e.func.id
        if name.startswith("cc_") or name == "cf":
            if not (len(e.args) == 1 and _is_flags(e.args[0])):
                raise Untranslatable("flags call")
            return self._flag_test(name)
        args = [self.expr(a) for a in e.args]
        b = self.b
        sources = helper_sources()
        if name in sources:
            params, src = sources[name]
            saved = self.locals
            self.locals = dict(zip(params, args))
            self.in_helper += 1
            try:
                *body, last = _parse_body(src)
                for st in body:
                    self._stmt(st)
                return self.expr(last.value)
            finally:
                self.locals = saved
                self.in_helper -= 1
        math_fn = _MATH.get(name)
        if math_fn is not None and len(args) == math_fn[1]:
            if any(a.kind != "float" for a in args):
                raise Untranslatable(f"{name} of a non-float")
            fn = self._intrinsic(f"{math_fn[0]}.f64", F64, [F64] * math_fn[1])
            return V("float", b.call(fn, [a.v for a in args]))
        if name == "bit_count" and len(args) == 1:
            x = self._as_int(args[0])
            if x.lo < 0:
                raise Untranslatable("bit_count of a negative number")
            pop = b.call(self.module.declare_intrinsic("llvm.ctpop", [I128]), [x.v])
            return V("int", pop, 0, x.hi.bit_length())
        if name == "bit_length" and len(args) == 1:
            x = self._as_int(args[0])
            mag = x.v if x.lo >= 0 else self._abs(x).v  # (-2**127 too: its bits are 1 << 127)
            ctlz = self._intrinsic("llvm.ctlz.i128", I128, [I128, I1])
            lz = b.call(ctlz, [mag, ir.Constant(I1, 0)])
            width = max(abs(x.lo), abs(x.hi)).bit_length()
            return V("int", b.sub(ir.Constant(I128, 128), lz), 0, width)
        if name == "abs" and len(args) == 1:
            return self._abs(self._as_int(args[0]))
        if name == "divmod" and len(args) == 2:
            x, d = (self._as_int(a) for a in args)
            return V("tuple", [self._udiv(x, d, "udiv"), self._udiv(x, d, "urem")])
        if name == "parity":
            x = b.trunc(self._as_int(args[0]).v, I8)
            pop = b.call(self.module.declare_intrinsic("llvm.ctpop", [I8]), [x])
            odd = b.and_(pop, ir.Constant(I8, 1))
            return V("int", b.zext(b.xor(odd, ir.Constant(I8, 1)), I128), 0, 1)
        if name in ("fma32", "fma64") and len(args) == 3:
            return self._fma(name, args)
        if name == "fnan" and len(args) == 2:
            return self._fnan(*args)
        if name == "fdiv" and len(args) == 2:
            # IEEE division gives what helpers.fdiv returns except for NaN
            # payloads, and every template re-derives a NaN result with fnan
            return self._fop("fdiv", *args)
        if name == "fsqrt" and len(args) == 1:
            a = args[0]
            sq = self.module.declare_intrinsic("llvm.sqrt", [F64])
            out = V("float", b.call(sq, [a.v]))
            if a.exact32 is not None:
                sq32 = self.module.declare_intrinsic("llvm.sqrt", [F32])
                out.round32 = b.call(sq32, [a.exact32])
            neg = V("bool", b.fcmp_ordered("<", a.v, ir.Constant(F64, 0.0)))
            zero = _cfloat(0.0)
            dflt = self._fnan(zero, zero)
            out = self._select(neg, dflt, out)
            return self._select(V("bool", self._isnan(a)), self._quiet(a), out)
        if name == "i2f32" and len(args) == 1:
            x = self._as_int(args[0])
            if x.lo < -(1 << 63) or x.hi >= 1 << 63:
                raise Untranslatable("i2f32 of a wide integer")
            f = b.sitofp(b.trunc(x.v, I64), F32)
            return V("float", b.fpext(f, F64), exact32=f, round32=f)
        if name == "float" and len(args) == 1:
            x = self._as_int(args[0])
            if x.lo < -(1 << 63) or x.hi >= 1 << 63:
                raise Untranslatable("float() of a wide integer")
            return V("float", b.sitofp(b.trunc(x.v, I64), F64))
        if name == "cvtt" and len(args) == 2 and args[1].const in (32, 64):
            return self._cvtt(args[0], args[1].const)
        if name == "fcmp" and len(args) == 2:
            x, y = args
            if x.exact32 is not None and y.exact32 is not None:
                xv, yv = x.exact32, y.exact32
            else:
                xv, yv = x.v, y.v
            uno = b.fcmp_unordered("uno", xv, yv)
            lt = b.fcmp_ordered("<", xv, yv)
            eq = b.fcmp_ordered("==", xv, yv)
            k = lambda v: ir.Constant(I128, v)  # noqa: E731
            r = b.select(eq, k(F.FIXED | F.ZF_BIT), k(F.FIXED))
            r = b.select(lt, k(F.FIXED | F.CF_BIT), r)
            r = b.select(uno, k(F.FIXED | F.ZF_BIT | F.PF_BIT | F.CF_BIT), r)
            return V("int", r, 0, 0xFFF)
        raise Untranslatable(f"call {name}")

    def _fma(self, name: str, args: list[V]) -> V:
        """vm.isa.fused's fma32/fma64: x * y + z rounded once (fma32: to
        binary32 when its lane is stored), the IEEE fused multiply-add; the
        only place this module emits llvm.fma (templates call these only for
        FMA instructions). A NaN's payload is the template's fnan3 business."""
        if any(a.kind != "float" for a in args):
            raise Untranslatable(f"{name} of a non-float")
        b = self.b
        if name == "fma64":
            fn = self._intrinsic("llvm.fma.f64", F64, [F64] * 3)
            return V("float", b.call(fn, [a.v for a in args]))
        if any(a.exact32 is None for a in args):
            raise Untranslatable("fma32 of a value that may not be a binary32")
        fn = self._intrinsic("llvm.fma.f32", F32, [F32] * 3)
        r = b.call(fn, [a.exact32 for a in args])
        return V("float", b.fpext(r, F64), exact32=r, round32=r)

    def _intrinsic(self, name: str, ret, args: list):
        """An LLVM intrinsic declared with its full signature (llvmlite's
        declare_intrinsic knows only some)."""
        fn = self.module.globals.get(name)
        if fn is None:
            fn = ir.Function(self.module, ir.FunctionType(ret, args), name=name)
        return fn

    def _abs(self, x: V) -> V:
        if x.lo >= 0:
            return x
        neg = self.b.icmp_signed("<", x.v, ir.Constant(I128, 0))
        v = self.b.select(neg, self.b.neg(x.v), x.v)
        hi = max(abs(x.lo), abs(x.hi))
        return self._int(0 if x.hi >= 0 else -x.hi, hi, v)

    def _udiv(self, x: V, d: V, op: str) -> V:
        """Python's // or % of two non-negative integers (the templates divide
        after their divide-by-zero check: d == 0 never reaches here at run
        time), in 64 bits when both fit."""
        if x.lo < 0 or d.lo < 0:
            raise Untranslatable("division of negative numbers")
        if x.const is not None and d.const is not None and d.const:
            return _cint(x.const // d.const if op == "udiv" else x.const % d.const)
        b = self.b
        hi = x.hi if op == "udiv" else min(x.hi, max(d.hi - 1, 0))
        if d.lo == 0:  # never 0 where it runs, but LLVM must not see a possible trap
            zero = b.icmp_signed("==", d.v, ir.Constant(I128, 0))
            d = V("int", b.select(zero, ir.Constant(I128, 1), d.v), 1, max(d.hi, 1))
        if x.hi <= M64 and d.hi <= M64:
            q = getattr(b, op)(b.trunc(x.v, I64), b.trunc(d.v, I64))
            return V("int", b.zext(q, I128), 0, hi)
        return V("int", getattr(b, op)(x.v, d.v), 0, hi)

    def _cvtt(self, x: V, bits: int) -> V:
        b = self.b
        if x.kind != "float":
            raise Untranslatable("cvtt of a non-float")
        lo, hi = -(2.0 ** (bits - 1)), 2.0 ** (bits - 1)
        ok = b.and_(
            b.fcmp_ordered(">" if bits == 32 else ">=", x.v, ir.Constant(F64, lo - (bits == 32))),
            b.fcmp_ordered("<", x.v, ir.Constant(F64, hi)),
        )
        safe = b.select(ok, x.v, ir.Constant(F64, 0.0))
        ity = I32 if bits == 32 else I64
        v = b.zext(b.fptosi(safe, ity), I128)
        r = b.select(ok, v, ir.Constant(I128, 1 << (bits - 1)))
        return V("int", r, 0, (1 << bits) - 1)

    def _flag_test(self, name: str) -> V:
        """A condition or CF: from the record when its kind is known here,
        else from the RFLAGS value kept beside it (entry: the caller's)."""
        if self.lanes:
            raise Untranslatable("flags in a lane group")
        kind, n = self.flk or (F.RAW, 0)
        src = runtier.cf_source(kind, n) if name == "cf" else runtier.cond_source(name[3:], kind, n)
        if (
            src is None
            or (kind == F.RAW and self.flk is None)
            or (kind == F.RAW and self.flk and self.flk[0] != F.RAW)
        ):
            raw = (
                runtier.cf_source(F.RAW, 0)
                if name == "cf"
                else runtier.cond_source(name[3:], F.RAW, 0)
            )
            assert raw is not None  # every condition has a RAW test
            self.needs_flags = True
            fl = V("int", self.b.zext(self.get(("fl", 0)), I128), 0, 0xFFF)
            return self._flag_eval(raw, (_cint(0), _cint(0), fl))
        return self._flag_eval(src)

    def _flag_eval(self, src: str, vals: tuple | None = None) -> V:
        a, bb, r = vals or self._flag_vals  # type: ignore[misc]
        saved = self.locals
        self.locals = {"a": a, "b": bb, "r": r}
        try:
            return self.expr(_parse(src))
        finally:
            self.locals = saved


def rflags_source(kind: int, n: int) -> str:
    """RFLAGS of a record of this kind as Python over a, b, r (as vm.isa.flags
    computes it; tests/test_native_tier.py compares the two)."""
    if kind == F.RAW:
        return "r"
    m, s = (1 << n) - 1, 1 << (n - 1)
    res = f"(r & {m})"
    of = {
        F.ADD: f"(1 if (a ^ {res}) & (b ^ {res}) & {s} else 0)",
        F.ADC: f"(1 if (a ^ {res}) & (b ^ {res}) & {s} else 0)",
        F.SUB: f"(1 if (a ^ b) & (a ^ {res}) & {s} else 0)",
        F.SBB: f"(1 if (a ^ b) & (a ^ {res}) & {s} else 0)",
        F.INC: f"(1 if {res} == {s} else 0)",
        F.DEC: f"(1 if {res} == {s - 1} else 0)",
        F.LOGIC: "0",
    }[kind]
    af = {  # the carry out of bit 3 (vm.isa.flags.af)
        F.LOGIC: "0",
        F.INC: "((a ^ r ^ 1) >> 4) & 1",
        F.DEC: "((a ^ r ^ 1) >> 4) & 1",
    }.get(kind, "((a ^ b ^ r) >> 4) & 1")
    return (
        f"{F.FIXED} | ({runtier.cf_source(kind, n)}) | parity(r) << 2 | ({af}) << 4"
        f" | (1 if {res} == 0 else 0) << 6 | ((r >> {n - 1}) & 1) << 7 | {of} << 11"
    )


def _is_flags(e) -> bool:
    """The expression `c.fl` (the flags record)."""
    return (
        isinstance(e, ast.Attribute)
        and isinstance(e.value, ast.Name)
        and (
            e.value.id,
            e.attr,
        )
        == ("c", "fl")
    )


def _is_fault(s) -> bool:
    """The statement `c.fault(...)`."""
    return (
        isinstance(s, ast.Expr)
        and isinstance(s.value, ast.Call)
        and isinstance(s.value.func, ast.Attribute)
        and isinstance(s.value.func.value, ast.Name)
        and (s.value.func.value.id, s.value.func.attr) == ("c", "fault")
    )


def _is_float_test(test) -> bool:
    """`t != t` and other comparisons of template floats (NaN fix-ups)."""
    return (
        isinstance(test, ast.Compare)
        and isinstance(test.left, ast.Name)
        and len(test.comparators) == 1
        and isinstance(test.comparators[0], ast.Name)
        and test.left.id == test.comparators[0].id
    )


def _width(v: V) -> int:
    return max(v.lo.bit_length(), v.hi.bit_length()) + 1


_PARSED: dict[str, ast.expr] = {}


def _parse(src: str) -> ast.expr:
    tree = _PARSED.get(src)
    if tree is None:
        tree = _PARSED[src] = ast.parse(src, mode="eval").body
    return tree


_BODIES: dict[str, list] = {}


def _parse_body(src: str) -> list:
    """A helper source as statements ending in a `return` (an expression
    source is its own return value)."""
    body = _BODIES.get(src)
    if body is None:
        text = src if "return " in src else f"return {src}"
        fn = ast.parse("def f():\n    " + text.replace("\n", "\n    ")).body[0]
        assert isinstance(fn, ast.FunctionDef)
        body = _BODIES[src] = fn.body
    return body


# float-valued math functions the helper sources use: (intrinsic, arguments)
_MATH = {
    "roundeven": ("llvm.roundeven", 1),
    "floor": ("llvm.floor", 1),
    "ceil": ("llvm.ceil", 1),
    "trunc": ("llvm.trunc", 1),
    "copysign": ("llvm.copysign", 2),
}


def _bits_to_double(x: int) -> float:
    import struct

    return struct.unpack("<d", struct.pack("<Q", x))[0]


def _bits_to_float(x: int) -> float:
    import struct

    return struct.unpack("<f", struct.pack("<I", x))[0]


class ScalarLanes(Exception):
    """A lane group (instruction k, statement i) that cannot be translated
    on vectors: the trace is rebuilt with it translated lane by lane."""

    def __init__(self, key: tuple[int, int]):
        super().__init__(f"lane group {key}")
        self.key = key


_INSNS: dict[tuple[str, ...], tuple[list, dict]] = {}


def _parse_insn(lines: list[str]) -> list:
    return _insn_tree(lines)[0]


def _groups(lines: list[str], body: list) -> dict:
    return _insn_tree(lines)[1]


def _insn_tree(lines: list[str]) -> tuple[list, dict]:
    """An instruction's statements and lane groups (parsed once per text)."""
    key = tuple(lines)
    hit = _INSNS.get(key)
    if hit is None:
        body = ast.parse("\n".join(lines)).body
        hit = _INSNS[key] = (body, find_groups(body))
    return hit


def _state_subscripts(stmts: list) -> list:
    """The register-lane subscripts (xf[4] ...) of statements, in order."""
    out = []
    for st in stmts:
        for node in _walk(st):
            if (
                isinstance(node, ast.Subscript)
                and isinstance(node.value, ast.Name)
                and node.value.id in STATE_VIEWS
                and isinstance(node.slice, ast.Constant)
            ):
                out.append(node)
    return out


def _walk(node):
    """The nodes under node in the order lanes.find_groups numbers them."""
    yield node
    for _, value in ast.iter_fields(node):
        for child in value if isinstance(value, list) else [value]:
            if isinstance(child, ast.AST):
                yield from _walk(child)


def translate(
    name: str, items: list[Item], layout: Layout, head: int | None
) -> tuple[ir.Module, int, bool]:
    """translate_lanes, rebuilt with lane groups translated lane by lane
    where they cannot be translated on vectors."""
    scalar: frozenset = frozenset()
    while True:
        try:
            return _translate(name, items, layout, head, scalar)
        except ScalarLanes as e:
            scalar = scalar | {e.key}


def _translate(
    name: str, items: list[Item], layout: Layout, head: int | None, scalar: frozenset
) -> tuple[ir.Module, int, bool]:
    """The IR module for the longest translatable prefix of a trace (a loop
    back to items[head] when head is not None); returns (module, instructions
    translated, loop). Raises Untranslatable when not even the first
    instruction can be translated."""
    try:
        first = Trace(name, items, layout, head, scalar=scalar)
        first.build()
    except Untranslatable as e:
        k = getattr(e, "k", 0)
        if k == 0:
            raise
        items = items[:k]
        first = Trace(name, items, layout, None, scalar=scalar)
        first.build()
        return first.module, k, False
    if head is None:
        return first.module, len(items), False
    t = Trace(name, items, layout, head, frozenset(first.written), scalar)
    t.build()
    t.module.needs_flags = t.needs_flags
    return t.module, len(items), True
