"""Argument helpers shared by `mnist-vm` and its subcommands (exec, run, debug, data).

One module that the command modules import, so that none of them imports
another's command line (mnist_vm/cli.py imports the subcommands' parsers).
"""

from __future__ import annotations

import argparse
import math
import os
import sys
from pathlib import Path

CGROUP_ROOT = Path("/sys/fs/cgroup")


def usage_error(msg: str) -> int:
    print(f"mnist-vm: error: {msg}", file=sys.stderr)
    return 2


def parse_defines(items: list[str] | None) -> dict[str, str]:
    """-D NAME=VALUE items as a dict; a malformed item exits with status 2."""
    defines = {}
    for item in items or []:
        name, _, value = item.partition("=")
        if not name.isidentifier():
            raise SystemExit(usage_error(f"-D expects NAME=VALUE, got {item!r}"))
        defines[name] = value
    return defines


def positive_int(text: str) -> int:
    try:
        v = int(text.replace("_", ""))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if v <= 0:
        raise argparse.ArgumentTypeError(f"expected a positive number, got {v}")
    return v


def int_between(lo: int, hi: int):
    """An argparse type: a whole number in lo..hi."""

    def parse(text: str) -> int:
        v = positive_int(text) if lo > 0 else int(text.replace("_", ""))
        if not lo <= v <= hi:
            raise argparse.ArgumentTypeError(f"expected {lo} to {hi:,}, got {v:,}")
        return v

    parse.__name__ = f"int_{lo}_{hi}"
    return parse


def positive_float(text: str) -> float:
    try:
        v = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not v > 0 or math.isinf(v):
        raise argparse.ArgumentTypeError(f"expected a positive number, got {text}")
    return v


def jobs_option(parser) -> None:
    parser.add_argument(
        "--jobs",
        type=positive_int,
        default=None,
        metavar="N",
        help="with --fast: processes for the large layers, 1 or 2 (more counts as 2; default 2 "
        "when this process may use two CPUs, counting a container's CPU quota; the results "
        "are the same)",
    )


def data_options(parser, what: str = "the dataset") -> None:
    """--data DIR and --dataset NAME."""
    from .data import DATASETS, DEFAULT_DATASET, ENV_DATA

    parser.add_argument(
        "--data",
        metavar="DIR",
        help=f"directory holding {what}'s four IDX files, .gz or raw (default: ${ENV_DATA}, "
        "else the download cache); only read, never written",
    )
    parser.add_argument(
        "--dataset",
        choices=sorted(DATASETS),
        default=DEFAULT_DATASET,
        help="which dataset to download and name the classes of (default: mnist); "
        "--data DIR may hold any MNIST-format set",
    )


# ---- CPUs ----------------------------------------------------------------------
def _cgroup_quota(root: Path = CGROUP_ROOT, proc_cgroup: Path = Path("/proc/self/cgroup")):
    """CPUs allowed by the cgroup CPU quota (v2 cpu.max, v1 cpu.cfs_quota_us), or None.

    Looks at this process's cgroup and at the root of the mount (what a container
    sees of its own cgroup); the smallest quota found wins."""
    try:
        lines = proc_cgroup.read_text().splitlines()
    except OSError:
        lines = []
    places: list[tuple[str, Path]] = []
    for line in lines:
        parts = line.split(":", 2)
        if len(parts) != 3:
            continue
        controllers, path = parts[1], parts[2].lstrip("/")
        if controllers == "":  # v2 unified hierarchy
            places += [("v2", root / path), ("v2", root)]
        elif "cpu" in controllers.split(","):
            for sub in ("cpu,cpuacct", "cpu"):
                places += [("v1", root / sub / path), ("v1", root / sub)]
    quotas = []
    for version, d in places:
        try:
            if version == "v2":
                fields = (d / "cpu.max").read_text().split()
                if fields and fields[0] != "max":
                    quotas.append(int(fields[0]) / int(fields[1] if len(fields) > 1 else 100000))
            else:
                quota = int((d / "cpu.cfs_quota_us").read_text())
                period = int((d / "cpu.cfs_period_us").read_text())
                if quota > 0 and period > 0:
                    quotas.append(quota / period)
        except (OSError, ValueError, ZeroDivisionError):
            continue
    return min(quotas) if quotas else None


def available_cpus() -> int:
    """CPUs this process may use: its affinity, capped by a container's CPU quota."""
    try:
        n = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):  # not Linux
        n = os.cpu_count() or 1
    quota = _cgroup_quota()
    if quota is not None:
        n = min(n, max(1, math.ceil(quota)))
    return n


# ---- terminal output ------------------------------------------------------------
def console(stderr: bool = False):
    """A Rich console that wraps lines only on a terminal: output going to a file or a
    pipe keeps each line whole, whatever its length (no 80-column default)."""
    from rich.console import Console

    c = Console(stderr=stderr)
    if not c.is_terminal:
        c = Console(stderr=stderr, soft_wrap=True, width=max(c.width, 1000))
    return c


def hms(seconds: float) -> str:
    """A duration as h:mm:ss (m:ss under an hour); '-' when unknown."""
    if seconds != seconds or seconds in (float("inf"), float("-inf")) or seconds < 0:
        return "-"
    s = int(round(seconds))
    h, rest = divmod(s, 3600)
    m, sec = divmod(rest, 60)
    return f"{h}:{m:02d}:{sec:02d}" if h else f"{m}:{sec:02d}"
