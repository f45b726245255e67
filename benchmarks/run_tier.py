"""Run-tier speed: million instructions per second (MIPS) of Machine.run().

Three inner-loop-heavy programs, each a fixed workload:
  scalar   float32 dot product over 784 elements (movss/mulss/addss), repeated
  packed   the same with movups/mulps/addps, four lanes at a time, repeated
  integer  xorshift64 random numbers summed into a histogram, plus a sieve

Each program is run N times (default 5) in a fresh Machine; the best time is
reported (the machine is shared, so the best of N is the least noisy). The
first run includes compiling the blocks, as a real run would.

    python benchmarks/run_tier.py                 # all three, best of 5
    python benchmarks/run_tier.py -n 3 scalar     # one program, best of 3
    python benchmarks/run_tier.py --show scalar   # print the compiled hot block
"""

from __future__ import annotations

import argparse
import io
import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))

from vm import Machine, assemble  # noqa: E402

N = 784


def _floats(seed: int) -> str:
    # small dyadic values: every product and sum is exact, the output is checkable
    vals = [((i * seed) % 17 - 8) / 4 for i in range(N)]
    return ", ".join(f"{v:.2f}" for v in vals)


_DATA = f"""
section .data
align 16
vec_a:  dd {_floats(5)}
align 16
vec_b:  dd {_floats(11)}
result: dd 0
"""

_EXIT = """
    movd eax, xmm0
    mov [rel result], eax
    mov eax, 60
    xor edi, edi
    syscall
"""


def _driver(routine: str) -> str:
    """The vectors, then _start calling routine(vec_a, vec_b, N) REPEAT times and
    storing its float result."""
    return (
        _DATA
        + f"""
section .text
global _start
_start:
    mov ecx, REPEAT
.again:
    mov rdi, vec_a
    mov rsi, vec_b
    mov edx, {N}
    call {routine}
    dec ecx
    jnz .again
"""
        + _EXIT
    )


SCALAR = (
    _driver("dot_scalar")
    + """
dot_scalar:
    xorps xmm0, xmm0
    xor eax, eax
.loop:
    movss xmm1, [rdi + rax*4]
    mulss xmm1, [rsi + rax*4]
    addss xmm0, xmm1
    inc rax
    cmp rax, rdx
    jb .loop
    ret
"""
)

PACKED = (
    _driver("dot_packed")
    + """
dot_packed:
    xorps xmm0, xmm0
    xor eax, eax
.loop:
    movaps xmm1, [rdi + rax*4]
    mulps xmm1, [rsi + rax*4]
    addps xmm0, xmm1
    add rax, 4
    cmp rax, rdx
    jb .loop
    haddps xmm0, xmm0
    haddps xmm0, xmm0
    ret
"""
)

INTEGER = """
section .bss
hist:   resq 16
sieve:  resb 8192

section .text
global _start
_start:
    mov r12d, REPEAT
.again:
    ; xorshift64: 4096 numbers, counted into 16 buckets by their top bits
    mov rax, 88172645463325252
    mov ecx, 4096
.xs:
    mov rdx, rax
    shl rdx, 13
    xor rax, rdx
    mov rdx, rax
    shr rdx, 7
    xor rax, rdx
    mov rdx, rax
    shl rdx, 17
    xor rax, rdx
    mov rdx, rax
    shr rdx, 60
    add qword [hist + rdx*8], 1
    dec ecx
    jnz .xs
    ; sieve of Eratosthenes below 8192
    lea rdi, [sieve]
    xor eax, eax
.clear:
    mov byte [rdi + rax], 0
    inc rax
    cmp rax, 8192
    jb .clear
    mov ebx, 2
.outer:
    cmp byte [rdi + rbx], 0
    jne .next
    mov rax, rbx
    imul rax, rbx
    cmp rax, 8192
    jae .done
.mark:
    mov byte [rdi + rax], 1
    add rax, rbx
    cmp rax, 8192
    jb .mark
.next:
    inc rbx
    jmp .outer
.done:
    dec r12d
    jnz .again
    mov eax, 60
    xor edi, edi
    syscall
"""

PROGRAMS = {"scalar": (SCALAR, 2000), "packed": (PACKED, 8000), "integer": (INTEGER, 60)}


def build(name: str, repeat: int | None = None):
    src, default = PROGRAMS[name]
    return assemble([(f"{name}.asm", src)], defines={"REPEAT": str(repeat or default)})


def measure(name: str, runs: int, repeat: int | None = None) -> tuple[int, float, float]:
    """(instructions, best wall-clock seconds, best CPU seconds) over `runs`
    fresh runs. CPU time (this process only) is less disturbed by other load
    on a shared machine; wall-clock time is what a user waits."""
    image = build(name, repeat)
    best_wall = best_cpu = float("inf")
    count = 0
    for _ in range(runs):
        m = Machine(image, stdout=io.BytesIO(), stderr=io.BytesIO())
        t0, c0 = time.perf_counter(), time.process_time()
        status = m.run()
        wall, cpu = time.perf_counter() - t0, time.process_time() - c0
        if status != 0:
            raise SystemExit(f"{name}: exit status {status}")
        best_wall, best_cpu, count = min(best_wall, wall), min(best_cpu, cpu), m.icount
    return count, best_wall, best_cpu


def show(name: str) -> None:
    from vm import runtier

    image = build(name, 2)
    m = Machine(image, stdout=io.BytesIO(), stderr=io.BytesIO())
    m.run()
    # the loop traces first (a block's third field is True for a loop, or
    # AT_SYSCALL), then the longest
    fn, n, loop = max(m._blocks.values(), key=lambda b: (b[2] is True, b[1]))
    print(runtier.source(fn))


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument(
        "programs",
        nargs="*",
        metavar="PROGRAM",
        help=f"any of {', '.join(PROGRAMS)} (default: all)",
    )
    p.add_argument("-n", "--runs", type=int, default=5, help="runs per program (best is kept)")
    p.add_argument("--repeat", type=int, help="override each program's repetition count")
    p.add_argument("--show", action="store_true", help="print the compiled hot block instead")
    args = p.parse_args(argv)
    for name in args.programs:
        if name not in PROGRAMS:
            p.error(f"unknown program {name!r}")
    print(f"Python {sys.version.split()[0]}, best of {args.runs}")
    for name in args.programs or PROGRAMS:
        if args.show:
            show(name)
            continue
        count, wall, cpu = measure(name, args.runs, args.repeat)
        print(
            f"{name:8s} {count:>12,} instructions  {wall:7.3f} s  {count / wall / 1e6:6.2f} MIPS"
            f"   (CPU time {cpu:6.3f} s  {count / cpu / 1e6:6.2f} MIPS)"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
