"""Downloads against a local HTTP server on 127.0.0.1 serving small IDX files made here."""

from __future__ import annotations

import numpy as np
import pytest

from mnist_helpers import gz_payloads, make_arrays, md5s, serve
from sgdlab.core.errors import DataError
from sgdlab.mnist import datasets, download


@pytest.fixture(autouse=True)
def _data_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("SGDLAB_DATA", str(tmp_path / "cache"))


def leftovers(folder):
    return sorted(p.name for p in folder.rglob("*")) if folder.exists() else []


def test_download_then_load_from_cache(tmp_path):
    arrays = make_arrays()
    payloads = gz_payloads(arrays)
    hits: dict = {}
    with serve(payloads, hits) as url:
        data = datasets.load("mnist", mirrors=[url], checksums=md5s(payloads))
        assert np.array_equal(data.x_train.numpy(), arrays["train_images"])
        assert data.y_test.tolist() == arrays["test_labels"].tolist()
        # second load: the files are in the cache with the right checksums, nothing is fetched
        datasets.load("mnist", mirrors=[url], checksums=md5s(payloads))
    assert hits == {name: 1 for name in payloads}
    assert leftovers(tmp_path / "cache" / "mnist") == sorted(payloads)


def test_wrong_checksum_is_refused_and_leaves_nothing(tmp_path):
    payloads = gz_payloads()
    expected = md5s(payloads)
    expected["train-images-idx3-ubyte.gz"] = "0" * 32
    folder = tmp_path / "cache" / "mnist"
    with serve(payloads) as url:
        with pytest.raises(DataError) as info:
            download.fetch("mnist", folder, mirrors=[url], checksums=expected, retries=2, backoff=0)
    text = str(info.value)
    assert "cannot download train-images-idx3-ubyte.gz" in text
    assert f"checksum mismatch: md5 {md5s(payloads)['train-images-idx3-ubyte.gz']}, expected {'0' * 32}" in text
    assert "; 2 tries)" in text and "SGDLAB_MNIST_MIRROR" in text
    assert leftovers(folder) == []
    assert not folder.exists()  # the folder it made for the download is gone too (issue 19)


def test_cut_short_download_leaves_no_partial_file(tmp_path):
    payloads = gz_payloads()
    name = "train-images-idx3-ubyte.gz"
    body = payloads[name]
    routes = dict(payloads)
    routes[name] = (body[: len(body) // 2], len(body))  # promises the whole file, sends half
    folder = tmp_path / "cache" / "mnist"
    with serve(routes) as url:
        with pytest.raises(DataError) as info:
            download.fetch("mnist", folder, mirrors=[url], checksums=md5s(payloads), retries=1, backoff=0)
    assert f"{name} (cut short: received {len(body) // 2} of {len(body)} bytes; 1 try)" in str(info.value)
    assert leftovers(folder) == []


def test_retries_then_next_mirror(tmp_path):
    payloads = gz_payloads()
    bad = {name: (b"x" * 10, 20) for name in payloads}  # every file cut short on the first mirror
    hits_bad: dict = {}
    folder = tmp_path / "cache" / "mnist"
    with serve(bad, hits_bad) as first, serve(payloads) as second:
        paths = download.fetch("mnist", folder, mirrors=[first, second], checksums=md5s(payloads),
                               retries=2, backoff=0, quiet=True)
    assert [p.name for p in paths] == list(download.FILES)
    assert all(hits_bad[name] == 2 for name in payloads)  # two tries each, then the next mirror
    assert leftovers(folder) == sorted(payloads)


def test_a_failed_try_then_success(tmp_path):
    payloads = gz_payloads()
    routes = {name: [(b"", 5), body] for name, body in payloads.items()}
    with serve(routes) as url:
        download.fetch("mnist", tmp_path / "f", mirrors=[url], checksums=md5s(payloads),
                       retries=2, backoff=0, quiet=True)
    assert leftovers(tmp_path / "f") == sorted(payloads)


def test_corrupt_cached_file_is_fetched_again(tmp_path):
    payloads = gz_payloads()
    folder = tmp_path / "cache" / "mnist"
    folder.mkdir(parents=True)
    (folder / "t10k-labels-idx1-ubyte.gz").write_bytes(b"damaged")
    hits: dict = {}
    with serve(payloads, hits) as url:
        download.fetch("mnist", folder, mirrors=[url], checksums=md5s(payloads), quiet=True)
    assert hits["t10k-labels-idx1-ubyte.gz"] == 1
    assert (folder / "t10k-labels-idx1-ubyte.gz").read_bytes() == payloads["t10k-labels-idx1-ubyte.gz"]


def test_mirror_from_environment(monkeypatch):
    monkeypatch.setenv("SGDLAB_MNIST_MIRROR", "http://a.example/x, http://b.example/y/")
    assert download.mirrors_for("mnist") == ["http://a.example/x/", "http://b.example/y/"]
    monkeypatch.delenv("SGDLAB_MNIST_MIRROR")
    assert download.mirrors_for("mnist")[0] == "https://ossci-datasets.s3.amazonaws.com/mnist/"


def test_cli_checks_the_published_checksums(cli, tmp_path, monkeypatch):
    # the test server's files are not the real MNIST: the published MD5s must refuse them
    payloads = gz_payloads()
    with serve(payloads) as url:
        monkeypatch.setenv("SGDLAB_MNIST_MIRROR", url)
        monkeypatch.setattr(download, "RETRIES", 1)
        result = cli("mnist", "--dataset", "mnist", "--no-plots")
    assert result.exit_code == 2
    assert "error: cannot download train-images-idx3-ubyte.gz for mnist" in result.stderr
    assert "expected f68b3c2dcbeaaa9fbdd348bbdeb94873" in result.stderr
    assert leftovers(tmp_path / "cache" / "mnist") == []


def test_interrupted_download_leaves_no_partial_file(tmp_path, monkeypatch):
    def half_then_ctrl_c(url, tmp, expected, timeout):
        tmp.write_bytes(b"half a file")
        raise KeyboardInterrupt

    monkeypatch.setattr(download, "_fetch_once", half_then_ctrl_c)
    folder = tmp_path / "cache" / "mnist"
    with pytest.raises(KeyboardInterrupt):
        download.fetch("mnist", folder, mirrors=["http://127.0.0.1:9/"], quiet=True)
    assert leftovers(folder) == []
