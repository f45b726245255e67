"""`mnist-vm exec | asm | isa`: what a user types, what they see, the exit status."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from mnist_vm.cli import main

REPO = Path(__file__).resolve().parents[1]
EXAMPLES = REPO / "programs" / "examples"


def cli(capfd, *argv):
    status = main([str(a) for a in argv])
    out, err = capfd.readouterr()
    return status, out, err


def test_console_script_runs_hello():
    proc = subprocess.run(
        [sys.executable, "-m", "mnist_vm.cli", "exec", str(EXAMPLES / "hello.asm")],
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0
    assert proc.stdout == "Hello from x86-64 assembly!\n"


def test_exec_exit_status_is_the_programs(tmp_path, capfd):
    src = tmp_path / "seven.asm"
    src.write_text("global _start\n_start:\n    mov eax, 60\n    mov edi, 7\n    syscall\n")
    assert cli(capfd, "exec", src)[0] == 7


def test_exec_defines_and_multiple_files(capfd):
    status, out, _ = cli(
        capfd,
        "exec",
        REPO / "tests/asm/multi_main.asm",
        REPO / "tests/asm/multi_util.asm",
        "-D",
        "SCALE=3",
    )
    assert status == 0 and out


def test_exec_stats_reports_instructions(capfd):
    status, _, err = cli(capfd, "exec", "--stats", EXAMPLES / "hello.asm")
    assert status == 0 and "instructions in" in err and "MIPS" in err


def test_exec_root_grants_file_access(capfd):
    status, out, _ = cli(capfd, "exec", "--root", EXAMPLES, EXAMPLES / "read_file.asm")
    assert status == 0 and "data.txt" in out


def test_exec_fault_prints_a_report_and_exits_139(tmp_path, capfd):
    src = tmp_path / "crash.asm"
    src.write_text("global _start\n_start:\n    xor edi, edi\n    mov rax, [rdi]\n")
    status, _, err = cli(capfd, "exec", src)
    assert status == 139
    assert "fault (segfault)" in err and "crash.asm:4" in err and "Traceback" not in err


def test_exec_step_limit(tmp_path, capfd):
    src = tmp_path / "spin.asm"
    src.write_text("global _start\n_start:\n    jmp _start\n")
    status, _, err = cli(capfd, "exec", "--max-steps", "1000", src)
    assert status == 124 and "step limit" in err


def test_exec_assembler_error_exits_1_with_caret(tmp_path, capfd):
    src = tmp_path / "bad.asm"
    src.write_text("global _start\n_start:\n    mvo rax, 1\n")
    status, _, err = cli(capfd, "exec", src)
    assert status == 1
    assert f"{src}:3:5: error: unknown instruction 'mvo'" in err and "^" in err


def test_exec_missing_file_and_bad_define(capfd):
    assert cli(capfd, "exec", "no/such.asm")[0] == 2
    with pytest.raises(SystemExit) as info:
        main(["exec", "-D", "=3", str(EXAMPLES / "hello.asm")])
    assert info.value.code == 2


def test_asm_prints_a_listing(capfd):
    status, out, _ = cli(capfd, "asm", EXAMPLES / "hello.asm")
    assert status == 0
    assert "00401000" in out and "symbols" in out and "sections" in out


def test_isa_reference_and_one_entry(capfd):
    status, out, _ = cli(capfd, "isa")
    assert status == 0 and "mulps" in out and "cvttss2si" in out
    status, out, _ = cli(capfd, "isa", "mulps")
    assert status == 0 and "forms:" in out and "mulps xmm, xmm/m128" in out


def test_isa_unknown_mnemonic_suggests(capfd):
    status, _, err = cli(capfd, "isa", "mulp")
    assert status == 1 and "not in the instruction subset" in err


def test_isa_reference_in_docs_is_generated_from_the_table():
    from mnist_vm import isa_doc

    doc = (REPO / "docs" / "isa.md").read_text()
    assert doc == isa_doc.markdown(), (
        "docs/isa.md is stale: regenerate it with `python -m mnist_vm.isa_doc > docs/isa.md`"
    )
