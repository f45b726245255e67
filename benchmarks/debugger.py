"""Debugger benchmarks.

(a) One step with a full redraw in the Textual app (headless, 200x50 and
    80x24, the default terminal): the
    `s` key's handler (execute one instruction, rebuild every panel) plus a
    full-screen compositor render of all widgets, written to the (headless)
    terminal. Also the CPU time per `pilot.press("s")` end to end (Textual's
    event handling included; the test harness's idle waits excluded).
(b) `continue` to a breakpoint vs plain `Machine.run()` to the same
    breakpoint, on the MNIST program (small configuration): the debugger
    records history (checkpoints) while it runs, the plain run does not.

    python benchmarks/debugger.py [--data DIR] [--steps N]

MNIST comes from --data, $MNIST_DATA or the mnist-vm cache.
"""

from __future__ import annotations

import argparse
import asyncio
import io
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

DEFINES = {"EPOCHS": "1", "TRAIN_LIMIT": "128", "TEST_LIMIT": "100", "BATCH": "64"}


def mnist_root(arg: str | None) -> str:
    from mnist_vm.data import data_dir, prepare

    return str(prepare(data_dir(arg or os.environ.get("MNIST_DATA")), download=False))


def bench_step(root: str, steps: int, size: tuple[int, int]) -> dict:
    from mnist_vm.debugger.session import Session
    from mnist_vm.debugger.tui import DebuggerApp
    from mnist_vm.training import program_files

    s = Session.from_files(program_files(), DEFINES, root=root)
    s.add_breakpoint("dense_forward")
    s.cont()  # step inside the network's first layer
    out: dict = {}

    async def main() -> None:
        app = DebuggerApp(s)
        async with app.run_test(size=size) as pilot:
            await pilot.pause()
            screen = app.screen
            walls, handler_cpus = [], []
            for _ in range(steps):
                t0, c0 = time.perf_counter(), time.process_time()
                app.action_key("s")  # step + rebuild all panels
                screen._compositor.update_widgets(screen._dirty_widgets)
                screen._dirty_widgets.clear()
                update = screen._compositor.render_full_update()
                app._display(screen, update)  # the bytes for the terminal
                walls.append(time.perf_counter() - t0)
                handler_cpus.append(time.process_time() - c0)
            cpus = []
            for _ in range(steps):
                c0 = time.process_time()
                await pilot.press("s")
                cpus.append(time.process_time() - c0)
            out["wall"] = walls
            out["handler_cpu"] = handler_cpus
            out["cpu"] = cpus

    asyncio.run(main())
    return out


def bench_continue(root: str, repeats: int = 3) -> dict:
    from mnist_vm.debugger.session import Session
    from mnist_vm.training import program_files
    from vm import Machine, assemble

    image = assemble(program_files(), defines=DEFINES)
    target = "softmax_xent"
    addr = image.symbols[target].value
    plain, debug = [], []
    icount = 0
    for _ in range(repeats):
        m = Machine(image, root=root, stdout=io.BytesIO(), stderr=io.BytesIO())
        m.breakpoints = {addr}
        t0 = time.perf_counter()
        m.run()
        plain.append(time.perf_counter() - t0)
        icount = m.icount
        s = Session(image, root=root)
        s.add_breakpoint(target)
        t0 = time.perf_counter()
        stop = s.cont()
        debug.append(time.perf_counter() - t0)
        assert stop.kind == "breakpoint" and s.machine.icount == icount, stop.text
        hist = s.history
    return {
        "plain": plain,
        "debug": debug,
        "icount": icount,
        "checkpoints": len(hist.checkpoints),
        "history_mib": hist.used / 2**20,
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", default=None)
    ap.add_argument("--steps", type=int, default=60)
    args = ap.parse_args()
    root = mnist_root(args.data)

    print(f"load average before: {os.getloadavg()[0]:.2f} ({os.cpu_count()} cores)")
    for size in ((200, 50), (80, 24)):
        r = bench_step(root, args.steps, size)
        w = sorted(r["wall"])
        c = sorted(r["cpu"])
        print(f"(a) step + full redraw, Textual app {size[0]}x{size[1]}, headless")
        print(
            f"    handler + full-screen render: median {1000 * statistics.median(w):.1f} ms, "
            f"p90 {1000 * w[int(0.9 * len(w))]:.1f} ms, max {1000 * w[-1]:.1f} ms  "
            "(target <= 30 ms)"
        )
        h = sorted(r["handler_cpu"])
        print(
            f"    the same, CPU time:           median {1000 * statistics.median(h):.1f} ms, "
            f"p90 {1000 * h[int(0.9 * len(h))]:.1f} ms  (what a loaded machine does not change)"
        )
        print(
            f"    CPU per pilot.press('s'):     median {1000 * statistics.median(c):.1f} ms, "
            f"p90 {1000 * c[int(0.9 * len(c))]:.1f} ms"
        )

    r = bench_continue(root)
    p, d = min(r["plain"]), min(r["debug"])
    print(f"(b) continue to a breakpoint (softmax_xent, {r['icount']:,} instructions)")
    print(f"    Machine.run():      {p:.3f} s  ({r['icount'] / p / 1e6:.2f} MIPS)")
    print(
        f"    debugger continue:  {d:.3f} s  ({r['icount'] / d / 1e6:.2f} MIPS), "
        f"{100 * (d / p - 1):+.1f}% vs Run tier (target within +20%)"
    )
    print(
        f"    history: {r['checkpoints']} checkpoints, {r['history_mib']:.0f} MiB "
        "(of it the shadow copy of writable memory)"
    )
    print(f"load average after: {os.getloadavg()[0]:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
