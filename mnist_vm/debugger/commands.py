"""The debugger's commands: one table, used by the Textual command line, the
line mode, the `?`/help text and docs/debugger.md (tests check the docs list
every command).

Names follow gdb. Each command is a function (session, args) -> Reply;
`execute()` parses a line, finds the command (name, alias or an unambiguous
prefix) and turns every error into a one-line message, so a bad command can
never take the UI down.
"""

from __future__ import annotations

import math
import os
import re
import struct
import traceback
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from rich.console import RenderableType
from rich.text import Text

from vm import VMError
from vm.history import HistoryError, Interrupted

from . import expr as E
from . import render as R
from .session import (
    VEC_VIEWS,
    XMM_MODES,
    DebugError,
    MemView,
    Picture,
    Session,
    Stop,
    format_value,
)


@dataclass
class Reply:
    """What a command produced."""

    lines: Sequence[RenderableType] = ()
    error: bool = False
    moved: bool = False  # the machine's position changed (refresh everything)
    view: bool = False  # the memory/picture panel changed
    memory: bool = False  # it shows what this command asked for (a view, a picture)
    quit: bool = False
    stop: Stop | None = None


@dataclass
class Command:
    name: str
    fn: Callable[[Session, str], Reply]
    usage: str
    help: str
    group: str
    aliases: tuple[str, ...] = ()
    key: str | None = None  # the key that runs it in the full-screen UI
    moves: bool = False  # runs the machine (off the UI thread in the TUI)


COMMANDS: list[Command] = []
GROUPS = ("running", "reverse", "breakpoints", "data", "pictures", "session")
# keys the full-screen UI handles itself (documented with the commands)
UI_KEYS = [
    (":", "open the command line (Up/Down recall earlier commands, Esc closes it)"),
    ("Esc / Ctrl+C", "interrupt a running continue, reverse search or profile"),
    (
        "Shift+Up/Down, Ctrl+B/F",
        "scroll the console a line / a page back and forward (Shift+PgUp/PgDn too)",
    ),
    ("Enter", "on an empty command line: repeat the last command (as gdb does)"),
    (
        "Tab",
        "move the focus between panels; arrows, PgUp/PgDn and Home scroll "
        "the memory and code panels",
    ),
]


def command(
    name: str,
    usage: str,
    help: str,
    group: str,
    aliases: tuple[str, ...] = (),
    key: str | None = None,
    moves: bool = False,
):
    def deco(fn):
        COMMANDS.append(Command(name, fn, usage, help, group, aliases, key, moves))
        return fn

    return deco


def lookup(word: str) -> Command | None:
    """A command by its name or alias, then by its key in the full-screen UI
    (case matters: r and R differ; the name wins, so `x` stays gdb's examine
    while the x key switches the xmm format), then by an unambiguous prefix
    of two letters or more."""
    for c in COMMANDS:
        if word == c.name or word in c.aliases:
            return c
    for c in COMMANDS:
        if word == c.key:
            return c
    word = word.lower()
    for c in COMMANDS:
        if word == c.name or word in c.aliases:
            return c
    starts = [c for c in COMMANDS if c.name.startswith(word)]
    return starts[0] if len(starts) == 1 and len(word) >= 2 else None


_SPLIT = re.compile(r"^\s*([A-Za-z][\w-]*|[?])(/\w*)?\s*(.*)$", re.S)


def execute(session: Session, line: str) -> Reply:
    """Run one command line; never raises (errors become a one-line Reply).
    A leading `:` is allowed (as typed in the full-screen UI or in the docs)."""
    line = line.strip()
    if line.startswith(":"):
        line = line[1:].strip()
    if not line or line.startswith("#"):
        return Reply()
    m = _SPLIT.match(line)
    if m is None:
        return _error(f"not a command: {line!r} (help lists the commands)")
    word, slash, rest = m.group(1), m.group(2) or "", m.group(3)
    cmd = lookup(word)
    if cmd is None:
        near = [c.name for c in COMMANDS if c.name.startswith(word[:2].lower())][:4]
        return _error(
            f"unknown command '{word}'"
            + (f" (did you mean {', '.join(near)}?)" if near else "")
            + "; help lists the commands"
        )
    if slash and cmd.name not in ("x", "print"):
        return _error(f"{cmd.name} takes no /format (only x/FMT and print/FMT do)")
    session.notes = []
    if cmd.moves:
        session.machine.stop_requested = False  # an interrupt meant for an earlier command
    try:
        if cmd.moves:
            with session.command_scope(cmd.name):
                reply = cmd.fn(session, (slash + " " + rest) if slash else rest)
        else:
            reply = cmd.fn(session, (slash + " " + rest) if slash else rest)
    except (DebugError, E.ExprError, HistoryError, Interrupted) as e:
        return _error(_prefixed(cmd.name, str(e)))
    except VMError as e:
        return _error(_prefixed(cmd.name, str(e).splitlines()[0]))
    except OSError as e:
        return _error(f"{cmd.name}: {e.strerror or e}")
    except Exception as e:  # a bug: report it in one line, keep going
        where = traceback.extract_tb(e.__traceback__)[-1]
        return _error(
            f"{cmd.name}: internal error: {type(e).__name__}: {e} "
            f"({where.filename.rsplit('/', 1)[-1]}:{where.lineno})"
        )
    reply.lines = [*reply.lines, *session.notes]
    session.notes = []
    if cmd.moves:
        session.frame_level = 0
        reply.lines = [*reply.lines, *display_lines(session)]
    return reply


def _prefixed(name: str, msg: str) -> str:
    """name: msg, unless the message already starts with the command's name."""
    return msg if msg.startswith(f"{name}:") or msg.startswith(f"{name} ") else f"{name}: {msg}"


