"""Downloading the `.gz` files of a dataset with pooch, mirror after mirror.

Each file is fetched as `<mirror><name>.gz` into the dataset's cache
directory (pooch writes a temporary file and moves it into place, so a failed
transfer leaves nothing), then checked: a valid IDX file whose `.gz` MD5 is
the official one, or whose uncompressed MD5 is (mirrors may re-compress).
Any failure moves on to the next mirror; a full disk stops at once, since no
mirror can help with that.
"""

from __future__ import annotations

import errno
import logging
import os
import re
import shutil
from pathlib import Path
from urllib.parse import unquote, urlparse

from .datasets import COUNTS, KINDS, Dataset
from .idx import DataError, check_file
from .store import ENV_DATA, write_problem

ENV_MIRRORS = "MNIST_VM_MIRRORS"
DEFAULT_TIMEOUT = 30.0
USER_AGENT = "mnist-vm (pooch)"
LOCAL_WRITE_ERRORS = (errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EACCES, errno.EPERM)


def mirrors(ds: Dataset) -> list[str]:
    """Base URLs to download from, in order ($MNIST_VM_MIRRORS, comma-separated, overrides)."""
    env = os.environ.get(ENV_MIRRORS)
    if env is not None and env.strip():
        return [m.strip() for m in env.split(",") if m.strip()]
    return list(ds.mirrors)


class Failures:
    """What went wrong where, for one message at the end."""

    def __init__(self) -> None:
        self.by_mirror: dict[str, list[tuple[str, str]]] = {}

    def add(self, mirror: str, name: str, reason: str) -> None:
        self.by_mirror.setdefault(mirror, []).append((name, reason))

    def lines(self) -> list[str]:
        out = []
        for mirror, items in self.by_mirror.items():
            reasons = {r for _, r in items}
            if len(reasons) == 1:
                out.append(f"  {mirror}: {reasons.pop()}")
            else:
                out.append(f"  {mirror}: " + "; ".join(f"{n}.gz: {r}" for n, r in items))
        return out


class _Bar:
    """The progress-bar object pooch's HTTPDownloader drives (total, update, reset, close)."""

    def __init__(self, progress, label: str):
        self.progress, self.label = progress, label
        self.task = progress.add_task(label, total=None)
        self._total: int | None = None

    @property
    def total(self):
        return self._total

    @total.setter
    def total(self, value) -> None:
        self._total = value or None
        self.progress.update(self.task, total=self._total)

    def update(self, n) -> None:
        self.progress.advance(self.task, n)

    def reset(self) -> None:
        self.progress.reset(self.task, total=self._total)

    def close(self) -> None:
        pass

    def failed(self) -> None:
        self.progress.update(self.task, description=f"{self.label} (failed)")


class Reporter:
    """Progress bars on a terminal, one line per event otherwise, nothing without a console."""

    def __init__(self, console):
        self.console = console
        self.progress = None
        if console is not None and console.is_terminal:
            from rich.progress import (
                BarColumn,
                DownloadColumn,
                Progress,
                TextColumn,
                TimeRemainingColumn,
                TransferSpeedColumn,
            )

            self.progress = Progress(
                TextColumn("{task.description}"),
                BarColumn(),
                DownloadColumn(),
                TransferSpeedColumn(),
                TimeRemainingColumn(),
                console=console,
            )

    def __enter__(self):
        if self.progress is not None:
            self.progress.start()
        return self

    def __exit__(self, *exc):
        if self.progress is not None:
            self.progress.stop()

    def say(self, text: str) -> None:
        if self.console is not None:
            self.console.print(text, markup=False, highlight=False, soft_wrap=True)

    def bar(self, label: str, url: str) -> _Bar | None:
        if self.progress is None:
            self.say(f"downloading {url}")
            return None
        return _Bar(self.progress, label)


def _file_downloader(url: str, output_file, pooch_instance=None) -> None:
    """file:// URLs (pooch's own downloaders are for http, ftp, sftp and doi)."""
    path = unquote(urlparse(url).path)
    with open(path, "rb") as src:
        if hasattr(output_file, "write"):
            shutil.copyfileobj(src, output_file)
        else:
            with open(output_file, "wb") as dst:
                shutil.copyfileobj(src, dst)


def downloader(url: str, bar: _Bar | None, timeout: float):
    """The pooch downloader for url."""
    if url.startswith("file:"):
        return _file_downloader
    import pooch

    return pooch.HTTPDownloader(
        progressbar=bar if bar is not None else False,
        timeout=timeout,
        headers={"User-Agent": USER_AGENT},
    )


