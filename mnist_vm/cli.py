"""`mnist-vm`: the command line.

Every user-facing failure (assembler error, fault, bad data, bad option)
ends in a one-paragraph message on stderr and a non-zero exit status, never a
Python traceback.
"""

from __future__ import annotations

import argparse
import difflib
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path

from .options import define_option, parse_defines, positive_int

# Exit statuses for faults mirror what a shell shows for the native signal.
FAULT_STATUS = {
    "segfault": 139,
    "write-to-code": 139,
    "stack-overflow": 139,
    "misaligned": 139,
    "bad-jump": 139,
    "divide-error": 136,
    "simd-exception": 136,  # an unmasked MXCSR exception (#XM): SIGFPE
    "general-protection": 139,  # ldmxcsr with a reserved bit set (#GP): SIGSEGV
    "abort": 134,
    "step-limit": 124,
}


def _err(msg: str) -> None:
    print(msg, file=sys.stderr)


def _assemble(files: list[str], defines: dict[str, str]):
    from vm import assemble

    for f in files:
        if Path(f).is_dir():
            raise FileNotFoundError(
                f"{f} is a directory; give the source files, e.g. {Path(f) / '*.asm'}"
            )
        if not Path(f).is_file():
            raise FileNotFoundError(f"no such file: {f}")
    image = assemble(files, defines=defines)
    for w in image.warnings:
        _err(w)
    return image


def _assemble_or_report(args):
    """The image of args.files with args.define, or the exit status after
    reporting why not (1: an assembler error, 2: a missing file)."""
    from vm import AsmError

    try:
        return _assemble(args.files, parse_defines(args.define))
    except AsmError as e:
        _err(str(e))
        return 1
    except FileNotFoundError as e:
        _err(f"mnist-vm: error: {e}")
        return 2


# ---- exec ---------------------------------------------------------------------
def cmd_exec(args) -> int:
    from vm import Fault, Machine

    image = _assemble_or_report(args)
    if isinstance(image, int):
        return image
    try:
        machine = Machine(
            image,
            root=args.root,
            stdout=sys.stdout.buffer,
            stderr=sys.stderr.buffer,
            stdin=sys.stdin.buffer if sys.stdin is not None else None,
            argv=[args.files[0], *getattr(args, "program_args", [])],
        )
    except ValueError as e:  # arguments that do not fit the stack
        _err(f"mnist-vm: error: {e}")
        return 2
    machine.tier = args.tier
    if args.fast:
        from vm.accel import attach

        from .kernels import twins

        for line in attach(machine, twins()).messages():
            _err(line)
    t0 = time.perf_counter()
    try:
        status = machine.run(max_steps=args.max_steps)
    except Fault as f:
        sys.stdout.flush()
        _err(str(f))
        status = FAULT_STATUS.get(f.kind, 1)
    except KeyboardInterrupt:
        _err(f"\ninterrupted after {machine.icount:,} instructions at {machine.rip:#x}")
        return 130
    dt = time.perf_counter() - t0
    if args.stats:
        mips = machine.icount / dt / 1e6 if dt else 0.0
        _err(
            f"[{machine.icount:,} instructions in {dt:.3f} s, {mips:.2f} MIPS"
            + (f", {machine.accel_calls:,} accelerated calls" if args.fast else "")
            + "]"
        )
    if args.show_native:
        _show_native(machine)
    return status if status is not None else 0


def _show_native(machine) -> None:
    from vm import native

    trace = native.hottest(machine) if native.available() else None
    if trace is None:
        _err(
            "mnist-vm: no loop was compiled to machine code (too short a run, --tier, or no llvmlite)"
        )
        return
    _err(
        f"; the hottest native loop: {trace.length} instructions from {trace.start:#x}, "
        f"{trace.executed:,} instructions run natively\n" + native.describe(trace)
    )


# ---- asm ----------------------------------------------------------------------
def cmd_asm(args) -> int:
    from vm.asm import listing_lines

    image = _assemble_or_report(args)
    if isinstance(image, int):
        return image
    for line in listing_lines(image):  # a large listing is never one string
        print(line)
    return 0


