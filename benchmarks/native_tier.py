"""MIPS per execution tier (run vs native), and the MNIST program vs its native build.

Programs: run_tier.py's scalar and packed dot products and integer program,
plus `probe` (the scalar dot product with a 32-bit counter, `inc ecx / cmp
ecx, 784 / jl` and `mulss xmm1, [mem]`), `avx2` (vmulps + vaddps on ymm) and
`avx512` (vfmadd231ps on zmm). Tiers step, run and native, and `cpu`: the
nasm + ld build of the same program on this CPU (20x the repetitions, wall
time; left out without nasm/ld or the CPU feature). Each is run in a fresh Machine per
tier, best of N; the native tier's time includes compiling its loops. The
results of the tiers are compared (registers, memory) so a fast wrong answer
cannot pass unnoticed.

    python benchmarks/native_tier.py                    # all four, best of 3
    python benchmarks/native_tier.py probe -n 1
    python benchmarks/native_tier.py --mnist 640        # MNIST, 640 training images
    python benchmarks/native_tier.py --mnist-full       # MNIST, one full epoch
    python benchmarks/native_tier.py --show probe       # the hot loop's LLVM IR
    python benchmarks/native_tier.py --busy             # idle, then beside a busy core

--mnist N trains one epoch on the first N training images (no twins) in the
native tier and in the nasm + ld build of the same sources, side by side,
and prints both times and their ratio (needs nasm, ld and the unpacked IDX
files in MNIST_DATA or /work/shared/mnist-style directory given by --data).
"""

from __future__ import annotations

import argparse
import gzip
import io
import os
import shutil
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
sys.path.insert(0, os.path.dirname(__file__))

import run_tier  # noqa: E402

from vm import Machine, assemble  # noqa: E402


def _dot_program(zero: str, body: str, step: str, after: str = "") -> str:
    """The dot product over vec_a, vec_b, REPEAT times: `zero` clears the
    sums, `body` adds a step's products, `step` advances ecx."""
    return (
        run_tier._DATA
        + f"""
section .text
global _start
_start:
    mov r8d, REPEAT
.again:
    lea rdi, [rel vec_a]
    lea rsi, [rel vec_b]
    {zero}
    xor ecx, ecx
.loop:
{body}
    {step}
    cmp ecx, 784
    jl .loop
    dec r8d
    jnz .again
{after}"""
        + run_tier._EXIT
    )


PROBE = _dot_program(
    "xorps xmm0, xmm0",
    "    movss xmm1, [rdi + rcx*4]\n    mulss xmm1, [rsi + rcx*4]\n    addss xmm0, xmm1",
    "inc ecx",
)
# AVX2: vmulps + vaddps on ymm (two roundings, as packed SSE); AVX-512: vfmadd231ps on zmm
AVX2 = _dot_program(
    "vxorps ymm0, ymm0, ymm0",
    "    vmovups ymm1, [rdi + rcx*4]\n    vmulps ymm1, ymm1, [rsi + rcx*4]\n"
    "    vaddps ymm0, ymm0, ymm1",
    "add ecx, 8",
    "    vzeroupper",
)
AVX512 = _dot_program(
    "vxorps zmm0, zmm0, zmm0",
    "    vmovups zmm1, [rdi + rcx*4]\n    vfmadd231ps zmm0, zmm1, [rsi + rcx*4]",
    "add ecx, 16",
    "    vzeroupper",
)

PROGRAMS = {
    **run_tier.PROGRAMS,
    "probe": (PROBE, 2000),
    "avx2": (AVX2, 8000),
    "avx512": (AVX512, 8000),
}
NEEDS = {"avx2": ("avx", "avx2"), "avx512": ("avx512f",)}  # to compare with the host CPU
TIERS = ("step", "run", "native")
STEP_SHARE = 100  # the step tier runs 1/STEP_SHARE of the repetitions (MIPS per instruction)


def build(name: str, repeat: int | None = None):
    src, default = PROGRAMS[name]
    return assemble([(f"{name}.asm", src)], defines={"REPEAT": str(repeat or default)})


