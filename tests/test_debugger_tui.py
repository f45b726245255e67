"""The full-screen debugger, driven by Textual's Pilot: press keys, then
check the widgets and the machine."""

from __future__ import annotations

import asyncio

import pytest
from debugger_programs import SPIN
from debugger_programs import TUI_PROGRAM as PROGRAM

from mnist_vm.debugger.session import Session
from mnist_vm.debugger.tui import DebuggerApp, HelpScreen


def session(tmp_path, src: str = PROGRAM) -> Session:
    p = tmp_path / "prog.asm"
    p.write_text(src)
    return Session.from_files([str(p)], root=str(tmp_path))


def console(app) -> list[str]:
    return [line.text for line in app.query_one("#console").lines]


def panel(app, pid: str) -> str:
    return app.query_one(pid)._content.plain


async def command(app, pilot, text: str) -> None:
    """Open the command line with ':', fill it in, press Enter (typing every
    character is tested once, in test_break_continue_reverse_keys)."""
    await pilot.press("colon")
    app.query_one("#cmdline").value = text
    await pilot.press("enter")
    await settle(app, pilot)


async def settle(app, pilot) -> None:
    await app.workers.wait_for_complete()
    await pilot.pause()


def run_app(s: Session, body) -> None:
    async def main():
        app = DebuggerApp(s)
        async with app.run_test(size=(200, 50)) as pilot:
            await pilot.pause()
            await body(app, pilot)

    asyncio.run(main())


def test_step_next_finish_keys(tmp_path):
    s = session(tmp_path)

    async def body(app, pilot):
        m = s.machine
        assert "prog.asm:10" in app.query_one("#code").border_title
        await pilot.press("s")
        assert m.icount == 1 and "› step" in console(app)
        assert "rcx" in panel(app, "#regs") and "▶" in panel(app, "#code")
        call = next(i.addr for i in s.image.insns if i.text() == "call square")
        await command(app, pilot, f"advance *{call:#x}")
        assert m.rip == call
        await pilot.press("n")
        await settle(app, pilot)
        assert m.r[0] == 25, "n stepped over the call"
        await pilot.press("s", "s")  # mov rdi, rax; call square -> in square
        await settle(app, pilot)
        assert "square" in panel(app, "#stack")
        await pilot.press("f")
        await settle(app, pilot)
        assert m.r[0] == 625 and any("returned from square" in x for x in console(app))

    run_app(s, body)


def test_break_continue_reverse_keys(tmp_path):
    s = session(tmp_path)

    async def body(app, pilot):
        m = s.machine
        await pilot.press("colon", *"break square", "enter")
        await pilot.pause()
        assert any("breakpoint 1 at" in x for x in console(app))
        await pilot.press("c")
        await settle(app, pilot)
        first = m.icount
        assert m.rip == s.image.symbols["square"].value and m.r[7] == 5
        assert "●▶" in panel(app, "#code")
        await pilot.press("c")
        await settle(app, pilot)
        assert m.r[7] == 25
        await pilot.press("r")
        await settle(app, pilot)
        assert m.icount < first * 10 and m.rip != s.image.symbols["square"].value
        await pilot.press("R")
        await settle(app, pilot)
        assert m.icount == first and m.r[7] == 5
        assert "replaying" in str(app.query_one("#status").content)
        await pilot.press("b")  # toggles the breakpoint off here
        await pilot.pause()
        assert not s.breakpoints
        await pilot.press("b")
        assert len(s.breakpoints) == 1

    run_app(s, body)


def test_bad_command_gives_a_message_and_the_ui_lives_on(tmp_path):
    s = session(tmp_path)

    async def body(app, pilot):
        for line in (
            "frobnicate",
            "print nosuch",
            "x/8f 0",
            "view arr as q9",
            "set 1 = 2",
            "break nowhere",
            "step",
        ):
            await command(app, pilot, line)
        out = console(app)
        assert any("unknown command 'frobnicate'" in x for x in out)
        assert any("no symbol or register named 'nosuch'" in x for x in out)
        assert any("cannot read 32 bytes at 0x0" in x for x in out)
        assert s.machine.icount == 1, "the UI kept working"
        assert app.is_running

    run_app(s, body)


def test_fault_is_shown_and_stepping_again_is_refused_clearly(tmp_path):
    s = session(
        tmp_path,
        """
    global _start
    section .text
    _start:
        xor ebx, ebx
        mov rax, [rbx]
    """,
    )

    async def body(app, pilot):
        await pilot.press("c")
        await settle(app, pilot)
        out = "\n".join(console(app))
        assert "fault (segfault)" in out and "mov rax" in out and "prog.asm:6" in out
        assert "fault" in str(app.query_one("#status").content)
        await pilot.press("s")
        await settle(app, pilot)
        assert app.is_running

    run_app(s, body)


