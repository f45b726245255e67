"""Where the data lives, and the directory handed to the program.

The assembly program opens the four IDX files by their plain names, so the
host hands it a directory holding the four *uncompressed*, checked files:

    data_dir(explicit)   --data DIR > $MNIST_VM_DATA ($MNIST_DATA is an alias)
                         > the cache (platformdirs: ~/.cache/mnist-vm/<dataset>)
    prepare(dir)         find each file raw or as .gz; download what is missing
                         (into the cache only); check the IDX format; unpack
                         .gz files and follow symlinks into the cache; return the
                         directory to grant.

A directory the user names is only ever read: everything written (downloads,
unpacked copies, verification stamps) goes into the cache directory. A
directory of valid IDX files of the right shapes is accepted whatever its
content; when its checksums are not the official ones of the chosen dataset,
the checksums found are reported.
"""

from __future__ import annotations

import errno
import hashlib
import json
import os
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import platformdirs

from vm.atomic import atomic_write, atomic_write_bytes

from .datasets import COUNTS, KINDS, NAMES, SPLITS, Dataset, dataset
from .idx import CHUNK, DataError, check_file, is_gz, read_chunks, scan

ENV_DATA = "MNIST_VM_DATA"
ENV_DATA_ALIAS = "MNIST_DATA"  # the name the tests and CI used first
APP = "mnist-vm"
DISK_FULL = (errno.ENOSPC, errno.EDQUOT)


# ---- locations ----------------------------------------------------------------
def cache_dir() -> Path:
    """The user cache directory of mnist-vm (platformdirs: $XDG_CACHE_HOME/mnist-vm)."""
    return Path(platformdirs.user_cache_dir(APP)).expanduser().absolute()


def env_data_dir() -> str | None:
    """$MNIST_VM_DATA, else its alias $MNIST_DATA, else None."""
    return os.environ.get(ENV_DATA) or os.environ.get(ENV_DATA_ALIAS) or None


def data_dir(explicit: str | os.PathLike | None = None, dataset_name: str | None = None) -> Path:
    """The directory the files are looked for in: explicit (--data) > $MNIST_VM_DATA
    (alias $MNIST_DATA) > the dataset's directory in the cache."""
    if explicit is not None and str(explicit) != "":
        chosen = Path(explicit)
    elif env_data_dir():
        chosen = Path(str(env_data_dir()))
    else:
        chosen = cache_dir() / dataset(dataset_name).name
    return chosen.expanduser().absolute()


def is_cache(d: Path) -> bool:
    """Is d inside our cache (ours to write), rather than a directory the user named?"""
    return d.absolute().is_relative_to(cache_dir())


def unpack_dir(src: Path) -> Path:
    """Where the uncompressed copies of the files in src go (in the cache)."""
    key = hashlib.sha1(str(src).encode()).hexdigest()[:10]
    slug = "".join(c if c.isalnum() or c in "-_." else "_" for c in src.name) or "root"
    return cache_dir() / "unpacked" / f"{slug}-{key}"


def where_to_put(d: Path) -> str:
    return (
        f"To work offline, put the four files ({', '.join(NAMES)}), gzip-compressed "
        f"(.gz) or uncompressed, in a directory and pass --data DIR or set {ENV_DATA}=DIR"
        + (f" (or copy them into {d})" if is_cache(d) else "")
        + "."
    )


def write_problem(e: OSError, d: Path, doing: str) -> DataError:
    """A user-facing error for a failed write while `doing` something into directory d."""
    if e.errno in DISK_FULL:
        return DataError(
            f"no space left on the device while {doing} (the four MNIST files need "
            f"about 55 MB uncompressed); free some space, or set XDG_CACHE_HOME to a "
            f"directory on a larger disk",
            d,
        )
    return DataError(
        f"cannot write here while {doing} ({e.strerror or e}); set XDG_CACHE_HOME to a "
        "writable directory",
        d,
    )


def _make_dir(d: Path, doing: str) -> Path:
    try:
        d.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise write_problem(e, d, doing) from None
    return d


# ---- verification stamps ------------------------------------------------------
def _stamp_file(d: Path) -> Path:
    key = hashlib.sha1(str(d.absolute()).encode()).hexdigest()[:16]
    return cache_dir() / "verified" / f"{key}.json"


def _read_stamps(d: Path) -> dict:
    try:
        data = json.loads(_stamp_file(d).read_text())
        return data if isinstance(data, dict) else {}
    except (OSError, ValueError):
        return {}


def _fingerprint(p: Path) -> dict | None:
    try:
        st = p.stat()
    except OSError:
        return None
    return {"size": st.st_size, "mtime_ns": st.st_mtime_ns, "ino": st.st_ino}


