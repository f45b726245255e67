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