def repeatable(line: str) -> bool:
    """Whether an empty line (Enter) may repeat `line`, as gdb repeats step,
    next, continue, x and list but not break, set or save."""
    m = _SPLIT.match(line.strip().lstrip(":"))
    cmd = lookup(m.group(1)) if m else None
    return cmd is not None and (cmd.moves or cmd.name in ("x", "list"))


def _error(msg: str) -> Reply:
    return Reply([msg], error=True)


def number_arg(text: str, what: str, default: int, noun: str = "a number") -> int:
    """A whole number argument (decimal or 0x..., _ between digits), or default
    when there is none."""
    text = text.strip()
    if not text:
        return default
    try:
        return int(text.replace("_", ""), 0)
    except ValueError:
        raise DebugError(f"{what} takes {noun}, not '{text}'") from None


def _count(args: str, what: str) -> int:
    n = number_arg(args, what, 1, "a count (a whole number)")
    if n < 1:
        raise DebugError(f"{what} count must be at least 1")
    return n


def _moved(stop: Stop) -> Reply:
    lines: list = [stop.text] if stop.text else []
    lines += stop.detail
    return Reply(lines, moved=True, stop=stop, error=stop.kind == "fault")


# ---- running ------------------------------------------------------------------------------
@command(
    "step",
    "step [N]",
    "execute one instruction (each source line is one instruction), or N",
    "running",
    ("s", "stepi", "si"),
    key="s",
    moves=True,
)
def _step(s: Session, args: str) -> Reply:
    return _moved(s.step(_count(args, "step")))


@command(
    "next",
    "next [N]",
    "like step, but a call runs to its return",
    "running",
    ("n", "nexti", "ni"),
    key="n",
    moves=True,
)
def _next(s: Session, args: str) -> Reply:
    return _moved(s.next(_count(args, "next")))


@command(
    "finish",
    "finish",
    "run until the current routine returns to its caller",
    "running",
    ("fin",),
    key="f",
    moves=True,
)
def _finish(s: Session, args: str) -> Reply:
    return _moved(s.finish())


@command(
    "continue",
    "continue [--fast]",
    "run until a breakpoint, a watchpoint, exit or a "
    "fault. --fast runs routines that have a twin (a compiled stand-in) as the twin (whole epochs in "
    "seconds; routines holding a breakpoint stay interpreted; history restarts after it)",
    "running",
    ("c", "cont"),
    key="c",
    moves=True,
)
def _continue(s: Session, args: str) -> Reply:
    a = args.strip()
    if a not in ("", "--fast", "fast", "-f"):
        raise DebugError(f"unknown option '{a}' (continue or continue --fast)")
    return _moved(s.cont(fast=bool(a)))


@command(
    "until",
    "until [LOCATION]",
    "without an argument: like next, but at a loop's "
    "backward jump run until the loop exits; with a location: run until it is reached "
    "or the current routine returns",
    "running",
    ("u",),
    moves=True,
)
def _until(s: Session, args: str) -> Reply:
    return _moved(s.until(args.strip() or None))


@command(
    "advance",
    "advance LOCATION",
    "run until LOCATION (a label, FILE:LINE, *ADDR) is reached or the current routine returns",
    "running",
    moves=True,
)
def _advance(s: Session, args: str) -> Reply:
    return _moved(s.advance(args))


@command(
    "call",
    "call ROUTINE [ARG ...]",
    "call a routine with integer arguments (rdi, "
    "rsi, ...) as the program would; its breakpoints stop it (one on its first "
    "instruction too, as in gdb), `finish` or `continue` runs it on; when it returns the "
    "registers are restored. On a machine that has exited (a state saved by "
    "`mnist-vm run --save`), `call train_epoch 1` or `call evaluate` runs the "
    "trained network again",
    "running",
    moves=True,
)
def _call(s: Session, args: str) -> Reply:
    parts = args.replace(",", " ").replace("(", " ").replace(")", " ").split()
    if not parts:
        raise DebugError("call which routine? e.g. call evaluate")
    return _moved(s.call(parts[0], parts[1:]))


@command(
    "restart",
    "restart",
    "start the program again from its entry point (or reload "
    "the state file the session began with)",
    "running",
    ("run",),
    moves=True,
)
def _restart(s: Session, args: str) -> Reply:
    return Reply([s.restart()], moved=True)


# ---- reverse ------------------------------------------------------------------------------
@command(
    "reverse-step",
    "reverse-step [N]",
    "go back one instruction (or N), exactly: registers, flags and memory as they were",
    "reverse",
    ("rs", "reverse-stepi", "rsi"),
    key="r",
    moves=True,
)
def _rstep(s: Session, args: str) -> Reply:
    return _moved(s.reverse_step(_count(args, "reverse-step")))


@command(
    "reverse-continue",
    "reverse-continue",
    "run backwards to the previous breakpoint "
    "or watchpoint hit (or the start of the recorded history)",
    "reverse",
    ("rc",),
    key="R",
    moves=True,
)
def _rcont(s: Session, args: str) -> Reply:
    return _moved(s.reverse_continue())


@command(
    "reverse-next",
    "reverse-next",
    "go back one instruction, stepping back over a whole call",
    "reverse",
    ("rn",),
    moves=True,
)
def _rnext(s: Session, args: str) -> Reply:
    return _moved(s.reverse_next())


@command(
    "reverse-finish",
    "reverse-finish",
    "go back to the call of the current routine",
    "reverse",
    moves=True,
)
def _rfinish(s: Session, args: str) -> Reply:
    return _moved(s.reverse_finish())


@command(
    "last-write",
    "last-write ADDR|SYMBOL[+off] [LEN]",
    "which instruction, at which "
    "step, last wrote these bytes (searches the recorded history; the position does "
    "not change)",
    "reverse",
    ("lw",),
    moves=True,
)
def _last_write(s: Session, args: str) -> Reply:
    what, length = _split_length(args)
    if not what:
        raise DebugError("last-write needs an address or symbol, e.g. last-write W1+4 4")
    return Reply(s.last_write(what, length))