def measure(name: str, tier: str, runs: int, repeat: int | None) -> tuple[int, float, tuple]:
    """(instructions, best CPU seconds of this process, final state). CPU time
    is less disturbed than wall-clock time by other load on a shared machine."""
    if tier == "step":
        repeat = max(1, (repeat or PROGRAMS[name][1]) // STEP_SHARE)
        runs = 1
    image = build(name, repeat)
    best, count, state = float("inf"), 0, ()
    for _ in range(runs):
        if tier == "native":
            from vm.native import engine

            engine._cache.clear()  # every run compiles its traces (LLVM starts once)
        m = Machine(image, stdout=io.BytesIO(), stderr=io.BytesIO())
        m.tier = tier
        t0 = time.process_time()
        status = m.run()
        dt = time.process_time() - t0
        if status != 0:
            raise SystemExit(f"{name}: exit status {status}")
        best, count = min(best, dt), m.icount
        state = (list(m.r), bytes(m.xb), bytes(m.mem.buf[m.mem.data : m.mem.data + (1 << 16)]))
    return count, best, state


def show(name: str) -> None:
    from vm import native

    m = Machine(build(name, 50), stdout=io.BytesIO(), stderr=io.BytesIO())
    m.native_after = 0
    m.run()
    t = native.hottest(m)
    print(t.ir if t else "no loop was compiled")


def mnist(limit: int, data: str, tests: int | None = None) -> None:
    sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "tests"))
    from native import build_native

    here = os.path.join(os.path.dirname(__file__), "..", "programs", "mnist")
    srcs = sorted(os.path.join(here, f) for f in os.listdir(here) if f.endswith(".asm"))
    tests = tests or max(limit // 6, 10)
    defines = {"EPOCHS": "1", "TRAIN_LIMIT": str(limit), "TEST_LIMIT": str(tests)}
    with tempfile.TemporaryDirectory() as tmp:
        root = os.path.join(tmp, "data")
        os.mkdir(root)
        for f in os.listdir(data):
            src = os.path.join(data, f)
            if f.endswith(".gz"):
                with gzip.open(src) as g, open(os.path.join(root, f[:-3]), "wb") as out:
                    shutil.copyfileobj(g, out)
            elif "idx" in f:
                shutil.copy(src, root)
        exe = build_native(srcs, defines, libm=True, workdir=tmp)
        t0 = time.perf_counter()
        proc = subprocess.run([str(exe)], cwd=root, capture_output=True, timeout=3600)
        t_native = time.perf_counter() - t0  # wall-clock, as is the VM's below
        image = assemble(srcs, defines=defines)
        out = io.BytesIO()
        m = Machine(image, root=root, stdout=out, stderr=io.BytesIO())
        from vm.native import engine

        engine._cache.clear()  # compiling is part of the time
        llvm0 = engine.compile_seconds[0]
        t0 = time.perf_counter()
        status = m.run()
        t_vm = time.perf_counter() - t0
        t_llvm = engine.compile_seconds[0] - llvm0
    same = out.getvalue() == proc.stdout and status == proc.returncode
    print(
        f"MNIST 1 epoch, {limit} training + {tests} test images: native build {t_native:.3f} s, "
        f"VM native tier {t_vm:.3f} s ({m.icount / t_vm / 1e6:.1f} MIPS; LLVM compiling "
        f"{t_llvm:.2f} s of it), ratio {t_vm / t_native:.1f}x, "
        f"output {'identical' if same else 'DIFFERENT'}",
        flush=True,
    )


def cpu_mips(name: str, repeat: int | None, count: int) -> float | None:
    """MIPS of the nasm + ld build of the same program on this CPU (None
    without nasm/ld or the CPU feature); `count` instructions per REPEAT run
    in the VM, the native build runs 20 times as many repetitions."""
    sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "tests"))
    from native import build_native, native_skip_reason
    from native_vec import missing_feature

    if native_skip_reason() or missing_feature(*NEEDS.get(name, ())):
        return None
    src, default = PROGRAMS[name]
    times = 20
    with tempfile.TemporaryDirectory() as tmp:
        defines = {"REPEAT": (repeat or default) * times}
        exe = build_native([(f"{name}.asm", src)], defines, workdir=tmp)
        best = float("inf")
        for _ in range(3):
            t0 = time.perf_counter()
            subprocess.run([str(exe)], check=True)
            best = min(best, time.perf_counter() - t0)
    return count * times / best / 1e6


def report(names: list[str], runs: int, repeat: int | None) -> None:
    for name in names:
        results = {t: measure(name, t, runs, repeat) for t in TIERS}
        count = results["run"][0]
        mips = {t: results[t][0] / results[t][1] / 1e6 for t in TIERS}
        same = results["run"][2] == results["native"][2]
        line = "  ".join(f"{t} {mips[t]:8.1f}" for t in TIERS)
        cpu = cpu_mips(name, repeat, count)
        tail = f"  cpu {cpu:8.0f}  cpu/native {cpu / mips['native']:6.1f}x" if cpu else ""
        print(
            f"{name:8s} {count:>12,} insns  MIPS: {line}  native/run {mips['native'] / mips['run']:5.1f}x"
            f"{tail}  {'same state' if same else 'STATES DIFFER'}",
            flush=True,
        )


def busy_core():
    """A process that keeps one core busy (`python -c "while 1: pass"`)."""
    return subprocess.Popen([sys.executable, "-c", "while 1: pass"])


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("programs", nargs="*", metavar="PROGRAM", help=f"any of {', '.join(PROGRAMS)}")
    p.add_argument("-n", "--runs", type=int, default=3, help="runs per program and tier")
    p.add_argument("--repeat", type=int, help="override each program's repetition count")
    p.add_argument("--show", action="store_true", help="print the hot loop's LLVM IR instead")
    p.add_argument("--mnist", type=int, metavar="N", help="MNIST epoch on N images vs nasm+ld")
    p.add_argument(
        "--mnist-full",
        action="store_true",
        help="a full MNIST epoch (60,000 training, 10,000 test images) vs nasm+ld",
    )
    p.add_argument("--data", default=os.environ.get("MNIST_DATA", "/work/shared/mnist"))
    p.add_argument(
        "--busy", action="store_true", help="measure twice: idle, then with another core busy"
    )
    args = p.parse_args(argv)
    for name in args.programs:
        if name not in PROGRAMS:
            p.error(f"unknown program {name!r}")
    if args.show:
        for name in args.programs or PROGRAMS:
            show(name)
        return 0
    print(
        f"Python {sys.version.split()[0]}, best of {args.runs}, CPU-time MIPS "
        f"(native includes LLVM start-up and compiling; step runs 1/{STEP_SHARE} of the work)"
    )
    for busy in (False, True) if args.busy else (False,):
        hog = busy_core() if busy else None
        try:
            print("-- with another core busy --" if busy else "-- idle --", flush=True)
            if args.mnist_full:
                mnist(60_000, args.data, 10_000)
            elif args.mnist:
                mnist(args.mnist, args.data)
            else:
                report(args.programs or list(PROGRAMS), args.runs, args.repeat)
        finally:
            if hog is not None:
                hog.kill()
                hog.wait()
    return 0


if __name__ == "__main__":
    sys.exit(main())
