"""The assembler's limits: every input, however large or hostile, is either
assembled within these or rejected with an AsmError at the line that goes
past them (docs/assembler.md lists them). Sizes are checked before anything
is allocated, so a `resb 1 << 40` costs nothing to reject.
"""

from __future__ import annotations

KIB = 1 << 10
MIB = 1 << 20
GIB = 1 << 30

# one source or include file (a larger file is refused before it is read)
MAX_SOURCE_BYTES = 16 * MIB
# every section of the linked image together, .bss included (the machine's
# memory; the VM maps .bss lazily, so this is address space, not RAM)
MAX_IMAGE_BYTES = 1 * GIB
# initialised bytes (.text, .rodata, .data, incbin): these are really stored
MAX_INITIALISED_BYTES = 256 * MIB
# instructions in the program (each is an object in every tier)
MAX_INSTRUCTIONS = 1 << 20
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