def _stamped(path: Path, source: Path | None = None) -> dict | None:
    """The stamp of path if it was checked before and is unchanged (so is its source)."""
    entry = _read_stamps(path.parent).get(path.name)
    fp = _fingerprint(path)
    if not isinstance(entry, dict) or fp is None or any(entry.get(k) != v for k, v in fp.items()):
        return None
    if source is not None:
        rec = entry.get("source")
        sfp = _fingerprint(source)
        if not isinstance(rec, dict) or sfp is None or rec.get("path") != str(source):
            return None
        if rec.get("size") != sfp["size"] or rec.get("mtime_ns") != sfp["mtime_ns"]:
            return None
    if not isinstance(entry.get("md5"), str) or not isinstance(entry.get("count"), int):
        return None
    return entry


def _stamp(path: Path, count: int, md5: str, source: Path | None = None) -> None:
    """Record that path is a checked IDX file (best effort: a lost stamp costs a re-check)."""
    fp = _fingerprint(path)
    if fp is None:
        return
    entry: dict = {**fp, "md5": md5, "count": count}
    if source is not None:
        sfp = _fingerprint(source) or {}
        entry["source"] = {
            "path": str(source),
            "size": sfp.get("size"),
            "mtime_ns": sfp.get("mtime_ns"),
        }
    target = _stamp_file(path.parent)
    stamps = _read_stamps(path.parent)
    stamps[path.name] = entry
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_bytes(target, (json.dumps(stamps, indent=1, sort_keys=True) + "\n").encode())
    except OSError:
        pass


@dataclass
class Checked:
    """One checked file: where it is, its item count and the MD5 of its content."""

    name: str
    path: Path
    count: int
    md5: str


def check(path: Path, name: str) -> Checked:
    """Check path as the IDX file `name` (raw or .gz), using the stamp if unchanged."""
    entry = _stamped(path)
    if entry is not None:
        return Checked(name, path, entry["count"], entry["md5"])
    count, md5 = check_file(path, KINDS[name])
    _stamp(path, count, md5)
    return Checked(name, path, count, md5)


# ---- finding the files --------------------------------------------------------
def source_file(d: Path, name: str) -> Path | None:
    """d/name or d/name.gz, whichever is a file (a symlink to a file counts)."""
    for candidate in (d / name, d / (name + ".gz")):
        if candidate.is_file():
            return candidate
    return None


def locate(src: Path) -> dict[str, Path | None]:
    """Where each file is: raw or .gz in src, else an unpacked copy from an earlier run."""
    out: dict[str, Path | None] = {}
    for name in NAMES:
        found = source_file(src, name)
        if found is None and (unpack_dir(src) / name).is_file():
            found = unpack_dir(src) / name
        out[name] = found
    return out


def _check_splits(checked: dict[str, Checked], where: Path) -> None:
    for split, (images, labels) in SPLITS.items():
        ni, nl = checked[images].count, checked[labels].count
        if ni != nl:
            raise DataError(
                f"the {split} set has {ni:,} images but {nl:,} labels "
                f"({images} and {labels} must hold the same number)",
                where,
            )


def unofficial(checked: dict[str, Checked], ds: Dataset) -> list[Checked]:
    """The files whose checksums are not the official ones of ds."""
    out = []
    for c in checked.values():
        gz = None
        if not ds.md5.get(c.name) and is_gz(c.path):
            gz = _md5_of_file(c.path)
        if not ds.official(c.name, c.md5, gz):
            out.append(c)
    return out


def _md5_of_file(path: Path) -> str:
    import pooch

    return pooch.file_hash(str(path), alg="md5")


# ---- prepare -----------------------------------------------------------------
def prepare(
    dir: str | os.PathLike,
    download: bool = True,
    console=None,
    *,
    dataset_name: str | None = None,
    mirror_list: list[str] | None = None,
    timeout: float | None = None,
) -> Path:
    """A directory holding the four checked, uncompressed IDX files under their plain names.

    Files in `dir` may be raw or .gz. When `dir` is the cache, missing files are
    downloaded (unless download=False); a directory the user named must hold
    all four. .gz files and symlinks are unpacked into the cache. Raises
    DataError with a complete, user-facing message.
    """
    ds = dataset(dataset_name)
    src = Path(dir).expanduser().absolute()
    ours = is_cache(src)
    if src.exists() and not src.is_dir():
        raise DataError("not a directory (--data and MNIST_VM_DATA name a directory)", src)
    if not src.exists() and not ours:
        raise DataError(
            "no such directory (--data and MNIST_VM_DATA name an existing directory)", src
        )

    found = {name: source_file(src, name) for name in NAMES}
    missing = [name for name in NAMES if found[name] is None]
    if missing:
        if not ours or not download:
            raise DataError(
                f"missing {', '.join(missing)} (neither raw nor .gz) in {src}. " + where_to_put(src)
            )
        from .fetch import download_all

        _make_dir(src, f"downloading {ds.title}")
        if console is not None:
            console.print(
                f"{ds.title}: downloading {len(missing)} file(s) into {src}",
                markup=False,
                highlight=False,
            )
        for name, path in download_all(missing, src, ds, console, mirror_list, timeout).items():
            found[name] = path

    paths = {name: p for name, p in found.items() if p is not None}
    if all(p == src / n and not p.is_symlink() for n, p in paths.items()):
        checked = {n: check(p, n) for n, p in paths.items()}  # all raw: use src as it is
        result = src
    else:
        result = _make_dir(unpack_dir(src), f"unpacking the files of {src}")
        checked = {n: _unpack_or_drop(p, result / n, n, ours) for n, p in paths.items()}
    _check_splits(checked, src)
    odd = unofficial(checked, ds)
    if odd and console is not None:
        console.print(
            f"note: {src} does not hold the official {ds.title} files; using them as an "
            f"MNIST-format dataset (28x28 images, labels 0-9). MD5 of the content found:\n"
            + "\n".join(f"  {c.name}  {c.md5}" for c in odd),
            markup=False,
            highlight=False,
            soft_wrap=True,
        )
    return result


