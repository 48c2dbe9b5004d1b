"""The IDX reader and --data-dir: exact round trips, and every bad file named in its error."""

from __future__ import annotations

import gzip

import numpy as np
import pytest

from mnist_helpers import NAMES, make_arrays, write_set
from sgdlab.core.errors import ConfigError, DataError
from sgdlab.mnist import datasets, idx


@pytest.mark.parametrize("gz", [True, False])
def test_round_trip(tmp_path, gz):
    images = np.arange(2 * 28 * 28, dtype=np.uint8).reshape(2, 28, 28)
    path = idx.write(tmp_path / ("x.gz" if gz else "x"), images)
    assert path.read_bytes()[:2] == (b"\x1f\x8b" if gz else b"\x00\x00")
    assert np.array_equal(idx.read_images(path), images)
    labels = np.array([0, 9, 3], dtype=np.uint8)
    out = idx.read_labels(idx.write(tmp_path / "y", labels))
    assert out.dtype == np.int64 and out.tolist() == [0, 9, 3]


def test_header_layout_is_the_published_one():
    data = idx.encode(np.zeros((3, 28, 28), dtype=np.uint8))
    assert data[:16] == bytes.fromhex("00000803" "00000003" "0000001c" "0000001c")
    assert len(data) == 16 + 3 * 784


def _bad(tmp_path, name, data):
    path = tmp_path / name
    path.write_bytes(data)
    return path


GOOD = idx.encode(np.zeros((2, 28, 28), dtype=np.uint8))


@pytest.mark.parametrize(
    "data, reader, message",
    [
        (b"", idx.read_images, "is empty (0 bytes)"),
        (b"\x00\x00", idx.read_images, "too short"),
        (b"\x01\x02\x08\x03" + GOOD[4:], idx.read_images, "is not an IDX file (MNIST's format): it starts with the bytes 01 02 08 03"),
        (GOOD[:-1], idx.read_images, "is truncated: dimensions 2x28x28 need 1584 bytes, the file has 1583"),
        (GOOD + b"\x00", idx.read_images, "longer than its header says"),
        (GOOD[:10], idx.read_images, "cut short inside its header"),
        (gzip.compress(GOOD)[:-12], idx.read_images, "is truncated (the compressed stream ends early)"),
        (b"\x1f\x8b" + b"garbage" * 10, idx.read_images, "is corrupt"),
        (idx.encode(np.zeros(5, dtype=np.uint8)), idx.read_images, "is not an image file: expected 3 dimensions"),
        (GOOD, idx.read_labels, "is not a label file: expected 1 dimension"),
        (idx.encode(np.array([1, 2, 10, 11], dtype=np.uint8)), idx.read_labels,
         "label 10 at position 2 is out of range 0..9 (2 bad labels in all)"),
        (idx.encode(np.zeros((0, 28, 28), dtype=np.uint8)), idx.read_images, "holds no images"),
    ],
)
def test_bad_files_are_named(tmp_path, data, reader, message):
    path = _bad(tmp_path, "broken-file", data)
    with pytest.raises(DataError) as info:
        reader(path)
    text = str(info.value)
    assert message in text and str(path) in text


def test_missing_file(tmp_path):
    with pytest.raises(DataError, match="does not exist"):
        idx.read_images(tmp_path / "nope")


def test_image_and_label_counts_must_agree(tmp_path):
    images = idx.write(tmp_path / "i", np.zeros((3, 28, 28), dtype=np.uint8))
    labels = idx.write(tmp_path / "l", np.zeros(4, dtype=np.uint8))
    with pytest.raises(DataError, match=r"holds 3 images but .* holds 4 labels"):
        idx.read_pair(images, labels)


@pytest.mark.parametrize("layout", ["flat", "torchvision"])
@pytest.mark.parametrize("gz", [True, False])
def test_data_dir_layouts(tmp_path, layout, gz):
    folder = tmp_path / "d" / ("MNIST/raw" if layout == "torchvision" else "")
    folder.mkdir(parents=True)
    arrays = write_set(folder, gz=gz)
    data = datasets.load("mnist", tmp_path / "d")
    assert np.array_equal(data.x_train.numpy(), arrays["train_images"])
    assert data.y_test.tolist() == arrays["test_labels"].tolist()
    assert data.describe()["train"] == 60 and data.describe()["test"] == 20


def test_fashion_torchvision_layout(tmp_path):
    folder = tmp_path / "FashionMNIST" / "raw"
    folder.mkdir(parents=True)
    write_set(folder)
    data = datasets.load("fashion-mnist", tmp_path)
    assert data.classes[9] == "Ankle boot" and data.x_test.shape == (20, 28, 28)


def test_data_dir_without_files_says_where_it_looked(tmp_path):
    with pytest.raises(DataError) as info:
        datasets.load("mnist", tmp_path)
    text = str(info.value)
    assert str(tmp_path) in text and str(tmp_path / "MNIST" / "raw") in text
    assert "omit --data-dir to download" in text


def test_data_dir_with_some_files_lists_the_missing(tmp_path):
    write_set(tmp_path)
    (tmp_path / (NAMES["test_labels"] + ".gz")).unlink()
    with pytest.raises(DataError, match=r"lacks t10k-labels-idx1-ubyte\[\.gz\]"):
        datasets.load("mnist", tmp_path)


def test_data_dir_that_is_not_a_folder(tmp_path):
    with pytest.raises(DataError, match="does not exist or is not a folder"):
        datasets.load("mnist", tmp_path / "missing")


def test_image_sizes_must_agree(tmp_path):
    arrays = make_arrays()
    arrays["test_images"] = np.zeros((20, 14, 14), dtype=np.uint8)
    write_set(tmp_path, arrays)
    with pytest.raises(DataError, match="train images are 28x28 but test images are 14x14"):
        datasets.load("mnist", tmp_path)


def test_unknown_data_set_lists_the_known_ones():
    with pytest.raises(ConfigError, match="known ones are: mnist-5k, mnist, fashion-mnist"):
        datasets.load("cifar")


def test_data_dir_with_mnist_5k_is_refused(tmp_path):
    with pytest.raises(ConfigError, match="add --dataset mnist"):
        datasets.load("mnist-5k", tmp_path)
