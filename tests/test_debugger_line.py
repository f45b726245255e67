"""Line mode: `mnist-vm debug --batch FILE` and piped stdin, on a small
program and on the MNIST network (including a state saved by
`mnist-vm run --fast --save`)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from mnist_vm.cli import main

REPO = Path(__file__).resolve().parents[1]
EXAMPLES = REPO / "programs" / "examples"
SMALL = ["-D", "EPOCHS=1", "-D", "TRAIN_LIMIT=128", "-D", "TEST_LIMIT=100", "-D", "BATCH=64"]


def debug(tmp_path, capsys, script: str, *args: str) -> tuple[int, str]:
    f = tmp_path / "script.txt"
    f.write_text(script)
    status = main(["debug", "--batch", str(f), *args])
    out = capsys.readouterr()
    return status, out.out + out.err


def test_batch_script_on_an_example(tmp_path, capsys):
    status, out = debug(
        tmp_path,
        capsys,
        """
# comments and blank lines are skipped

break _start
step 3
print rcx
info registers rip
continue
reverse-step
x/2i rip
quit
""",
        str(EXAMPLES / "loops_flags.asm"),
    )
    assert status == 0, out
    assert "(mnist-vm) step 3" in out
    assert re.search(r"0x[0-9a-f]+ <print_str\+0x4> loops_flags\.asm:\d+  cmp byte", out)
    assert "(mnist-vm) # comments" not in out
    assert "count: 1 2 3 4 5 6 7 8 9 10" in out, "the program's output is printed as it appears"
    assert "exited with status 0" in out
    assert "=> 0x" in out


def test_a_failing_command_is_one_line_and_the_exit_status_says_so(tmp_path, capsys):
    status, out = debug(tmp_path, capsys, "print nosuch\nstep\n", str(EXAMPLES / "hello.asm"))
    assert status == 1
    lines = [x for x in out.splitlines() if x.startswith("error:")]
    assert lines == ["error: print: no symbol or register named 'nosuch'"]
    assert "Traceback" not in out


def test_missing_file_and_assembler_errors(tmp_path, capsys):
    assert main(["debug", "--batch", "/dev/null", str(tmp_path / "nope.asm")]) == 2
    bad = tmp_path / "bad.asm"
    bad.write_text("global _start\n_start:\n    frob rax\n")
    assert main(["debug", "--batch", "/dev/null", str(bad)]) == 1
    err = capsys.readouterr().err
    assert "no such file" in err and "bad.asm:3" in err


def test_piped_stdin_is_line_mode(tmp_path):
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    p = subprocess.run(
        [sys.executable, "-m", "mnist_vm.cli", "debug", str(EXAMPLES / "hello.asm")],
        input="step\nprint rip\nc\nq\n",
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
    )
    assert p.returncode == 0, p.stderr
    assert "(mnist-vm) print rip" in p.stdout and "rip = 0x" in p.stdout
    assert "exited with status 0" in p.stdout


@pytest.mark.slow
def test_mnist_forward_pass_in_line_mode(tmp_path, capsys, mnist_dir):
    status, out = debug(
        tmp_path,
        capsys,
        """
show prediction 0
break dense_forward
continue
bt
show digit X
finish
view A1 as f32[64x128]
print f32 A1[0]
x/4f W1
watch W1+20 4
delete 1
break softmax_xent
continue
finish
view P as f32[64x10]
reverse-continue
last-write X+12 4
profile 5
info history
""",
        *SMALL,
        "--data",
        str(mnist_dir),
    )
    assert status == 0, out
    assert "P is all zero: softmax_xent has not run yet" in out, "no verdict before any"
    assert "breakpoint 1, 0x" in out and "<dense_forward>" in out
    assert "#1  train_epoch" in out
    assert "label batch_labels[0] = " in out
    assert "returned from dense_forward" in out
    assert "breakpoint 3, " in out and "softmax_xent" in out
    assert "returned from softmax_xent" in out and "xmm0.f32[0] = 2.3" in out
    assert "last written at instruction" in out and "load_batch" in out
    assert re.search(r"dense_forward\s+[\d,]+\s+\d+\.\d%", out)


@pytest.mark.slow
def test_train_fast_save_then_step_the_trained_network(tmp_path, capsys, mnist_dir):
    state = tmp_path / "t.state"
    assert (
        main(
            [
                "run",
                "--fast",
                "--epochs",
                "1",
                "--limit",
                "640",
                "--test-limit",
                "200",
                "--data",
                str(mnist_dir),
                "--save",
                str(state),
                "--quiet",
            ]
        )
        == 0
    )
    capsys.readouterr()
    status, out = debug(
        tmp_path,
        capsys,
        """
info frame
break softmax_xent
continue
show digit X 3
view Z3 as f32[64x10]
finish
view P as f32[64x10]
print f32 P[30]
reverse-step
step
continue --fast
""",
        "--state",
        str(state),
        "--data",
        str(mnist_dir),
    )
    assert status == 0, out
    # run --save keeps the machine as it enters the final evaluation: step the trained network
    assert "frame #0: evaluate" in out
    assert "breakpoint 1, " in out and "softmax_xent" in out
    assert "label batch_labels[3] = " in out
    assert "returned from softmax_xent" in out
    p30 = float(re.search(r"f32 P\[30\] = ([-0-9.e]+)", out).group(1))
    assert 0.0 <= p30 <= 1.0
    assert "fast mode:" in out


def _walkthrough_commands() -> list[str]:
    """The `:` lines of docs/debugger.md's "Train fast, then step", as written."""
    text = (REPO / "docs" / "debugger.md").read_text()
    section = text.split("## Train fast, then step", 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"```[a-z]*\n(.*?)```", section, re.S)
    lines = [ln for b in blocks for ln in b.splitlines() if ln.startswith(":")]
    return [ln.split("  #", 1)[0].strip() for ln in lines]


@pytest.mark.slow
def test_the_docs_walkthrough_runs_as_written(tmp_path, capsys, mnist_dir):
    commands = _walkthrough_commands()
    assert len(commands) >= 8 and ":f" in commands and ":r" in commands
    state = tmp_path / "t.state"
    args = ["run", "--fast", "--epochs", "1", "--limit", "640", "--test-limit", "200"]
    assert main([*args, "--data", str(mnist_dir), "--save", str(state), "--quiet"]) == 0
    capsys.readouterr()
    status, out = debug(tmp_path, capsys, "\n".join(commands) + "\n", "--state", str(state))
    assert status == 0, out
    assert "unknown command" not in out and "internal error" not in out, out
    assert "breakpoint 1, " in out and "returned from softmax_xent" in out, out
    # :r went back one instruction, :c --fast ran the rest with the twins
    assert "fast mode:" in out, out
