"""The full-screen debugger (Textual). Panels draw what render.py makes of
the session; keys and the `:` command line both go through commands.execute,
so the TUI has no command logic of its own. Commands that run the machine
(continue, next, finish, reverse searches, profile ...) run in a worker
thread; Esc or Ctrl+C interrupts them, and the status line shows progress."""

from __future__ import annotations

import time
from typing import ClassVar

from rich.text import Text
from textual import on
from textual.app import App, ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.message import Message
from textual.screen import ModalScreen
from textual.widget import Widget
from textual.widgets import Input, RichLog, Static
from textual.worker import Worker, WorkerState

from . import render as R
from .commands import COMMANDS, Reply, execute, help_lines, lookup, repeatable
from .session import Session

HINT = (
    "s step  n next  f finish  c continue  r/R reverse step/continue  b breakpoint  "
    ": command  ? help  q quit"
)


SIZE_CLASSES = ("small", "medium", "large")


def size_class(width: int, height: int) -> str:
    """small: 80x24 up to 119x35; medium: up to 169x45; large beyond."""
    if width < 120 or height < 36:
        return "small"
    if width < 170 or height < 46:
        return "medium"
    return "large"


def scroll_keys(action: str, moves: dict[str, str]) -> list[BindingType]:
    """Hidden key bindings that run `action(ARGS)` with each key's arguments."""
    return [Binding(key, f"{action}({args})", show=False) for key, args in moves.items()]


class Panel(Widget):
    """A bordered panel whose content the app redraws at every stop. Its size
    comes from the stylesheet, so new content repaints it without a layout
    pass, and identical content is not repainted at all.

    The widgets here know nothing of the app: the app sets their content
    (attributes down) and they post messages the app handles (messages up)."""

    class Resized(Message):
        """A panel changed size: its content must be drawn for the new size."""

    def __init__(self, title: str, **kw):
        super().__init__(**kw)
        self.add_class("panel")
        self.border_title = title
        self._content: Text = Text("")

    def set(self, content: Text) -> None:
        if content != self._content:
            self._content = content
            self.refresh()

    def render(self) -> Text:
        return self._content

    def on_resize(self) -> None:
        self.post_message(self.Resized())  # Resize does not bubble; this does


class CodePanel(Panel):
    can_focus = True
    BINDINGS = scroll_keys(
        "scroll_code", {"up": "-1", "down": "1", "pageup": "-10", "pagedown": "10", "home": "0"}
    )

    class Scrolled(Message):
        """Scroll the code by delta lines (0: back to rip)."""

        def __init__(self, delta: int) -> None:
            super().__init__()
            self.delta = delta

    def action_scroll_code(self, delta: int) -> None:
        self.post_message(self.Scrolled(delta))


class MemoryPanel(Panel):
    can_focus = True
    BINDINGS = scroll_keys(
        "scroll_mem",
        {"up": "-1, 0", "down": "1, 0", "pageup": "-10, 0", "pagedown": "10, 0"}
        | {"left": "0, -1", "right": "0, 1", "home": "0, 0, True"},
    )

    class Scrolled(Message):
        """Scroll the memory view dy rows and dx columns (home: to its top left)."""

        def __init__(self, dy: int, dx: int, home: bool) -> None:
            super().__init__()
            self.dy, self.dx, self.home = dy, dx, home

    def action_scroll_mem(self, dy: int, dx: int, home: bool = False) -> None:
        self.post_message(self.Scrolled(dy, dx, home))


class CommandLine(Input):
    """The `:` line, with Up/Down recalling earlier commands."""

    BINDINGS = [
        Binding("up", "recall(-1)", show=False),
        Binding("down", "recall(1)", show=False),
        Binding("escape", "close", show=False),
    ]

    def __init__(self, **kw):
        super().__init__(
            placeholder=": opens the command line (help lists commands)",
            select_on_focus=False,
            **kw,
        )
        self.history: list[str] = []
        self.pos = 0
        self.can_focus = False  # only while open (so keys reach the app otherwise)

    def action_recall(self, delta: int) -> None:
        if not self.history:
            return
        self.pos = max(0, min(len(self.history), self.pos + delta))
        self.value = self.history[self.pos] if self.pos < len(self.history) else ""
        self.cursor_position = len(self.value)

    class Closed(Message):
        """Esc on the open command line: close it."""

    def action_close(self) -> None:
        self.post_message(self.Closed())


