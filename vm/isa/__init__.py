"""The instruction table: importing this package defines every instruction."""

# importing the modules defines the instructions (spec.TABLE) and registers
# the helpers their templates call (vm.environment)
from . import (  # noqa: F401
    avx,
    bits,
    flags,
    fused,
    helpers,
    integer,
    packed,
    softfloat,
    sse,
    sse_int,
    strings,
)
from .spec import TABLE, InsnDef, MatchError, lookup, match

__all__ = ["TABLE", "InsnDef", "MatchError", "lookup", "match"]