def test_help_screen_lists_every_command(tmp_path):
    s = session(tmp_path)

    async def body(app, pilot):
        await pilot.press("question_mark")
        await pilot.pause()
        assert isinstance(app.screen, HelpScreen)
        text = app.screen.query_one("#help-text").render().plain
        for name in ("reverse-continue", "last-write", "heatmap", "continue [--fast]", "x/NFU"):
            assert name in text
        await pilot.press("escape")
        await pilot.pause()
        assert not isinstance(app.screen, HelpScreen)

    run_app(s, body)


def test_xmm_key_memory_view_and_scrolling(tmp_path):
    s = session(tmp_path)

    async def body(app, pilot):
        await pilot.press("x")
        assert s.xmm_mode == "f64" and "xmm as f64" in panel(app, "#regs")
        await command(app, pilot, "view arr as i32[16x4]")
        assert "arr" in app.query_one("#memory").border_title
        app.query_one("#memory").focus()
        await pilot.pause()
        await pilot.press("down", "down", "pagedown")
        assert s.view.top == 12
        await pilot.press("home")
        assert s.view.top == 0
        await command(app, pilot, "break square")
        await pilot.press("c")
        await settle(app, pilot)
        assert "55" in panel(app, "#memory"), "the view shows the filled array"

    run_app(s, body)


def test_pictures_in_the_memory_panel(tmp_path):
    s = session(tmp_path)

    async def body(app, pilot):
        await command(app, pilot, "show digit digit as u8")
        assert "digit" in app.query_one("#memory").border_title
        assert "▀" in panel(app, "#memory")
        await command(app, pilot, "heatmap arr as i32[8x8]")
        assert "8x8" in panel(app, "#memory")

    run_app(s, body)


def test_escape_interrupts_a_long_continue(tmp_path):
    s = session(tmp_path, SPIN)

    async def body(app, pilot):
        await pilot.press("c")
        await asyncio.sleep(0.3)
        assert app.busy == "continue"
        await pilot.press("escape")
        await settle(app, pilot)
        assert app.busy is None and s.stop.kind == "interrupt"
        assert s.machine.icount > 1000
        await pilot.press("r")
        await settle(app, pilot)
        assert s.stop.kind == "step"

    run_app(s, body)


@pytest.mark.parametrize("typed", ["q", ":quit", ":q", ":exit"])
def test_the_q_key_and_the_quit_command_leave_the_debugger(tmp_path, typed):
    s = session(tmp_path)

    async def body(app, pilot):
        assert app.is_running
        if typed.startswith(":"):
            await pilot.press("colon")
            app.query_one("#cmdline").value = typed[1:]
            await pilot.press("enter")
            await app.workers.wait_for_complete()
        else:
            await pilot.press(typed)
        await pilot.pause()
        assert not app.is_running

    run_app(s, body)


def test_memory_view_of_rsp_near_the_stack_top_shows_the_bytes_there(tmp_path):
    """The default view reads 4 KiB from rsp; at the start rsp is a few hundred
    bytes below the top of the stack: what is mapped is shown, and where it ends."""
    s = session(tmp_path)
    from mnist_vm.debugger import render as R

    text = R.memory_panel(s, 30, 100).plain
    assert "not mapped" not in text
    top = s.machine.mem.top
    assert f"ends at {top:#x}" in text and f"{s.machine.r[4]:012x}" in text


def test_a_view_at_80x24_takes_the_code_place_to_be_seen(tmp_path):
    """80x24 hides the memory panel; `view` or `show` there would draw into
    nothing, so the memory pane takes the code's place (z cycles back)."""
    s = session(tmp_path)

    async def main():
        app = DebuggerApp(s)
        async with app.run_test(size=(80, 24)) as pilot:
            await pilot.pause()
            assert not app.query_one("#memory").display
            await command(app, pilot, "xmm f64")  # not a view: the layout stays
            assert s.zoom == "normal"
            await command(app, pilot, "view arr as i32")
            assert s.zoom == "memory" and app.query_one("#memory").display
            assert not app.query_one("#code").display
            assert "arr" in app.query_one("#memory").border_title

    asyncio.run(main())


def _digit_with_ink_in_the_middle() -> list[float]:
    """28x28, zero but for a 20x16 block in rows 4-23, columns 6-21 (as MNIST digits sit)."""
    return [0.5 if 4 <= r < 24 and 6 <= c < 22 else 0.0 for r in range(28) for c in range(28)]


