"""The debugger's session core and command table, without any UI:
breakpoints, watchpoints, last-write, stepping commands, reverse commands,
expressions, views, state save/load, and bad input that must only ever give
a one-line message."""

from __future__ import annotations

import re
import struct
from pathlib import Path

import pytest
from debugger_programs import SESSION_PROGRAM as PROGRAM

from mnist_vm.debugger import commands as C
from mnist_vm.debugger.commands import execute
from mnist_vm.debugger.session import Session

REPO = Path(__file__).resolve().parents[1]


FAULTY = """
global _start
section .text
_start:
    mov rax, 7
    xor ebx, ebx
    mov rcx, [rbx + 8]
    mov eax, 60
    syscall
"""


@pytest.fixture()
def s(tmp_path) -> Session:
    p = tmp_path / "prog.asm"
    p.write_text(PROGRAM)
    return Session.from_files([str(p)], root=str(tmp_path))


def run(s: Session, *lines: str) -> list[C.Reply]:
    return [execute(s, line) for line in lines]


def text(reply: C.Reply) -> str:
    return "\n".join(str(x) for x in reply.lines)


def ok(s: Session, line: str) -> str:
    r = execute(s, line)
    assert not r.error, f"{line!r} failed: {text(r)}"
    return text(r)


def sym(s: Session, name: str) -> int:
    return s.image.symbols[name].value


# ---- breakpoints ---------------------------------------------------------------------------
def test_break_at_label_stops_before_it_and_counts_hits(s):
    assert "breakpoint 1 at" in ok(s, "break square")
    out = ok(s, "continue")
    assert out.startswith("breakpoint 1,") and "square" in out
    assert s.machine.rip == sym(s, "square") and s.machine.r[7] == 5
    ok(s, "continue")
    assert s.machine.r[7] == 3
    assert s.breakpoints[1].hits == 2
    assert "exited with status 0" in ok(s, "continue")


def test_conditional_breakpoint_and_file_line_location(s):
    line = PROGRAM.splitlines().index("    mov [arr + rcx*4], ecx") + 1
    ok(s, f"break prog.asm:{line} if rcx == 40")
    ok(s, "continue")
    assert s.machine.r[1] == 40
    before = dict(s.breakpoints)
    r = execute(s, "break square if rcx ==")  # a bad condition is refused when typed
    assert r.error and "'rcx ==' ends too early" in text(r)
    assert s.breakpoints == before, "a refused breakpoint is not set"


def test_local_label_disable_enable_delete_and_tbreak(s):
    ok(s, "break _start.fill")
    ok(s, "tbreak twice")
    ok(s, "disable 1")
    ok(s, "continue")
    assert s.machine.rip == sym(s, "twice")
    assert 2 not in s.breakpoints, "a temporary breakpoint goes away when hit"
    ok(s, "enable 1")
    assert "deleted 1" in ok(s, "delete 1")
    assert "exited" in ok(s, "continue")


def test_b_key_toggles_a_breakpoint_at_the_current_line(s):
    ok(s, "step 3")
    here = s.machine.rip
    assert "breakpoint 1" in s.toggle_breakpoint_here()
    assert s.breakpoints[1].addr == here
    assert "deleted breakpoint 1" in s.toggle_breakpoint_here()
    assert not s.breakpoints


# ---- stepping ---------------------------------------------------------------------------------
def test_next_steps_over_a_call_and_finish_returns(s):
    call = next(i.addr for i in s.image.insns if i.text() == "call twice")
    ok(s, f"break *{call:#x}")
    ok(s, "continue")
    assert s.machine.insns[s.machine.rip].text() == "call twice"
    ok(s, "next")
    assert s.machine.r[0] == 30
    ok(s, "step 2")  # mov rdi, 3 ; call twice -> in twice
    assert s.machine.rip == sym(s, "twice")
    ok(s, "step 3")  # push, mov, call -> in square
    names = [f.routine for f in s.frames()]
    assert names == ["square", "twice", "_start"]
    out = ok(s, "finish")
    assert "returned from square" in out and s.machine.r[0] == 9
    assert [f.routine for f in s.frames()] == ["twice", "_start"]


def test_until_leaves_a_loop_and_advance_reaches_a_label(s):
    ok(s, "break _start.fill")
    ok(s, "continue")
    ok(s, "delete")
    while s.machine.insns[s.machine.rip].defn.mnemonic != "jb":
        ok(s, "step")
    ok(s, "until")
    assert s.machine.r[1] == 64, "until ran the loop to its end"
    out = ok(s, "advance square")
    assert "reached square" in out and s.machine.rip == sym(s, "square")


