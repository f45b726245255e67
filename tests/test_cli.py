"""`mnist-vm exec | asm | isa`: what a user types, what they see, the exit status."""

from __future__ import annotations

import io
import re
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


# ---- first ten minutes: what a newcomer types ------------------------------------
def test_exec_a_directory_says_so(capfd):
    status, _, err = cli(capfd, "exec", EXAMPLES)
    assert status == 2 and "is a directory" in err and "*.asm" in err


def test_a_typo_in_a_subcommand_shows_that_subcommands_usage(capfd):
    with pytest.raises(SystemExit) as info:
        main(["run", "--fats"])
    err = capfd.readouterr().err
    assert info.value.code == 2
    assert "usage: mnist-vm run" in err and "--fats" in err and "did you mean --fast?" in err


def test_output_into_a_closed_pipe_ends_quietly():
    """`mnist-vm isa | head -1`: no 'Broken pipe' error, no traceback (as cat does)."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "mnist_vm.cli", "isa"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    proc.stdout.read(10)
    proc.stdout.close()
    err = proc.stderr.read().decode()
    proc.wait()
    assert err == "" and proc.returncode in (0, 141)


def test_limits_are_checked_at_parse_time_in_the_options_names(capfd):
    for argv, name in (
        (["--limit", "70000"], "--limit"),
        (["--test-limit", "10001"], "--test-limit"),
    ):
        with pytest.raises(SystemExit) as info:
            main(["run", *argv, "--data", "/nonexistent"])
        err = capfd.readouterr().err
        assert info.value.code == 2 and f"argument {name}" in err and "TRAIN_LIMIT" not in err


def test_batch_larger_than_the_limit_is_refused_before_running(capfd, tmp_path):
    from conftest_data import synthetic_set

    d = synthetic_set(tmp_path / "synth", train=100, test=30)
    status, out, err = cli(capfd, "run", "--fast", "--data", d, "--limit", "50")
    assert status == 2 and "--batch-size 64 is larger than" in err and out == ""
    status, _, err = cli(capfd, "run", "--fast", "--data", d, "--limit", "200")
    assert status == 2 and "--limit 200: the training set" in err and "100 images" in err


def test_save_path_is_checked_before_the_first_batch(capfd, tmp_path):
    status, out, err = cli(capfd, "run", "--save", tmp_path / "no" / "dir" / "x.state")
    assert status == 2 and "--save" in err and "no such directory" in err and out == ""
    status, _, err = cli(capfd, "run", "--save", tmp_path)
    assert status == 2 and "is a directory" in err


def test_debug_missing_state_is_checked_first(capfd, tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    monkeypatch.delenv("MNIST_VM_DATA", raising=False)
    monkeypatch.delenv("MNIST_DATA", raising=False)
    status, out, err = cli(capfd, "debug", "--state", tmp_path / "nothere.state")
    assert status == 2 and "nothere.state: no such file" in err
    assert "download" not in err and len(err.splitlines()) == 1


def test_piped_output_is_not_wrapped(capfd, tmp_path):
    """The run header (a stable format) and errors keep their lines whole off a terminal."""
    from conftest_data import synthetic_set

    d = synthetic_set(tmp_path / ("a-long-directory-name-" * 4) / "synth", train=128, test=64)
    status, out, err = cli(capfd, "run", "--fast", "--epochs", "1", "--data", d)
    header = [line for line in out.splitlines() if line.startswith("mnist-asm:")]
    assert status == 0 and len(header) == 1 and header[0].endswith("shuffle=1"), out
    status, _, err = cli(capfd, "run", "--data", d / "typo")
    assert status == 1 and len(err.strip().splitlines()) == 1 and "no such directory" in err


def test_a_set_of_fashion_items_trains_and_names_its_classes(capfd, tmp_path):
    from conftest_data import synthetic_set

    d = synthetic_set(tmp_path / "synth", train=256, test=64)
    status, out, _ = cli(
        capfd,
        "run",
        "--fast",
        "--quiet",
        "--epochs",
        "3",
        "--lr",
        "0.1",
        "--batch-size",
        "16",
        "--dataset",
        "fashion-mnist",
        "--data",
        d,
    )
    assert status == 0 and "test accuracy" in out
    acc = float(out.split("test accuracy")[1].split("%")[0])
    assert acc > 50  # the squares are learnable: far above chance (10%)


def test_slow_interpreted_runs_are_announced():
    from mnist_vm.options import hms
    from mnist_vm.training import DEFAULTS, slow_run_note

    note = slow_run_note(DEFAULTS, fast=False)
    assert note is not None and "--fast" in note and "--test-limit" in note
    assert re.search(r"\d+:\d\d:\d\d", note)
    assert slow_run_note(DEFAULTS, fast=True) is None
    small = {**DEFAULTS, "EPOCHS": 1, "TRAIN_LIMIT": 64, "TEST_LIMIT": 64}
    assert slow_run_note(small, fast=False) is None
    assert hms(33340.4) == "9:15:40" and hms(75) == "1:15" and hms(float("nan")) == "-"


def test_the_readme_root_command_works_as_written(capfd, tmp_path, monkeypatch, mnist_source):
    """README: `mnist-vm exec programs/mnist/*.asm ... --root "$(mnist-vm data path)"`."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    monkeypatch.setenv("MNIST_VM_DATA", str(mnist_source))
    status, root, _ = cli(capfd, "data", "path")
    assert status == 0
    files = sorted((REPO / "programs" / "mnist").glob("*.asm"))
    defines = ["-D", "EPOCHS=1", "-D", "TRAIN_LIMIT=64", "-D", "TEST_LIMIT=64"]
    status, out, err = cli(capfd, "exec", "--fast", *files, *defines, "--root", root.strip())
    assert status == 0, err
    assert "final test_acc" in out


