"""What pass 1 records: each file's section pieces (chunks), the items in
them (instructions, data, fills), labels and `equ` constants.

Pass 1 gives every item its offset in its chunk; the linker then gives
every chunk its address (`base`), so an item's address is base + offset.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ..errors import SourceLoc
from .expr import Node
from .lexer import Token


@dataclass(eq=False)
class Chunk:
    """One file's part of one section."""

    file: int
    section: str
    size: int = 0
    align: int = 16
    base: int = 0
    items: list = field(default_factory=list)
    loaded: bool = True  # False: a note/debug section (dropped) or a struc body
    absolute: bool = False  # a struc body: its labels are plain offsets from 0


@dataclass(slots=True)
class InsnItem:
    chunk: Chunk
    offset: int
    mnemonic: Token
    operands: list[list[Token]] | None  # None: read again from loc.text in pass 2
    loc: SourceLoc  # the line's (shared, column 1): the mnemonic is at mnemonic.col
    parent: str


@dataclass(slots=True)
class DataItem:
    chunk: Chunk
    offset: int
    unit: int
    values: list[Node | bytes | int]  # int: a plain number, already checked
    repeat: int
    size_one: int
    loc: SourceLoc
    parent: str


@dataclass(slots=True)
class FillItem:  # align padding, resb/resd ... (zeros; nops in .text)
    chunk: Chunk
    offset: int
    size: int
    loc: SourceLoc
    fill: int = 0


@dataclass(slots=True)
class Label:
    name: str
    chunk: Chunk
    offset: int
    loc: SourceLoc


@dataclass(slots=True)
class Equ:
    name: str
    node: Node
    loc: SourceLoc
    here: tuple[int, Chunk]
    parent: str
    value: int | None = None
    busy: bool = False


@dataclass
class FileCtx:
    index: int
    name: str
    labels: dict[str, Label] = field(default_factory=dict)
    equs: dict[str, Equ] = field(default_factory=dict)
    globals: dict[str, SourceLoc] = field(default_factory=dict)
    externs: dict[str, SourceLoc] = field(default_factory=dict)
    chunks: dict[str, Chunk] = field(default_factory=dict)