# ---- breakpoints ----------------------------------------------------------------------------
@command(
    "break",
    "break [LOCATION] [if EXPR]",
    "stop before the instruction at LOCATION: a "
    "label (train_epoch, train_epoch.batch, .loop in the current routine), FILE:LINE, a "
    "line of the current file, or *ADDR. With `if`, stop only when EXPR is true "
    "(e.g. break dense_forward if r8 == 10). Without a location: the current line",
    "breakpoints",
    ("b", "br"),
    key="b",
)
def _break(s: Session, args: str, temporary: bool = False) -> Reply:
    loc, cond = args, None
    m = re.search(r"(^|\s)if(\s|$)", args)
    if m:
        loc, cond = args[: m.start()], args[m.end() :]
        if not cond.strip():
            raise DebugError("break ... if needs a condition")
    if not loc.strip():
        loc = f"*{s.machine.rip:#x}"
    bp = s.add_breakpoint(loc, cond, temporary)
    kind = "temporary breakpoint" if temporary else "breakpoint"
    return Reply(
        [f"{kind} {bp.num} at {s.where(bp.addr)}" + (f" if {cond.strip()}" if cond else "")]
    )


@command(
    "tbreak", "tbreak LOCATION [if EXPR]", "a breakpoint deleted when first hit", "breakpoints"
)
def _tbreak(s: Session, args: str) -> Reply:
    return _break(s, args, temporary=True)


@command(
    "watch",
    "watch ADDR|SYMBOL[+off] [LEN]",
    "stop after any instruction that writes "
    "these bytes (LEN defaults to the symbol's size, the type's size for f32 [..], "
    "else 8); shows the old and new value. Works backwards too (reverse-continue)",
    "breakpoints",
)
def _watch(s: Session, args: str) -> Reply:
    what, length = _split_length(args)
    wp = s.add_watchpoint(what, length)
    return Reply([f"watchpoint {wp.num}: {wp.what} = {s.addr_text(wp.addr)}, {wp.length} bytes"])


def _split_length(args: str) -> tuple[str, int | None]:
    parts = args.strip().rsplit(None, 1)
    if (
        len(parts) == 2
        and re.fullmatch(r"\d+|0x[0-9a-fA-F]+", parts[1])
        and not re.search(r"[-+*/&|^<>(\[,]\s*$", parts[0])
    ):
        return parts[0], int(parts[1], 0)
    return args.strip(), None


def _nums(args: str) -> list[int] | None:
    if not args.strip():
        return None
    try:
        return [int(x) for x in args.replace(",", " ").split()]
    except ValueError:
        raise DebugError(f"expected breakpoint numbers, got '{args.strip()}'") from None


@command(
    "delete",
    "delete [N ...]",
    "delete breakpoints/watchpoints N (all without numbers)",
    "breakpoints",
    ("d",),
)
def _delete(s: Session, args: str) -> Reply:
    n = s.delete(_nums(args))
    return Reply([f"deleted {n} breakpoint{'s' if n != 1 else ''}/watchpoints"])


@command(
    "disable",
    "disable [N ...]",
    "disable breakpoints/watchpoints (all without numbers)",
    "breakpoints",
)
def _disable(s: Session, args: str) -> Reply:
    n = s.enable(_nums(args), False)
    return Reply([f"disabled {n}"])


@command("enable", "enable [N ...]", "enable breakpoints/watchpoints again", "breakpoints")
def _enable(s: Session, args: str) -> Reply:
    n = s.enable(_nums(args), True)
    return Reply([f"enabled {n}"])


# ---- data -----------------------------------------------------------------------------------------
@command(
    "print",
    "print[/x|/d|/t|/c] EXPR",
    "evaluate an expression: registers (rax, eax, "
    "al, rip, zf), vector lanes (xmm0.f32[1], ymm2.f32[7], zmm0.f32[15]), symbols (their "
    "address), memory ([rsp+8], "
    "f32 [X+4], f32 W1[5], dword [rdi]) and arithmetic",
    "data",
    ("p", "inspect"),
)
def _print(s: Session, args: str) -> Reply:
    fmt, text = _fmt_arg(args)
    v = s.eval(text)
    out = f"{text} = {format_value(v, fmt)}"
    sym = s.image.symbols.get(text.strip())
    if sym is not None and fmt is None and sym.section not in (".text", None):
        out += (
            f"   (the address of {sym.section} data, {sym.size or '?'} bytes; its contents: "
            f"x/8f {text}, print f32 [{text}], view {text} as f32)"
        )
    return Reply([out])


def _fmt_arg(args: str) -> tuple[str | None, str]:
    a = args.lstrip()
    if a.startswith("/"):
        fmt, _, rest = a[1:].partition(" ")
        if fmt not in ("x", "d", "t", "c", ""):
            raise DebugError(f"print/{fmt}: formats are /x /d /t /c")
        return fmt or None, rest
    return None, args


_X_SIZES = {"b": 1, "h": 2, "w": 4, "g": 8}


