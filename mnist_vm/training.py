"""`mnist-vm run`: train the assembly network with a live view.

The host's part is small on purpose: find or download MNIST, assemble
programs/mnist with the options as defines, grant the data directory to the
program's file syscalls, and run the machine. The program itself reads the
IDX files, initialises weights, loops over epochs and batches and prints its
progress. The host watches two things: calls to the routine
`progress_batch(epoch, batch, loss)` (an observer hook, nothing is replaced)
and the lines the program prints, and renders them live.
"""

from __future__ import annotations

import re
import signal
import sys
import tempfile
import time
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

from .options import (
    console as make_console,
)
from .options import (
    data_options,
    hms,
    int_between,
    positive_float,
    positive_int,
)

DEFAULTS: dict[str, int | float] = {
    "EPOCHS": 10,
    "BATCH": 64,
    "LR": 0.01,
    "TRAIN_LIMIT": 60000,
    "TEST_LIMIT": 10000,
    "SEED": 88172645463325252,
    "SHUFFLE": 1,
}
EPOCH_LINE = re.compile(rb"^epoch (\d+) loss ([-+0-9.a-z]+) test_acc ([0-9.]+)%")
FINAL_LINE = re.compile(rb"^final test_acc ([0-9.]+)% \((\d+)/(\d+)\)")
PROGRESS_ROUTINE = "progress_batch"
EVALUATE_ROUTINE = "evaluate"
SPARK = "▁▂▃▄▅▆▇█"
MAX_TRAIN, MAX_TEST = 60000, 10000  # the program's buffers (programs/mnist/config.inc)
# Samples per second of an interpreted run (no --fast), training plus evaluation, on
# an idle core (measured: 740 samples in 14.9 s of CPU time; a busy machine gives
# less, 7/s of wall-clock time with the other core shared); only to warn about long runs.
INTERPRETED_RATE = 40.0
SLOW_RUN_S = 60.0


def program_dir() -> Path:
    return Path(str(resources.files("programs") / "mnist"))


def program_files() -> list[str]:
    d = program_dir()
    files = sorted(d.glob("*.asm"), key=lambda p: (p.name != "main.asm", p.name))
    return [str(p) for p in files]


def defines_from(args) -> dict[str, str]:
    d = {}
    if args.epochs is not None:
        d["EPOCHS"] = str(args.epochs)
    if args.batch_size is not None:
        d["BATCH"] = str(args.batch_size)
    if args.lr is not None:
        d["LR"] = repr(float(args.lr))
    if args.limit is not None:
        d["TRAIN_LIMIT"] = str(args.limit)
    if args.test_limit is not None:
        d["TEST_LIMIT"] = str(args.test_limit)
    if args.seed is not None:
        d["SEED"] = str(args.seed)
    if args.no_shuffle:
        d["SHUFFLE"] = "0"
    if args.print_every is not None:
        d["PRINT_EVERY"] = str(args.print_every)
    return d


@dataclass
class Progress:
    """What the view shows; updated by the hooks while the machine runs."""

    epochs: int
    batches: int
    batch_size: int
    epoch: int = 0
    batch: int = 0
    loss: float = float("nan")
    losses: list[float] = field(default_factory=list)
    epoch_rows: list[tuple[int, float, float]] = field(default_factory=list)
    final: tuple[float, int, int] | None = None
    started: float = field(default_factory=time.perf_counter)
    samples: int = 0
    dataset: str | None = None

    def on_batch(self, machine) -> None:
        self.epoch = machine.r[7] & 0xFFFFFFFF
        self.batch = machine.r[6] & 0xFFFFFFFF
        self.loss = machine.xf[0]
        self.losses.append(self.loss)
        self.samples += self.batch_size


