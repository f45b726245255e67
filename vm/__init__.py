"""mnist-vm's machine: a NASM-syntax x86-64 subset on an emulated CPU.

Public API:
    assemble(sources, defines=None) -> Image       (vm.asm)
    Machine(image, root=".", stdout=None)          (vm.cpu)
    AsmError, Fault                                (vm.errors)
"""

from .errors import AsmError, Exit, Fault, SourceLoc, VMError

__all__ = ["AsmError", "Exit", "Fault", "SourceLoc", "VMError", "assemble", "Machine"]


def __getattr__(name):  # lazy, so `import vm` stays cheap and cycle-free
    if name == "assemble":
        from .asm import assemble

        return assemble
    if name == "Machine":
        from .cpu import Machine

        return Machine
    raise AttributeError(name)