def test_finish_in_the_outermost_routine_is_a_clear_error(s):
    r = execute(s, "finish")
    assert r.error and "outermost" in text(r)


# ---- reverse ------------------------------------------------------------------------------------
def test_reverse_step_and_reverse_continue_to_breakpoints(s):
    ok(s, "break square")
    ok(s, "continue")
    first = s.machine.icount
    ok(s, "continue")
    second = s.machine.icount
    ok(s, "step 2")
    ok(s, "reverse-step 2")
    assert s.machine.icount == second
    out = ok(s, "reverse-continue")
    assert "breakpoint 1" in out and s.machine.icount == first and s.machine.r[7] == 5
    out = ok(s, "reverse-continue")
    assert "start of the recorded history" in out and s.machine.icount == 0
    r = execute(s, "reverse-step")
    assert r.error and "start of the recorded history" in text(r)


def test_reverse_finish_and_reverse_next_go_back_to_the_call(s):
    ok(s, "break square")
    ok(s, "continue")
    ok(s, "step 2")  # inside square
    ok(s, "reverse-finish")
    insn = s.machine.insns[s.machine.rip]
    assert insn.text() == "call square"
    ok(s, "step 4")  # through square, back in twice
    assert s.machine.insns[s.machine.rip].text() == "add rax, rbx"
    ok(s, "reverse-next")
    assert s.machine.insns[s.machine.rip].text() == "call square"


def test_exit_then_reverse(s):
    assert "exited" in ok(s, "continue")
    r = execute(s, "step")
    assert r.error and "exited" in text(r)
    ok(s, "reverse-step")
    assert s.machine.exit_status is None
    assert "exited" in ok(s, "step")


# ---- watchpoints and last-write --------------------------------------------------------------------
def test_watch_stops_after_the_write_with_old_and_new_values(s):
    out = ok(s, "watch arr+40 4")
    assert "4 bytes" in out
    out = ok(s, "continue")
    assert "watchpoint 1" in out and "old: 0x00000000" in out and "new: 0x0000000a" in out
    assert s.machine.r[1] == 10
    ok(s, "watch f32 [weights+12]")
    ok(s, "delete 1")
    out = ok(s, "continue")
    assert "watchpoint 2" in out and "f32 -0.75" in out


def test_reverse_continue_stops_at_the_last_write(s):
    ok(s, "watch counter")
    assert "exited" not in ok(s, "continue")
    ok(s, "delete")
    ok(s, "break square")
    ok(s, "continue")
    ok(s, "delete")
    ok(s, "watch counter")
    out = ok(s, "reverse-continue")
    assert "written by the next instruction" in out
    assert s.machine.insns[s.machine.rip].text().startswith("add qword")
    assert struct.unpack("<q", s.machine.mem.read(sym(s, "counter"), 8))[0] == 63


def test_last_write_names_the_instruction_and_step(s):
    ok(s, "break square")
    ok(s, "continue")
    here = s.machine.icount
    out = ok(s, "last-write arr+8 4")
    assert re.search(r"last written at instruction [\d,]+", out)
    assert "mov dword" in out and "new: 0x00000002" in out
    assert s.machine.icount == here, "last-write does not move"
    assert "was not written" in ok(s, "last-write weights 4")


# ---- data -----------------------------------------------------------------------------------------------
def test_print_set_and_expressions(s):
    ok(s, "step 3")
    assert ok(s, "print rcx + 2 * 3") == "rcx + 2 * 3 = 0x6 (6)"
    assert "0.5 (f32)" in ok(s, "print f32 weights[0]")
    assert "-1.25" in ok(s, "print f32 [weights + 4]")
    assert "(1)" in ok(s, "print (rax == 0) && !zf || 1")
    out = ok(s, "set rax = 0x1234")
    assert "rax = 0x1234" in out and s.machine.r[0] == 0x1234
    ok(s, "set al = 0xff")
    assert s.machine.r[0] == 0x12FF
    ok(s, "set eax = 1")
    assert s.machine.r[0] == 1
    ok(s, "set f32 [weights] = 2.5")
    assert struct.unpack("<f", s.machine.mem.read(sym(s, "weights"), 4))[0] == 2.5
    ok(s, "set xmm3.f32[2] = 1.5")
    assert s.machine.xf[3 * 4 + 2] == 1.5
    ok(s, "set zf = 1")
    assert s.machine.rflags & 0x40
    assert "xmm3" in ok(s, "print xmm3") or "f32" in ok(s, "print xmm3")


