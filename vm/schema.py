"""A small vocabulary for checking untrusted JSON (state file headers).

Each node's check(value, where) returns None or raises SchemaError naming the
place ("registers.gpr[3]") and what was expected, so any bad input is one
clear line. The nodes are plain data, so tests can walk a schema to generate
valid and invalid documents from it.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass, field


class SchemaError(ValueError):
    """A value that does not fit its schema; the message says where and why."""


def _show(value) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _fail(where: str, expected: str, value) -> SchemaError:
    return SchemaError(f"{where or 'the header'}: expected {expected}, found {_show(value)}")


@dataclass(frozen=True)
class Int:
    lo: int
    hi: int

    def check(self, value, where: str) -> None:
        # bool is an int in Python, and json gives floats (NaN, 1.5) for non-integers
        if type(value) is not int or not self.lo <= value <= self.hi:
            raise _fail(where, f"an integer in {self.lo}..{self.hi:#x}", value)


@dataclass(frozen=True)
class Str:
    max_len: int

    def check(self, value, where: str) -> None:
        if type(value) is not str or len(value) > self.max_len:
            raise _fail(where, f"a string of at most {self.max_len:,} characters", value)


@dataclass(frozen=True)
class Hex:
    """A string of hex digits whose length is one of lengths (in characters)."""

    lengths: tuple[int, ...]

    def check(self, value, where: str) -> None:
        expected = "hex digits, " + " or ".join(f"{n:,}" for n in self.lengths) + " of them"
        if type(value) is not str or len(value) not in self.lengths:
            raise _fail(where, expected, value)
        try:
            bytes.fromhex(value)
        except ValueError:
            raise _fail(where, expected, value) from None


@dataclass(frozen=True)
class Base64:
    """A string of standard base64 (RFC 4648, padded) of at most max_bytes decoded bytes."""

    max_bytes: int

    def check(self, value, where: str) -> None:
        expected = f"base64 of at most {self.max_bytes:,} bytes"
        if type(value) is not str or len(value) > 4 * ((self.max_bytes + 2) // 3):
            raise _fail(where, expected, value)
        try:
            canonical = base64.b64encode(base64.b64decode(value, validate=True)).decode()
        except (binascii.Error, ValueError):
            raise _fail(where, expected, value) from None
        if canonical != value:  # excess padding, non-zero spare bits
            raise _fail(where, expected, value)


@dataclass(frozen=True)
class Const:
    value: object

    def check(self, value, where: str) -> None:
        if type(value) is not type(self.value) or value != self.value:
            raise _fail(where, _show(self.value), value)


@dataclass(frozen=True)
class Nullable:
    inner: Node

    def check(self, value, where: str) -> None:
        if value is not None:
            self.inner.check(value, where)


@dataclass(frozen=True)
class OneOf:
    """A value that fits any of the alternatives (for small unions: str or int)."""

    options: tuple[Node, ...]
    name: str

    def check(self, value, where: str) -> None:
        for o in self.options:
            try:
                o.check(value, where)
                return
            except SchemaError:
                pass
        raise _fail(where, self.name, value)


@dataclass(frozen=True)
class List:
    item: Node
    min_len: int
    max_len: int

    def check(self, value, where: str) -> None:
        if type(value) is not list or not self.min_len <= len(value) <= self.max_len:
            n = (
                f"{self.min_len}"
                if self.min_len == self.max_len
                else f"{self.min_len}..{self.max_len:,}"
            )
            raise _fail(where, f"a list of {n} items", value)
        for i, v in enumerate(value):
            self.item.check(v, f"{where}[{i}]")


@dataclass(frozen=True)
class Map:
    """A JSON object with string keys (at most max_len of them) and values of one kind."""

    value: Node
    max_len: int
    key_len: int = 4096

    def check(self, value, where: str) -> None:
        if type(value) is not dict or len(value) > self.max_len:
            raise _fail(where, f"an object of at most {self.max_len:,} entries", value)
        for k, v in value.items():
            if len(k) > self.key_len:
                raise _fail(where, f"keys of at most {self.key_len} characters", k)
            self.value.check(v, f"{where}[{k!r}]")


@dataclass(frozen=True)
class Anything:
    """Anything JSON can hold (for free-form metadata)."""

    def check(self, value, where: str) -> None:
        return None


@dataclass(frozen=True)
class Obj:
    """A JSON object with these required keys, these optional ones (checked
    when present; states from older versions lack them) and no others that
    matter (others are ignored)."""

    fields: dict[str, Node] = field(default_factory=dict)
    optional: dict[str, Node] = field(default_factory=dict)

    def check(self, value, where: str) -> None:
        if type(value) is not dict:
            raise _fail(where, "an object", value)
        for k, node in (self.fields | self.optional).items():
            path = f"{where}.{k}" if where else k
            if k not in value:
                if k in self.optional:
                    continue
                raise SchemaError(f"{path}: missing")
            node.check(value[k], path)


Node = Int | Str | Hex | Base64 | Const | Nullable | OneOf | List | Map | Anything | Obj
