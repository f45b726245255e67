"""Shared fixtures: the real MNIST files, uncompressed, for the program tests."""

from __future__ import annotations

import gzip
import os
import shutil
from pathlib import Path

import pytest
import reference_model as rm

REPO = Path(__file__).resolve().parents[1]


def _data_source() -> Path:
    candidates = [
        os.environ.get("MNIST_DATA"),
        str(REPO.parent / "shared" / "mnist"),
        os.environ.get("MNIST_VM_DATA"),
        str(Path.home() / ".cache" / "mnist-vm"),
    ]
    for c in candidates:
        if c and all(
            (Path(c) / n).exists() or (Path(c) / (n + ".gz")).exists() for n in rm.FILES.values()
        ):
            return Path(c)
    pytest.fail(
        "MNIST not found: set MNIST_DATA to a directory with the four IDX files "
        "(train-images-idx3-ubyte[.gz], ...); tried " + ", ".join(filter(None, candidates))
    )


@pytest.fixture(scope="session")
def mnist_dir(tmp_path_factory) -> Path:
    """The four files, uncompressed, in one shared read-only directory."""
    src = _data_source()
    dst = tmp_path_factory.mktemp("mnist_raw")
    for name in rm.FILES.values():
        if (src / name).exists():
            shutil.copyfile(src / name, dst / name)
        else:
            (dst / name).write_bytes(gzip.decompress((src / (name + ".gz")).read_bytes()))
    return dst


@pytest.fixture(scope="session")
def mnist_arrays(mnist_dir):
    return rm.load_mnist(mnist_dir)
