"""The instruction table checks itself (in the manner of Spike's opcode-overlap
test): forms of one mnemonic never compete for the same operands with
different meanings, and control flow is described by `kind`, not by names."""

from __future__ import annotations

from vm.isa import TABLE
from vm.isa.spec import KINDS, InsnDef, parse_forms, table_problems


def test_no_two_forms_of_a_mnemonic_overlap_with_different_semantics():
    assert table_problems() == []


def test_the_overlap_check_finds_an_overlap():
    d = InsnDef(
        "fake",
        parse_forms("r/m32, r32 | r32, r/m32 | r/m32, imm8"),
        {"r/m32, r32": "WA = B", "r32, r/m32": "WA = B + 1", "r/m32, imm8": "WA = B"},
        "a test definition",
    )
    (problem,) = table_problems([d])
    assert "'r/m32, r32' and 'r32, r/m32'" in problem


def test_identical_semantics_may_overlap():
    d = InsnDef("fake", parse_forms("r/m64, r64 | r64, r/m64"), "WA = B", "a test definition")
    assert table_problems([d]) == []


def test_every_instruction_has_a_known_kind():
    assert {d.kind for d in TABLE.values()} <= set(KINDS)


def test_branch_kinds():
    kinds = {name: TABLE[name].kind for name in ("jmp", "jne", "call", "ret", "syscall", "add")}
    assert kinds == {
        "jmp": "jump",
        "jne": "cond-jump",
        "call": "call",
        "ret": "ret",
        "syscall": "syscall",
        "add": "",
    }
    assert TABLE["jz"].branch and not TABLE["mov"].branch


def test_every_group_is_documented():
    from mnist_vm.isa_doc import GROUP_TITLES

    groups = {d.group for d in TABLE.values()} - {"internal"}
    assert groups <= set(GROUP_TITLES), groups - set(GROUP_TITLES)


def test_every_floating_point_instruction_has_an_mxcsr_exact_template():
    """An instruction that reads float lanes (AF0, BD1 ...) or calls a float
    helper rounds or raises exceptions: under MXCSR-exact mode it must run an
    MXCSR-aware template (InsnDef.exact), else a program that changed the
    rounding mode would silently round to nearest."""
    import re

    from vm.isa import TABLE

    float_use = re.compile(
        r"\b[ABCD][FD]\d|\b(fma|fround|cvtr|cvtt|i2f32|fsqrt|fdiv|fnan|fcmp|dpps)"
    )
    missing = set()
    for d in {id(d): d for d in TABLE.values()}.values():
        sems = [d.sem] if isinstance(d.sem, str) else list(d.sem.values())
        if any(float_use.search(s) for s in sems) and d.exact is None:
            missing.add(d.mnemonic)
    assert not missing, sorted(missing)
    assert TABLE["vfmadd231ps"].exact is not None and TABLE["vhaddps"].exact is not None
    assert all("FPCHECK()" in s for s in TABLE["vaddps"].exact.values())
