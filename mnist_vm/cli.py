"""`mnist-vm`: the command line.

Every user-facing failure (assembler error, fault, bad data, bad option)
ends in a one-paragraph message on stderr and a non-zero exit status, never a
Python traceback.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

# Exit statuses for faults mirror what a shell shows for the native signal.
FAULT_STATUS = {
    "segfault": 139,
    "write-to-code": 139,
    "stack-overflow": 139,
    "misaligned": 139,
    "bad-jump": 139,
    "divide-error": 136,
    "step-limit": 124,
}


def parse_defines(items: list[str] | None) -> dict[str, str]:
    defines = {}
    for item in items or []:
        name, _, value = item.partition("=")
        if not name.isidentifier():
            raise SystemExit(_usage_error(f"-D expects NAME=VALUE, got {item!r}"))
        defines[name] = value
    return defines


def _usage_error(msg: str) -> int:
    print(f"mnist-vm: error: {msg}", file=sys.stderr)
    return 2


def _err(msg: str) -> None:
    print(msg, file=sys.stderr)


def jobs_option(parser) -> None:
    parser.add_argument(
        "--jobs",
        type=_positive_int,
        default=None,
        metavar="N",
        help="with --fast: processes for the large layers, 1 or 2 (more counts as 2; default 2 "
        "when this process may use two CPUs; the results are the same)",
    )


def _positive_int(text: str) -> int:
    try:
        v = int(text.replace("_", ""))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if v <= 0:
        raise argparse.ArgumentTypeError(f"expected a positive number, got {v}")
    return v


def _assemble(files: list[str], defines: dict[str, str]):
    from vm import assemble

    missing = [f for f in files if not Path(f).is_file()]
    if missing:
        raise FileNotFoundError(f"no such file: {missing[0]}")
    image = assemble(files, defines=defines)
    for w in image.warnings:
        _err(w)
    return image


# ---- exec ---------------------------------------------------------------------
def cmd_exec(args) -> int:
    from vm import AsmError, Fault, Machine

    try:
        image = _assemble(args.files, parse_defines(args.define))
    except AsmError as e:
        _err(str(e))
        return 1
    except FileNotFoundError as e:
        _err(f"mnist-vm: error: {e}")
        return 2
    machine = Machine(image, root=args.root, stdout=sys.stdout.buffer, stderr=sys.stderr.buffer)
    machine.tier = args.tier
    if args.fast:
        from vm.accel import attach

        from .kernels import parallel, twins

        attach(machine, twins())
        parallel.start(machine, args.jobs)
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
    from vm import AsmError
    from vm.asm import listing

    try:
        image = _assemble(args.files, parse_defines(args.define))
    except AsmError as e:
        _err(str(e))
        return 1
    except FileNotFoundError as e:
        _err(f"mnist-vm: error: {e}")
        return 2
    print(listing(image))
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
        sp.add_argument(
            "-D",
            dest="define",
            action="append",
            metavar="NAME=VALUE",
            help="define a preprocessor symbol (like nasm -dNAME=VALUE)",
        )

    e = sub.add_parser(
        "exec",
        help="assemble and run a program",
        description="Assemble FILEs (linked like nasm -felf64 + ld) and run them; "
        "the exit status is the program's (139 on a memory fault, "
        "136 on a divide error, 124 at the step limit).",
    )
    asm_inputs(e)
    e.add_argument(
        "--max-steps",
        type=_positive_int,
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
        help="run routines that have a numpy twin as the twin (fast mode)",
    )
    jobs_option(e)
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


def _optional_commands():
    """Subcommands living in their own modules (each adds its parser)."""
    out = []
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


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        return args.func(args)
    except KeyboardInterrupt:
        _err("interrupted")
        return 130
    except BrokenPipeError:
        return 0


if __name__ == "__main__":
    sys.exit(main())
