"""Whole small programs, native CPU vs VM: identical stdout and exit status.

The programs live in tests/asm/ (loops and jcc, calls and recursion with
stack frames, cmov/setcc, strings, float32 dot products scalar vs packed,
conversions, libm exp/log/expf/logf on edge inputs, two files linked with
global/extern and -d defines). They print their results (integers in
decimal, floats as raw bits in hex) through tests/asm/lib.inc, so any
difference in any register that matters shows up as different text.
The examples in programs/examples/ are run the same way.
"""

from __future__ import annotations

import difflib
from pathlib import Path

import pytest
from native import assert_same, build_native, require_native, run_native
from native_vec import missing_feature

pytestmark = pytest.mark.native

ASM = Path(__file__).parent / "asm"
EXAMPLES = Path(__file__).parent.parent / "programs" / "examples"


def text_diff(native: bytes, vm: bytes) -> str:
    a = native.decode("latin-1").splitlines()
    b = vm.decode("latin-1").splitlines()
    diff = list(difflib.unified_diff(a, b, "native", "vm", lineterm="", n=1))
    return "\n".join("  " + ln for ln in diff[:80]) or "  (stdout identical)"


# name -> (sources, defines, needs libm, expected exit status)
PROGRAMS = {
    "loops": (["loops.asm"], None, False, 0),
    "loops_N7": (["loops.asm"], {"N": 7}, False, 0),
    "recursion": (["recursion.asm"], None, False, 0),
    "cmov_setcc": (["cmov_setcc.asm"], None, False, 0),
    "strings": (["strings.asm"], None, False, 3),
    "floats": (["floats.asm"], None, False, 0),
    "libm": (["libm.asm"], None, True, 0),
    "multi_file": (["multi_main.asm", "multi_util.asm"], None, False, 0),
    "multi_file_defines": (
        ["multi_main.asm", "multi_util.asm"],
        {"SCALE": -7, "EXTRA": 99},
        False,
        0,
    ),
}


@pytest.mark.parametrize("name", list(PROGRAMS))
def test_program_native_vs_vm(name, tmp_path):
    require_native()
    files, defines, libm, status = PROGRAMS[name]
    sources = [ASM / f for f in files]
    exe = build_native(sources, defines, libm=libm, workdir=tmp_path)
    out, st = run_native(exe, cwd=tmp_path)
    assert st == status, f"native exit status {st}, expected {status}\n{out.decode()}"
    assert out, "the program printed nothing"
    assert_same(sources, tmp_path, defines, libm=libm, decode=text_diff)


def _examples():
    if not EXAMPLES.is_dir():
        return []
    return sorted(p.name for p in EXAMPLES.glob("*.asm"))


@pytest.mark.parametrize("example", _examples())
def test_example_native_vs_vm(example, tmp_path):
    """programs/examples/*.asm run with their directory as cwd / granted root."""
    require_native()
    src = EXAMPLES / example
    text = src.read_text()
    # `; cpu: avx2 fma` in an example's header: the native run needs those CPU features
    for line in text.splitlines():
        if line.startswith("; cpu:"):
            why = missing_feature(*line.split(":", 1)[1].split())
            if why:
                pytest.skip(why)
    libm = any(f in text for f in ("extern exp", "extern log", "extern expf", "extern logf"))
    exe = build_native([src], libm=libm, workdir=tmp_path)
    out, st = run_native(exe, cwd=EXAMPLES)
    assert_same([src], tmp_path, libm=libm, root=EXAMPLES, decode=text_diff)
