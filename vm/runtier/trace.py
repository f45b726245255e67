"""The trace to compile: its instructions' parsed generated code and what
they touch."""

from __future__ import annotations

import ast
from dataclasses import dataclass

from ..environment import CLOBBERS, Layout
from .pyast import Stmt, int_of, is_flags_attr, walk

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
        x.id for s in stmts for x in walk(s) if type(x) is ast.Name and type(x.ctx) is ast.Store
    } - {"_n"}
    if stores:
        for s in stmts:
            for x in walk(s):
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
        used: set[int] = set()
        written: set[int] = set()
        self.flags_written = False
        for it in items:
            for s in it.stmts:
                for x in walk(s):
                    if (
                        isinstance(x, ast.Subscript)
                        and isinstance(x.value, ast.Name)
                        and x.value.id == "r"
                        and isinstance(x.slice, ast.Constant)
                    ):
                        used.add(int_of(x.slice))
                        if isinstance(x.ctx, ast.Store):
                            written.add(int_of(x.slice))
                    elif is_flags_attr(x) and isinstance(x.ctx, ast.Store):
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
