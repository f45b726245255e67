"""`mnist-vm data download | verify | path | show N`."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from .datasets import DATASETS, SPLITS, class_label, dataset
from .idx import DataError, read_item
from .show import ascii_image, halfblock_image
from .store import ENV_DATA, ENV_DATA_ALIAS, data_dir, locate, prepare, verify, where_to_put


def _index(text: str) -> int:
    try:
        v = int(text.replace("_", ""))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an image number, got {text!r}") from None
    if v < 0:
        raise argparse.ArgumentTypeError(f"expected an image number >= 0, got {v}")
    return v


def add_data_parser(subparsers) -> argparse.ArgumentParser:
    """Register `data` (download, verify, path, show) on an argparse subparsers object."""
    from ..options import data_options

    common = argparse.ArgumentParser(add_help=False)
    data_options(common)
    p = subparsers.add_parser(
        "data",
        help="download, verify and look at the dataset files",
        description="Manage the dataset files (MNIST by default; --dataset fashion-mnist or "
        f"kmnist). They are read from --data DIR, else ${ENV_DATA} (alias ${ENV_DATA_ALIAS}), "
        "else downloaded into the cache; raw or .gz both work, and a directory you name is "
        "never written to. Mirrors: $MNIST_VM_MIRRORS (comma-separated base URLs).",
    )
    sub = p.add_subparsers(dest="data_command", metavar="ACTION")
    sub.add_parser(
        "download",
        parents=[common],
        help="download missing files and unpack them",
        description="Download the files that are missing (into the cache), check all four "
        "and unpack them for the assembly program.",
    )
    sub.add_parser(
        "verify",
        parents=[common],
        help="check all four files (exit 1 on problems)",
        description="Check the IDX format (header, size, labels 0-9) of each file and show "
        "its MD5 and whether it is the dataset's official file.",
    )
    sub.add_parser(
        "path",
        parents=[common],
        help="print the directory the program reads (unpacking if needed)",
        description="Prepare the files (download into the cache, or unpack .gz files and "
        "symlinks into the cache) and print the directory holding the four uncompressed "
        "files: what `mnist-vm exec programs/mnist/*.asm --root DIR` needs.",
    )
    s = sub.add_parser(
        "show",
        parents=[common],
        help="draw image N and print its label",
        description="Draw training image N (or test image N with --test) "
        "in the terminal and print its label.",
    )
    s.add_argument("index", type=_index, metavar="N", help="image number, from 0")
    s.add_argument("--test", action="store_true", help="use the test set")
    s.add_argument("--ascii", action="store_true", help="plain ASCII even on a colour terminal")
    p.set_defaults(func=cmd_data, _data_parser=p)
    return p


def cmd_data(args) -> int:
    """Run `mnist-vm data ...`; returns the exit status."""
    from ..options import console

    action = getattr(args, "data_command", None)
    if not action:
        parser = getattr(args, "_data_parser", None)
        if parser is not None:
            parser.print_help(sys.stderr)
        return 2
    out, err = console(), console(stderr=True)
    name = getattr(args, "dataset", None)
    try:
        root = data_dir(getattr(args, "data", None), name)
        if action == "path":
            print(prepare(root, download=True, console=err, dataset_name=name))
            return 0
        if action == "download":
            ready = prepare(root, download=True, console=err, dataset_name=name)
            print(f"{dataset(name).title} is ready in {ready}")
            return 0
        if action == "verify":
            return _cmd_verify(root, name, out)
        if action == "show":
            return _cmd_show(root, args, out, err)
    except DataError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    print(f"error: unknown data action {action!r}", file=sys.stderr)
    return 2


def _cmd_verify(root: Path, name: str | None, out) -> int:
    from rich.table import Table
    from rich.text import Text

    ds = dataset(name)
    statuses = verify(root, name)
    table = Table(title=f"{ds.title} files in {root}", title_justify="left")
    table.add_column("file")
    table.add_column("status")
    table.add_column("md5 of the content")
    for st in statuses:
        shown = st.name if st.path is None else _rel(st.path, root)
        if not st.ok:
            status = Text(st.problem or "bad", style="red")
        else:
            what = (
                f"official {ds.title}" if st.official else f"valid IDX, not the official {ds.title}"
            )
            status = Text(
                f"ok ({what}" + (f", {st.problem}" if st.problem else "") + ")", style="green"
            )
        table.add_row(Text(shown), status, Text(st.md5 or "-"))
    out.print(table)
    bad = [st for st in statuses if not st.ok]
    if bad:
        print(
            f"error: {len(bad)} of 4 files missing or bad in {root}. " + where_to_put(root),
            file=sys.stderr,
        )
        return 1
    return 0


def _rel(path: Path, root: Path) -> str:
    try:
        return str(path.relative_to(root))
    except ValueError:
        return str(path)


def _cmd_show(root: Path, args, out, err) -> int:
    img_name, lab_name = SPLITS["test" if args.test else "train"]
    found = locate(root) if root.is_dir() else {}
    img_path, lab_path = found.get(img_name), found.get(lab_name)
    if img_path is None or lab_path is None:
        ready = prepare(root, download=True, console=err, dataset_name=args.dataset)
        img_path, lab_path = ready / img_name, ready / lab_name
    try:
        img = read_item(img_path, "images", args.index)
        label = read_item(lab_path, "labels", args.index)
    except IndexError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    which = "test" if args.test else "training"
    fancy = out.is_terminal and out.color_system is not None and not out.no_color
    if fancy and not args.ascii:
        out.print(halfblock_image(img))
    else:
        print(ascii_image(img))
    print(f"{which} image {args.index}: label {class_label(label, args.dataset)}")
    return 0


__all__ = ["DATASETS", "add_data_parser", "cmd_data"]