@command(
    "x",
    "x/NFU ADDR|SYMBOL",
    "examine memory: N units, format F = x hex, d signed, "
    "u unsigned, f float, c char, s string, i instructions, a address; unit U = b (1 "
    "byte), h (2), w (4), g (8). E.g. x/8f W1, x/16xb rsp, x/4g rsp, x/10i rip, x/s s_header",
    "data",
)
def _x(s: Session, args: str) -> Reply:
    spec, _, target = args.strip().partition(" ")
    if not spec.startswith("/"):
        spec, target = "/", args
    m = re.fullmatch(r"/(\d*)([xduftcsia]?)([bhwg]?)([xduftcsia]?)", spec)
    if m is None:
        raise DebugError(f"x{spec}: use x/N then a format (x d u f c s i a) and a unit (b h w g)")
    count = int(m.group(1) or 1)
    fmt = m.group(2) or m.group(4) or "x"
    unit = m.group(3)
    if count > 4096:
        raise DebugError("x: at most 4096 units at a time")
    if not target.strip():
        raise DebugError("x needs an address or symbol, e.g. x/8f W1")
    addr = E.address(target, s.ctx())
    mem = s.machine.mem
    lines: list[str] = []
    if fmt == "i":
        a = addr
        for _ in range(count):
            insn = s.machine.insns.get(a)
            if insn is None:
                break
            lines.append(f"{'=>' if a == s.machine.rip else '  '} {s.where(a)}")
            a += 4
        return Reply(lines or [f"no instruction at {addr:#x}"])
    if fmt == "s":
        for _ in range(count):
            raw = mem.read_cstring(addr, 4096)
            if raw is None:
                raise DebugError(f"cannot read a string at {addr:#x}")
            lines.append(f"{s.addr_text(addr)}: {raw.decode(errors='replace')!r}")
            addr += len(raw) + 1
        return Reply(lines)
    size = _X_SIZES[unit] if unit else {"c": 1, "a": 8, "f": 4}.get(fmt, 4)
    if fmt == "f" and size not in (4, 8):
        raise DebugError("x/f reads 4-byte (w) or 8-byte (g) floats")
    try:
        data = mem.read(addr, count * size)
    except ValueError:
        raise DebugError(
            f"cannot read {count * size} bytes at {addr:#x} ({mem.region(addr)} memory)"
        ) from None
    per = {1: 8, 2: 8, 4: 4, 8: 2}[size]
    if fmt == "c":
        per = 8
    for i in range(0, count, per):
        cells = []
        for j in range(i, min(count, i + per)):
            raw = data[j * size : (j + 1) * size]
            v = int.from_bytes(raw, "little")
            if fmt == "x":
                cells.append(f"{v:#0{2 * size + 2}x}")
            elif fmt == "d":
                cells.append(str(v - (1 << (8 * size)) if v >> (8 * size - 1) else v))
            elif fmt == "u":
                cells.append(str(v))
            elif fmt == "t":
                cells.append(f"{v:0{8 * size}b}")
            elif fmt == "f":
                (fv,) = struct.unpack("<f" if size == 4 else "<d", raw)
                cells.append(f"{fv:.9g}" if size == 4 else repr(fv))
            elif fmt == "c":
                cells.append(f"{v:3d} {chr(v)!r:>6}" if 32 <= v < 127 else f"{v:3d} {'':>6}")
            elif fmt == "a":
                cells.append(f"{s.addr_text(v)}")
        a = addr + i * size
        lines.append(f"{s.addr_text(a)}:  " + "  ".join(f"{c:>12}" for c in cells))
    return Reply(lines)


@command(
    "set",
    "set TARGET = VALUE",
    "change a register, flag, xmm lane or memory: "
    "set rax = 5, set zf = 1, set xmm0.f32[2] = 1.5, set f32 [X] = 0.5, "
    "set dword [rsp+8] = -1, set rip = train_epoch. History restarts at an edit",
    "data",
)
def _set(s: Session, args: str) -> Reply:
    a = re.sub(r"^\s*var\s+", "", args)
    m = re.match(r"^(.*?[^=!<>])=([^=].*)$", a)
    if m is None:
        raise DebugError("use set TARGET = VALUE, e.g. set rax = 5 or set f32 [X] = 0.5")
    return Reply([s.set_value(m.group(1), m.group(2))], moved=True)


@command(
    "bits",
    "bits EXPR",
    "a float's bits and IEEE 754 fields (sign, exponent, "
    "fraction, class): bits f32 [W1], bits xmm0.f64[0], bits 0.1",
    "data",
    ("ieee",),
)
def _bits(s: Session, args: str) -> Reply:
    v = s.eval(args)
    x = v.v
    if v.type in ("f32", "float"):
        return Reply([R.float_bits(float(x), "f32")])
    if v.type in ("f64", "double"):
        return Reply([R.float_bits(float(x), "f64")])
    if isinstance(x, float):
        return Reply([R.float_bits(x, "f64"), R.float_bits(x, "f32")])
    if 0 <= x < 1 << 32:
        return Reply(
            [
                Text(f"{x:#x} read as the bits of a float:"),
                R.float_bits(struct.unpack("<f", struct.pack("<I", x))[0], "f32"),
            ]
        )
    return Reply(
        [
            Text(f"{x & (2**64 - 1):#x} read as the bits of a double:"),
            R.float_bits(struct.unpack("<d", struct.pack("<Q", x & (2**64 - 1)))[0], "f64"),
        ]
    )


@command(
    "info",
    "info registers [REG...]|breakpoints|watchpoints|symbols [PATTERN]|frame|line|display|history",
    "show registers, breakpoints and watchpoints, symbols (addresses, "
    "sections, sizes), the current frame, a line's code, the display expressions, "
    "or the reverse-execution history",
    "data",
    ("i",),
)
def _info(s: Session, args: str) -> Reply:
    what, _, rest = args.strip().partition(" ")
    topics = (
        "registers",
        "breakpoints",
        "watchpoints",
        "symbols",
        "frame",
        "line",
        "display",
        "history",
    )
    match = [t for t in topics if what and t.startswith(what.lower())]
    if what in ("r", "reg"):
        match = ["registers"]
    if len(match) != 1:
        raise DebugError("info " + "|".join(topics))
    topic = match[0]
    if topic == "registers":
        return Reply(_info_registers(s, rest.split()))
    if topic in ("breakpoints", "watchpoints"):
        return Reply(_info_breakpoints(s, topic == "watchpoints"))
    if topic == "symbols":
        return Reply(_info_symbols(s, rest.strip()))
    if topic == "frame":
        return Reply(_info_frame(s))
    if topic == "line":
        return Reply([_info_line(s, rest.strip())])
    if topic == "display":
        return Reply(display_lines(s) or ["no display expressions (display EXPR adds one)"])
    h = s.history
    return Reply(
        [
            f"recorded history: instructions {h.start:,} to {h.frontier:,} "
            f"({h.depth:,} instructions back from the newest)",
            f"memory: {h.used / 2**20:.1f} MiB of {h.budget / 2**20:.0f} MiB "
            f"({len(h.checkpoints)} checkpoints every ~{h.interval:,} instructions, "
            f"{len(h.undo):,} undo records)",
            f"now at instruction {s.machine.icount:,} ({s.mode_text()})",
        ]
    )


