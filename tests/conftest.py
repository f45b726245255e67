"""Shared fixtures: the real MNIST files, uncompressed, for the program tests."""

from __future__ import annotations

import gzip
import shutil
from pathlib import Path

import pytest
import reference_model as rm
from conftest_data import MISSING, mnist_source_dir


def pytest_collection_modifyitems(config, items):
    """The default run leaves out the tests marked slow (CI runs them after it, with
    `-m slow`). A -m expression decides by itself, and a test named by its node id
    (tests/test_twins.py::test_relu_twins_match_interpreter) runs even if slow."""
    if config.option.markexpr:
        return
    named = [_node_id(config, arg) for arg in config.args if "::" in arg]
    slow = [
        item
        for item in items
        if item.get_closest_marker("slow")
        and not any(item.nodeid == n or item.nodeid.startswith((n + "::", n + "[")) for n in named)
    ]
    if slow:
        config.hook.pytest_deselected(items=slow)
        chosen = set(map(id, slow))
        items[:] = [item for item in items if id(item) not in chosen]


def _node_id(config, arg: str) -> str:
    """A command-line test selection as a node id (relative to the rootdir)."""
    path, sep, rest = arg.partition("::")
    try:
        path = Path(path).resolve().relative_to(config.rootpath).as_posix()
    except ValueError:
        pass
    return path + sep + rest


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