class OutputTap:
    """The program's stdout: parsed for epoch/final lines, passed on or kept."""

    def __init__(self, progress: Progress, echo, quiet: bool):
        self.p, self.echo, self.quiet = progress, echo, quiet
        self.buf = b""
        self.lines: list[bytes] = []

    def write(self, data: bytes) -> int:
        self.buf += data
        while b"\n" in self.buf:
            line, self.buf = self.buf.split(b"\n", 1)
            self.lines.append(line)
            m = EPOCH_LINE.match(line)
            if m:
                self.p.epoch_rows.append((int(m.group(1)), _float(m.group(2)), float(m.group(3))))
            f = FINAL_LINE.match(line)
            if f:
                self.p.final = (float(f.group(1)), int(f.group(2)), int(f.group(3)))
            if self.echo is not None and (not self.quiet or f):
                self.echo(line.decode(errors="replace"))
        return len(data)

    def flush(self) -> None:
        pass


def _float(b: bytes) -> float:
    try:
        return float(b)
    except ValueError:
        return float("nan")


def sparkline(values: list[float], width: int = 60) -> str:
    vals = [v for v in values if v == v and v not in (float("inf"), float("-inf"))]
    if not vals:
        return ""
    if len(vals) > width:  # average into width buckets
        step = len(vals) / width
        vals = [
            sum(vals[int(i * step) : int((i + 1) * step)])
            / max(1, len(vals[int(i * step) : int((i + 1) * step)]))
            for i in range(width)
        ]
    lo, hi = min(vals), max(vals)
    span = (hi - lo) or 1.0
    return "".join(SPARK[min(7, int((v - lo) / span * 7.999))] for v in vals)


def check_save_path(path: str) -> str | None:
    """Why the state cannot be saved at path (None if it can): checked before training."""
    p = Path(path)
    if p.is_dir():
        return f"--save {path}: is a directory; give a file name, e.g. {p / 'trained.state'}"
    parent = p.parent if str(p.parent) else Path(".")
    if not parent.is_dir():
        return f"--save {path}: no such directory {parent}"
    try:
        with tempfile.NamedTemporaryFile(dir=parent, prefix=f".{p.name}.", suffix=".probe"):
            pass
    except OSError as e:
        return f"--save {path}: cannot write in {parent} ({e.strerror or e})"
    return None


def fit_to_data(args, counts: dict[str, int], where: Path) -> str | None:
    """Check --limit/--test-limit/--batch-size against the dataset; default the limits to
    what a smaller set holds. Returns the problem, in the options' own names, or None."""
    from .data import TEST_IMAGES, TRAIN_IMAGES

    train, test = min(counts[TRAIN_IMAGES], MAX_TRAIN), min(counts[TEST_IMAGES], MAX_TEST)
    if args.limit is None and train < MAX_TRAIN:
        args.limit = train
    if args.test_limit is None and test < MAX_TEST:
        args.test_limit = test
    if args.limit is not None and args.limit > counts[TRAIN_IMAGES]:
        return f"--limit {args.limit}: the training set in {where} holds {counts[TRAIN_IMAGES]:,} images"
    if args.test_limit is not None and args.test_limit > counts[TEST_IMAGES]:
        return f"--test-limit {args.test_limit}: the test set in {where} holds {counts[TEST_IMAGES]:,} images"
    limit = args.limit if args.limit is not None else MAX_TRAIN
    batch = args.batch_size if args.batch_size is not None else DEFAULTS["BATCH"]
    if batch > limit:
        return f"--batch-size {batch} is larger than the training samples used ({limit}, --limit)"
    return None


def slow_run_note(opts: dict, fast: bool, rate: float = INTERPRETED_RATE) -> str | None:
    """A warning when an interpreted run would take over a minute (None otherwise)."""
    if fast:
        return None
    samples = int(opts["EPOCHS"]) * (int(opts["TRAIN_LIMIT"]) + int(opts["TEST_LIMIT"]))
    seconds = samples / rate
    if seconds <= SLOW_RUN_S:
        return None
    return (
        f"note: without --fast every instruction is interpreted (about {rate:g} samples/s on "
        f"an idle core): this run would take at least {hms(seconds)}. `--fast` runs the same "
        "program bit-identically in seconds; or try --limit 640 --test-limit 100 --epochs 1."
    )


