"""Commands gdb, pwndbg and rr users reach for: disassemble, frame/up/down,
display, start, goto. They register in the one command table
(commands.COMMANDS) like every other command; commands.py imports this
module at its end."""

from __future__ import annotations

from .commands import Reply, command, number_arg
from .session import DebugError, Session, format_value


@command(
    "disassemble",
    "disassemble [ROUTINE]",
    "the instructions of a routine (default: the current one), `=>` at rip",
    "data",
    ("disas",),
)
def _disassemble(s: Session, args: str) -> Reply:
    m = s.machine
    name = args.strip()
    if not name:
        r = s.routine_at(m.rip)
        if r is None:
            raise DebugError(f"rip = {m.rip:#x} is not inside a routine")
        name = r[1]
    span = s.routine_range(name)
    if span is None:
        raise DebugError(f"no routine named '{name}' (info symbols lists them)")
    lo, hi = span
    lines = [f"Dump of {name}:"]
    for insn in s.image.insns:
        if lo <= insn.addr < hi:
            mark = "=> " if insn.addr == m.rip else "   "
            lines.append(f"{mark}{s.addr_text(insn.addr)}:  {insn.text()}")
    return Reply(lines)


def _select(s: Session, level: int) -> Reply:
    frames = s.frames()
    if not 0 <= level < len(frames):
        raise DebugError(
            f"no frame #{level} (frames #0 to #{len(frames) - 1}; backtrace lists them)"
        )
    f = frames[level]
    s.frame_level = level
    s.code_focus = None if level == 0 else f.pc
    where = s.where() if level == 0 else s.where(f.pc)
    sp = s.machine.r[4] if level == 0 else frames[level - 1].sp_after_return
    return Reply(
        [f"#{level:<2} {f.routine}  {where}", f"   rsp in this frame = {sp:#x}"], view=True
    )


@command(
    "frame",
    "frame [N]",
    "select stack frame N (backtrace numbers them): the code panel shows where it is",
    "data",
)
def _frame(s: Session, args: str) -> Reply:
    text = args.strip()
    return _select(s, number_arg(text, "frame", s.frame_level))


@command("up", "up [N]", "select the caller's frame (N frames up)", "data")
def _up(s: Session, args: str) -> Reply:
    frames = s.frames()
    if s.frame_level + 1 >= len(frames):
        raise DebugError(
            f"#{s.frame_level} {frames[s.frame_level].routine} is the outermost frame "
            "(no caller on the stack); you cannot go up"
        )
    return _select(s, min(len(frames) - 1, s.frame_level + number_arg(args, "up", 1)))


@command("down", "down [N]", "select the callee's frame again (N frames down)", "data")
def _down(s: Session, args: str) -> Reply:
    if s.frame_level == 0:
        raise DebugError("frame #0 (where rip is) is the innermost frame; you cannot go down")
    return _select(s, max(0, s.frame_level - number_arg(args, "down", 1)))


@command(
    "display",
    "display [EXPR]",
    "print EXPR at every stop (as gdb's display); without EXPR: show them all now; "
    "undisplay N removes one",
    "data",
)
def _display(s: Session, args: str) -> Reply:
    text = args.strip()
    if text:
        s.eval(text)  # a bad expression is refused now, not at every stop
        s.displays.append(text)
    return Reply(display_lines(s) or ["no display expressions"])


@command("undisplay", "undisplay [N]", "stop displaying expression N (all without N)", "data")
def _undisplay(s: Session, args: str) -> Reply:
    text = args.strip()
    if not text:
        s.displays.clear()
        return Reply(["all display expressions removed"])
    k = number_arg(text, "undisplay", 0)
    if not 1 <= k <= len(s.displays):
        raise DebugError(f"no display {k} (display lists them)")
    gone = s.displays.pop(k - 1)
    return Reply([f"display {k} ({gone}) removed"])


def display_lines(s: Session) -> list[str]:
    out = []
    for k, text in enumerate(s.displays, 1):
        try:
            out.append(f"{k}: {text} = {format_value(s.eval(text))}")
        except Exception as e:  # noqa: BLE001 - shown, never raised at a stop
            out.append(f"{k}: {text} = <{e}>")
    return out


@command(
    "start",
    "start",
    "restart the program and stop at main (a libc program) or at its first instruction",
    "running",
    moves=True,
)
def _start(s: Session, args: str) -> Reply:
    text = s.restart()
    if "main" in s.image.symbols and s.image.symbols["main"].section == ".text":
        stop = s.until("main")
        return Reply(["restarted", stop.text], moved=True, stop=stop)
    return Reply([text], moved=True)


@command(
    "goto",
    "goto N",
    "travel in time to instruction count N (last-write names counts): back in the "
    "recorded history, or forward by running",
    "reverse",
    ("run-to-instruction",),
    moves=True,
)
def _goto(s: Session, args: str) -> Reply:
    text = args.strip().replace(",", "").replace("_", "")
    if not text:
        raise DebugError("goto N: an instruction count, e.g. goto 1234567")
    stop = s.goto(number_arg(text, "goto", 0))
    return Reply([stop.text], moved=True, stop=stop)
