"""The IDX file format of MNIST and Fashion-MNIST: read (checked) and write (for tests and tools).

An IDX file is a 4-byte magic number (two zero bytes, a type code, the number of dimensions),
one big-endian uint32 per dimension, then the values, row-major, big-endian. The MNIST family
uses type 0x08 (unsigned byte): images are 3-D (count, rows, columns), labels 1-D (count).
Files may be gzipped (recognised by their content, not their name). Every check names the file.
"""

from __future__ import annotations

import gzip
import math
import os
import zlib
from pathlib import Path

import numpy as np

from ..core.errors import DataError
from ..core.files import write_bytes

# type code -> big-endian NumPy dtype
TYPES = {
    0x08: np.dtype(">u1"), 0x09: np.dtype(">i1"), 0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"), 0x0D: np.dtype(">f4"), 0x0E: np.dtype(">f8"),
}
GZIP_MAGIC = b"\x1f\x8b"


def read_bytes(path: str | os.PathLike) -> bytes:
    """The file's content, gunzipped when it is a gzip file; missing/empty/corrupt are DataErrors."""
    path = Path(path)
    if not path.exists():
        raise DataError(f"IDX file {path} does not exist")
    if path.is_dir():
        raise DataError(f"{path} is a folder, not an IDX file")
    raw = path.read_bytes()
    if not raw:
        raise DataError(f"IDX file {path} is empty (0 bytes); delete it and download it again")
    if raw[:2] != GZIP_MAGIC:
        if path.suffix == ".gz" and not _looks_like_idx(raw):
            raise DataError(f"{path} is named .gz but is not gzip-compressed: {describe(raw)}; "
                            "delete it and download it again")
        return raw
    try:
        data = _gunzip(raw)
    except EOFError:
        raise DataError(
            f"gzip file {path} is truncated (the compressed stream ends early); "
            "delete it and download it again"
        ) from None
    except (OSError, zlib.error) as exc:
        raise DataError(f"gzip file {path} is corrupt ({exc}); delete it and download it again") from None
    if data is None:
        raise DataError(f"gzip file {path} unpacks to more than {MAX_UNPACKED:,} bytes; an MNIST "
                        "file is at most 47 MB: this is not one")
    return data


MAX_UNPACKED = 1 << 30  # a gzip that unpacks beyond 1 GiB is no MNIST file (nor worth the memory)


def _gunzip(raw: bytes) -> bytes | None:
    """gzip.decompress with a size limit (None past it): a small bomb cannot fill the memory."""
    out = []
    size = 0
    while raw:
        inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)  # one gzip member per pass
        chunk = inflater.decompress(raw, MAX_UNPACKED + 1 - size)
        size += len(chunk)
        out.append(chunk)
        if size > MAX_UNPACKED or inflater.unconsumed_tail:
            return None
        if not inflater.eof:
            raise EOFError
        raw = inflater.unused_data.lstrip(b"\x00")
    return b"".join(out)


def _looks_like_idx(raw: bytes) -> bool:
    return len(raw) >= 4 and raw[0] == 0 and raw[1] == 0 and raw[2] in TYPES


def describe(raw: bytes) -> str:
    """What the first bytes of a file look like, in words (not a magic number)."""
    head = raw[:64]
    if head.lstrip().startswith(b"<"):
        return "it looks like an HTML or XML page (an error page saved by a failed download?)"
    if head and all(32 <= b < 127 or b in (9, 10, 13) for b in head):
        text = head.decode("ascii").strip().splitlines()[0][:40] if head.strip() else ""
        return f"it is plain text, starting {text!r}"
    return f"it starts with the bytes {head[:8].hex(' ')}"


