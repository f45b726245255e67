"""Fast mode (`mnist-vm run --fast`) end to end: wall time, peak RSS, accuracy.

Runs the default training job (10 epochs, full MNIST, batch 64) with every
twin attached, the way `mnist-vm run --fast --quiet` does, and reports the
wall and CPU time of the machine run (assembly and data loading excluded, as
in the CLI's own "in N s"), the peak RSS and the final test accuracy. The
whole command against the native build: benchmarks/fast_vs_native.py.

    python benchmarks/fast_mode.py                 # the full default job
    python benchmarks/fast_mode.py --epochs 1      # quicker
    python benchmarks/fast_mode.py --profile       # + time per routine/shape
    python benchmarks/fast_mode.py --repeat 3      # best of 3 runs

--profile wraps every twin in a CPU-time timer (a little overhead per call)
and splits the CPU time into twins (by routine and layer shape) and
everything else (the interpreted instructions between the twins, observers,
output).
MNIST comes from --data, $MNIST_DATA, $MNIST_VM_DATA or the mnist-vm cache.
"""

from __future__ import annotations

import argparse
import io
import os
import re
import resource
import sys
import time
from collections import defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

FINAL = re.compile(rb"final test_acc ([0-9.]+)% \((\d+)/(\d+)\)")


def _label(name: str, m, args) -> str:
    from vm.accel import SYSV

    if name == "dense_forward":
        return f"{name} {args[5]}->{SYSV.int_arg(m, 6)}"
    if name == "dense_backward":
        n_in, n_out = SYSV.int_arg(m, 7), SYSV.int_arg(m, 8)
        return f"{name} {n_in}->{n_out}" + ("" if args[5] else " (no dX)")
    if name in ("relu_forward", "relu_backward", "sgd_update"):
        return f"{name} n={args[-1]}"
    return name


# --profile times twins in CPU time of this thread: on a shared machine the
# wall time of a call also counts the time other processes held the core
_clock = time.thread_time


def _timed(twins: dict, totals: dict, counts: dict) -> dict:
    from dataclasses import replace

    out = {}
    for name, tw in twins.items():

        def fn(m, *args, _f=tw.fn, _n=name):
            t0 = _clock()
            try:
                return _f(m, *args)
            finally:
                key = _label(_n, m, args)
                totals[key] += _clock() - t0
                counts[key] += 1

        out[name] = replace(tw, fn=fn)
    return out


def run_once(data: str, epochs: int | None, profile: bool):
    from mnist_vm.data import data_dir, prepare
    from mnist_vm.kernels import twins
    from mnist_vm.training import Progress, program_files
    from vm import Machine, assemble
    from vm.accel import attach

    root = prepare(data_dir(data))
    defines = {} if epochs is None else {"EPOCHS": str(epochs)}
    image = assemble(program_files(), defines=defines)
    out = io.BytesIO()
    machine = Machine(image, root=str(root), stdout=out, stderr=sys.stderr.buffer)
    totals: dict = defaultdict(float)
    counts: dict = defaultdict(int)
    tw = twins()
    attach(machine, _timed(tw, totals, counts) if profile else tw)
    # the same observer the CLI attaches (its cost is part of the measurement)
    progress = Progress(epochs or 10, 937, 64)
    sym = image.symbols["progress_batch"]
    machine.observers[sym.value] = [progress.on_batch]
    machine.invalidate()
    t0 = time.perf_counter()
    c0 = time.process_time()
    status = machine.run()
    wall = time.perf_counter() - t0
    cpu = time.process_time() - c0
    m = FINAL.search(out.getvalue())
    return {
        "wall": wall,
        "cpu": cpu,
        "status": status,
        "icount": machine.icount,
        "accel_calls": machine.accel_calls,
        "totals": dict(totals),
        "counts": dict(counts),
        "final": (float(m.group(1)), int(m.group(2)), int(m.group(3))) if m else None,
    }


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--epochs", type=int, default=None, help="default: the program's 10")
    ap.add_argument(
        "--data",
        default=os.environ.get("MNIST_DATA"),
        help="MNIST directory (default $MNIST_DATA, then as mnist-vm run)",
    )
    ap.add_argument("--repeat", type=int, default=1, help="runs; the best is reported")
    ap.add_argument("--profile", action="store_true", help="time every twin call")
    args = ap.parse_args(argv)
    runs = [run_once(args.data, args.epochs, args.profile) for _ in range(args.repeat)]
    best = min(runs, key=lambda r: r["wall"])
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    epochs = args.epochs or 10
    batches = 937 * epochs
    print(f"fast mode, {epochs} epoch(s), {batches} batches + {epochs} evaluations of 10000")
    print(
        f"wall time      {best['wall']:.2f} s   (best of {len(runs)}: "
        + ", ".join(f"{r['wall']:.2f}" for r in runs)
        + ")"
    )
    print(f"per batch      {best['wall'] / batches * 1e3:.3f} ms (evaluation included)")
    print(f"CPU time       {best['cpu']:.2f} s (all threads of this process)")
    print(
        f"peak RSS       {rss_mb:.0f} MB"
        + (f" (over all {len(runs)} runs in this process)" if len(runs) > 1 else "")
    )
    if best["final"]:
        acc, c, t = best["final"]
        print(f"test accuracy  {acc:.2f}% ({c}/{t})")
    print(f"interpreted    {best['icount']:,} instructions, {best['accel_calls']:,} twin calls")
    if args.profile:
        tot = best["totals"]
        twin_time = sum(tot.values())
        print(f"\n{'routine':38s} {'calls':>8s} {'total s':>8s} {'us/call':>8s} {'ms/batch':>9s}")
        for key, t in sorted(tot.items(), key=lambda kv: -kv[1]):
            n = best["counts"][key]
            print(f"{key:38s} {n:8d} {t:8.3f} {t / n * 1e6:8.1f} {t / batches * 1e3:9.3f}")
        rest = best["cpu"] - twin_time
        print(
            f"{'twins total (CPU time)':38s} {'':8s} {twin_time:8.3f} {'':8s} "
            f"{twin_time / batches * 1e3:9.3f}"
        )
        print(
            f"{'everything else (interpreter, hooks)':38s} {'':8s} {rest:8.3f} {'':8s} "
            f"{rest / batches * 1e3:9.3f}"
        )
    return 0 if best["status"] == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
