"""Steady-state MIPS of the native tier: compiled code, not compiling.

native_tier.py's MIPS include LLVM's start-up and compiling each trace, which
at its default sizes is most of the native tier's time. This runs each program
twice in one process, at REPEAT and at 10x REPEAT (compiled traces are cached
per process, so the second run compiles little), and prints both MIPS and the
marginal MIPS of the extra work: (n2 - n1) / (t2 - t1), CPU time.

    python benchmarks/native_steady.py probe scalar packed avx2 avx512
    python benchmarks/native_steady.py --repeat 20000 packed
"""

from __future__ import annotations

import argparse
import io
import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
sys.path.insert(0, os.path.dirname(__file__))

import native_tier  # noqa: E402

from vm import Machine  # noqa: E402


def run(name: str, repeat: int) -> tuple[int, float]:
    """(instructions, CPU seconds) of one native-tier run."""
    m = Machine(native_tier.build(name, repeat), stdout=io.BytesIO(), stderr=io.BytesIO())
    m.tier = "native"
    t0 = time.process_time()
    if m.run() != 0:
        raise SystemExit(f"{name}: non-zero exit status")
    return m.icount, time.process_time() - t0


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("programs", nargs="+", metavar="PROGRAM", help=", ".join(native_tier.PROGRAMS))
    p.add_argument("--repeat", type=int, default=40000, help="REPEAT of the first run")
    args = p.parse_args(argv)
    for name in args.programs:
        n1, t1 = run(name, args.repeat)
        n2, t2 = run(name, 10 * args.repeat)
        print(
            f"{name:8s} {n1 / t1 / 1e6:7.0f} MIPS at REPEAT {args.repeat}, "
            f"{n2 / t2 / 1e6:7.0f} at {10 * args.repeat}, "
            f"marginal {(n2 - n1) / (t2 - t1) / 1e6:7.0f} MIPS",
            flush=True,
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
