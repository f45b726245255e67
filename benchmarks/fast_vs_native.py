"""`mnist-vm run --fast` against the native build of the same assembly.

Builds programs/mnist natively (nasm -felf64 + ld, dynamically against
libm/libc, the same -d defines as the run), then runs, alternately, N times:

    native:  ./mnist                                    (in the data directory)
    fast:    python -m mnist_vm.cli run --fast --quiet --data DIR

and prints each pair's wall times, the medians, the ratio fast/native (the
median of the per-pair ratios: pairs run back to back, so a change in the
machine's load hits both), the same for CPU time (user + system: steadier
than wall time on a shared machine), the peak RSS of each and their test
accuracies. Then it checks that fast mode computes what the CPU computes:
every timed run's final line equals the native one, and one more (untimed)
`mnist-vm exec --fast` of the same program prints, byte for byte, the
native program's whole output; a difference exits 1.
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
FINAL = re.compile(r"^final test_acc .*$", re.M)


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


def timed(cmd: list[str], cwd: Path) -> tuple[float, float, str, float]:
    """Wall seconds, peak RSS (MB), stdout and CPU seconds (user + system) of one run."""
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
    return wall, usage.ru_maxrss / 1024, text, usage.ru_utime + usage.ru_stime


def final_line(text: str) -> str:
    found = FINAL.findall(text)
    return found[-1] if found else "(no final line)"


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


def check_outputs(pairs, data: Path, defines: dict[str, str]) -> bool:
    """Every fast run's final line is the native one, and `exec --fast` of the
    program prints exactly what the native build printed."""
    from mnist_vm.training import program_files

    want = pairs[0][0][2]
    ok = True
    for i, (native, fast) in enumerate(pairs):
        if final_line(fast[2]) != final_line(native[2]):
            print(f"pair {i + 1}: fast printed {final_line(fast[2])!r}")
            print(f"        native printed {final_line(native[2])!r}")
            ok = False
    cmd = [sys.executable, "-m", "mnist_vm.cli", "exec", "--fast", "--root", str(data)]
    cmd += [f"-D{k}={v}" for k, v in defines.items()] + program_files()
    got = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True).stdout
    if got != want:
        a, b = want.splitlines(), got.splitlines()
        at = next((i for i, (x, y) in enumerate(zip(a, b)) if x != y), min(len(a), len(b)))
        print(f"exec --fast output differs from the native output at line {at + 1}:")
        print(f"  native: {a[at] if at < len(a) else '(end)'!r}")
        print(f"  fast:   {b[at] if at < len(b) else '(end)'!r}")
        ok = False
    else:
        print(
            f"outputs: identical (final lines of every run; exec --fast: {len(want.splitlines())} lines)"
        )
    return ok


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
                    f"ratio {fast[0] / native[0]:.2f} (CPU time {fast[3] / native[3]:.2f})",
                    flush=True,
                )
    finally:
        if busy is not None:
            busy.kill()
            busy.wait()
    ratio = statistics.median(p[1][0] / p[0][0] for p in pairs)
    cpu_ratio = statistics.median(p[1][3] / p[0][3] for p in pairs)
    epochs = args.epochs or 10
    print(
        f"\n{epochs} epoch(s), {len(pairs)} pairs, "
        + ("the last CPU kept busy" if busy else "no extra load")
        + f" (load average at the start: {load:.1f})"
    )
    for name, k in (("native", 0), ("fast", 1)):
        wall = statistics.median(p[k][0] for p in pairs)
        cpu = statistics.median(p[k][3] for p in pairs)
        rss = max(p[k][1] for p in pairs)
        print(
            f"{name:8s} median {wall:6.2f} s (CPU {cpu:6.2f} s)   peak RSS {rss:5.0f} MB   "
            f"{accuracy(pairs[-1][k][2])}"
        )
    print(f"ratio fast/native (median of pairs): {ratio:.2f} wall, {cpu_ratio:.2f} CPU time")
    return 0 if check_outputs(pairs, data, defines) else 1


if __name__ == "__main__":
    sys.exit(main())
