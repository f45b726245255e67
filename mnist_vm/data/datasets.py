"""The datasets of the MNIST family that `--dataset` names.

All share the layout of MNIST: four IDX files under the same names, 28x28
grey images, labels 0-9. The file names, counts, mirrors and the MD5s of the
`.gz` files are those torchvision lists (torchvision/datasets/mnist.py); for
MNIST the MD5s of the uncompressed files are known as well, which lets a
re-compressed copy be recognised.
"""

from __future__ import annotations

from dataclasses import dataclass

TRAIN_IMAGES = "train-images-idx3-ubyte"
TRAIN_LABELS = "train-labels-idx1-ubyte"
TEST_IMAGES = "t10k-images-idx3-ubyte"
TEST_LABELS = "t10k-labels-idx1-ubyte"
NAMES = (TRAIN_IMAGES, TRAIN_LABELS, TEST_IMAGES, TEST_LABELS)
SPLITS = {"train": (TRAIN_IMAGES, TRAIN_LABELS), "test": (TEST_IMAGES, TEST_LABELS)}
KINDS = {
    TRAIN_IMAGES: "images",
    TRAIN_LABELS: "labels",
    TEST_IMAGES: "images",
    TEST_LABELS: "labels",
}
COUNTS = {TRAIN_IMAGES: 60000, TRAIN_LABELS: 60000, TEST_IMAGES: 10000, TEST_LABELS: 10000}


@dataclass(frozen=True)
class Dataset:
    name: str
    title: str
    mirrors: tuple[str, ...]
    gz_md5: dict[str, str]  # file name -> MD5 of the official .gz file
    md5: dict[str, str]  # file name -> MD5 of the uncompressed content (where known)
    classes: tuple[str, ...]

    def official(self, name: str, md5: str | None = None, gz_md5: str | None = None) -> bool:
        """Do these checksums (of the content, or of the .gz file) identify the official file?"""
        return (md5 is not None and self.md5.get(name) == md5) or (
            gz_md5 is not None and self.gz_md5.get(name) == gz_md5
        )


DIGITS = tuple(str(d) for d in range(10))

DATASETS: dict[str, Dataset] = {
    d.name: d
    for d in (
        Dataset(
            "mnist",
            "MNIST",
            (
                "https://ossci-datasets.s3.amazonaws.com/mnist/",
                "http://yann.lecun.com/exdb/mnist/",
                "https://storage.googleapis.com/cvdf-datasets/mnist/",
            ),
            {
                TRAIN_IMAGES: "f68b3c2dcbeaaa9fbdd348bbdeb94873",
                TRAIN_LABELS: "d53e105ee54ea40749a09fcbcd1e9432",
                TEST_IMAGES: "9fb629c4189551a2d022fa330f9573f3",
                TEST_LABELS: "ec29112dd5afa0611ce80d1b7f02629c",
            },
            {
                TRAIN_IMAGES: "6bbc9ace898e44ae57da46a324031adb",
                TRAIN_LABELS: "a25bea736e30d166cdddb491f175f624",
                TEST_IMAGES: "2646ac647ad5339dbf082846283269ea",
                TEST_LABELS: "27ae3e4e09519cfbb04c329615203637",
            },
            DIGITS,
        ),
        Dataset(
            "fashion-mnist",
            "Fashion-MNIST",
            ("http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",),
            {
                TRAIN_IMAGES: "8d4fb7e6c68d591d4c3dfef9ec88bf0d",
                TRAIN_LABELS: "25c81989df183df01b3e8a0aad5dffbe",
                TEST_IMAGES: "bef4ecab320f06d8554ea6380940ec79",
                TEST_LABELS: "bb300cfdad3c16e7a12a480ee83cd310",
            },
            {},
            (
                "T-shirt/top",
                "Trouser",
                "Pullover",
                "Dress",
                "Coat",
                "Sandal",
                "Shirt",
                "Sneaker",
                "Bag",
                "Ankle boot",
            ),
        ),
        Dataset(
            "kmnist",
            "Kuzushiji-MNIST",
            ("http://codh.rois.ac.jp/kmnist/dataset/kmnist/",),
            {
                TRAIN_IMAGES: "bdb82020997e1d708af4cf47b453dcf7",
                TRAIN_LABELS: "e144d726b3acfaa3e44228e80efcd344",
                TEST_IMAGES: "5c965bf0a639b31b8f53240b1b52f4d7",
                TEST_LABELS: "7320c461ea6c1c855c0b718fb2a4b134",
            },
            {},
            ("o", "ki", "su", "tsu", "na", "ha", "ma", "ya", "re", "wo"),
        ),
    )
}
DEFAULT_DATASET = "mnist"


def dataset(name: str | None) -> Dataset:
    """The dataset called name (None: MNIST); KeyError for an unknown name."""
    return DATASETS[name or DEFAULT_DATASET]


def class_names(name: str | None = None) -> tuple[str, ...]:
    """The ten class names of a dataset, by label: ("0", ..., "9") for MNIST."""
    return dataset(name).classes


def class_label(label: int, name: str | None = None) -> str:
    """How to show a label: "7" for MNIST, "7 (Sneaker)" for Fashion-MNIST."""
    names = class_names(name)
    shown = names[label] if 0 <= label < len(names) else None
    return str(label) if shown is None or shown == str(label) else f"{label} ({shown})"