def reason(e: BaseException) -> str:
    """One short phrase for a failed transfer."""
    import requests

    if isinstance(e, requests.HTTPError) and e.response is not None:
        return f"HTTP {e.response.status_code} {e.response.reason or ''}".strip()
    if isinstance(e, requests.Timeout):
        return "cannot connect (timed out)"
    if isinstance(
        e, requests.exceptions.ChunkedEncodingError | requests.exceptions.ContentDecodingError
    ):
        return "transfer interrupted (the connection closed before the end of the file)"
    if isinstance(e, requests.ConnectionError):
        m = re.search(r"\[Errno -?\d+\] ([^'\")\]]+)", str(e))
        return f"cannot connect ({m.group(1).strip() if m else type(e).__name__})"
    if isinstance(e, DataError):
        return e.problem
    if isinstance(e, OSError):
        return f"cannot read ({e.strerror or e})"
    return f"{type(e).__name__}: {e}"


def download_file(
    name: str,
    dest: str | os.PathLike,
    ds: Dataset,
    *,
    mirror_list: list[str] | None = None,
    console=None,
    timeout: float | None = None,
    failures: Failures | None = None,
    dead: set[str] | None = None,
    reporter: Reporter | None = None,
) -> Path:
    """Download <name>.gz into dest and check it; returns dest/<name>.gz.

    Raises DataError listing every attempt if no mirror worked, or at once
    when the file cannot be written here (disk full, read-only).
    """
    import pooch
    import requests

    pooch.get_logger().setLevel(logging.WARNING)  # we report each transfer ourselves
    dest = Path(dest)
    failures = failures if failures is not None else Failures()
    dead = dead if dead is not None else set()
    bases = mirror_list if mirror_list is not None else mirrors(ds)
    own = reporter is None
    reporter = reporter or Reporter(console)
    if own:
        reporter.__enter__()
    try:
        for base in bases:
            if base in dead:
                continue
            url = base.rstrip("/") + "/" + name + ".gz"
            bar = reporter.bar(f"{name}.gz", url)
            try:
                got = Path(
                    pooch.retrieve(
                        url,
                        known_hash=None,
                        fname=name + ".gz",
                        path=dest,
                        downloader=downloader(url, bar, timeout or DEFAULT_TIMEOUT),
                    )
                )
            except (requests.ConnectionError, requests.Timeout) as e:
                if not isinstance(e, requests.exceptions.ChunkedEncodingError):
                    dead.add(base)  # no connection at all: skip it for the other files
                _failed(bar, failures, reporter, base, name, url, reason(e))
                continue
            except requests.RequestException as e:
                _failed(bar, failures, reporter, base, name, url, reason(e))
                continue
            except OSError as e:
                if e.errno in LOCAL_WRITE_ERRORS or not url.startswith("file:"):
                    raise write_problem(e, dest, f"downloading {name}.gz") from None
                _failed(bar, failures, reporter, base, name, url, reason(e))
                continue
            problem = _check_download(got, name, ds)
            if problem is not None:
                got.unlink(missing_ok=True)
                _failed(bar, failures, reporter, base, name, url, problem)
                continue
            return got
    finally:
        if own:
            reporter.__exit__(None, None, None)
    tried = ", ".join(bases) if bases else "no mirrors configured"
    raise DataError(
        f"could not download {name}.gz (tried {tried}):\n" + "\n".join(failures.lines())
    )


def _failed(bar, failures, reporter, base, name, url, why) -> None:
    if bar is not None:
        bar.failed()
    failures.add(base, name, why)
    reporter.say(f"{url}: {why}")


def _check_download(path: Path, name: str, ds: Dataset) -> str | None:
    """Why the downloaded file is not the official one (None if it is)."""
    import pooch

    try:
        count, md5 = check_file(path, KINDS[name], COUNTS[name])
    except DataError as e:
        return e.problem
    if ds.official(name, md5, pooch.file_hash(str(path), alg="md5")):
        return None
    return "wrong content (the MD5 of the file is not the official one)"


def download_all(
    names: list[str],
    dest: Path,
    ds: Dataset,
    console,
    mirror_list: list[str] | None,
    timeout: float | None,
) -> dict[str, Path]:
    """Download each of names into dest; one DataError naming every failure."""
    failures = Failures()
    dead: set[str] = set()
    failed = []
    got: dict[str, Path] = {}
    bases = mirror_list if mirror_list is not None else mirrors(ds)
    with Reporter(console) as reporter:
        for name in names:
            try:
                got[name] = download_file(
                    name,
                    dest,
                    ds,
                    mirror_list=bases,
                    timeout=timeout,
                    failures=failures,
                    dead=dead,
                    reporter=reporter,
                )
            except DataError as e:
                if e.where is not None:  # a local problem (disk full...): no point going on
                    raise
                failed.append(name)
    if failed:
        done = [n for n in names if n not in failed]
        lines = [
            f"could not download {', '.join(n + '.gz' for n in failed)} from any mirror"
            + (f" (downloaded {', '.join(done)})" if done else "")
            + ". Tried:"
        ]
        lines += failures.lines() if bases else [f"  no mirrors ({ENV_MIRRORS} is empty)"]
        lines.append(
            "To work offline, put the four files (.gz or uncompressed) in a directory and "
            f"pass --data DIR or set {ENV_DATA}=DIR."
        )
        raise DataError("\n".join(lines))
    return got
