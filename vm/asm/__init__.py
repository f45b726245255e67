"""The NASM-subset assembler and linker: sources in, a loadable Image out.

assemble(sources, defines=None, include_paths=None) -> Image
listing(image) -> str, listing_lines(image) -> its lines one by one
"""

from .assembler import AsmInternalError, assemble
from .listing import listing, listing_lines

__all__ = ["AsmInternalError", "assemble", "listing", "listing_lines"]