class HelpScreen(ModalScreen):
    BINDINGS = [
        Binding("escape", "dismiss", "close"),
        Binding("q", "dismiss", show=False),
        Binding("question_mark", "dismiss", show=False),
    ]

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="help-box"):
            yield Static(Text("\n".join(help_lines())), id="help-text")

    def on_mount(self) -> None:
        self.query_one("#help-box").border_title = "help  (Esc closes; arrows scroll)"
        self.query_one("#help-box").focus()


class DebuggerApp(App[None]):
    CSS_PATH = "debugger.tcss"
    TITLE = "mnist-vm debug"
    AUTO_FOCUS = None
    # Every key goes through action_key, so a key typed just after ':' (before the
    # command line has the focus) still lands in the command line.
    KEYS = {**{c.key: c.name for c in COMMANDS if c.key}, ":": "open"}
    # Keys that do what only the screen can, not what their command does: b toggles
    # (the break command only adds) and is ignored while a command runs, ? opens the
    # help screen, q leaves at once even while a command runs (a command would wait).
    KEY_ACTIONS = {
        "open": "open_command_line",
        "break": "toggle_break",
        "help": "help",
        "quit": "quit_debugger",
    }
    BINDINGS: ClassVar[list[BindingType]] = [
        *(
            Binding({"?": "question_mark", ":": "colon"}.get(k, k), f"key({k!r})", show=False)
            for k in KEYS
        ),
        Binding("enter", "submit_line", show=False),
        *scroll_keys(
            "scroll_console",
            {"shift+up": "-1", "shift+down": "1", "shift+pageup": "-10", "shift+pagedown": "10"}
            | {"ctrl+b": "-10", "ctrl+f": "10"},
        ),
        Binding("escape", "interrupt", show=False),
        Binding("ctrl+c", "interrupt", show=False, priority=True),
    ]

    def __init__(self, session: Session):
        super().__init__()
        self.session = session
        self.busy: str | None = None
        self.queued: list[tuple[str, bool]] = []
        self.code_scroll = 0
        self.last_line = ""  # what Enter repeats
        self._started = 0.0
        self._panels_ready = False

    # -- layout -----------------------------------------------------------------------
    def compose(self) -> ComposeResult:
        with Horizontal(id="main"):
            with Vertical(id="left"):
                yield CodePanel("Code", id="code")
                yield MemoryPanel("Memory", id="memory")
            with Vertical(id="right"):
                yield Panel("Registers", id="regs")
                yield Panel("Call stack", id="stack")
        with Horizontal(id="bottom"):
            yield Panel("Program output", id="output")
            # min_width: lines wrap at the console's own width (RichLog's default
            # of 78 cut them at small sizes instead of wrapping)
            yield RichLog(id="console", wrap=True, markup=False, max_lines=2000, min_width=10)
        yield CommandLine(id="cmdline")
        yield Static(id="status")

    def on_mount(self) -> None:
        self.query_one("#console").border_title = "Console"
        self._panels_ready = True
        self.write(Text(self.session.stop.text, style="bold"))
        self.write(Text(HINT, style="grey50"))
        self.refresh_panels()
        self.set_interval(0.25, self._tick)

    def _memory_shown(self) -> bool:
        """Does the layout show the memory panel (size class and zoom)?"""
        zoom = self.session.zoom
        if zoom in ("code", "registers"):
            return False
        return zoom == "memory" or size_class(self.size.width, self.size.height) != "small"

    # -- drawing -----------------------------------------------------------------------
    def write(self, item) -> None:
        self.query_one("#console", RichLog).write(item)

    def on_resize(self, event) -> None:
        self._apply_layout(event.size.width, event.size.height)

    def _apply_layout(self, width: int, height: int) -> None:
        """The size class and zoom as classes on the screen; the stylesheet
        does the rest."""
        screen = self.screen
        size = size_class(width, height)
        for c in SIZE_CLASSES:
            screen.set_class(c == size, f"-{c}")
        for p in ("code", "memory", "registers", "console"):
            screen.set_class(self.session.zoom == p, f"zoom-{p}")

    def refresh_panels(self) -> None:
        if not self._panels_ready or self.busy:
            return
        s = self.session
        self._apply_layout(self.size.width, self.size.height)
        for pid, draw, title in self._panels():
            panel = self.query_one(pid, Panel)
            h, w = _size(panel)
            try:
                panel.set(draw(s, h, w))
                if title is not None:
                    panel.border_title = title(s)
            except Exception as e:  # a drawing bug must not take the debugger down
                panel.set(
                    Text(f"cannot draw this panel: {type(e).__name__}: {e}", style="bold red")
                )
        self.query_one("#status", Static).update(R.status_text(s))

    def _panels(self):
        return (
            ("#code", lambda s, h, w: R.code_panel(s, h, self.code_scroll, w), R.code_title),
            ("#memory", R.memory_panel, R.view_title),
            ("#regs", lambda s, h, w: R.registers_panel(s, w, h), None),
            ("#stack", lambda s, h, w: R.stack_panel(s, h), None),
            ("#output", lambda s, h, w: R.output_panel(s, h), None),
        )

    def _tick(self) -> None:
        if self.busy:
            m = self.session.machine
            t = time.perf_counter() - self._started
            queued = f" then {' '.join(q for q, _ in self.queued)}" if self.queued else ""
            self.query_one("#status", Static).update(
                Text.assemble(
                    (f" {m.icount:,} insns ", "bold reverse"),
                    (f" running {self.busy} ", "bold"),
                    (f" {t:.1f} s ", ""),
                    (queued, "italic"),
                    (" Esc interrupts", "grey50"),
                )
            )

    # -- what the panels ask for ---------------------------------------------------------------
    @on(Panel.Resized)
    def _panel_resized(self) -> None:
        self.refresh_panels()

    @on(CodePanel.Scrolled)
    def _scroll_code(self, event: CodePanel.Scrolled) -> None:
        self.code_scroll = 0 if event.delta == 0 else self.code_scroll + event.delta
        self.refresh_panels()

    @on(MemoryPanel.Scrolled)
    def _scroll_memory(self, event: MemoryPanel.Scrolled) -> None:
        s = self.session
        v = s.current_view()
        if s.panel != "memory":
            return
        if event.home:
            v.top = v.left = 0
        else:
            v.top = max(0, v.top + event.dy)
            if v.shape is not None:
                v.top = min(v.top, v.shape[0] - 1)
                v.left = max(0, min(v.shape[1] - 1, v.left + event.dx))
        if s.view is None:
            s.view = v
        self.refresh_panels()

    @on(CommandLine.Closed)
    def _command_line_closed(self) -> None:
        self.close_command_line()

    # -- running commands -------------------------------------------------------------------
    def run_line(self, line: str, echo: bool = True) -> None:
        line = line.strip()
        if not line:
            return
        if self.busy:
            # typed ahead while a command runs: done in order afterwards (Esc drops them)
            if len(self.queued) < 32:
                self.queued.append((line, echo))
            else:
                self.bell()
            return
        if repeatable(line):
            self.last_line = line
        if echo:
            self.write(Text(f"› {line}", style="bold cyan"))
        word, _, args = line.partition(" ")
        cmd = lookup(word.split("/")[0])
        quick = cmd is not None and self.session.is_quick(cmd.name, args)
        if cmd is not None and cmd.moves and not quick:
            self.busy = cmd.name
            self._started = time.perf_counter()
            self._tick()
            self.run_worker(
                lambda: execute(self.session, line),
                name="command",
                thread=True,
                exit_on_error=False,
            )
            return
        self.show_reply(execute(self.session, line))

    @on(Worker.StateChanged)
    def _worker_done(self, event: Worker.StateChanged) -> None:
        if event.worker.name != "command":
            return
        if event.state == WorkerState.SUCCESS:
            self.busy = None
            reply = event.worker.result
            if isinstance(reply, Reply):
                self.show_reply(reply)
        elif event.state in (WorkerState.ERROR, WorkerState.CANCELLED):
            self.busy = None
            err = event.worker.error
            self.show_reply(Reply([f"internal error: {type(err).__name__}: {err}"], error=True))

    def show_reply(self, reply: Reply) -> None:
        for item in reply.lines:
            if isinstance(item, str):
                style = "bold red" if reply.error else ""
                if reply.stop is not None and item == reply.stop.text and not reply.error:
                    style = "bold"
                self.write(Text(item, style=style))
            elif not reply.view:
                self.write(item)
        if reply.moved:
            self.code_scroll = 0
        if reply.memory and not reply.error and not self._memory_shown():
            # a view or picture was asked for: show it (80x24 hides the memory panel)
            self.session.zoom = "memory"
            self.write(
                Text("(the memory panel now has the code's place: z cycles the panes)", "grey50")
            )
        self.refresh_panels()
        if reply.quit:
            self.exit()
        elif self.queued and not self.busy:
            line, echo = self.queued.pop(0)
            self.run_line(line, echo)

    # -- actions ---------------------------------------------------------------------------------
    def action_key(self, key: str) -> None:
        line = self.query_one("#cmdline", CommandLine)
        if line.has_class("open"):
            line.insert_text_at_cursor(key)
            line.focus()
            return
        what = self.KEYS[key]
        action = self.KEY_ACTIONS.get(what)
        if action is not None:
            getattr(self, f"action_{action}")()
        else:
            self.run_line(what)  # the command the table gives this key

    def action_scroll_console(self, lines: int) -> None:
        console = self.query_one("#console", RichLog)
        console.scroll_relative(y=lines, animate=False)

    def action_toggle_break(self) -> None:
        if self.busy:
            return
        self.write(Text("› b", style="bold cyan"))
        try:
            self.write(Text(self.session.toggle_breakpoint_here()))
        except Exception as e:  # a bad position: say so, never crash
            self.write(Text(f"break: {e}", style="bold red"))
        self.refresh_panels()

    def action_open_command_line(self) -> None:
        line = self.query_one("#cmdline", CommandLine)
        line.add_class("open")
        line.can_focus = True
        line.value = ""
        line.pos = len(line.history)
        self.screen.set_focus(line)  # at once: the next keys must land here

    def close_command_line(self) -> None:
        line = self.query_one("#cmdline", CommandLine)
        line.remove_class("open")
        line.value = ""
        line.can_focus = False
        self.screen.set_focus(None)

    def on_key(self, event) -> None:
        """Keys typed right after ':' were routed before the command line had
        the focus; they reach the app unhandled (the line itself stops the
        printable keys it handles), so put them where they were meant to go."""
        line = self.query_one("#cmdline", CommandLine)
        if line.has_class("open") and event.is_printable:
            line.insert_text_at_cursor(event.character or "")
            event.stop()

    def action_submit_line(self) -> None:
        """Enter typed before the command line had the focus, or with it
        closed: then it repeats the last step/next/continue/x/list (gdb)."""
        line = self.query_one("#cmdline", CommandLine)
        if line.has_class("open"):
            self._submit(line.value)
        elif self.last_line:
            self.run_line(self.last_line)

    @on(Input.Submitted, "#cmdline")
    def _submitted(self, event: Input.Submitted) -> None:
        self._submit(event.value)

    def _submit(self, value: str) -> None:
        line = self.query_one("#cmdline", CommandLine)
        text = value.strip().lstrip(":").strip() or self.last_line
        if text and (not line.history or line.history[-1] != text):
            line.history.append(text)
        self.close_command_line()
        self.run_line(text)

    def action_help(self) -> None:
        self.push_screen(HelpScreen())

    def action_interrupt(self) -> None:
        if self.busy:
            self.session.interrupt()
            if self.queued:
                self.write(Text(f"dropped {len(self.queued)} queued command(s)", style="magenta"))
            self.queued.clear()
            self.write(Text("interrupting...", style="magenta"))
        elif self.query_one("#cmdline", CommandLine).has_class("open"):
            self.close_command_line()

    def action_quit_debugger(self) -> None:
        if self.busy:
            self.session.interrupt()
        self.exit()


def _size(widget) -> tuple[int, int]:
    size = widget.content_size
    return (size.height or 16, size.width or 80)
