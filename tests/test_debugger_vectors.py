"""The debugger's vector registers: ymm/zmm lanes for programs that use them."""

from __future__ import annotations

from pathlib import Path

from debugger_programs import divide_under_mxcsr

from mnist_vm.debugger import render as R
from mnist_vm.debugger.commands import execute
from mnist_vm.debugger.session import Session
from vm import assemble

DENSE = Path(__file__).parent / "asm" / "dense_avx512.asm"


def _changed_text(panel) -> list[str]:
    return [panel.plain[sp.start : sp.end] for sp in panel.spans if sp.style == R.CHANGED]


def test_zmm_lanes_shown_for_a_zmm_program_with_changed_lanes_highlighted():
    s = Session(assemble([str(DENSE)], defines={"INPUTS": "16"}))
    execute(s, "break _start.input")
    execute(s, "continue")
    execute(s, "step")  # vbroadcastss zmm8, [rsi + rcx*4]: all sixteen lanes change
    panel = R.registers_panel(s, 130)
    text = panel.plain
    assert "zmm8 " in text and "zmm0 " in text and "xmm0 " not in text
    assert "zmm31" not in text  # only the registers the program names
    x = s.machine.xf[4 * 8]  # lane 0 of zmm8: x[0], broadcast
    changed = _changed_text(panel)
    assert len([c for c in changed if c.strip() == f"{x:.9g}"]) == 16, changed
    execute(s, "xmm xmm")
    assert "xmm15" in R.registers_panel(s, 130).plain
    execute(s, "xmm zmm")
    tall = R.registers_panel(s, 130, height=80).plain  # 32 zmm rows need the room
    assert "zmm31" in tall
    assert "more: info registers" in R.registers_panel(s, 130, height=30).plain


def test_sse_program_keeps_the_xmm_panel():
    s = Session(assemble([str(Path(__file__).parent.parent / "programs/examples/dot_product.asm")]))
    text = R.registers_panel(s, 100).plain
    assert "xmm15" in text and "ymm0" not in text and "zmm0" not in text


def test_ymm_and_zmm_in_expressions_and_set():
    s = Session(assemble([str(DENSE)], defines={"INPUTS": "16"}))
    execute(s, "set zmm3.f32[15] = 2.5")
    execute(s, "set ymm3.f32[1] = -1")
    m = s.machine
    assert m.xf[3 * 4 + 1] == -1.0  # ymm3 lane 1 is xmm3 lane 1
    reply = execute(s, "print zmm3.f32[15]")
    assert "2.5" in " ".join(map(str, reply.lines))
    assert "lanes 0..7" in " ".join(map(str, execute(s, "print ymm3.f32[8]").lines))
    text = " ".join(map(str, execute(s, "print zmm3").lines))
    assert text.count(",") >= 15 and "2.5" in text


def test_pane_registers_shows_every_zmm_lane_at_80x24():
    """At the default terminal the registers column has no room for vectors;
    `pane registers` gives it the whole width: eight f32 lanes a line."""
    import asyncio

    from mnist_vm.debugger.tui import DebuggerApp

    example = Path(__file__).parent.parent / "programs/examples/dot_avx512.asm"
    s = Session(assemble([str(example)]))
    execute(s, "advance dot_avx512.loop")
    execute(s, "next 2")  # zmm1 = a[0..15] = 1..16

    async def main() -> str:
        app = DebuggerApp(s)
        async with app.run_test(size=(80, 24)) as pilot:
            await pilot.pause()
            assert "zmm1" not in app.query_one("#regs")._content.plain
            app.action_key("z")  # code
            app.action_key("z")  # memory
            app.action_key("z")  # registers
            await pilot.pause()
            assert not app.query_one("#left").display, "the code column gives way"
            return app.query_one("#regs")._content.plain

    text = asyncio.run(main())
    rows = [line.split() for line in text.splitlines() if line.startswith("zmm1")]
    assert rows and rows[0][1:] == [str(k) for k in range(1, 9)], text


MXCSR_PROGRAM = divide_under_mxcsr(0x7FC0)


def test_registers_panel_shows_mxcsr_for_a_program_that_uses_it():
    s = Session(assemble([("m.asm", MXCSR_PROGRAM)]))
    for _ in range(3):
        execute(s, "step")
    assert "mxcsr 0x7fe0 RC=zero DAZ PE" in R.registers_panel(s, 100).plain
    plain = Session(assemble([("p.asm", MXCSR_PROGRAM.replace("ldmxcsr [mode]", "nop"))]))
    assert "mxcsr" not in R.registers_panel(plain, 100).plain  # fixed at 0x1F80: not shown
