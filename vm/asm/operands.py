"""Instruction operands: registers, immediates and memory references.

parse_operand reads one comma-separated operand (its tokens) with an
Evaluator that knows the final addresses (pass 2): a size keyword
(`dword`), then a register, `[base + index*scale + disp]` (NASM's forms,
`[rel x]`, `*3 *5 *9` as base + index) or an expression for an immediate.
"""

from __future__ import annotations

from ..errors import AsmError, SourceLoc
from ..isa.operands import SIZE_KEYWORDS, Imm, Mem, Operand, Reg, register
from .expr import M64, Evaluator, linearize, parse_expr, uses_symbols
from .lexer import Token


def at(loc: SourceLoc, col: int) -> SourceLoc:
    """loc moved to another column of the same line (loc itself if it is there:
    locations are never changed once made, so they can be shared)."""
    return loc if col == loc.column else SourceLoc(loc.file, loc.line, col, loc.text)


def spell(tokens: list[Token]) -> str:
    """Tokens written back as NASM text (for listings and disassembly labels)."""
    out = ""
    for t in tokens:
        if t.kind == "op" and t.text in ("+", "-") and out and not out.endswith(("(", "[")):
            out += f" {t.text} "
        elif t.kind == "op" and t.text == ",":
            out += ", "
        else:
            out += t.text
    return out.replace("  ", " ").strip()


def size_name(bits: int) -> str:
    return {8: "byte", 16: "word", 32: "dword", 64: "qword", 128: "oword"}.get(bits, f"{bits}-bit")


# `call puts wrt ..plt` (how PIE-minded code calls a shared library): in a
# static link the PLT entry is the function itself. GOT forms need a table
# of addresses the machine does not build.
WRT_SAME = ("..plt", "..sym")
WRT_GOT = ("..got", "..gotpcrel", "..gotoff", "..gottpoff", "..tlsie")


def without_wrt(toks: list[Token], loc: SourceLoc) -> list[Token]:
    """toks without a trailing `wrt ..plt` (or `..sym`)."""
    if len(toks) >= 3 and toks[-2].is_id("wrt"):
        what = toks[-1].text.lower()
        if what in WRT_SAME:
            return toks[:-2]
        if what in WRT_GOT:
            raise AsmError(
                f"wrt {toks[-1].text} is not supported: the machine links statically and "
                "has no GOT (call the function directly, or with wrt ..plt)",
                at(loc, toks[-2].col),
            )
        raise AsmError(
            f"unknown wrt target '{toks[-1].text}' (the machine accepts wrt ..plt and wrt ..sym)",
            at(loc, toks[-1].col),
        )
    return toks


def parse_operand(toks: list[Token], loc: SourceLoc, ev: Evaluator) -> Operand:
    """One instruction operand: a register, an immediate or a memory reference."""
    size = None
    i = 0
    for _ in range(3):
        if i < len(toks) and toks[i].kind == "id" and toks[i].value != "escaped":
            w = toks[i].text.lower()
            if w in SIZE_KEYWORDS and i + 1 < len(toks):
                if size is not None:
                    raise AsmError("two size specifiers", at(loc, toks[i].col))
                size = SIZE_KEYWORDS[w]
                i += 1
                if i < len(toks) and toks[i].is_id("ptr"):
                    raise AsmError(
                        "NASM does not use PTR: write dword [x], not dword ptr [x]",
                        at(loc, toks[i].col),
                    )
                continue
            if w in ("strict", "near", "short") and i + 1 < len(toks):
                i += 1
                continue
        break
    body = without_wrt(toks[i:], loc)
    if not body:
        raise AsmError("operand expected after the size", at(loc, toks[0].col))
    first = body[0]
    if first.is_op("["):
        if not body[-1].is_op("]"):
            raise AsmError("missing ']' at the end of the memory operand", at(loc, body[-1].col))
        return parse_memory(body[1:-1], loc, size, first.col, ev)
    if len(body) == 1 and first.kind == "id" and first.value != "escaped":
        reg = register(first.text)
        if reg is not None:
            if size is not None and size != reg.size:
                raise AsmError(
                    f"size mismatch: {reg.name} is {reg.size}-bit, not {size_name(size)}",
                    at(loc, first.col),
                )
            return reg
    for t in body:
        if t.kind == "id" and t.value != "escaped" and register(t.text) is not None:
            raise AsmError(
                f"register {t.text} cannot be part of an expression here "
                "(memory operands use brackets: [rdi + 8])",
                at(loc, t.col),
            )
    node = parse_expr(body, loc)
    if node.kind == "float":
        raise AsmError(
            "a floating-point constant cannot be an instruction operand; use "
            "__float32__(...) or __float64__(...) for its bits, or load it from "
            "memory",
            at(loc, node.col),
        )
    value = ev.number(node)
    label = spell(body) if uses_symbols(node) else None
    return Imm(value, label, size)


