"""Errors the machine reports to users: never a bare Python traceback."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(slots=True)
class SourceLoc:
    file: str
    line: int  # 1-based
    column: int = 1  # 1-based
    text: str = ""  # the source line

    def __str__(self) -> str:
        return f"{self.file}:{self.line}"


class VMError(Exception):
    """Base class of every error the machine raises on purpose."""


class AsmError(VMError):
    """An assembler error at file:line:column, printed with the line and a caret."""

    def __init__(self, message: str, loc: SourceLoc | None = None):
        super().__init__(message)
        self.message = message
        self.loc = loc

    others: list[AsmError] = []  # further errors found in the same run

    def __str__(self) -> str:
        out = self._one()
        for e in self.others:
            out += "\n" + e._one()
        return out

    def _one(self) -> str:
        if self.loc is None:
            return f"error: {self.message}"
        loc = self.loc
        out = f"{loc.file}:{loc.line}:{loc.column}: error: {self.message}"
        if loc.text:
            line = loc.text.rstrip("\n").expandtabs(4)
            caret = " " * (max(loc.column, 1) - 1) + "^"
            out += f"\n    {line}\n    {caret}"
        return out


class Fault(VMError):
    """The machine stopped on a fault (bad address, #DE, step limit, ...).

    kind is a short tag: 'segfault', 'write-to-code', 'misaligned',
    'divide-error', 'stack-overflow', 'step-limit', 'bad-jump', 'host'."""

    def __init__(self, kind: str, message: str, rip: int | None = None):
        super().__init__(message)
        self.kind = kind
        self.message = message
        self.rip = rip
        self.insn_text: str | None = None
        self.loc: SourceLoc | None = None
        self.registers: dict[str, int] | None = None

    def __str__(self) -> str:
        out = f"fault ({self.kind}): {self.message}"
        if self.rip is not None:
            out += f"\n  at {self.rip:#x}"
            if self.insn_text:
                out += f": {self.insn_text}"
            if self.loc:
                out += f"\n  in {self.loc.file}:{self.loc.line}: {self.loc.text.strip()}"
        if self.registers:
            regs = self.registers
            names = list(regs)
            rows = []
            for i in range(0, len(names), 4):
                rows.append("  " + "  ".join(f"{n:>3}={regs[n]:#018x}" for n in names[i : i + 4]))
            out += "\n" + "\n".join(rows)
        return out


class Exit(Exception):
    """Raised inside the machine when the program calls exit/exit_group."""

    def __init__(self, status: int):
        super().__init__(status)
        self.status = status