def test_a_digit_in_a_small_panel_leaves_out_its_blank_border_not_its_strokes():
    from mnist_vm.debugger import render as R
    from mnist_vm.debugger.model import Picture

    p = Picture("X[0]", _digit_with_ink_in_the_middle(), 28, 28, "digit", "label 7")
    text = R.picture(p, 14, 30).plain  # the memory panel at 80x24
    assert "rows 4-23, cols 6-21: the rest is blank" in " ".join(text.split())
    assert "averages" not in text, "20 rows fit in 10 lines: every pixel drawn"
    assert text.splitlines()[10] == "label 7", "the caption right under the picture"
    assert "averages" in R.picture(Picture("X[0]", [1.0] * 784, 28, 28, "digit"), 14, 30).plain, (
        "nothing to leave out: averaged"
    )


def test_show_prediction_bars_all_ten_fit_a_small_panel():
    from mnist_vm.debugger import render as R
    from mnist_vm.debugger.model import Picture

    probs = [0.05, 0.05, 0.05, 0.55, 0.05, 0.05, 0.05, 0.05, 0.05, 0.05]
    bars = [(str(k), v, "") for k, v in enumerate(probs)]
    p = Picture("X[3]", _digit_with_ink_in_the_middle(), 28, 28, "digit", "predicted 3", bars)
    for width in (30, 62, 100):  # 80x24, 120x36, 200x50
        lines = R.picture(p, 14, width).plain.splitlines()
        shown = [line for line in lines if "%" in line]
        assert len(shown) == 10, (width, lines)
        assert "55.0%" in shown[3] and "5.0%" in shown[9]
        assert "predicted 3" in lines


def test_a_heatmap_fills_the_panel_instead_of_shrinking_to_a_square():
    """heatmap W3 as f32[64x10] in a 106-column panel was averaged 3x3 into 22x4."""
    from mnist_vm.debugger import render as R
    from mnist_vm.debugger.model import Picture

    vals = [(-1.0) ** (k % 10) * (k % 7) for k in range(640)]  # columns alternate in sign
    text = R.picture(Picture("W3", vals, 64, 10, "heatmap"), 16, 106).plain
    lines = text.splitlines()
    assert "averages 3x1" in text, "rows averaged, the ten columns kept"
    assert max(len(line) for line in lines[:-1]) >= 80, "the columns drawn wide"
    small = R.picture(Picture("A", vals[:64], 8, 8, "heatmap"), 16, 106).plain
    assert "each value drawn 3x3" in small and len(small.splitlines()) == 13


def test_z_at_80x24_first_gives_the_code_the_whole_width(tmp_path):
    """The memory panel is hidden at 80x24 anyway, so `pane code` there must
    change something: the code takes the registers' width too."""
    s = session(tmp_path)

    async def main():
        app = DebuggerApp(s)
        async with app.run_test(size=(80, 24)) as pilot:
            await pilot.pause()
            narrow = app.query_one("#code").size.width
            app.action_key("z")
            await pilot.pause()
            assert s.zoom == "code" and not app.query_one("#right").display
            assert app.query_one("#code").size.width > narrow + 40

    asyncio.run(main())


def test_escape_closes_the_command_line_without_running_it(tmp_path):
    """Esc on the open line is the line's Closed message, handled by the app."""
    s = session(tmp_path)

    async def body(app, pilot):
        line = app.query_one("#cmdline")
        await pilot.press("colon", "s", "t")
        assert line.has_class("open") and line.value == "st"
        await pilot.press("escape")
        await pilot.pause()
        assert not line.has_class("open") and line.value == "" and not line.can_focus
        assert s.machine.icount == 0, "closing the line ran nothing"

    run_app(s, body)


def test_code_panel_arrows_scroll_the_source_and_home_comes_back_to_rip(tmp_path):
    """The code panel's keys post Scrolled messages; the app scrolls and redraws."""
    s = session(tmp_path)

    async def body(app, pilot):
        at_rip = panel(app, "#code")
        app.query_one("#code").focus()
        await pilot.pause()
        await pilot.press("down", "down", "down")
        assert app.code_scroll == 3 and panel(app, "#code") != at_rip
        await pilot.press("home")
        assert app.code_scroll == 0 and panel(app, "#code") == at_rip

    run_app(s, body)


def test_a_resized_terminal_redraws_the_panels_for_their_new_size(tmp_path):
    """Each panel posts Resized when its size changes; the app draws it again
    for that size (the call stack panel fills its height with stack words)."""
    s = session(tmp_path)

    async def main():
        app = DebuggerApp(s)
        async with app.run_test(size=(200, 50)) as pilot:
            await pilot.pause()
            stack = app.query_one("#stack")
            before = stack.content_size.height
            assert len(panel(app, "#stack").splitlines()) == before
            await pilot.resize_terminal(200, 60)
            await pilot.pause()
            assert stack.content_size.height > before
            assert len(panel(app, "#stack").splitlines()) == stack.content_size.height

    asyncio.run(main())