def _info_line(s: Session, location: str) -> str:
    """gdb's info line: where a source line's code starts and ends."""
    addr = s.resolve_location(location)[0] if location else s.machine.rip
    insn = s.machine.insns.get(addr)
    if insn is None:
        raise DebugError(f"no instruction at {addr:#x}")
    f, ln = insn.loc.file, insn.loc.line
    if f.startswith("<"):  # the C library the VM provides (<libc>): no source
        return f"{s.addr_text(addr)} is in {f}, the library the VM provides: it has no source lines"
    addrs = [a for a, i in s.machine.insns.items() if i.loc.file == f and i.loc.line == ln]
    lo, hi = min(addrs), max(addrs) + 4
    name = os.path.basename(f)
    return f'line {ln} of "{name}" starts at {s.addr_text(lo)} and ends at {s.addr_text(hi)}'


def _info_registers(s: Session, names: list[str]) -> list:
    if not names:
        return [R.registers_panel(s)]
    out = []
    for n in names:
        out.append(f"{n} = {format_value(s.eval(n))}")
    return out


def _info_breakpoints(s: Session, watch_only: bool) -> list[str]:
    rows = []
    if not watch_only:
        for bp in sorted(s.breakpoints.values(), key=lambda b: b.num):
            rows.append(
                f"{bp.num:<4}{'tbreak' if bp.temporary else 'break':<7}"
                f"{'y' if bp.enabled else 'n':<4}{bp.hits:<6}{s.where(bp.addr)}"
                + (f"  if {bp.cond}" if bp.cond else "")
            )
    for w in sorted(s.watchpoints.values(), key=lambda w: w.num):
        rows.append(
            f"{w.num:<4}{'watch':<7}{'y' if w.enabled else 'n':<4}{w.hits:<6}"
            f"{w.what} = {s.addr_text(w.addr)}, {w.length} bytes"
        )
    if not rows:
        return ["no breakpoints or watchpoints"]
    return [f"{'num':<4}{'type':<7}{'on':<4}{'hits':<6}where"] + rows


def _info_symbols(s: Session, pattern: str) -> list[str]:
    """The symbol named PATTERN if there is one; else those starting with it;
    else those containing it (case-insensitive)."""
    rows = []
    names = s.image.symbols
    if pattern in names:
        chosen = [pattern]
    else:
        low = pattern.lower()
        chosen = [n for n in names if n.lower().startswith(low)] or [
            n for n in names if low in n.lower()
        ]
    for name, sym in sorted(((n, names[n]) for n in chosen), key=lambda kv: kv[1].value):
        sec = sym.section or "equ"
        size = f"{sym.size:,}" if sym.size is not None else ""
        rows.append(
            f"{sym.value:#012x}  {sec:<8} {size:>12}  {name}"
            + ("  (global)" if sym.is_global else "")
        )
    if not rows:
        return [f"no symbols matching '{pattern}'"]
    head = [f"{'address':<12}  {'section':<8} {'bytes':>12}  name"]
    return head + rows


def _info_frame(s: Session) -> list[str]:
    """The selected frame (frame/up/down), as gdb's info frame."""
    m = s.machine
    frames = s.frames()
    k = min(s.frame_level, len(frames) - 1)
    f = frames[k]
    sp = m.r[4] if k == 0 else frames[k - 1].sp_after_return
    lines = [
        f"frame #{k}: {f.routine} at {s.where() if k == 0 else s.where(f.pc)}",
        f"  rsp = {sp:#x}" + (f", rbp = {m.r[5]:#x}" if k == 0 else ""),
    ]
    if f.slot is not None and k + 1 < len(frames):
        ret = int.from_bytes(m.mem.read(f.slot, 8), "little")
        lines.append(
            f"  return address {s.addr_text(ret)} stored at {f.slot:#x} "
            f"(rsp+{f.slot - sp:#x}); called from {s.where(frames[k + 1].pc)}"
        )
    else:
        lines.append("  outermost frame (no caller)")
    return lines


@command(
    "backtrace",
    "backtrace",
    "the call stack: each routine and where it was called "
    "from (found from the return addresses on the stack)",
    "data",
    ("bt", "where"),
)
def _bt(s: Session, args: str) -> Reply:
    return Reply(
        [
            f"#{f.level:<2} {f.routine:<24} {s.where(f.pc) if f.level else s.where()}"
            for f in s.frames()
        ]
    )


@command(
    "list",
    "list [LOCATION]",
    "show the source around a location (or the current "
    "line); in the full-screen UI the code panel moves there until the next step",
    "data",
    ("l",),
)
def _list(s: Session, args: str) -> Reply:
    if args.strip():
        addr, _ = s.resolve_location(args)
        s.code_focus = addr
    else:
        s.code_focus = None
    return Reply([R.code_panel(s, 15)], view=True)


# ---- views and pictures --------------------------------------------------------------------------
_SHAPE = re.compile(r"^(?P<type>[a-z]+\d*)(?:\[(?P<r>\d+)(?:\s*x\s*(?P<c>\d+))?\])?$")