def parse_memory(
    toks: list[Token], loc: SourceLoc, size: int | None, col: int, ev: Evaluator
) -> Mem:
    """The inside of [ ]: base + index*scale + displacement, or [rel label]."""
    rel = False
    toks = without_wrt(toks, loc)
    if not toks:
        raise AsmError("empty memory operand []", at(loc, col))
    while (
        toks
        and toks[0].kind == "id"
        and toks[0].text.lower() in ("rel", "abs") + tuple(SIZE_KEYWORDS)
    ):
        w = toks[0].text.lower()
        if w in SIZE_KEYWORDS:
            if size is not None and size != SIZE_KEYWORDS[w]:
                raise AsmError("two different sizes", at(loc, toks[0].col))
            size = SIZE_KEYWORDS[w]
        else:
            rel = w == "rel"
        toks = toks[1:]
    if len(toks) >= 2 and toks[1].is_op(":"):
        raise AsmError("segment registers are not supported", at(loc, toks[0].col))
    if not toks:
        raise AsmError("address expected inside [ ]", at(loc, col))
    node = parse_expr(toks, loc, allow_regs=True)
    terms, rest = linearize(node, ev)
    disp = 0
    for part in rest:
        disp += ev.number(part)
    regs = {r: k for r, k in terms.items() if k}
    for r in regs:
        if r.kind != "gpr" or r.size != 64:
            raise AsmError(
                f"{r.name} cannot be used in an address (use 64-bit registers "
                "such as rdi, rax, r8)",
                at(loc, col),
            )
    base: Reg | None = None
    index: Reg | None = None
    scale = 1
    items = list(regs.items())
    if any(k < 0 for _, k in items):
        raise AsmError("a register in an address cannot be subtracted", at(loc, col))
    if len(items) > 2:
        raise AsmError(
            "an address can use at most two registers (base + index*scale)", at(loc, col)
        )
    if len(items) == 1:
        r, k = items[0]
        if k == 1:
            base = r
        elif k in (2, 4, 8):
            index, scale = r, k
        elif k in (3, 5, 9):
            base, index, scale = r, r, k - 1
        else:
            raise AsmError(f"scale must be 1, 2, 4 or 8 (got {k})", at(loc, col))
    elif len(items) == 2:
        (r1, k1), (r2, k2) = items
        if k1 != 1 and k2 != 1:
            raise AsmError("only one register in an address can be scaled", at(loc, col))
        if k1 != 1:
            (r1, k1), (r2, k2) = (r2, k2), (r1, k1)
        if k2 not in (1, 2, 4, 8):
            raise AsmError(f"scale must be 1, 2, 4 or 8 (got {k2})", at(loc, col))
        base, index, scale = r1, r2, k2
        if r2.num == 4:
            if scale != 1:
                raise AsmError("rsp cannot be an index register", at(loc, col))
            base, index = index, base
    if index is not None and index.num == 4:
        raise AsmError("rsp cannot be an index register", at(loc, col))
    if rel and (base is not None or index is not None):
        raise AsmError("[rel ...] takes a label address without registers", at(loc, col))
    disp &= M64
    sdisp = disp - (1 << 64) if disp >> 63 else disp
    if not rel and not -(1 << 31) <= sdisp < (1 << 31):
        raise AsmError(f"displacement {sdisp:#x} does not fit in 32 bits", at(loc, col))
    return Mem(base, index, scale, sdisp if (base or index) else disp, size, rel, spell(toks))
