"""The full-screen debugger's layout at the three size classes (80x24, the
default terminal; 120x36; 200x50), compared with accepted SVG screenshots
(pytest-textual-snapshot). A layout change that cuts rip, the flags, the
current line or the stack top at some size shows up as a failing snapshot;
after an intended change, review the new pictures and accept them with
`python -m pytest tests/test_debugger_snapshots.py --snapshot-update`."""

from __future__ import annotations

import pytest

from mnist_vm.debugger.session import Session
from mnist_vm.debugger.tui import DebuggerApp

PROGRAM = r"""
global _start
section .data
weights:    dd 0.5, -1.25, 3.0, 0.0
section .text
_start:
    xor ecx, ecx
    movss xmm0, [weights + 4]
    addss xmm0, [weights]
.loop:
    inc ecx
    cmp ecx, 5
    jl .loop
    call square
    mov eax, 60
    xor edi, edi
    syscall
square:
    mov rax, rcx
    imul rax, rcx
    ret
"""


def _app(tmp_path) -> DebuggerApp:
    p = tmp_path / "prog.asm"
    p.write_text(PROGRAM)
    return DebuggerApp(Session.from_files([str(p)], root=str(tmp_path), label="prog.asm"))


@pytest.mark.parametrize("size", [(80, 24), (120, 36), (200, 50)])
def test_layout_after_a_few_steps(snap_compare, tmp_path, size):
    assert snap_compare(_app(tmp_path), press=["s", "s", "s", "_"], terminal_size=size)


def test_small_terminal_memory_pane(snap_compare, tmp_path):
    assert snap_compare(_app(tmp_path), press=["s", "z", "z", "_"], terminal_size=(80, 24))
