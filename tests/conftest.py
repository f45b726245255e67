"""Shared fixtures: the real MNIST files, uncompressed, for the program tests."""

from __future__ import annotations

import gzip
import shutil
from pathlib import Path

import pytest
import reference_model as rm
from conftest_data import MISSING, mnist_source_dir


def _data_source() -> Path:
    src = mnist_source_dir()
    if src is None:
        pytest.fail(MISSING)
    return src


@pytest.fixture(scope="session")
def mnist_source() -> Path:
    """The directory holding the real MNIST files (raw or .gz), as found by mnist-vm."""
    return _data_source()


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
