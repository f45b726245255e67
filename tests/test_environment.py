"""The environment generated code runs in (vm/environment.py): one owner of
the names the table's templates, vm.codegen, the machine and the run and
native tiers share."""

from __future__ import annotations

import ast
import io
import re
from pathlib import Path

import pytest

import vm.environment as E
from vm import Machine, assemble
from vm.isa import TABLE

VM = Path(__file__).parent.parent / "vm"
# the template vocabulary vm.codegen expands (not calls at run time)
MACROS = {"CHECK", "ALIGN", "FAULT", "FLAGS", "FLAGSRAW", "JUMP", "POP", "POPW", "PUSH", "PUSHW"}
CALL = re.compile(r"(?<![\w.])([A-Za-z_]\w*)\(")


def _templates():
    defs = TABLE.values() if isinstance(TABLE, dict) else TABLE
    for d in defs:
        for text in d.sem.values() if isinstance(d.sem, dict) else [d.sem]:
            yield d.mnemonic, text


def _machine() -> Machine:
    src = "global _start\nsection .text\n_start:\n    mov eax, 60\n    xor edi, edi\n    syscall\n"
    return Machine(assemble([("t.asm", src)]), stdout=io.BytesIO(), stderr=io.BytesIO())


def test_every_function_a_template_calls_is_registered():
    unknown = {
        (mnemonic, name)
        for mnemonic, text in _templates()
        for name in CALL.findall(text)
        if name not in MACROS
        and name not in E.HELPERS
        and name not in E.PURE_BUILTINS
        and E.reader(name) is None
        and E.writer(name) is None
    }
    assert not unknown, f"templates call names vm.environment does not know: {sorted(unknown)}"


def test_the_machine_binds_every_helper_reader_and_writer():
    env = _machine()._env()
    for name, h in E.HELPERS.items():
        assert env[name] is h.fn, name
    for prefix in E.READERS:
        for count in E.READ_COUNTS:
            assert E.reader(f"{prefix}{count}") is not None
            assert callable(env[f"{prefix}{count}"])
    for prefix in E.WRITERS:
        assert callable(env[f"{prefix}1"])
    for name in (*E.MEM_VIEWS, *E.LANE_VIEWS, "r", "m", "c"):
        assert name in env, name


def test_every_machine_call_is_a_machine_method():
    m = _machine()
    for name in E.COLD | E.SYNC | E.CLOBBERS:
        assert callable(getattr(m, name, None)), name


def test_readers_and_writers_name_their_element():
    assert E.reader("RQ2") == ("mQ", 8, 2)
    assert E.reader("RDD4") == ("md", 8, 4)
    assert E.reader("RF") is None and E.reader("fdiv") is None
    assert E.writer("WI1") == ("mI", 4)
    assert E.writer("WI2") is None and E.writer("RQ1") is None
    assert E.int_reader(16) == "RW" and E.int_writer(64) == "WQ"


def test_a_helper_name_is_registered_once():
    with pytest.raises(ValueError, match="registered twice"):
        E.register("fdiv", lambda a, b: a)


def test_the_environment_depends_on_nothing_of_the_machine():
    """vm.memory and vm.isa build on it (no lower layer imports a higher one)."""
    tree = ast.parse((VM / "environment.py").read_text())
    relative = [n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.level > 0]
    assert relative == []
    memory = ast.parse((VM / "memory.py").read_text())
    assert not any(
        isinstance(n, ast.ImportFrom) and n.module in ("codegen", "cpu") for n in ast.walk(memory)
    )