def test_x_formats(s):
    ok(s, "continue")
    out = ok(s, "x/4f weights")
    assert "0.5" in out and "-1.25" in out and "3" in out
    assert "0x00000002" in ok(s, "x/4xw arr")
    assert "0x0000000100000000" in ok(s, "x/2g arr")
    assert "'d'" in ok(s, "x/4c msg")
    assert "done" in ok(s, "x/s msg")
    assert "call twice" in ok(s, "x/12i _start")
    assert "-1" in ok(s, "x/1d counter") or "64" in ok(s, "x/1d counter")


def test_info_and_backtrace(s):
    ok(s, "break square")
    ok(s, "continue")
    ok(s, "watch counter")
    assert "square" in ok(s, "info breakpoints") and "watch" in ok(s, "info breakpoints")
    assert "arr" in ok(s, "info symbols arr")
    assert "return address" in ok(s, "info frame")
    assert "twice" in ok(s, "backtrace")
    assert "history" in ok(s, "info history")
    assert "rdi = 0x5" in ok(s, "info registers rdi")


def test_views_and_pictures(s):
    ok(s, "continue")
    ok(s, "view arr as i32[8x8]")
    assert s.view.rows == 8 and s.view.cols == 8
    ok(s, "view weights as f32")
    ok(s, "heatmap arr as i32[8x8]")
    assert s.picture.rows == 8
    ok(s, "heatmap arr as i32[8x8] col 3")
    assert s.picture.values[:3] == [3.0, 11.0, 19.0]
    ok(s, "xmm f64")
    assert s.xmm_mode == "f64"
    assert "f32 0.5 = 0x3f000000" in ok(s, "bits f32 [weights]")
    assert "subnormal" in ok(s, "bits 1")


def test_profile_counts_instructions_per_routine(s):
    ok(s, "continue")
    out = ok(s, "profile")
    assert re.search(r"_start\s+[\d,]+", out) and "square" in out and "twice" in out
    total = s.machine.icount
    counts = [int(x.replace(",", "")) for x in re.findall(r"\s([\d,]+)\s+[\d.]+%", out)]
    assert sum(counts) == total


def test_save_and_load_round_trip(s, tmp_path):
    ok(s, "break square")
    ok(s, "continue")
    before = (
        tuple(s.machine.r),
        bytes(s.machine.xb),
        s.machine.rip,
        s.machine.icount,
        s.machine.mem.read(sym(s, "arr"), 256),
    )
    path = tmp_path / "here.state"
    assert "saved" in ok(s, f"save {path}")
    ok(s, "continue")
    ok(s, f"load {path}")
    m = s.machine
    after = (tuple(m.r), bytes(m.xb), m.rip, m.icount, m.mem.read(sym(s, "arr"), 256))
    assert after == before
    assert 1 in s.breakpoints, "breakpoints survive a load"
    ok(s, "continue")  # runs on from the loaded state
    assert s.machine.r[7] == 3
    s2 = Session.from_state(str(path), root=str(tmp_path))
    assert s2.machine.icount == before[3]


def test_call_runs_a_routine_and_restores_registers(s):
    ok(s, "continue")  # exited
    out = ok(s, "call twice 7")
    assert "twice returned" in out and "rax = 0x38 (56)" in out
    assert s.machine.exit_status == 0, "registers (and the exit) are restored"
    ok(s, "break square")
    ok(s, "call twice 2")
    assert s.machine.rip == sym(s, "square")
    assert [f.routine for f in s.frames()][-1] == "<called from the debugger>"
    out = ok(s, "continue")
    assert "returned" in out


def test_call_stops_at_a_tbreak_on_its_entry_as_gdb_does(s):
    ok(s, "tbreak twice")
    out = ok(s, "call twice 7")
    assert out.startswith("temporary breakpoint 1,") and "called from the debugger" in out
    assert s.machine.rip == sym(s, "twice") and s.machine.r[7] == 7
    assert not s.breakpoints, "a temporary breakpoint goes away when the call hits it"
    out = ok(s, "finish")
    assert "twice returned; registers restored" in out and "rax = 0x38 (56)" in out
    assert s.machine.rip == s.image.entry and s.pending_call is None


def test_call_stopped_inside_keeps_the_callers_of_the_called_routine_only(s):
    ok(s, "break square")
    ok(s, "continue")  # the program's own stack: square < twice < _start
    ok(s, "tbreak square")
    out = ok(s, "call twice 4")
    assert "breakpoint 1," in out and "called from the debugger" in out
    assert 2 not in s.breakpoints, "the tbreak hit with breakpoint 1 goes away too"
    routines = [f.routine for f in s.frames()]
    assert routines == ["square", "twice", "<called from the debugger>"]
    assert "returned from square" in ok(s, "finish")
    assert "twice returned" in ok(s, "finish")
    assert [f.routine for f in s.frames()] == ["square", "twice", "_start"]