# ---- isa ----------------------------------------------------------------------
def cmd_isa(args) -> int:
    from . import isa_doc

    if not args.mnemonic:
        print(isa_doc.reference_text())
        return 0
    text = isa_doc.lookup_text(args.mnemonic)
    if text is None:
        hint = isa_doc.suggestions(args.mnemonic)
        _err(
            f"mnist-vm: '{args.mnemonic}' is not in the instruction subset"
            + (f" (did you mean {', '.join(hint)}?)" if hint else "")
            + "; `mnist-vm isa` lists every instruction."
        )
        return 1
    print(text)
    return 0


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="mnist-vm",
        description="An emulated x86-64 machine (NASM syntax) that trains an MNIST network "
        "written in assembly, with a terminal debugger.",
    )
    sub = p.add_subparsers(dest="command", metavar="COMMAND")

    def asm_inputs(sp):
        sp.add_argument(
            "files", nargs="+", metavar="FILE.asm", help="source files, linked in order"
        )
        define_option(sp)

    e = sub.add_parser(
        "exec",
        help="assemble and run a program",
        description="Assemble FILEs (linked like nasm -felf64 + ld) and run them; "
        "the exit status is the program's (139 on a memory fault, "
        "136 on a divide error, 124 at the step limit). Arguments after `--` are "
        "the program's (argv[1:]; argv[0] is the first FILE as given); stdin is passed on.",
        usage="mnist-vm exec [options] FILE.asm [FILE.asm ...] [-- ARG ...]",
    )
    asm_inputs(e)
    e.add_argument(
        "--max-steps",
        type=positive_int,
        default=None,
        metavar="N",
        help="stop with a fault after N instructions",
    )
    e.add_argument(
        "--root",
        default=".",
        metavar="DIR",
        help="directory the program's file syscalls may use (default: .)",
    )
    e.add_argument(
        "--fast",
        action="store_true",
        help="run routines that have a twin (a compiled stand-in) as the twin (fast mode)",
    )
    e.add_argument(
        "--stats", action="store_true", help="print instructions executed and speed to stderr"
    )
    e.add_argument(
        "--tier",
        choices=("step", "run", "native"),
        default="native",
        help="execution tier: one instruction at a time, Python traces, or hot loops "
        "compiled to machine code (default; the run tier where llvmlite is missing)",
    )
    e.add_argument(
        "--show-native",
        action="store_true",
        help="print the LLVM IR of the hottest compiled loop to stderr after the run",
    )
    e.set_defaults(func=cmd_exec)

    a = sub.add_parser(
        "asm",
        help="assemble and print a listing",
        description="Print address, source line, symbols and section sizes.",
    )
    asm_inputs(a)
    a.set_defaults(func=cmd_asm)

    i = sub.add_parser(
        "isa",
        help="instruction reference",
        description="Print the instruction reference, or one instruction's entry.",
    )
    i.add_argument("mnemonic", nargs="?", help="e.g. mulps")
    i.set_defaults(func=cmd_isa)

    for register in _optional_commands():
        register(sub)
    return p


def _optional_commands() -> list[Callable[[argparse._SubParsersAction], object]]:
    """Subcommands living in their own modules (each adds its parser)."""
    out: list[Callable[[argparse._SubParsersAction], object]] = []
    try:
        from .data import add_data_parser

        out.append(add_data_parser)
    except ImportError:
        pass
    try:
        from .training import add_run_parser

        out.append(add_run_parser)
    except ImportError:
        pass
    try:
        from .debugger.cli import add_debug_parser

        out.append(add_debug_parser)
    except ImportError:
        pass
    return out


def _innermost(parser: argparse.ArgumentParser, argv: list[str]) -> argparse.ArgumentParser:
    """The (sub)parser the words of argv select: `run --fats` is an error of `run`."""
    current = parser
    for word in argv:
        subs = [a for a in current._actions if isinstance(a, argparse._SubParsersAction)]
        if subs and word in subs[0].choices:
            current = subs[0].choices[word]
    return current


def _parse(parser: argparse.ArgumentParser, argv: list[str] | None) -> argparse.Namespace:
    """parse_args, but unknown words are reported by the subcommand they were given to,
    with its usage and the closest option it has."""
    words = list(sys.argv[1:] if argv is None else argv)
    args, extra = parser.parse_known_args(words)
    if extra:
        sub = _innermost(parser, words)
        options = [o for a in sub._actions for o in a.option_strings]
        close = difflib.get_close_matches(extra[0].split("=")[0], options, n=1)
        sub.error(
            f"unrecognized arguments: {' '.join(extra)}"
            + (f" (did you mean {close[0]}?)" if close else "")
        )
    return args


def _quiet_broken_pipe() -> int:
    """The reader of our stdout went away (`| head`): end quietly, as cat does."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())  # no second error when Python flushes at exit
    except (OSError, ValueError):
        pass
    return 141  # 128 + SIGPIPE, the status a shell shows for cat


def _split_program_args(argv: list[str]) -> tuple[list[str], list[str]]:
    """`exec FILE -- a b c`: the words after the first `--` are the program's."""
    if argv and argv[0] == "exec" and "--" in argv:
        k = argv.index("--")
        return argv[:k], argv[k + 1 :]
    return argv, []


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    own, program_args = _split_program_args(list(sys.argv[1:] if argv is None else argv))
    args = _parse(parser, own)
    args.program_args = program_args
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        status = args.func(args)
        sys.stdout.flush()
        return status
    except KeyboardInterrupt:
        _err("interrupted")
        return 130
    except BrokenPipeError:
        return _quiet_broken_pipe()


if __name__ == "__main__":
    sys.exit(main())
