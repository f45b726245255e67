"""Compiled traces handing over to each other in native code (vm/native/chain.py).

Programs whose hot code is several traces (a loop with a 50/50 branch, an
inner loop inside an outer loop, a routine called and returned from) are run
by the step tier and by the native tier with every trace compiled at once;
their final states must be identical, including when a chained trace faults
part-way, a step budget ends inside a chain, a breakpoint is set after the
code was compiled, or a routine's return address is changed on the stack.
Each test also checks that a chain ran: the dispatcher went from one
compiled trace into another without returning to Python.
"""

from __future__ import annotations

import pytest
from test_native_tier import check_native, step_to, tier
from test_run_tier import Run, diff

from vm import assemble, native
from vm.native import NativeTrace

pytestmark = pytest.mark.skipif(
    not native.available(), reason="llvmlite missing or host not x86-64"
)

EXIT = """
    mov eax, 60
    xor edi, edi
    syscall
"""

# relu over 600 floats of both signs: the loop's two paths are two traces
BRANCHY = (
    """
global _start
section .data
align 16
v:  times 300 dd 1.5, -2.25
section .text
_start:
    mov r8d, 30
.again:
    lea rsi, [rel v]
    xor eax, eax
    xorps xmm1, xmm1
.loop:
    movss xmm0, [rsi + rax*4]
    comiss xmm0, xmm1
    ja .keep
    mov dword [rsi + rax*4], 0
    addss xmm2, xmm0
.keep:
    inc rax
    cmp rax, LEN
    jb .loop
    dec r8d
    jnz .again
"""
    + EXIT
)

# an outer loop calling a routine with an inner loop; `ret` leaves to data
CALLS = (
    """
global _start
section .data
align 16
a:  times 64 dd 0.5
section .text
sum:                        ; xmm0 = sum of rcx floats at rdi
    xorps xmm0, xmm0
    xor eax, eax
.s: addss xmm0, [rdi + rax*4]
    inc rax
    cmp rax, rcx
    jb .s
    ret
_start:
    mov r12d, 400
    lea rdi, [rel a]
.outer:
    mov ecx, STRIDE
    call sum
    addss xmm3, xmm0
    add rdi, 4
    and rdi, ~255
    lea r9, [rel a]
    or rdi, r9
    dec r12d
    jnz .outer
"""
    + EXIT
)


def _run_counting_chains(t, monkeypatch, **kw) -> int:
    """t.m.run(**kw); returns how many calls into native code ran more than
    the trace they were called for (the other traces' counters grew)."""
    chains = [0]
    call = NativeTrace.__call__

    def counting(self, maxit):
        others = [x for x in self.machine._native.values() if x is not self]
        before = [x.executed for x in others]
        res = call(self, maxit)
        chains[0] += any(x.executed != b for x, b in zip(others, before))
        return res

    monkeypatch.setattr(NativeTrace, "__call__", counting)
    t.outcome(lambda: t.m.run(**kw))
    monkeypatch.undo()
    return chains[0]


def _check(src: str, monkeypatch, limit: int = 200_000) -> None:
    expected, natively = check_native(src, "chain", limit)
    assert natively, "no native code ran"
    t = tier(assemble([("t.asm", src)]), "native")
    assert _run_counting_chains(t, monkeypatch, max_steps=limit), "the traces did not chain"


@pytest.mark.parametrize("length", [600, 601])
def test_a_loop_with_two_hot_paths_runs_both_natively(length, monkeypatch):
    """601 floats: the last iteration reads past the data (a fault in the
    middle of a chain of the loop's two traces)."""
    _check(BRANCHY.replace("LEN", str(length)), monkeypatch)


@pytest.mark.parametrize("stride", [3, 8, 64, 65])
def test_calls_and_returns_chain_natively(stride, monkeypatch):
    """STRIDE 65 reads one float past the data, late in the outer loop."""
    _check(CALLS.replace("STRIDE", str(stride)), monkeypatch)


@pytest.mark.parametrize("n", [1, 7, 100, 1234, 5001, 17_777, 40_001])
def test_a_step_budget_ends_inside_a_chain_exactly(n):
    image = assemble([("t.asm", BRANCHY.replace("LEN", "600"))])
    ref = Run(image)
    ref.steps(n)
    t = tier(image, "native")
    t.outcome(lambda: t.m.run(max_steps=n))
    assert t.m.icount == n
    assert not diff(ref.state(), t.state())


def test_a_breakpoint_added_after_compilation_stops_the_chain(monkeypatch):
    """Added to machine.breakpoints without invalidating (as training does):
    the dispatcher must not run the trace that starts there."""
    image = assemble([("t.asm", BRANCHY.replace("LEN", "600"))])
    t = tier(image, "native")
    assert _run_counting_chains(t, monkeypatch, max_steps=20_000)
    starts = sorted(a for a, x in t.m._native.items() if x.executed and a != image.entry)
    assert len(starts) >= 3
    for where in starts:
        t = tier(image, "native")
        t.outcome(lambda t=t: t.m.run(max_steps=20_000))
        ref = Run(image)
        ref.steps(t.m.icount)
        t.m.breakpoints.add(where)
        got = t.outcome(t.m.run)
        assert got == step_to(ref, where) == ("stopped",)
        assert not diff(ref.state(), t.state())


RETURN_ADDRESS = (
    """
global _start
section .text
bump:                       ; adds 8 to the return address on odd rcx
    inc rbx
    test rcx, 1
    jz .even
    add qword [rsp], 8
.even:
    ret
_start:
    mov ecx, 3000
.loop:
    call bump
    add r10, 1              ; skipped on odd rcx
    add r11, 1              ; skipped on odd rcx
    add r12, 1
    dec ecx
    jnz .loop
"""
    + EXIT
)


def test_a_return_address_changed_on_the_stack_is_followed(monkeypatch):
    """`ret` goes where the stack says, not where the call was: the trace
    that ends in it leaves with the popped address and the table decides."""
    _check(RETURN_ADDRESS, monkeypatch)


LIBM_LOOP = (
    """
global _start
extern exp
extern expf
extern log
section .data
align 16
x:  dq -3.5
step: dq 0.013671875
fx: dd -2.0
fdx: dd 0.0078125
section .text
_start:
    mov ebx, 1500
.loop:
    movsd xmm0, [rel x]
    mov r12, rbx            ; callee-saved: kept across the call
    call exp
    addsd xmm6, xmm0        ; (xmm6 is poisoned by the next call: as natively)
    movq r13, xmm0
    xor r14, r13
    movsd xmm0, [rel x]
    addsd xmm0, [rel step]
    movsd [rel x], xmm0
    movss xmm0, [rel fx]
    call expf
    movd r15d, xmm0
    add r14, r15
    movss xmm0, [rel fx]
    addss xmm0, [rel fdx]
    movss [rel fx], xmm0
    cmp rbx, 700
    jne .skip
    mov rsp, 8              ; a stack pointer nothing can be read at: the call faults
.skip:
    dec ebx
    jnz .loop
"""
    + EXIT
)


@pytest.mark.parametrize("crash", [False, True])
def test_libm_calls_run_natively_with_glibc_bits(crash, monkeypatch):
    """exp/expf called from compiled code: the same glibc function, the same
    poisoned caller-saved registers, flags and return as the run tier; with
    `crash` the stack pointer goes bad part-way and the next call faults."""
    src = LIBM_LOOP if crash else LIBM_LOOP.replace("mov rsp, 8", "nop")
    _check(src, monkeypatch)
