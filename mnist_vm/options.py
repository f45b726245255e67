"""Argument helpers shared by `mnist-vm` and its subcommands (exec, run, debug, data).

One module that the command modules import, so that none of them imports
another's command line (mnist_vm/cli.py imports the subcommands' parsers).
"""

from __future__ import annotations

import argparse
import math
import sys


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


def define_option(parser) -> None:
    """`-D NAME=VALUE`, repeatable, as nasm's -d (read with parse_defines)."""
    parser.add_argument(
        "-D",
        dest="define",
        action="append",
        metavar="NAME=VALUE",
        help="define a preprocessor symbol (like nasm -dNAME=VALUE)",
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