def test_up_and_down_stop_at_the_ends_as_gdb_does(s):
    ok(s, "break square")
    ok(s, "continue")  # square < twice < _start
    assert "twice" in ok(s, "up")
    assert "_start" in ok(s, "up 5"), "up N stops at the outermost frame"
    r = execute(s, "up")
    assert r.error and "outermost" in text(r)
    assert "square" in ok(s, "down 9")
    r = execute(s, "down")
    assert r.error and "innermost" in text(r)


def test_info_frame_describes_the_selected_frame(s):
    ok(s, "break square")
    ok(s, "continue")
    assert ok(s, "info frame").startswith("frame #0: square")
    ok(s, "up")
    out = ok(s, "info frame")
    assert out.startswith("frame #1: twice") and "called from" in out and "_start" in out


def test_info_display_lists_the_display_expressions(s):
    assert "no display expressions" in ok(s, "info display")
    ok(s, "display rcx")
    assert ok(s, "info display") == "1: rcx = 0x0 (0)"


def test_restart(s):
    ok(s, "step 10")
    ok(s, "restart")
    assert s.machine.icount == 0 and s.machine.rip == s.image.entry


def test_fault_shows_kind_instruction_address_and_line(tmp_path):
    p = tmp_path / "f.asm"
    p.write_text(FAULTY)
    s = Session.from_files([str(p)])
    r = execute(s, "continue")
    assert r.error
    out = text(r)
    assert "fault (segfault)" in out and "mov rcx" in out and "f.asm:7" in out and "0x" in out
    assert s.stop.kind == "fault"
    r = execute(s, "step")
    assert r.error and "segfault" in text(r)
    ok(s, "reverse-step")
    assert s.machine.r[0] == 7


# ---- bad input ---------------------------------------------------------------------------------------------
BAD = [
    "frobnicate",
    "print",
    "print rax +",
    "print nosuch",
    "print 1/0",
    "x/8f 0",
    "x/zz rsp",
    "x/8f",
    "break nosuch_label",
    "break prog.asm:9999",
    "break counter",
    "watch rax",
    "watch",
    "watch 0 4",
    "delete 99",
    "disable x",
    "set",
    "set 5 = 3",
    "set rip = 3",
    "set f32 [0] = 1",
    "view nosuch",
    "view arr as f32[1000000x1000]",
    "view arr as q12",
    "heatmap arr",
    "heatmap arr as f32[8x8] col 99",
    "show digit",
    "show picture X",
    "info",
    "info nonsense",
    "load /nonexistent/state",
    "save /nonexistent/dir/x.state",
    "advance",
    "until nosuch",
    "call nosuch",
    "step -3",
    "step many",
    "xmm q",
    "profile x",
    "last-write",
    "help nosuch",
    "continue --slow",
    "bits",
    "x/8f @",
    "list nosuch.asm:3",
    "print f32 W1[",
    "set rax = ",
    "print 'ab'",
    "p/q rax",
    "up",
    "up x",
    "down",
    "frame x",
    "goto x",
    "undisplay x",
    "show prediction x",
]


@pytest.mark.parametrize("line", BAD)
def test_bad_commands_give_one_clear_line(s, line):
    r = execute(s, line)
    assert r.error, f"{line!r} should be an error"
    assert len(r.lines) == 1 and "\n" not in str(r.lines[0])
    assert "Traceback" not in str(r.lines[0]) and "internal error" not in str(r.lines[0])


def test_every_command_has_help_and_the_docs_list_them():
    doc = (REPO / "docs" / "debugger.md").read_text()
    help_text = "\n".join(C.help_lines())
    for c in C.COMMANDS:
        assert c.help and c.usage
        assert c.usage in help_text
        assert f"`{c.name}" in doc, f"docs/debugger.md does not describe {c.name}"
        if c.key:
            assert f"`{c.key}`" in doc


# ---- gdb habits ------------------------------------------------------------------------
def test_every_key_is_also_a_command_and_names_win_over_keys():
    assert C.lookup("f").name == "finish"
    assert C.lookup("r").name == "reverse-step" and C.lookup("R").name == "reverse-continue"
    assert C.lookup("x").name == "x"  # gdb's examine, though the x key is `xmm`
    assert C.lookup("z").name == "pane"


