"""The assembler's limits: every input, however large or hostile, is either
assembled within these or rejected with an AsmError at the line that goes
past them (docs/assembler.md lists them). Sizes are checked before anything
is allocated, so a `resb 1 << 40` costs nothing to reject.
"""

from __future__ import annotations

from ..image import MAX_IMAGE_BYTES as _IMAGE_LIMIT

KIB = 1 << 10
MIB = 1 << 20
GIB = 1 << 30

# one source or include file (a larger file is refused before it is read)
MAX_SOURCE_BYTES = 16 * MIB
# every section of the linked image together, .bss included: the machine's
# own limit (vm/image.py), so whatever assembles also loads
MAX_IMAGE_BYTES = _IMAGE_LIMIT
# initialised bytes (.text, .rodata, .data, incbin): these are really stored
MAX_INITIALISED_BYTES = 256 * MIB
# instructions, data lines, reservations, labels and constants together: each
# is an object in the image (and an instruction compiled code in the machine),
# a few hundred bytes apiece, so this bounds the memory of any program (about
# 350 MiB to assemble and 500 MiB to run at the limit, docs/assembler.md)
MAX_ITEMS = 1 << 19
# lines the preprocessor may produce in one run: includes, %rep and macro
# expansions together (a 16 MiB source of short lines is about 1.5 million)
MAX_PREPROCESSED_LINES = 4_000_000
# bytes of text the preprocessor may produce in one run (same lines)
MAX_PREPROCESSED_BYTES = 256 * MIB
# tokens of one line after %define expansion (and length of a %define body)
MAX_LINE_TOKENS = 10_000
# characters of one %define body (after %xdefine expansion)
MAX_DEFINE_BYTES = 64 * KIB
# %include nesting
MAX_INCLUDE_DEPTH = 32
# macro calls inside macro calls (recursion included) and nested %rep
MAX_MACRO_DEPTH = 100
# %define substitutions while expanding one line
MAX_DEFINE_EXPANSIONS = 10_000
# errors reported in one run before the assembler stops
MAX_ERRORS = 20
