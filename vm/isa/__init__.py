"""The instruction table: importing this package defines every instruction."""

from . import avx, integer, sse  # noqa: F401  (registers definitions in spec.TABLE)
from .spec import TABLE, InsnDef, MatchError, lookup, match

__all__ = ["TABLE", "InsnDef", "MatchError", "lookup", "match"]
