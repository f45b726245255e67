"""The MNIST family of datasets: IDX files, where they live, downloads, pictures, `mnist-vm data`.

idx.py       the IDX format: parsing and checking, DataError
datasets.py  MNIST, Fashion-MNIST, Kuzushiji-MNIST: files, mirrors, checksums, classes
store.py     locations (the cache via platformdirs), prepare(), verify(), stamps
fetch.py     downloads with pooch, mirror after mirror
show.py      pictures in the terminal
cli.py       `mnist-vm data ...`
"""

from .cli import add_data_parser, cmd_data
from .datasets import (
    COUNTS,
    DATASETS,
    DEFAULT_DATASET,
    KINDS,
    NAMES,
    SPLITS,
    TEST_IMAGES,
    TEST_LABELS,
    TRAIN_IMAGES,
    TRAIN_LABELS,
    Dataset,
    class_label,
    class_names,
    dataset,
)
from .idx import DataError, check_file, load_images, load_labels, read_item
from .show import ascii_image, halfblock_image
from .store import (
    ENV_DATA,
    ENV_DATA_ALIAS,
    FileStatus,
    cache_dir,
    counts,
    data_dir,
    load_split,
    prepare,
    verify,
)

__all__ = [
    "COUNTS",
    "DATASETS",
    "DEFAULT_DATASET",
    "ENV_DATA",
    "ENV_DATA_ALIAS",
    "KINDS",
    "NAMES",
    "SPLITS",
    "TEST_IMAGES",
    "TEST_LABELS",
    "TRAIN_IMAGES",
    "TRAIN_LABELS",
    "DataError",
    "Dataset",
    "FileStatus",
    "add_data_parser",
    "ascii_image",
    "cache_dir",
    "check_file",
    "class_label",
    "class_names",
    "cmd_data",
    "counts",
    "data_dir",
    "dataset",
    "halfblock_image",
    "load_images",
    "load_labels",
    "load_split",
    "prepare",
    "read_item",
    "verify",
]
