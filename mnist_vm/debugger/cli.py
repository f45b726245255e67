"""`mnist-vm debug`: open a program (or a saved machine state) in the debugger."""

from __future__ import annotations

import os
import sys


def add_debug_parser(sub) -> None:
    from ..options import data_options, define_option

    d = sub.add_parser(
        "debug",
        help="step through a program in a full-screen debugger",
        description="Debug FILEs (linked in order), or the MNIST network when no file is "
        "given. Full-screen on a terminal; a line mode with the same commands "
        "with --batch FILE or when stdout is not a terminal. Keys: s step, "
        "n next, f finish, c continue, r/R reverse step/continue, b breakpoint, "
        ": command line, ? help, q quit.",
    )
    d.add_argument(
        "files", nargs="*", metavar="FILE.asm", help="source files (default: programs/mnist)"
    )
    define_option(d)
    d.add_argument(
        "--state",
        metavar="FILE",
        help="open a machine state saved by `mnist-vm run --save` or `save`",
    )
    data_options(d, "the dataset granted to the MNIST program and --state")
    d.add_argument(
        "--root",
        metavar="DIR",
        help="directory the program's file syscalls may use (default: the MNIST "
        "data for the MNIST program, else .)",
    )
    d.add_argument(
        "--batch", metavar="FILE", help="run the commands in FILE in line mode, then exit"
    )
    d.add_argument("--line", action="store_true", help="line mode even on a terminal")
    d.add_argument(
        "--history-mb",
        type=int,
        default=None,
        metavar="MB",
        help="memory for reverse execution (default 512)",
    )
    d.set_defaults(func=cmd_debug)


def _root(args, mnist: bool) -> str | None:
    """The directory to grant, or None after printing an error."""
    if args.root:
        return args.root
    if not mnist and not args.data:
        return "."
    from rich.console import Console

    from ..data import DataError, data_dir, prepare

    err = Console(stderr=True, soft_wrap=True)
    try:
        return str(
            prepare(data_dir(args.data, args.dataset), console=err, dataset_name=args.dataset)
        )
    except DataError as e:
        if not mnist:
            err.print(f"[bold red]error:[/] {e}", highlight=False)
            return None
        err.print(
            f"[yellow]note:[/] MNIST data unavailable ({e}); the program will fail to "
            "open its files",
            highlight=False,
        )
        return "."


def build_session(args):
    """The Session for these arguments, or an exit status after printing why."""
    from vm import AsmError
    from vm.state import StateError

    from ..options import parse_defines
    from .session import Session

    budget = args.history_mb << 20 if args.history_mb else None
    if args.state:
        if not os.path.isfile(args.state):
            what = "is a directory" if os.path.isdir(args.state) else "no such file"
            print(f"mnist-vm debug: --state {args.state}: {what}", file=sys.stderr)
            return 2
        root = _root(args, mnist=True)
        if root is None:
            return 2
        try:
            return Session.from_state(args.state, root=root, budget=budget)
        except StateError as e:
            print(f"mnist-vm debug: {e}", file=sys.stderr)
            return 1
    mnist = not args.files
    if mnist:
        from ..training import program_files

        files = program_files()
    else:
        files = args.files
        missing = [f for f in files if not os.path.isfile(f)]
        if missing:
            print(f"mnist-vm debug: no such file: {missing[0]}", file=sys.stderr)
            return 2
    root = _root(args, mnist)
    if root is None:
        return 2
    try:
        return Session.from_files(
            files,
            parse_defines(args.define),
            root=root,
            label="mnist" if mnist else os.path.basename(files[0]),
            budget=budget,
        )
    except AsmError as e:
        print(str(e), file=sys.stderr)
        return 1


def cmd_debug(args) -> int:
    session = build_session(args)
    if isinstance(session, int):
        return session
    # `show digit` names the classes of this dataset (mnist_vm.data.class_label)
    session.dataset = args.dataset
    if args.batch or args.line or not sys.stdout.isatty() or not sys.stdin.isatty():
        from .repl import main_loop

        return main_loop(session, args.batch)
    from .tui import DebuggerApp

    app = DebuggerApp(session)
    app.run()
    return 0
