"""vm.atomic: the project's one atomic-write helper."""

import os
import subprocess
import sys

import pytest

from vm.atomic import atomic_write, atomic_write_bytes, clean_stale_temporaries


def test_atomic_write_replaces_and_leaves_no_temporary(tmp_path):
    target = tmp_path / "x.state"
    target.write_bytes(b"old")
    atomic_write_bytes(target, b"new")
    assert target.read_bytes() == b"new"
    assert sorted(os.listdir(tmp_path)) == ["x.state"]


def test_a_failed_write_keeps_the_old_file_and_no_temporary(tmp_path):
    target = tmp_path / "x.state"
    target.write_bytes(b"old")

    def fill(f):
        f.write(b"half")
        raise RuntimeError("disk on fire")

    with pytest.raises(RuntimeError):
        atomic_write(target, fill)
    assert target.read_bytes() == b"old"
    assert sorted(os.listdir(tmp_path)) == ["x.state"]


def test_temporaries_of_killed_writers_are_removed_on_the_next_write(tmp_path):
    # a writer that dies mid-write (SIGKILL) leaves its temporary behind
    code = (
        "import os, sys; from vm.atomic import atomic_write\n"
        "def fill(f):\n    f.write(b'x' * 1000); f.flush(); os._exit(9)\n"
        f"atomic_write({str(tmp_path / 'x.state')!r}, fill)\n"
    )
    for _ in range(3):
        subprocess.run([sys.executable, "-c", code], check=False)
    # each new writer removed its dead predecessor's temporary: one is left
    left = [e for e in os.listdir(tmp_path) if e.endswith(".part")]
    assert len(left) == 1
    (tmp_path / ".other.1.abc.part").write_bytes(b"not ours")
    atomic_write_bytes(tmp_path / "x.state", b"done")
    assert sorted(os.listdir(tmp_path)) == [".other.1.abc.part", "x.state"]


def test_a_live_writers_temporary_is_kept(tmp_path):
    live = tmp_path / f".x.state.{os.getpid()}.abc.part"
    live.write_bytes(b"in progress")
    assert clean_stale_temporaries(tmp_path, "x.state") == 0
    assert live.exists()
