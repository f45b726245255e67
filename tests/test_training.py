"""`mnist-vm run`: the training command as a user runs it (small configurations)."""

from __future__ import annotations

import io
import os
import signal
import subprocess
import sys
import time

import pytest

from mnist_vm.cli import main
from vm.state import StateError, load_state

SMALL = ["--limit", "128", "--test-limit", "100", "--epochs", "1"]


def run_cli(capfd, *argv):
    status = main([str(a) for a in argv])
    out, err = capfd.readouterr()
    return status, out, err


def test_fast_quiet_prints_only_the_final_accuracy(capfd, mnist_dir):
    status, out, _ = run_cli(capfd, "run", "--fast", "--quiet", *SMALL, "--data", mnist_dir)
    assert status == 0
    lines = out.strip().splitlines()
    assert lines[0].startswith("final test_acc ") and lines[-1].startswith("test accuracy ")


def test_plain_output_without_a_terminal_shows_the_programs_lines(capfd, mnist_dir):
    status, out, _ = run_cli(
        capfd, "run", "--fast", *SMALL, "--print-every", "1", "--data", mnist_dir
    )
    assert status == 0
    assert "mnist-asm: 784-128-64-10 epochs=1 batch=64" in out
    assert "epoch 1 batch 2/2 loss" in out and "final test_acc" in out
    assert "test accuracy" in out and "instructions" in out  # the summary


def test_interpreted_run_matches_fast_run(capfd, mnist_dir):
    args = ["--limit", "64", "--test-limit", "64", "--epochs", "1", "--quiet", "--data", mnist_dir]
    _, slow, _ = run_cli(capfd, "run", *args)
    _, fast, _ = run_cli(capfd, "run", "--fast", *args)
    assert slow.splitlines()[0] == fast.splitlines()[0]  # "final test_acc ..."


def test_save_keeps_the_machine_at_the_final_evaluation(capfd, mnist_dir, tmp_path):
    path = tmp_path / "trained.state"
    status, out, err = run_cli(
        capfd, "run", "--fast", "--quiet", *SMALL, "--data", mnist_dir, "--save", path
    )
    assert status == 0 and "saved machine state at the start of the final evaluation" in err
    saved = load_state(path)
    assert saved.meta["options"]["TRAIN_LIMIT"] in ("128", 128)
    out_after = io.BytesIO()
    m = saved.machine(root=str(mnist_dir), stdout=out_after)
    assert m.exit_status is None and m.rip == m.image.symbols["evaluate"].value
    assert any(m.mem.read(m.image.symbols["W1"].value, 4096))  # trained weights are there
    assert not list(tmp_path.glob(".state-*"))  # no temporary left behind
    # continuing the saved machine (interpreted) finishes the run the same way
    assert m.run() == 0
    assert out.splitlines()[0] in out_after.getvalue().decode()


def test_load_state_rejects_other_files(tmp_path):
    bad = tmp_path / "x.state"
    bad.write_bytes(b"hello")
    with pytest.raises(StateError, match="not an mnist-vm machine state"):
        load_state(bad)
    with pytest.raises(StateError, match="cannot read"):
        load_state(tmp_path / "missing.state")


def test_truncated_state_is_reported(capfd, mnist_dir, tmp_path):
    path = tmp_path / "t.state"
    run_cli(capfd, "run", "--fast", "--quiet", *SMALL, "--data", mnist_dir, "--save", path)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(StateError, match="damaged or truncated"):
        load_state(path)


def test_bad_options_are_usage_errors(capfd):
    for argv in (["run", "--lr", "-1"], ["run", "--epochs", "0"], ["run", "--limit", "x"]):
        with pytest.raises(SystemExit) as info:
            main(argv)
        assert info.value.code == 2
    capfd.readouterr()


def test_missing_data_directory_is_a_clear_error(capfd, tmp_path, monkeypatch):
    monkeypatch.setenv("MNIST_VM_MIRRORS", "http://127.0.0.1:9/")  # nothing listens there
    status, out, err = run_cli(capfd, "run", "--fast", "--data", tmp_path / "empty")
    assert status == 1
    assert "error" in (out + err) and "Traceback" not in (out + err)


@pytest.mark.slow
def test_ctrl_c_stops_cleanly_reports_and_still_saves(mnist_dir, tmp_path):
    path = tmp_path / "partial.state"
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "mnist_vm.cli",
            "run",
            "--fast",
            "--print-every",
            "50",
            "--data",
            str(mnist_dir),
            "--save",
            str(path),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    seen = []
    deadline = time.time() + 120
    while time.time() < deadline:
        line = proc.stdout.readline()
        seen.append(line)
        if "batch 100/" in line:
            break
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, "".join(seen) + out + err
    assert "interrupted at epoch 1" in out and "Traceback" not in err
    saved = load_state(path)
    assert saved.meta["interrupted"] is True and saved.meta["saved_at"] == "an interruption"
    assert saved.machine(root=os.fspath(mnist_dir)).exit_status is None