def cmd_run(args) -> int:
    from vm import AsmError, Fault, Machine, assemble
    from vm.accel import attach

    from .data import DataError, counts, data_dir, prepare

    console = make_console()
    err = make_console(stderr=True)
    if args.save:
        problem = check_save_path(args.save)
        if problem:
            err.print(f"[bold red]error:[/] {problem}", highlight=False)
            return 2
    try:
        root = prepare(data_dir(args.data, args.dataset), console=err, dataset_name=args.dataset)
        problem = fit_to_data(args, counts(root), root)
    except DataError as e:
        err.print(f"[bold red]error:[/] {e}", highlight=False)
        return 1
    if problem:
        err.print(f"[bold red]error:[/] {problem}", highlight=False)
        return 2
    defines = defines_from(args)
    try:
        image = assemble(program_files(), defines=defines)
    except AsmError as e:
        err.print(str(e), markup=False, highlight=False)
        return 1
    opts: dict[str, int | float | str] = {**DEFAULTS, **defines}
    epochs, batch = int(opts["EPOCHS"]), int(opts["BATCH"])
    batches = int(opts["TRAIN_LIMIT"]) // batch
    progress = Progress(epochs, batches, batch, dataset=args.dataset)
    live = console.is_terminal and not args.quiet
    note = slow_run_note(opts, args.fast)
    if note and not args.quiet:
        err.print(note, markup=False, highlight=False)
    tap = OutputTap(progress, None if live else console.print, args.quiet)
    machine = Machine(image, root=str(root), stdout=tap, stderr=sys.stderr.buffer)
    twins_attached: list[str] = []
    twins_refused: list[str] = []
    if args.fast:
        from .kernels import twins

        attachment = attach(machine, twins())
        twins_attached, twins_refused = attachment.attached, attachment.messages()
        from .kernels import nn

        if live:  # the first run compiles for several seconds; later ones load numba's cache
            with console.status("compiling kernels"):
                nn.compile_all()
        else:
            nn.compile_all()
    sym = image.symbols.get(PROGRESS_ROUTINE)
    if sym is not None:
        machine.observers[sym.value] = [progress.on_batch]
        machine.invalidate()

    interrupted = False

    def on_sigint(signum, frame):
        nonlocal interrupted
        interrupted = True
        machine.stop_requested = True

    saved: list[str] = []  # where the state was saved ("" = not yet)
    t0 = time.perf_counter()

    def save(where: str) -> None:
        from vm.state import save_state

        meta = {
            "options": opts,
            "fast": bool(args.fast),
            "saved_at": where,
            "elapsed": time.perf_counter() - t0,
            "interrupted": interrupted,
            "epochs_done": len(progress.epoch_rows),
            "final": progress.final,
        }
        save_state(machine, args.save, meta)
        saved.append(where)

    # --save keeps the machine as it enters the last evaluation: trained weights,
    # the test set about to go through the network, ready to be stepped.
    evaluate = image.symbols.get(EVALUATE_ROUTINE)
    if args.save and evaluate is not None:
        machine.breakpoints.add(evaluate.value)
    evaluations = 0

    def execute():
        """Run to the end; stops at `evaluate` only to save. -> (status, fault)."""
        nonlocal evaluations
        while True:
            try:
                status = machine.run()
            except Fault as f:
                return None, f
            if status is not None or interrupted:
                return status, None
            if evaluate is not None and machine.rip == evaluate.value:
                evaluations += 1
                if evaluations == epochs and not saved:
                    save("the start of the final evaluation")
                    machine.breakpoints.discard(evaluate.value)
                continue
            return None, None

    old = signal.signal(signal.SIGINT, on_sigint)
    try:
        if live:
            status, fault = _run_live(console, machine, progress, execute, lambda: interrupted)
        else:
            status, fault = execute()
    except OSError as e:
        err.print(f"[bold red]error:[/] could not save state: {e}", highlight=False)
        return 1
    finally:
        signal.signal(signal.SIGINT, old)
    elapsed = time.perf_counter() - t0
    if fault is not None:
        err.print(str(fault), markup=False, highlight=False)
    if args.save:
        try:
            if not saved:
                save(
                    "an interruption"
                    if interrupted
                    else "a fault"
                    if fault is not None
                    else "the end of the run"
                )
            err.print(
                f"saved machine state at {saved[0]} to {args.save} "
                f"(open it with `mnist-vm debug --state {args.save}`)",
                highlight=False,
            )
        except OSError as e:
            err.print(f"[bold red]error:[/] could not save state: {e}", highlight=False)
            return 1
    _summary(
        console,
        progress,
        machine,
        elapsed,
        interrupted,
        twins_attached,
        args,
        twins_refused,
    )
    if fault is not None:
        return 1
    if interrupted:
        return 130
    return status if status is not None else 0