def _unpack_or_drop(source: Path, dst: Path, name: str, ours: bool) -> Checked:
    """_unpack; a bad file in the cache (ours: a download) is removed so that the next
    run downloads it again, and the message says so."""
    try:
        return _unpack(source, dst, name)
    except DataError as e:
        if not ours or e.where != str(source):
            raise
        source.unlink(missing_ok=True)
        raise DataError(
            f"{e.problem}; removed it from the cache, run again to download it again", source
        ) from None


def _unpack(source: Path, dst: Path, name: str) -> Checked:
    """Put the uncompressed content of source (raw, .gz or a symlink) at dst, checked."""
    entry = _stamped(dst, source)
    if entry is not None:
        return Checked(name, dst, entry["count"], entry["md5"])
    real = Path(os.path.realpath(source))
    if not is_gz(real) and not is_gz(source):
        got = check(real, name)
        _link_or_copy(real, dst)
        _stamp(dst, got.count, got.md5, source)
        return Checked(name, dst, got.count, got.md5)
    result: list[tuple[int, str]] = []

    def fill(f) -> None:
        result.append(scan(read_chunks(source), KINDS[name], source, out=f))

    _write(dst, fill, f"unpacking {source}")
    count, md5 = result[0]
    _stamp(dst, count, md5, source)
    return Checked(name, dst, count, md5)


def _write(dst: Path, fill: Callable, doing: str) -> None:
    try:
        atomic_write(dst, fill)
    except DataError:
        raise
    except OSError as e:
        raise write_problem(e, dst.parent, doing) from None


def _link_or_copy(source: Path, dst: Path) -> None:
    """A checked raw file into the unpack directory (hard link if possible, else a copy)."""
    tmp = dst.parent / f".{dst.name}.{os.getpid()}.link.part"
    try:
        os.link(source, tmp)
        os.replace(tmp, dst)
        return
    except OSError:
        try:
            tmp.unlink()
        except OSError:
            pass

    def copy(f) -> None:
        with open(source, "rb") as s:
            shutil.copyfileobj(s, f, CHUNK)

    _write(dst, copy, f"copying {source}")


# ---- verify (for `mnist-vm data verify`) -------------------------------------
@dataclass
class FileStatus:
    name: str
    path: Path | None
    ok: bool
    md5: str | None
    problem: str | None
    official: bool = False


def verify(dir: str | os.PathLike, dataset_name: str | None = None) -> list[FileStatus]:
    """Fully check each of the four files (raw, .gz or an unpacked copy) in dir."""
    ds = dataset(dataset_name)
    src = Path(dir).expanduser().absolute()
    out = []
    for name, path in locate(src).items():
        if path is None:
            out.append(FileStatus(name, None, False, None, "missing"))
            continue
        try:
            count, md5 = check_file(path, KINDS[name])
        except DataError as e:
            out.append(FileStatus(name, path, False, _md5_or_none(path), e.problem))
            continue
        gz = _md5_of_file(path) if is_gz(path) else None
        note = None if count == COUNTS[name] else f"{count:,} items (official: {COUNTS[name]:,})"
        out.append(FileStatus(name, path, True, md5, note, ds.official(name, md5, gz)))
    return out


def _md5_or_none(path: Path) -> str | None:
    try:
        md5 = hashlib.md5()
        for chunk in read_chunks(path):
            md5.update(chunk)
        return md5.hexdigest()
    except DataError:
        return None


def load_split(root: str | os.PathLike, split: str = "train"):
    """(images, labels) of "train" or "test" from a directory holding the files (raw or .gz)."""
    from .idx import load_images, load_labels

    root = Path(root)
    img_name, lab_name = SPLITS[split]
    found = locate(root)
    img_path, lab_path = found[img_name], found[lab_name]
    if img_path is None or lab_path is None:
        missing = img_name if img_path is None else lab_name
        raise DataError(f"{missing} not found (raw or .gz)", root)
    images, labels = load_images(img_path), load_labels(lab_path)
    if len(images) != len(labels):
        raise DataError(f"{len(images)} images but {len(labels)} labels", root)
    return images, labels


def counts(root: Path) -> dict[str, int]:
    """Item counts of the four files in a prepared directory (from their headers)."""
    from .idx import count_of

    return {name: count_of(root / name, KINDS[name]) for name in NAMES}