def test_readme_native_build_leaves_nothing_in_the_tree():
    readme = (REPO / "README.md").read_text()
    line = next(x for x in readme.splitlines() if x.startswith("nasm -felf64 programs/examples"))
    for word in re.findall(r"-o (\S+)", line):
        assert word.startswith(("/tmp/", '"$TMPDIR', "$TMPDIR", "${TMPDIR")), line


def test_subcommands_do_not_import_the_top_level_cli():
    """No import cycle: mnist_vm/cli.py imports the subcommands, never the reverse."""
    import ast

    package = REPO / "mnist_vm"
    offenders = []
    for path in package.rglob("*.py"):
        if path == package / "cli.py":
            continue
        module = ".".join(path.relative_to(REPO).with_suffix("").parts)
        parent = module.split(".")[:-1] if path.name != "__init__.py" else module.split(".")
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom):
                base = parent[: len(parent) - node.level + 1] if node.level else []
                target = ".".join([*base, *(node.module or "").split(".")]).strip(".")
                names = [f"{target}.{a.name}" for a in node.names]
                if target == "mnist_vm.cli" or "mnist_vm.cli" in names:
                    offenders.append(f"{path.relative_to(REPO)}:{node.lineno}")
    assert offenders == []


def test_fashion_class_names_in_the_live_view_and_the_debugger_caption():
    from types import SimpleNamespace

    from rich.console import Console

    from mnist_vm.debugger.commands import _label_caption
    from mnist_vm.training import Progress, _view

    machine = SimpleNamespace(icount=0, accel_calls=0)
    console = Console(width=200, record=True, file=io.StringIO())
    console.print(_view(Progress(1, 10, 64, dataset="fashion-mnist"), machine))
    assert "9 Ankle boot" in console.export_text()
    console.print(_view(Progress(1, 10, 64), machine))
    assert "Ankle boot" not in console.export_text()

    sym = SimpleNamespace(value=0x1000, size=64)
    session = SimpleNamespace(
        image=SimpleNamespace(symbols={"batch_labels": sym}),
        machine=SimpleNamespace(mem=SimpleNamespace(read=lambda addr, n: bytes([9]))),
        dataset="fashion-mnist",
    )
    assert _label_caption(session, "X", 0) == "label batch_labels[0] = 9 (Ankle boot)"
    session.dataset = "mnist"
    assert _label_caption(session, "X", 0) == "label batch_labels[0] = 9"