def _run_live(console, machine, progress: Progress, execute, interrupted):
    """execute() in a worker thread while the main thread redraws the view
    (asking the machine to publish its instruction count before each redraw)."""
    import threading

    from rich.live import Live

    result: dict = {}

    def work():
        try:
            result["status"], result["fault"] = execute()
        except BaseException as e:  # report, never hang the view
            result["error"] = e

    th = threading.Thread(target=work, daemon=True)
    # redrawn from this thread 4 times a second (no refresh thread of Live's
    # own): each redraw holds the GIL for about a millisecond that the run
    # thread waits for
    with Live(
        _view(progress, machine), console=console, auto_refresh=False, transient=False
    ) as live:
        th.start()
        while th.is_alive():
            th.join(0.25)
            if interrupted():  # (re)assert: a sync request must not hide it
                machine.stop_requested = True
            else:
                machine.request_sync()
            live.update(_view(progress, machine), refresh=True)
        live.update(_view(progress, machine), refresh=True)
    if "error" in result:
        raise result["error"]
    return result.get("status"), result.get("fault")


def _view(p: Progress, machine):
    from rich.console import Group, RenderableType
    from rich.progress_bar import ProgressBar
    from rich.table import Table
    from rich.text import Text

    elapsed = time.perf_counter() - p.started
    done = (max(p.epoch, 1) - 1) * p.batches + p.batch if p.epoch else 0
    total = max(1, p.epochs * p.batches)
    rate = p.samples / elapsed if elapsed > 0 else 0.0
    eta = (total - done) * p.batch_size / rate if rate > 0 else float("nan")
    head = Text.assemble(
        ("epoch ", "dim"),
        (f"{p.epoch}/{p.epochs}", "bold"),
        ("  batch ", "dim"),
        (f"{p.batch}/{p.batches}", "bold"),
        ("  loss ", "dim"),
        (f"{p.loss:.4f}", "bold cyan"),
        ("  elapsed ", "dim"),
        (hms(elapsed), ""),
        ("  ETA ", "dim"),
        (hms(eta), ""),
        ("  ", ""),
        (f"{rate:,.0f} samples/s", "green"),
    )
    bar = Table.grid(padding=(0, 1))  # a grid keeps the bar on a line of its own
    bar.add_row(
        ProgressBar(total=total, completed=done, width=60),
        Text(f"{100 * done / total:5.1f}%", style="dim"),
    )
    table = Table(box=None, show_header=True, header_style="dim", padding=(0, 2))
    table.add_column("epoch", justify="right")
    table.add_column("train loss", justify="right")
    table.add_column("test accuracy", justify="right")
    for e, loss, acc in p.epoch_rows[-10:]:
        table.add_row(str(e), f"{loss:.4f}", f"{acc:.2f}%")
    mips = f" ({machine.icount / elapsed / 1e6:.1f} M/s)" if elapsed > 0 and machine.icount else ""
    stats = Text(
        f"instructions interpreted {machine.icount:,}{mips}   "
        f"accelerated calls {machine.accel_calls:,}",
        style="dim",
    )
    parts: list[RenderableType] = [head, bar]
    if p.dataset and p.dataset != "mnist":
        from .data import class_names, dataset

        names = ", ".join(f"{i} {n}" for i, n in enumerate(class_names(p.dataset)))
        parts.insert(0, Text(f"{dataset(p.dataset).title}: {names}", style="dim"))
    if p.epoch_rows:
        parts.append(table)
    parts.append(stats)
    return Group(*parts)