def test_gdb_register_names_signed_print_and_one_prefix(s):
    assert f"{s.machine.rip:#x}" in ok(s, "print $pc")
    assert f"{s.machine.r[4]:#x}" in ok(s, "print $sp")
    assert ok(s, "p/d 0xffffffffffffffff").endswith("= -1")
    assert ok(s, "print &arr").endswith(f"{sym(s, 'arr'):#x} ({sym(s, 'arr')})")
    assert f"{sym(s, 'arr') + 8:#x}" in ok(s, "print &dword [arr+8]")
    r = execute(s, "finish")
    assert r.error and text(r).startswith("finish: ") and "finish: finish" not in text(r)
    assert "did you mean" in text(execute(s, "print arrr"))


def test_disassemble_display_goto_and_frames(s):
    out = ok(s, "disassemble")
    assert "=> " in out and "_start" in out
    ok(s, "display rcx")
    assert "1: rcx = " in ok(s, "step 3")
    n = s.machine.icount
    ok(s, "step 5")
    ok(s, f"goto {n}")
    assert s.machine.icount == n
    ok(s, "break square")
    ok(s, "continue")
    assert "#1" in ok(s, "up") and s.code_focus is not None
    assert "#0" in ok(s, "down")
    assert "no frame #50" in text(execute(s, "frame 50"))


def test_views_and_pictures_stop_at_the_symbols_end(s):
    r = execute(s, "view arr as i32[64x4]")
    assert r.error and "arr, which holds 256 bytes" in text(r)
    assert not execute(s, "view arr as i32[16x4]").error
    assert "holds" in text(execute(s, "show digit arr"))


def test_enter_repeats_moving_commands_only():
    assert C.repeatable("next") and C.repeatable("x/4g rsp")
    assert not C.repeatable("break square") and not C.repeatable("set rax = 1")


def test_the_output_pane_follows_time(s):
    ok(s, "continue")  # prints "done" and exits
    assert s.output.text() == "done\n"
    ok(s, "reverse-step 5")  # back before the write syscall
    assert s.output.text() == ""
    ok(s, "step 5")
    assert s.output.text() == "done\n", "re-executing the write does not print it twice"


def test_set_while_replaying_asks_before_discarding_the_future(s):
    ok(s, "step 20")
    ok(s, "reverse-step 10")
    r = execute(s, "set rax = 7")
    assert r.error and "10 instructions behind" in text(r)
    assert s.history.frontier - s.machine.icount == 10, "nothing was discarded"
    assert "rax = 0x7" in ok(s, "set rax = 7")


def test_a_libc_program_starts_in_the_library_and_start_reaches_main():
    s = Session.from_files([str(REPO / "tests" / "programs" / "libc_factorial.asm")])
    out = ok(s, "info line")
    assert "library the VM provides" in out and "no source lines" in out
    assert "reached main" in ok(s, "start")
    assert s.machine.rip == sym(s, "main")
    assert ok(s, "info line").startswith('line 20 of "libc_factorial.asm" starts at 0x')
    ok(s, "break fact")
    ok(s, "continue")
    assert [f.routine for f in s.frames()] == ["fact", "main"]
    assert "returned from fact" in ok(s, "finish") and s.machine.r[0] == 1


def test_the_annotation_says_what_the_next_instruction_reads_or_whether_it_jumps(s):
    ok(s, "step")  # xor ecx, ecx; now at mov [arr + rcx*4], ecx
    assert s.annotate() == f"[{sym(s, 'arr'):#x} <arr>] = 0x0"
    ok(s, "step 4")  # mov, add, inc, cmp -> at jb .fill
    assert s.machine.insns[s.machine.rip].text() == "jb .fill"
    assert s.annotate() == "will jump"


@pytest.mark.parametrize(
    "program, text, note",
    [
        (
            "insn_memcpy_movsb.asm",
            "rep movsb",
            "copies [rsi = 0x402000 <msg>] to [rdi = 0x403000 <buf>]: rcx = 23 elements of 1 byte",
        ),
        ("insn_reverse_std.asm", "rep movsb", "rcx = 10 elements of 1 byte, backwards (DF=1)"),
        ("insn_memcmp_cmpsb.asm", "repe cmpsb", "while equal, up to rcx = 9 elements"),
        ("insn_strlen_scasb.asm", "repne scasb", "until equal, up to rcx = 0xffffffffffffffff"),
    ],
)
def test_string_instructions_are_annotated_with_count_source_and_destination(program, text, note):
    s = Session.from_files([str(REPO / "tests" / "programs" / program)])
    m = s.machine
    while m.insns[m.rip].text() != text:
        assert s.step().kind == "step", f"{program} ended before {text}"
    assert note in s.annotate()
