"""vm/history.py: reverse execution must give back exactly the machine that was.

The invariant (hypothesis-driven): any mix of single steps and runs forward,
then going back to an earlier position, gives byte-identical registers,
flags, xmm, memory, icount, brk and open-file offsets. Plus depth (more than
1,000,000 instructions back), the memory bound, backwards searches and the
output that must not be printed twice.
"""

from __future__ import annotations

import hashlib
import io
import os
from pathlib import Path

import pytest
from debugger_programs import HISTORY_PROGRAM as PROGRAM
from debugger_programs import divide_under_mxcsr
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from vm import Exit, Fault, Machine, assemble
from vm.history import History, HistoryError

REPO = Path(__file__).resolve().parents[1]
EXAMPLES = REPO / "programs" / "examples"


@pytest.fixture(scope="module")
def prog_dir(tmp_path_factory) -> Path:
    d = tmp_path_factory.mktemp("hist")
    (d / "prog.asm").write_text(PROGRAM)
    (d / "in.txt").write_bytes(b"hello world, reversed\n")
    return d


def machine_for(path: Path, root: Path, out=None) -> Machine:
    return Machine(
        assemble([str(path)]), root=str(root), stdout=out or io.BytesIO(), stderr=io.BytesIO()
    )


def snapshot(m: Machine) -> tuple:
    """Everything that makes up the machine's state."""
    mem = m.mem
    heap_end = (mem.brk + 0xFFF) & ~0xFFF  # the mapped data + heap, and the stack
    digest = hashlib.sha256(
        mem.buf[mem.data : heap_end] + mem.buf[mem.stack_lo : mem.top]
    ).hexdigest()
    files = tuple(sorted((pfd, os.lseek(h, 0, os.SEEK_CUR)) for pfd, h in m.runtime.fds.items()))
    return (
        tuple(m.r),
        bytes(m.xb),
        m.rflags,
        m.rip,
        m.icount,
        m.exit_status,
        mem.brk,
        digest,
        files,
    )


def forward(h: History, kind: str, n: int) -> None:
    """Up to n instructions forward: single steps, a run, or a run that stops
    just after a write to the first 64 bytes of writable memory (exercising
    the block rewind behind forward watchpoints)."""
    m = h.m
    if kind == "step":
        for _ in range(n):
            try:
                h.step()
            except Exit:
                return
    elif kind == "watch":
        lo = m.mem.data
        h.run(until=m.icount + n, watches=[(lo, lo + 64)])
    else:
        h.run(until=m.icount + n)


# ---- the invariant -----------------------------------------------------------------------------
ops = st.lists(
    st.tuples(st.sampled_from(["step", "run", "watch", "back"]), st.integers(1, 60)),
    min_size=1,
    max_size=12,
)


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(
    ops=ops, which=st.sampled_from(["prog", "loops_flags", "dot_product", "read_file", "call_exp"])
)
def test_any_path_back_gives_byte_identical_states(prog_dir, ops, which):
    if which == "prog":
        m = machine_for(prog_dir / "prog.asm", prog_dir)
    else:
        m = machine_for(EXAMPLES / f"{which}.asm", EXAMPLES)
    h = History(m)
    h.interval = 37  # many checkpoints, so restores are exercised too
    seen = {m.icount: snapshot(m)}
    for kind, n in ops:
        if kind == "back":
            target = max(h.start, m.icount - n)
            h.goto(target)
        else:
            forward(h, kind, n)
        here = m.icount
        if here in seen:
            assert snapshot(m) == seen[here], f"state differs at instruction {here}"
        else:
            seen[here] = snapshot(m)
    # and every recorded position is reachable again, exactly
    for icount in sorted(seen, reverse=True)[:5]:
        h.goto(icount)
        assert snapshot(m) == seen[icount]


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(n=st.integers(1, 400), how=st.sampled_from(["step", "run", "watch"]))
def test_n_forward_then_n_back_is_the_same_machine(prog_dir, n, how):
    m = machine_for(prog_dir / "prog.asm", prog_dir)
    h = History(m)
    before = snapshot(m)
    forward(h, how, n)
    done = m.icount
    h.back(done)
    assert snapshot(m) == before


def test_reverse_over_reads_restores_the_file_offset(prog_dir):
    out = io.BytesIO()
    m = machine_for(prog_dir / "prog.asm", prog_dir, out)
    h = History(m)
    assert h.run() == "exit"
    final = snapshot(m)
    assert out.getvalue() == b"hello \x00\x00worl"
    h.goto(0)
    assert h.run() == "exit"
    assert snapshot(m) == final
    assert out.getvalue() == b"hello \x00\x00worl", "re-execution must not print again"


