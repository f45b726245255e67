"""Line mode: the same commands as the full-screen UI, one per line, for
scripts (`--batch FILE`) and whenever stdout is not a terminal. Output is
plain text: each command's reply, the program's output as it appears, and
after every command that moves the machine the new position."""

from __future__ import annotations

import sys
from collections.abc import Iterable

from rich.console import Console
from rich.text import Text

from . import render as R
from .commands import execute, repeatable
from .session import Session

PROMPT = "(mnist-vm) "


def console_for(stream=None) -> Console:
    stream = stream or sys.stdout
    tty = hasattr(stream, "isatty") and stream.isatty()
    return Console(
        file=stream, width=None if tty else 120, highlight=False, soft_wrap=not tty, emoji=False
    )


def run_lines(
    session: Session,
    lines: Iterable[str],
    console: Console,
    echo: bool = False,
    prompt: bool = False,
) -> int:
    """Run commands until the input ends or `quit`; returns 1 if a command
    failed (so scripts notice), else 0."""
    failed = False
    console.print(session.stop.text, markup=False)
    if prompt:
        console.print(PROMPT, end="", markup=False)
    last = ""
    for raw in lines:
        line = raw.rstrip("\n")
        if prompt and not line.strip() and last:
            line = last  # Enter repeats the last step/next/continue/x/list, as in gdb
        elif repeatable(line):
            last = line
        if echo and line.strip() and not line.lstrip().startswith("#"):
            console.print(f"{PROMPT}{line}", markup=False)
        reply = execute(session, line)
        new = session.output.take_new()
        if new:
            console.out(new, end="" if new.endswith("\n") else "\n", highlight=False)
        plain = console.color_system is None
        picture = session.picture if reply.view and plain and session.panel == "picture" else None
        for item in reply.lines:
            if isinstance(item, str):
                console.print(("error: " if reply.error else "") + item, markup=False)
            elif picture is not None:
                # without colour a picture prints as shades of characters
                console.print(R.picture(picture, 30, 60, ascii=True))
            else:
                console.print(item)
        failed = failed or reply.error
        if reply.quit:
            break
        if prompt:
            console.print(PROMPT, end="", markup=False)
    return 1 if failed else 0


def main_loop(session: Session, batch: str | None, console: Console | None = None) -> int:
    console = console or console_for()
    if batch is not None:
        try:
            with open(batch, encoding="utf-8") as f:
                lines = f.readlines()
        except OSError as e:
            console.print(Text(f"mnist-vm debug: cannot read {batch}: {e.strerror or e}"))
            return 2
        return run_lines(session, lines, console, echo=True)
    interactive = sys.stdin.isatty()
    return run_lines(session, sys.stdin, console, echo=not interactive, prompt=interactive)