def parse_as(spec: str) -> tuple[str, tuple[int, int] | None]:
    """'f32[784x128]' -> ('f32', (784, 128)); 'f32[10]' -> ('f32', (1, 10)); 'hex' -> ('hex', None)."""
    m = _SHAPE.match(spec.strip().lower().replace(" ", ""))
    if m is None:
        raise DebugError(
            f"'{spec}': write a type and optional shape, e.g. f32, i32[64], f32[784x128], u8[28x28]"
        )
    t = {"float": "f32", "double": "f64", "byte": "u8", "char": "hex"}.get(
        m.group("type"), m.group("type")
    )
    if t != "hex" and t not in E.TYPES:
        raise DebugError(f"unknown type {t}: hex, i8, u8, i16, u16, i32, u32, i64, u64, f32, f64")
    r, c = m.group("r"), m.group("c")
    if r is None:
        return t, None
    rows, cols = (int(r), int(c)) if c else (1, int(r))
    if rows < 1 or cols < 1:
        raise DebugError("a shape needs at least one row and one column")
    return t, (rows, cols)


def _split_as(args: str) -> tuple[str, str | None]:
    m = re.search(r"\s+as\s+", args)
    if m is None:
        return args.strip(), None
    return args[: m.start()].strip(), args[m.end() :].strip()


@command(
    "view",
    "view EXPR [as TYPE[RxC]] [at ROW[,COL]]",
    "show memory in the memory panel "
    "as hex, i8/u8, i32/u32, i64/u64, f32 or f64; with a shape, as a matrix that scrolls "
    "(view W1 as f32[784x128], view P as f32[64x10]); changed cells are highlighted at "
    "each stop. `view` alone shows the current view, `view rsp` the stack",
    "pictures",
    ("v", "memory"),
)
def _view(s: Session, args: str) -> Reply:
    text = args.strip()
    if not text:
        s.panel = "memory"
        return Reply([R.memory_panel(s, 18, 100)], view=True, memory=True)
    at = None
    m = re.search(r"\s+at\s+(\d+)(?:\s*,\s*(\d+))?\s*$", text)
    if m:
        at = (int(m.group(1)), int(m.group(2) or 0))
        text = text[: m.start()]
    target, spec = _split_as(text)
    t, shape = parse_as(spec) if spec else ("hex", None)
    addr = E.address(target, s.ctx())
    v = MemView(target, addr, t, *(shape or (None, None)))
    if at:
        v.top, v.left = at
    if shape is not None:
        n = v.nbytes
        s.check_within(addr, n, f"view {target} as {spec}")
        if not s.machine.mem.mapped(addr, n):
            raise DebugError(
                f"{target} as {spec} needs {n:,} bytes from {addr:#x}; they are "
                "not all mapped (check the shape)"
            )
    s.view = v
    s.panel = "memory"
    v.prev, v.prev_addr = s._view_bytes(v), v.addr
    return Reply([R.memory_panel(s, 18, 100)], view=True, memory=True)


def _floats(s: Session, addr: int, n: int, type_name: str) -> list[float]:
    size = 1 if type_name == "u8" else E.TYPES[type_name][0]
    try:
        raw = s.machine.mem.read(addr, n * size)
    except ValueError:
        raise DebugError(
            f"cannot read {n * size:,} bytes at {addr:#x} ({s.machine.mem.region(addr)} memory)"
        ) from None
    if type_name == "u8":
        return [float(b) for b in raw]
    fmt = {
        "f32": "f",
        "f64": "d",
        "i8": "b",
        "i16": "h",
        "i32": "i",
        "i64": "q",
        "u16": "H",
        "u32": "I",
        "u64": "Q",
    }[{"float": "f32", "double": "f64"}.get(type_name, type_name)]
    return [float(x) for x in struct.unpack(f"<{n}{fmt}", raw)]


@command(
    "show",
    "show digit EXPR [INDEX] [as u8|f32] | show prediction [INDEX]",
    "draw 784 bytes or floats as a 28x28 "
    "image: show digit X (the first image of the batch), show digit X 5, show digit "
    "train_images_file+16 as u8. The type is guessed (floats in 0..1 or bytes) unless "
    "given; batch_labels gives the caption. show prediction 3: image 3 of the batch "
    "beside the network's 10 probabilities (P), its argmax and the true label",
    "pictures",
)
def _show(s: Session, args: str) -> Reply:
    what, _, rest = args.strip().partition(" ")
    if what == "prediction":
        return _show_prediction(s, rest.strip())
    if what != "digit":
        raise DebugError("show digit EXPR [INDEX] [as u8|f32] | show prediction [INDEX]")
    target, spec = _split_as(rest)
    if not target:
        raise DebugError("show digit what? e.g. show digit X")
    index = 0
    m = re.fullmatch(r"(.*?)(?:\s+(\d+)|\[(\d+)\])", target)
    if m:
        target, index = m.group(1).strip(), int(m.group(2) or m.group(3))
    base = E.address(target, s.ctx())
    if spec:
        t, _ = parse_as(spec)
        if t not in ("u8", "f32", "hex"):
            raise DebugError("show digit reads u8 (pixel bytes) or f32 (pixels / 255)")
        t = "u8" if t == "hex" else t
    else:
        t = _guess_pixels(s, base, index)
    size = 1 if t == "u8" else 4
    addr = base + 784 * size * index
    ext = s.extent(base)
    if ext is not None and ext[1] == base and ext[2] >= 784 * size:
        count = ext[2] // (784 * size)
        if index >= count:
            raise DebugError(
                f"{target} holds {count} image{'s' if count > 1 else ''} of {t} "
                f"(0..{count - 1}); {index} is past its end"
            )
    s.check_within(addr, 784 * size, f"show digit {target} {index} ({t})", base)
    vals = _floats(s, addr, 784, t)
    caption = _label_caption(s, target, index)
    s.picture = Picture(
        f"digit {target}[{index}] ({t}) at {addr:#x}", vals, 28, 28, "digit", caption
    )
    s.panel = "picture"
    return Reply([R.picture(s.picture, 18, 60)], view=True, memory=True)


