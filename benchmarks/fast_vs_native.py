"""`mnist-vm run --fast` against the native build of the same assembly.

Builds programs/mnist natively (nasm -felf64 + ld, dynamically against
libm/libc, the same -d defines as the run), then runs, alternately, N times:

    native:  ./mnist                                    (in the data directory)
    fast:    python -m mnist_vm.cli run --fast --quiet --data DIR

and prints each pair's wall times, the medians, the ratio fast/native (the
median of the per-pair ratios: pairs run back to back, so a change in the
machine's load hits both), the peak RSS of each and their test accuracies.
--busy keeps a spinning Python process (`while 1: pass`) on the last CPU
for the whole measurement. Without nasm or ld it says so and exits 0.

    python benchmarks/fast_vs_native.py                   # 10 epochs, 3 pairs
    python benchmarks/fast_vs_native.py --pairs 5 --busy
    python benchmarks/fast_vs_native.py --epochs 1        # quicker
MNIST comes from --data, $MNIST_DATA, $MNIST_VM_DATA or the mnist-vm cache.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

DYNAMIC_LINKER = "/lib64/ld-linux-x86-64.so.2"
ACCURACY = re.compile(r"(\d+\.\d+)% \((\d+)/(\d+)\)")


def build_native(workdir: Path, defines: dict[str, str]) -> Path:
    from mnist_vm.training import program_files

    objs = []
    for src in program_files():
        obj = workdir / (Path(src).stem + ".o")
        cmd = ["nasm", "-felf64", "-w-all", "-I", f"{Path(src).parent}/"]
        cmd += [f"-d{k}={v}" for k, v in defines.items()] + ["-o", str(obj), src]
        subprocess.run(cmd, check=True)
        objs.append(str(obj))
    exe = workdir / "mnist"
    link = ["ld", "-dynamic-linker", DYNAMIC_LINKER, "-o", str(exe), *objs, "-lm", "-lc"]
    subprocess.run(link, check=True)
    return exe


def timed(cmd: list[str], cwd: Path) -> tuple[float, float, str]:
    """Wall seconds, peak RSS (MB) and stdout of one run."""
    with tempfile.TemporaryFile() as out:
        t0 = time.perf_counter()
        p = subprocess.Popen(cmd, cwd=cwd, stdout=out, stderr=subprocess.DEVNULL)
        _, status, usage = os.wait4(p.pid, 0)
        wall = time.perf_counter() - t0
        p.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        text = out.read().decode()
    if p.returncode != 0:
        raise SystemExit(f"{cmd[0]} exited with status {p.returncode}:\n{text}")
    return wall, usage.ru_maxrss / 1024, text


def accuracy(text: str) -> str:
    found = ACCURACY.findall(text)
    return f"{found[-1][0]}% ({found[-1][1]}/{found[-1][2]})" if found else "?"


def spinner() -> subprocess.Popen:
    p = subprocess.Popen([sys.executable, "-c", "while 1: pass"])
    if hasattr(os, "sched_setaffinity"):
        try:
            os.sched_setaffinity(p.pid, {max(os.sched_getaffinity(0))})
        except OSError:
            pass
    return p


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--pairs", type=int, default=3, help="native/fast pairs (default 3)")
    ap.add_argument("--epochs", type=int, default=None, help="default: the program's 10")
    ap.add_argument("--busy", action="store_true", help="keep the last CPU busy meanwhile")
    ap.add_argument(
        "--data",
        default=os.environ.get("MNIST_DATA"),
        help="MNIST directory (default $MNIST_DATA, then as mnist-vm run)",
    )
    args = ap.parse_args(argv)
    missing = [t for t in ("nasm", "ld") if shutil.which(t) is None]
    if missing or not os.path.exists(DYNAMIC_LINKER):
        print(f"skipped: {', '.join(missing) or DYNAMIC_LINKER} not found (no native build)")
        return 0

    from mnist_vm.data import data_dir, prepare

    data = prepare(data_dir(args.data))
    defines = {} if args.epochs is None else {"EPOCHS": str(args.epochs)}
    fast_cmd = [sys.executable, "-m", "mnist_vm.cli", "run", "--fast", "--quiet"]
    fast_cmd += ["--data", str(data)] + (["--epochs", str(args.epochs)] if args.epochs else [])
    load = os.getloadavg()[0]
    busy = spinner() if args.busy else None
    pairs = []
    try:
        with tempfile.TemporaryDirectory() as tmp:
            exe = build_native(Path(tmp), defines)
            for i in range(args.pairs):
                native = timed([str(exe)], data)
                fast = timed(fast_cmd, ROOT)
                pairs.append((native, fast))
                print(
                    f"pair {i + 1}: native {native[0]:6.2f} s   fast {fast[0]:6.2f} s   "
                    f"ratio {fast[0] / native[0]:.2f}",
                    flush=True,
                )
    finally:
        if busy is not None:
            busy.kill()
            busy.wait()
    nat = statistics.median(p[0][0] for p in pairs)
    fst = statistics.median(p[1][0] for p in pairs)
    ratio = statistics.median(p[1][0] / p[0][0] for p in pairs)
    epochs = args.epochs or 10
    print(
        f"\n{epochs} epoch(s), {len(pairs)} pairs, "
        + ("the last CPU kept busy" if busy else "no extra load")
        + f" (load average at the start: {load:.1f})"
    )
    print(f"native   median {nat:6.2f} s   peak RSS {max(p[0][1] for p in pairs):5.0f} MB", end="")
    print(f"   {accuracy(pairs[-1][0][2])}")
    print(f"fast     median {fst:6.2f} s   peak RSS {max(p[1][1] for p in pairs):5.0f} MB", end="")
    print(f"   {accuracy(pairs[-1][1][2])}")
    print(f"ratio fast/native (median of pairs): {ratio:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
