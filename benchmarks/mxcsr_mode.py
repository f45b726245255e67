"""MXCSR-exact mode's cost: the same float program with and without an
`ldmxcsr` of the default value (which switches it to MXCSR-exact mode:
softfloat helpers, no native traces), side by side in one process.

    python benchmarks/mxcsr_mode.py            # scalar and packed dot products, best of 3
    python benchmarks/mxcsr_mode.py -n 1 --repeat 2

Reports instructions per second of each mode in the run tier and the ratio
(default / exact); the default mode also with the native tier.
"""

from __future__ import annotations

import argparse
import io
import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))

from run_tier import PACKED, SCALAR  # noqa: E402

from vm import Machine, assemble  # noqa: E402

_LDMXCSR = """
section .data
mxcsr_default: dd 0x1F80
section .text
_start:
    ldmxcsr [mxcsr_default]"""


def _best(src: str, repeat: int, tier: str, n: int) -> tuple[float, int]:
    image = assemble([("bench.asm", src)], defines={"REPEAT": str(repeat)})
    best, count = float("inf"), 0
    for _ in range(n):
        m = Machine(image, stdout=io.BytesIO(), stderr=io.BytesIO())
        m.tier = tier
        t = time.perf_counter()
        assert m.run() == 0
        best, count = min(best, time.perf_counter() - t), m.icount
    return best, count


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("-n", type=int, default=3, help="runs of each (best is reported)")
    ap.add_argument("--repeat", type=int, default=4, help="dot products per run")
    args = ap.parse_args()
    for name, src in (("scalar", SCALAR), ("packed", PACKED)):
        exact_src = src.replace("\n_start:", _LDMXCSR, 1)
        t_run, n = _best(src, args.repeat, "run", args.n)
        t_nat, _ = _best(src, args.repeat, "native", args.n)
        t_exact, n2 = _best(exact_src, args.repeat, "run", args.n)
        print(
            f"{name:7} default run tier {n / t_run / 1e6:6.2f} MIPS, native tier "
            f"{n / t_nat / 1e6:6.2f} MIPS; MXCSR-exact {n2 / t_exact / 1e6:6.3f} MIPS "
            f"(run tier {t_exact / t_run * n / n2:.1f}x slower)"
        )


if __name__ == "__main__":
    main()