def _show_prediction(s: Session, text: str) -> Reply:
    """Image i of the batch (X) beside the network's 10 probabilities (P) as
    bars, the argmax and the true label (batch_labels). P is stale until
    softmax_xent has run on this batch: checked by recomputing softmax of Z3."""
    try:
        index = int(text, 0) if text else 0
    except ValueError:
        raise DebugError(f"show prediction takes an image number, not '{text}'") from None
    syms = s.image.symbols
    missing = [n for n in ("X", "P", "Z3", "batch_labels") if n not in syms]
    if missing:
        raise DebugError(f"show prediction needs the MNIST program's {', '.join(missing)}")
    rows = (syms["batch_labels"].size or 1) if syms["batch_labels"].size else 1
    if not 0 <= index < rows:
        raise DebugError(f"the batch has rows 0..{rows - 1}; {index} is past its end")
    pixels = _floats(s, syms["X"].value + 784 * 4 * index, 784, "f32")
    probs = _floats(s, syms["P"].value + 40 * index, 10, "f32")
    logits = _floats(s, syms["Z3"].value + 40 * index, 10, "f32")
    label = s.machine.mem.read(syms["batch_labels"].value + index, 1)[0]
    top = max(logits) if all(v == v for v in logits) else 0.0
    ex = [math.exp(min(v - top, 0.0)) if v == v else 0.0 for v in logits]
    fresh = all(abs(e / (sum(ex) or 1.0) - p) < 1e-4 for e, p in zip(ex, probs, strict=True))
    best = max(range(10), key=lambda k: probs[k] if probs[k] == probs[k] else -1.0)
    from ..data.datasets import class_names

    names = list(class_names(getattr(s, "dataset", None)))
    bars = [
        (
            f"{names[k]:>{max(len(n) for n in names)}}",
            probs[k],
            "bold green"
            if k == best == label
            else "bold red"
            if k == best
            else "bold"
            if k == label
            else "",
        )
        for k in range(10)
    ]
    verdict = "right" if best == label else "wrong"
    caption = f"predicted {names[best]} ({probs[best]:.1%}), label {names[label]}: {verdict}"
    if not any(p > 0 for p in probs):  # nothing to predict from yet
        caption = f"label {names[label]}; P is all zero: softmax_xent has not run yet"
    elif not fresh:
        caption += "\nP still holds the previous batch's values (softmax_xent has not run on it)"
    s.picture = Picture(f"X[{index}]", pixels, 28, 28, "digit", caption, bars)
    s.panel = "picture"
    return Reply([R.picture(s.picture, 18, 60)], view=True, memory=True)


