"""Downloading the MNIST-family files: mirrors, MD5 checksums, retries, atomic writes.

Each file is streamed into a temporary file next to its destination, its MD5 is checked, and only
then is it renamed into place (``files.atomic_path``). A failed, truncated, corrupt or interrupted
download (Ctrl-C included) leaves no partial file behind. Mirrors are tried in order, each with a
few retries; ``SGDLAB_MNIST_MIRROR`` / ``SGDLAB_FASHION_MNIST_MIRROR`` (comma-separated base URLs)
or the ``mirrors`` argument replace the built-in list.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Sequence

from ..core.errors import DataError
from ..core.files import atomic_path

FILES = (
    "train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz",
    "t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz",
)

# The published MD5 checksums of the four gzip files (the ones torchvision checks).
CHECKSUMS = {
    "mnist": {
        "train-images-idx3-ubyte.gz": "f68b3c2dcbeaaa9fbdd348bbdeb94873",
        "train-labels-idx1-ubyte.gz": "d53e105ee54ea40749a09fcbcd1e9432",
        "t10k-images-idx3-ubyte.gz": "9fb629c4189551a2d022fa330f9573f3",
        "t10k-labels-idx1-ubyte.gz": "ec29112dd5afa0611ce80d1b7f02629c",
    },
    "fashion-mnist": {
        "train-images-idx3-ubyte.gz": "8d4fb7e6c68d591d4c3dfef9ec88bf0d",
        "train-labels-idx1-ubyte.gz": "25c81989df183df01b3e8a0aad5dffbe",
        "t10k-images-idx3-ubyte.gz": "bef4ecab320f06d8554ea6380940ec79",
        "t10k-labels-idx1-ubyte.gz": "bb300cfdad3c16e7a12a480ee83cd310",
    },
}

MIRRORS = {
    "mnist": [
        "https://ossci-datasets.s3.amazonaws.com/mnist/",
        "https://storage.googleapis.com/cvdf-datasets/mnist/",
    ],
    "fashion-mnist": ["http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/"],
}
MIRROR_ENV = {"mnist": "SGDLAB_MNIST_MIRROR", "fashion-mnist": "SGDLAB_FASHION_MNIST_MIRROR"}

RETRIES = 3  # attempts per mirror
TIMEOUT_S = 30.0  # per connection attempt and per read
CHUNK = 1 << 20


def mirrors_for(dataset: str, mirrors: Sequence[str] | None = None) -> list[str]:
    """The base URLs to try: the argument, else the environment variable, else the built-in list."""
    if mirrors is None:
        env = os.environ.get(MIRROR_ENV[dataset], "").strip()
        mirrors = [m.strip() for m in env.split(",") if m.strip()] if env else MIRRORS[dataset]
    return [m if m.endswith("/") else m + "/" for m in mirrors]


def md5_of(path: str | os.PathLike) -> str:
    digest = hashlib.md5(usedforsecurity=False)
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(CHUNK), b""):
            digest.update(block)
    return digest.hexdigest()


class _Attempt(Exception):
    """One failed try (network error, short read, wrong checksum); the loop moves on."""


def _fetch_once(url: str, tmp: Path, expected_md5: str | None, timeout: float) -> None:
    digest = hashlib.md5(usedforsecurity=False)
    received = 0
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response, open(tmp, "wb") as out:
            length = response.headers.get("Content-Length")
            while True:
                block = response.read(CHUNK)
                if not block:
                    break
                out.write(block)
                digest.update(block)
                received += len(block)
    except urllib.error.HTTPError as exc:
        raise _Attempt(f"HTTP {exc.code} {exc.reason}") from None
    except (urllib.error.URLError, OSError, ValueError) as exc:
        reason = getattr(exc, "reason", None) or exc
        raise _Attempt(f"{type(exc).__name__}: {reason}") from None
    except Exception as exc:  # http.client.IncompleteRead and friends
        raise _Attempt(f"{type(exc).__name__}: {exc}") from None
    if length is not None and length.isdigit() and received != int(length):
        raise _Attempt(f"cut short: received {received} of {length} bytes")
    if received == 0:
        raise _Attempt("the server sent an empty file")
    if expected_md5 is not None and digest.hexdigest() != expected_md5:
        raise _Attempt(f"checksum mismatch: md5 {digest.hexdigest()}, expected {expected_md5}")


def fetch(
    dataset: str,
    folder: str | os.PathLike,
    *,
    mirrors: Sequence[str] | None = None,
    checksums: dict[str, str] | None = None,
    retries: int | None = None,
    timeout: float | None = None,
    backoff: float = 1.0,
    quiet: bool = False,
) -> list[Path]:
    """Make sure the four files of ``dataset`` are in ``folder`` with the right checksums.

    Files already there with the right MD5 are kept; a file with a wrong MD5 is downloaded again.
    ``checksums`` replaces the published MD5s (tests serve their own small files).
    """
    folder = Path(folder)
    retries = RETRIES if retries is None else max(1, retries)
    timeout = TIMEOUT_S if timeout is None else timeout
    checksums = CHECKSUMS[dataset] if checksums is None else checksums
    bases = mirrors_for(dataset, mirrors)
    created = not folder.exists()
    paths = []
    for name in FILES:
        target = folder / name
        expected = checksums.get(name)
        if target.exists() and (expected is None or md5_of(target) == expected):
            paths.append(target)
            continue
        failures: dict[str, str] = {}  # url -> its last failure
        done = False
        for base in bases:
            url = base + name
            for attempt in range(1, retries + 1):
                if not quiet:
                    print(f"downloading {url} (try {attempt} of {retries})", file=sys.stderr)
                try:
                    with atomic_path(target) as tmp:
                        _fetch_once(url, tmp, expected, timeout)
                    done = True
                    break
                except _Attempt as exc:
                    failures[url] = str(exc)
                    if attempt < retries:
                        time.sleep(backoff * attempt)
            if done:
                break
        if not done:
            if created:  # a failed download leaves no empty data folder behind
                with contextlib.suppress(OSError):
                    folder.rmdir()  # only when empty: files fetched before stay
            env = MIRROR_ENV[dataset]
            raise DataError(
                f"cannot download {name} for {dataset} into {folder}: "
                + "; ".join(f"{url} ({why}; {retries} tr{'y' if retries == 1 else 'ies'})" for url, why in failures.items())
                + f". Check the network, set {env} to another mirror, or pass --data-dir with the "
                "IDX files"
            )
        paths.append(target)
    return paths