def parse(data: bytes, name: str = "<bytes>") -> np.ndarray:
    """Decode IDX bytes into an array, checking magic number, dimensions and exact length."""
    if len(data) < 4:
        raise DataError(f"IDX file {name} is too short ({len(data)} bytes) to hold a header")
    zero0, zero1, code, ndim = data[0], data[1], data[2], data[3]
    if zero0 != 0 or zero1 != 0 or code not in TYPES:
        raise DataError(
            f"{name} is not an IDX file (MNIST's format): {describe(data)}; delete it and "
            "download it again"
        )
    if ndim == 0:
        raise DataError(f"IDX file {name} declares 0 dimensions")
    header = 4 + 4 * ndim
    if len(data) < header:
        raise DataError(f"IDX file {name} is cut short inside its header ({len(data)} bytes)")
    dims = [int.from_bytes(data[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim)]
    dtype = TYPES[code]
    expected = header + math.prod(dims) * dtype.itemsize  # Python ints: no overflow
    if len(data) != expected:
        how = "truncated" if len(data) < expected else "longer than its header says"
        shown = "x".join(map(str, dims)) if ndim <= 4 else f"of {ndim} axes"
        raise DataError(
            f"IDX file {name} is {how}: dimensions {shown} need {expected} bytes, the file has "
            f"{len(data)}"
        )
    array = np.frombuffer(data, dtype=dtype, offset=header).reshape(dims)
    return array.astype(dtype.newbyteorder("="))  # a writable copy in native byte order


def read(path: str | os.PathLike) -> np.ndarray:
    return parse(read_bytes(path), str(path))


def read_images(path: str | os.PathLike) -> np.ndarray:
    """(count, rows, columns) uint8 images."""
    array = read(path)
    if array.ndim != 3 or array.dtype != np.uint8:
        raise DataError(
            f"IDX file {path} is not an image file: expected 3 dimensions of unsigned bytes "
            f"(count, rows, columns), found {array.ndim} of {array.dtype}"
        )
    if array.shape[0] == 0 or array.shape[1] == 0 or array.shape[2] == 0:
        raise DataError(f"IDX file {path} holds no images (dimensions {array.shape})")
    return array


def read_labels(path: str | os.PathLike, classes: int = 10) -> np.ndarray:
    """(count,) int64 labels, each in [0, classes)."""
    array = read(path)
    if array.ndim != 1 or array.dtype != np.uint8:
        raise DataError(
            f"IDX file {path} is not a label file: expected 1 dimension of unsigned bytes, "
            f"found {array.ndim} of {array.dtype}"
        )
    bad = np.nonzero(array >= classes)[0]
    if bad.size:
        raise DataError(
            f"IDX file {path}: label {int(array[bad[0]])} at position {int(bad[0])} is out of "
            f"range 0..{classes - 1} ({bad.size} bad labels in all)"
        )
    return array.astype(np.int64)


def read_pair(images: str | os.PathLike, labels: str | os.PathLike) -> tuple[np.ndarray, np.ndarray]:
    x, y = read_images(images), read_labels(labels)
    if x.shape[0] != y.shape[0]:
        raise DataError(
            f"{images} holds {x.shape[0]} images but {labels} holds {y.shape[0]} labels; "
            "they must come from the same set"
        )
    return x, y


def encode(array: np.ndarray) -> bytes:
    """IDX bytes for ``array`` (its dtype must be one of the IDX types)."""
    array = np.asarray(array)
    for code, dtype in TYPES.items():
        if array.dtype.newbyteorder("=") == dtype.newbyteorder("="):
            header = bytes([0, 0, code, array.ndim]) + b"".join(
                int(d).to_bytes(4, "big") for d in array.shape
            )
            return header + array.astype(dtype, copy=False).tobytes()
    raise ValueError(f"no IDX type for dtype {array.dtype}")


def write(path: str | os.PathLike, array: np.ndarray, compress: bool | None = None) -> Path:
    """Write ``array`` as an IDX file, atomically; gzipped when ``compress`` (default: name ends .gz)."""
    path = Path(path)
    data = encode(array)
    if compress if compress is not None else path.suffix == ".gz":
        data = gzip.compress(data, mtime=0)
    return write_bytes(path, data)