def _guess_pixels(s: Session, base: int, index: int) -> str:
    """f32 when the symbol's first values read as ordinary floats (finite,
    zero or of a plausible magnitude), else u8: bytes read as floats give
    denormals and huge values. The guess looks at the start of the symbol, so
    an index past its end is refused afterwards instead of guessed away."""
    ext = s.extent(base)
    n = min(784, ext[2] // 4) if ext is not None else 784
    try:
        vals = _floats(s, base, max(1, n), "f32")
    except DebugError:
        return "u8"
    plausible = all(v == 0.0 or (v == v and 1e-12 < abs(v) < 1e9) for v in vals)
    return "f32" if plausible else "u8"


def _label_caption(s: Session, target: str, index: int) -> str:
    sym = s.image.symbols.get("batch_labels")
    if target.strip() != "X" or sym is None or (sym.size is not None and index >= sym.size):
        return ""
    try:
        label = s.machine.mem.read(sym.value + index, 1)[0]
    except ValueError:
        return ""
    from ..data import class_label

    return f"label batch_labels[{index}] = {class_label(label, getattr(s, 'dataset', None))}"


@command(
    "heatmap",
    "heatmap EXPR as TYPE[RxC] [row N|col N] [as HxW]",
    "draw a matrix as an "
    "image (blue negative, red positive): heatmap W1 as f32[784x128] col 5 draws hidden "
    "unit 5's 784 input weights as 28x28; heatmap W3 as f32[64x10]",
    "pictures",
    ("hm",),
)
def _heatmap(s: Session, args: str) -> Reply:
    text = args.strip()
    reshape = None
    m = re.search(r"\s+as\s+(\d+)\s*x\s*(\d+)\s*$", text)
    if m:
        reshape = (int(m.group(1)), int(m.group(2)))
        text = text[: m.start()]
    sel = None
    m = re.search(r"\s+(row|col|column)\s+(\d+)\s*$", text)
    if m:
        sel = (m.group(1)[:3], int(m.group(2)))
        text = text[: m.start()]
    target, spec = _split_as(text)
    if not spec:
        raise DebugError("heatmap needs a shape, e.g. heatmap W1 as f32[784x128] col 5")
    t, shape = parse_as(spec)
    if shape is None or t == "hex":
        raise DebugError("heatmap needs a typed shape such as f32[784x128]")
    rows, cols = shape
    if rows * cols > 1 << 20:
        raise DebugError("heatmap: at most 1,048,576 elements")
    addr = E.address(target, s.ctx())
    vals = _floats(s, addr, rows * cols, t)
    title = f"{target} as {t}[{rows}x{cols}]"
    if sel:
        kind, k = sel
        if kind == "row":
            if k >= rows:
                raise DebugError(f"row {k} is outside 0..{rows - 1}")
            vals, rows, cols = vals[k * cols : (k + 1) * cols], 1, cols
        else:
            if k >= cols:
                raise DebugError(f"col {k} is outside 0..{cols - 1}")
            vals, rows, cols = vals[k::cols], rows, 1
        title += f" {kind} {k}"
        n = rows * cols
        side = int(math.isqrt(n))
        if reshape is None and side * side == n:
            reshape = (side, side)
        elif reshape is None:
            reshape = (1, n) if kind == "row" else (n, 1)
    if reshape:
        if reshape[0] * reshape[1] != rows * cols:
            raise DebugError(f"cannot show {rows * cols} values as {reshape[0]}x{reshape[1]}")
        rows, cols = reshape
        title += f" as {rows}x{cols}"
    s.picture = Picture(title, vals, rows, cols, "heatmap")
    s.panel = "picture"
    return Reply([R.picture(s.picture, 18, 60)], view=True, memory=True)


def _choice(args: str, cycle: tuple[str, ...], current: str) -> str:
    """The option named (in lower case), or without one the option after
    `current` in `cycle` (what the command's key does)."""
    return args.strip().lower() or cycle[(cycle.index(current) + 1) % len(cycle)]


@command(
    "xmm",
    "xmm [f32|f64|hex|i32|xmm|ymm|zmm|auto]",
    "how the registers panel shows the vector registers: lane format (without an "
    "argument, or the x key: the next one) or width (auto: ymm/zmm when the program "
    "uses them, its registers only)",
    "pictures",
    key="x",
)
def _xmm(s: Session, args: str) -> Reply:
    mode = _choice(args, XMM_MODES, s.xmm_mode)
    if mode in VEC_VIEWS:
        s.vec_view = mode
        return Reply([f"vector registers shown as {mode}"], view=True)
    if mode not in XMM_MODES:
        raise DebugError("xmm " + "|".join(XMM_MODES + VEC_VIEWS))
    s.xmm_mode = mode
    return Reply([f"xmm registers shown as {mode}"], view=True)


PANES = ("normal", "code", "memory", "registers", "console")


@command(
    "pane",
    "pane [normal|code|memory|registers|console]",
    "which pane fills the screen's large space (without an argument, or the z key: the "
    "next one); on small terminals the memory panel shows only this way, and "
    "`pane registers` gives the registers the whole width (every vector lane)",
    "pictures",
    key="z",
)
def _pane(s: Session, args: str) -> Reply:
    want = _choice(args, PANES, s.zoom)
    if want not in PANES:
        raise DebugError("pane " + "|".join(PANES))
    s.zoom = want
    return Reply([f"pane: {want}"], view=True)


# ---- session ------------------------------------------------------------------------------------------
@command(
    "profile",
    "profile [N]",
    "instructions executed per routine over the recorded "
    "history (re-executed with a counting hook, so running is never slowed), top N "
    "(default 15)",
    "session",
    moves=True,
)
def _profile(s: Session, args: str) -> Reply:
    n = _count(args, "profile") if args.strip() else 15
    start, end, ranked = s.profile()
    total = sum(c for _, c in ranked) or 1
    lines = [
        f"instructions {start:,} to {end:,} ({end - start:,} executed)",
        f"{'routine':<24}{'instructions':>16}{'share':>8}",
    ]
    for name, c in ranked[:n]:
        lines.append(f"{name:<24}{c:>16,}{100 * c / total:>7.1f}%")
    if len(ranked) > n:
        lines.append(f"... {len(ranked) - n} more (profile {len(ranked)})")
    return Reply(lines)


@command(
    "save",
    "save FILE",
    "save the machine (registers, memory, program) to a state "
    "file; `mnist-vm debug --state FILE` or `load FILE` opens it",
    "session",
)
def _save(s: Session, args: str) -> Reply:
    return Reply([s.save(args)])


@command(
    "load",
    "load FILE",
    "replace the machine with a saved state (breakpoints are "
    "kept where their locations still exist); history restarts",
    "session",
    moves=True,
)
def _load(s: Session, args: str) -> Reply:
    return Reply([s.load(args)], moved=True)


@command(
    "help",
    "help [COMMAND]",
    "list the keys and commands, or explain one",
    "session",
    ("h",),
    key="?",
)
def _help(s: Session, args: str) -> Reply:
    if args.strip():
        c = lookup(args.strip().split()[0])
        if c is None:
            raise DebugError(f"no command '{args.strip()}'")
        aka = f"  (also {', '.join(c.aliases)})" if c.aliases else ""
        key = f"  key: {c.key}" if c.key else ""
        return Reply([f"{c.usage}{aka}{key}", f"  {c.help}"])
    return Reply(help_lines())


@command("quit", "quit", "leave the debugger", "session", ("q", "exit"), key="q")
def _quit(s: Session, args: str) -> Reply:
    s.interrupt()
    return Reply(quit=True)


def help_lines() -> list[str]:
    """The full help: keys, then every command by group (also the ? screen)."""
    lines = ["Keys (full-screen UI)"]
    key_text = {
        "step": "one instruction, into calls",
        "next": "one instruction, a call runs to its return",
        "finish": "run until the current routine returns",
        "continue": "run to a breakpoint, a watchpoint or the end",
        "reverse-step": "back one instruction",
        "reverse-continue": "run backwards to the previous breakpoint or watchpoint",
        "break": "toggle a breakpoint at the current line",
        "xmm": "the next lane format of the vector registers (f32, f64, hex, i32)",
        "pane": "the next pane to fill the large space (code, memory, registers, console)",
        "help": "this help",
        "quit": "leave the debugger",
    }
    for c in COMMANDS:
        if c.key:
            what = key_text.get(c.name)
            lines.append(f"  {c.key:<12} {c.name}" + (f": {what}" if what else ""))
    for key, text in UI_KEYS:
        lines.append(f"  {key:<12} {text}")
    titles = {
        "running": "Running",
        "reverse": "Going backwards",
        "breakpoints": "Breakpoints and watchpoints",
        "data": "Registers, memory, expressions",
        "pictures": "Views and pictures",
        "session": "Session",
    }
    for g in GROUPS:
        lines.append("")
        lines.append(titles[g])
        for c in COMMANDS:
            if c.group != g:
                continue
            aka = f" ({', '.join(c.aliases)})" if c.aliases else ""
            lines.append(f"  {c.usage}{aka}")
            lines.append(f"      {c.help}")
    lines.append("")
    lines.append(
        "Commands may be shortened to an unambiguous prefix (cont, disp...). "
        "Expressions: help print."
    )
    return lines


# the commands gdb users reach for, registered in the same table
from .commands_nav import display_lines  # noqa: E402