def test_undo_of_a_stepped_read_restores_buffer_and_offset(prog_dir):
    m = machine_for(prog_dir / "prog.asm", prog_dir)
    h = History(m)
    buf = m.image.symbols["buf"].value
    while not (m.insns[m.rip].defn.mnemonic == "syscall" and m.r[0] == 0):
        h.step()
    before = snapshot(m)
    rec = h.step()
    assert (buf, 6) in rec.written, "the read syscall is a write of the buffer"
    assert m.mem.read(buf, 6) == b"hello "
    h.back(1)
    assert snapshot(m) == before
    h.step()
    assert m.mem.read(buf, 6) == b"hello "


def test_more_than_a_million_instructions_back_in_bounded_memory():
    src = """
    global _start
    section .bss
    arr: resq 512
    section .text
    _start:
        xor ecx, ecx
    .loop:
        mov rax, rcx
        and rax, 511
        mov [arr + rax*8], rcx
        inc rcx
        cmp rcx, 600000
        jb .loop
        mov eax, 60
        xor edi, edi
        syscall
    """
    m = Machine(assemble([("loop.asm", src)]), stdout=io.BytesIO())
    h = History(m, budget=64 << 20)
    start = snapshot(m)
    assert h.run() == "exit"
    assert m.icount > 3_000_000
    assert h.depth == m.icount and h.depth >= 1_000_000
    assert h.used <= h.budget
    h.goto(0)
    assert snapshot(m) == start
    h.goto(1_234_567)
    assert m.icount == 1_234_567


def test_budget_drops_the_oldest_history_first():
    src = """
    global _start
    section .bss
    big: resb 4194304
    section .text
    _start:
        xor ecx, ecx
    .loop:
        mov rax, rcx
        imul rax, rax, 4093
        and rax, 4194303
        mov [big + rax], cl
        inc rcx
        cmp rcx, 400000
        jb .loop
        mov eax, 60
        xor edi, edi
        syscall
    """
    m = Machine(assemble([("big.asm", src)]), stdout=io.BytesIO())
    h = History(m, budget=16 << 20)
    h.interval = 20_000
    assert h.run() == "exit"
    assert h.start > 0, "old checkpoints were dropped"
    assert h.used <= h.budget + (4 << 20)
    with pytest.raises(HistoryError):
        h.goto(0)
    h.goto(h.start)
    assert m.icount == h.start


def test_find_last_breakpoint_and_watch(prog_dir):
    m = machine_for(prog_dir / "prog.asm", prog_dir)
    h = History(m)
    h.interval = 50
    assert h.run() == "exit"
    end = m.icount
    square = m.image.symbols["square"].value
    ev = h.find_last(end, {square})
    assert ev.kind == "break" and ev.rip == square
    assert h.find_last(ev.icount, {square}) is None, "square is called once"
    assert h.find_last(ev.icount + 1, {square}).icount == ev.icount
    counter = m.image.symbols["counter"].value
    w = h.find_last(end, watches=[(counter, counter + 8)])
    assert w.kind == "watch"
    h.goto(w.icount)
    assert m.insns[m.rip].text().startswith("add qword")
    assert int.from_bytes(m.mem.read(counter, 8), "little") == 63
    buf = m.image.symbols["buf"].value
    r = h.find_last(end, watches=[(buf + 8, buf + 12)])
    h.goto(r.icount)
    assert m.insns[m.rip].defn.mnemonic == "syscall", "a read is a write"


def test_forward_watch_stops_just_after_the_writing_instruction(prog_dir):
    m = machine_for(prog_dir / "prog.asm", prog_dir)
    h = History(m)
    arr = m.image.symbols["arr"].value
    assert h.run(watches=[(arr + 40, arr + 44)]) == "watch"
    assert h.event.icount == m.icount - 1
    assert int.from_bytes(m.mem.read(arr + 40, 4), "little") == 10
    assert m.insns[h.event.rip].text().startswith("mov dword")


def test_fault_leaves_no_trace_and_history_survives():
    src = """
    global _start
    section .text
    _start:
        mov rax, 7
        mov rbx, 0
        mov rcx, [rbx]
    """
    m = Machine(assemble([("f.asm", src)]), stdout=io.BytesIO())
    h = History(m)
    h.step()
    h.step()
    before = snapshot(m)
    with pytest.raises(Fault):
        h.step()
    assert snapshot(m) == before
    with pytest.raises(Fault):
        h.run()
    h.back(2)
    assert m.icount == 0 and m.r[0] == 0


MXCSR_STEPS = divide_under_mxcsr(0x7F80)


@pytest.mark.parametrize("how", ["step", "run"])
def test_going_back_restores_mxcsr(tmp_path, how):
    """ldmxcsr sets the mode, divss raises PE: going back undoes both."""
    m = Machine(assemble([("m.asm", MXCSR_STEPS)]), stdout=io.BytesIO())
    h = History(m)
    for _ in range(3):
        h.step() if how == "step" else None
    if how == "run":
        assert h.run() == "exit"
    assert m.mxcsr == 0x7F80 | 0x20
    h.goto(2)
    assert m.mxcsr == 0x7F80
    h.goto(0)
    assert m.mxcsr == 0x1F80