def _summary(
    console,
    p: Progress,
    machine,
    elapsed: float,
    interrupted: bool,
    twins: list[str],
    args,
    refused: list[str] | None = None,
) -> None:
    from rich.panel import Panel
    from rich.text import Text

    if args.quiet:
        for line in refused or ():
            console.print(line, highlight=False, markup=False)
        if p.final:
            console.print(
                f"test accuracy {p.final[0]:.2f}% ({p.final[1]}/{p.final[2]}) in {elapsed:.1f}s",
                highlight=False,
            )
        return
    lines = Text()
    if p.final:
        lines.append(
            f"test accuracy   {p.final[0]:.2f}%  ({p.final[1]}/{p.final[2]})\n", style="bold green"
        )
    elif interrupted:
        reached = p.epoch_rows[-1] if p.epoch_rows else None
        lines.append(
            "interrupted at epoch "
            f"{p.epoch}, batch {p.batch}"
            + (f"; last test accuracy {reached[2]:.2f}%" if reached else "")
            + "\n",
            style="bold yellow",
        )
    lines.append(
        f"time            {elapsed:.1f} s"
        + (f"  ({p.samples / elapsed:,.0f} samples/s)" if elapsed > 0 else "")
        + "\n"
    )
    lines.append(f"instructions    {machine.icount:,} interpreted\n")
    lines.append(
        f"accelerated     {machine.accel_calls:,} calls"
        + (f" to {len(twins)} twins" if twins else " (interpreted run)")
        + "\n"
    )
    for line in refused or ():
        lines.append(line + "\n", style="yellow")
    if p.losses:
        lines.append(f"loss            {sparkline(p.losses)}\n", style="cyan")
        lines.append(f"                first {p.losses[0]:.4f} -> last {p.losses[-1]:.4f}")
    console.print(
        Panel(lines, title="mnist-vm run" + (" --fast" if args.fast else ""), expand=False)
    )


def add_run_parser(sub) -> None:
    r = sub.add_parser(
        "run",
        help="train the MNIST network (programs/mnist) with a live view",
        description="Assemble programs/mnist with these options as defines and run it on "
        "MNIST (downloaded on first use). Without --fast every instruction is "
        "interpreted (practical with --limit); with --fast routines that have a "
        "twin (a compiled stand-in, used only while the routine is unedited) run as the twin, "
        "bit-identically.",
    )
    r.add_argument("--fast", action="store_true", help="use the compiled twins (fast mode)")
    r.add_argument("--epochs", type=positive_int, metavar="N", help="default 10")
    r.add_argument("--batch-size", type=positive_int, metavar="N", help="default 64")
    r.add_argument("--lr", type=positive_float, metavar="X", help="learning rate, default 0.01")
    r.add_argument("--seed", type=positive_int, metavar="N", help="PRNG seed (nonzero)")
    r.add_argument("--no-shuffle", action="store_true", help="keep the training order fixed")
    r.add_argument(
        "--limit",
        type=int_between(1, MAX_TRAIN),
        metavar="N",
        help=f"training samples to use, 1 to {MAX_TRAIN} (default all the set holds)",
    )
    r.add_argument(
        "--test-limit",
        type=int_between(1, MAX_TEST),
        metavar="N",
        help=f"test samples to evaluate, 1 to {MAX_TEST} (default all the set holds)",
    )
    r.add_argument(
        "--print-every",
        type=positive_int,
        metavar="N",
        help="batches between the program's batch-loss lines (default 100)",
    )
    data_options(r)
    r.add_argument(
        "--save",
        metavar="STATE",
        help="save the machine as it enters the final evaluation (trained "
        "weights, test images about to go through the network; or where "
        "Ctrl-C stopped it) for `mnist-vm debug --state STATE`",
    )
    r.add_argument("--quiet", action="store_true", help="print only the final accuracy")
    r.set_defaults(func=cmd_run)
