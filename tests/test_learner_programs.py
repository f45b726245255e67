"""Learner-style programs, native CPU vs VM: identical stdout and exit status.

Every `tests/programs/*.asm` is a small program written the way students,
tutorials and hobbyists write them. Each is assembled with nasm and linked
natively, run, then run in the VM; stdout and the exit status must be
identical byte for byte. A program says how it is built and run in comment
lines at its top (before any code):

    ; link: static | libm | libc     (libc: `main` + gcc -no-pie, as learners link)
    ; stdin: hello\\nworld\\n         (bytes piped to stdin; Python escapes)
    ; args: a b c                    (argv[1:]; argv[0] is the program's path)

Default: a static `ld` link with `_start`, empty stdin, no arguments.
A program the CPU kills with a signal must stop with the VM fault whose
`mnist-vm exec` status is that signal's (mnist_vm.cli.FAULT_STATUS).
"""

from __future__ import annotations

import ast
import io
import shlex
import subprocess
from pathlib import Path

import pytest
from native import GCC, build_native, hexdiff, require_native

pytestmark = pytest.mark.native

PROGRAMS = Path(__file__).parent / "programs"


def _header(path: Path) -> dict[str, str]:
    opts: dict[str, str] = {}
    for line in path.read_text(encoding="latin-1").splitlines():
        s = line.strip()
        if not s:
            continue
        if not s.startswith(";"):
            break
        key, sep, value = s[1:].strip().partition(":")
        if sep and key.strip() in ("link", "stdin", "args"):
            opts[key.strip()] = value.strip()
    return opts


def _stdin_bytes(opts: dict[str, str]) -> bytes:
    text = opts.get("stdin", "")
    return ast.literal_eval(f'"""{text}"""').encode("latin-1") if text else b""


def _build(path: Path, link: str, workdir: Path) -> Path:
    if link != "libc":
        return build_native([path], libm=(link == "libm"), workdir=workdir)
    if GCC is None:
        pytest.skip("gcc not installed: apt-get install gcc (libc programs link with gcc)")
    obj = workdir / "prog.o"
    exe = workdir / "prog"
    subprocess.run(["nasm", "-felf64", "-o", str(obj), str(path)], check=True)
    subprocess.run([GCC, "-no-pie", "-o", str(exe), str(obj), "-lm"], check=True)
    return exe


def _programs() -> list[str]:
    return sorted(p.name for p in PROGRAMS.glob("*.asm")) if PROGRAMS.is_dir() else []


@pytest.mark.parametrize("name", _programs())
def test_learner_program_native_vs_vm(name, tmp_path):
    require_native()
    path = PROGRAMS / name
    opts = _header(path)
    stdin = _stdin_bytes(opts)
    args = shlex.split(opts.get("args", ""))
    exe = _build(path, opts.get("link", "static"), tmp_path)
    native = subprocess.run(
        ["./prog", *args], cwd=tmp_path, input=stdin, capture_output=True, timeout=60
    )
    from mnist_vm.cli import FAULT_STATUS
    from vm import Fault, Machine, assemble

    image = assemble([str(path)])
    out = io.BytesIO()
    kwargs = {"argv": ["./prog", *args]} if args else {"argv0": "./prog"}
    m = Machine(
        image,
        root=str(tmp_path),
        stdout=out,
        stderr=io.BytesIO(),
        stdin=io.BytesIO(stdin),
        **kwargs,
    )
    try:
        status = m.run(max_steps=50_000_000)
    except Fault as f:  # natively a signal: subprocess reports minus its number
        status = 128 - FAULT_STATUS.get(f.kind, 255)
    assert (out.getvalue(), status) == (native.stdout, native.returncode), (
        f"{name}: native status {native.returncode}, vm {status}\n"
        + hexdiff(native.stdout, out.getvalue())
    )
    assert exe.exists()
