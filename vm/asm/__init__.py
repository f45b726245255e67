"""The NASM-subset assembler and linker: sources in, a loadable Image out.

assemble(sources, defines=None, include_paths=None) -> Image
listing(image) -> str
"""

from .assembler import AsmInternalError, assemble
from .listing import listing

__all__ = ["AsmInternalError", "assemble", "listing"]
