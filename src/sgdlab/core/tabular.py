"""Tabular data shared by the problems that learn from a table: a user's CSV file read into a
``Table`` (features and a target, float64), and the checks that name a bad cell by its row and
column; for a classifier, the check of its label column and a seeded two-class data set.

Loading goes through pandas (a well-kept CSV parser); the checks after it exist so that every
bad cell is reported with its row and column, not as a stack trace deep inside training.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .errors import ConfigError, DataError, Problems


@dataclass
class Table:
    """Features ``x`` (n, d) and targets ``y`` (n,), as float64 NumPy arrays, with their names."""

    x: np.ndarray
    y: np.ndarray
    x_names: list[str]
    y_name: str
    source: str

    @property
    def n(self) -> int:
        return int(self.x.shape[0])


def split_columns(spec: str | None) -> list[str] | None:
    if spec is None:
        return None
    return [c.strip() for c in spec.split(",") if c.strip()]


def read_csv(path: str | Path, x_cols: list[str] | None = None, y_col: str | None = None,
             task: str = "linear regression") -> Table:
    """Read ``path`` with a header row. Default columns: ``y`` = the last, ``x`` = all others.
    ``task`` names what needs the rows, in the message about too few of them."""
    import io

    import pandas as pd

    path = Path(path)
    text = read_text(path)
    try:
        # header=None: the header is checked here (pandas would rename a duplicate to "x.1", and
        # a first data row wider than the header would turn into a huge index, which hangs)
        frame = pd.read_csv(io.StringIO(text), header=None, dtype=str, keep_default_na=False,
                            skipinitialspace=True, index_col=False)
    except (pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
        raise DataError(f"CSV file {path} cannot be parsed: {_parser_words(str(exc))}") from None
    if frame.empty:
        raise DataError(f"CSV file {path} has no header row")
    columns = [str(c).strip() for c in frame.iloc[0]]
    frame = frame.iloc[1:].reset_index(drop=True)
    frame.columns = range(len(columns))

    problems = Problems()
    for i, name in enumerate(columns):
        problems.check(name != "", f"{path}: column {i + 1} of the header has no name")
    dupes = sorted({c for c in columns if c and columns.count(c) > 1})
    problems.check(not dupes, f"{path}: the header names column(s) {', '.join(map(repr, dupes))} "
                              "more than once; give every column its own name")
    problems.raise_if_any(DataError)
    if y_col is None:
        y_col = columns[-1]
    if x_cols is None:
        x_cols = [c for c in columns if c != y_col]
    wanted = list(x_cols) + [y_col]
    known = ", ".join(columns)
    for col in wanted:
        problems.check(col in columns, f"{path}: no column {col!r}; the columns are: {known}")
    problems.check(len(x_cols) > 0, f"{path}: no feature columns; pass --x COL[,COL...]")
    problems.check(y_col not in x_cols, f"{path}: column {y_col!r} is both a feature and the target")
    repeated = sorted({c for c in x_cols if x_cols.count(c) > 1})
    problems.check(not repeated, f"--x names {', '.join(map(repr, repeated))} twice; name each "
                                 "feature column once")
    problems.raise_if_any(DataError)

    if len(frame) < 2:
        raise DataError(
            f"CSV file {path} has {len(frame)} data row(s); {task} needs at least 2"
        )
    frame = frame[[columns.index(c) for c in wanted]]
    frame.columns = wanted
    # vectorised conversion; only the bad cells are visited one by one, to name them
    numeric = frame.apply(pd.to_numeric, errors="coerce").to_numpy(dtype=np.float64)
    bad_rows, bad_cols = np.nonzero(~np.isfinite(numeric))
    for i, j in zip(bad_rows.tolist(), bad_cols.tolist()):
        col = wanted[j]
        cell = frame[col].iloc[i]
        kind = "is not a finite number" if _looks_numeric(cell) else "is not a number"
        # line i + 2 of the file: line 1 is the header
        problems.add(f"{path}: data row {i + 1} (line {i + 2}), column {col!r}: {cell!r} {kind}")
    values = numeric
    if len(problems.items) > 20:  # keep the message readable on a badly broken file
        extra = len(problems.items) - 20
        problems.items = problems.items[:20] + [f"{path}: ... and {extra} more bad cells"]
    problems.raise_if_any(DataError)
    return Table(
        x=values[:, :-1], y=values[:, -1], x_names=list(x_cols), y_name=y_col, source=str(path)
    )


MAX_CSV_BYTES = 2 * 1024**3  # read whole into memory (and then into tensors): 2 GB at most
ENCODINGS = ("UTF-8 (with or without a byte-order mark, so ASCII too) and UTF-16 with a "
             "byte-order mark")


def read_text(path: Path) -> str:
    """The file's text: gzip/bz2/xz decompressed (by content), decoded as UTF-8 or UTF-16 with
    a byte-order mark; anything else is a DataError that says what the file is and what to do."""
    import bz2
    import gzip
    import lzma

    if not path.exists():
        raise DataError(f"CSV file {path} does not exist; check the path given to --csv")
    if path.is_dir():
        raise DataError(f"{path} is a folder, not a CSV file; give the file to --csv")
    if not path.is_file():
        raise DataError(f"{path} is not a regular file (a device or a pipe?); give a CSV file to --csv")
    size = path.stat().st_size
    if size == 0:
        raise DataError(f"CSV file {path} is empty; it needs a header row and at least 2 data rows")
    if size > MAX_CSV_BYTES:
        raise DataError(f"CSV file {path} is {size:,} bytes, more than the limit {MAX_CSV_BYTES:,}")
    raw = path.read_bytes()
    for magic, name, module in ((b"\x1f\x8b", "gzip", gzip), (b"BZh", "bzip2", bz2),
                                (b"\xfd7zXZ\x00", "xz", lzma)):
        if raw.startswith(magic):
            try:
                raw = module.decompress(raw)
            except (OSError, EOFError, ValueError, lzma.LZMAError) as exc:
                raise DataError(f"CSV file {path} is {name}-compressed but damaged or cut short "
                                f"({type(exc).__name__}); compress it again") from None
            break
    else:
        suffix = path.suffix.lower()
        if suffix in (".gz", ".bz2", ".xz", ".zip"):
            kind = {".gz": "gzip", ".bz2": "bzip2", ".xz": "xz", ".zip": "a zip archive"}[suffix]
            raise DataError(f"CSV file {path} is named {suffix} but it is not {kind}: it holds "
                            f"plain bytes; rename it without {suffix}, or compress it")
    if raw.startswith(b"PK\x03\x04"):
        raise DataError(f"{path} is a zip archive (or a spreadsheet), not CSV text; extract the "
                        "CSV file, or save the sheet as CSV")
    if raw.startswith((b"\xff\xfe", b"\xfe\xff")):
        return raw.decode("utf-16")
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise DataError(
            f"CSV file {path} is not UTF-8 text: byte 0x{raw[exc.start]:02x} on line {line} "
            f"cannot be decoded; sgdlab reads {ENCODINGS}; save it as \"CSV UTF-8\" or convert it, "
            f"e.g. iconv -f latin1 -t utf-8 {path} > converted.csv"
        ) from None
    if "\x00" in text:
        raise DataError(f"{path} holds NUL bytes: it is a binary file, not CSV text")
    return text


def _parser_words(message: str) -> str:
    """pandas' tokenizer errors, said as a person would."""
    import re

    first = message.strip().splitlines()[0] if message.strip() else "unreadable"
    wide = re.search(r"Expected (\d+) fields in line (\d+), saw (\d+)", first)
    if wide:
        expected, line, saw = (int(v) for v in wide.groups())
        return (f"line {line} has {saw:,} fields but the lines before it have {expected:,}; "
                "every row needs as many fields as the header")
    if "EOF inside string" in first:
        return "a quote (\") is opened and never closed"
    return first


def _looks_numeric(cell: str) -> bool:
    try:
        float(cell)
    except (TypeError, ValueError):
        return False
    return True


def check_labels(table: Table, labels: tuple[int, ...] = (0, 1)) -> Table:
    """A classifier's table: every target one of ``labels``; else the first bad row, by row and
    column, and how many there are."""
    bad = np.nonzero(~np.isin(table.y, labels))[0]
    if bad.size:
        names = "/".join(str(v) for v in labels)
        raise DataError(f"{table.source}: data row {bad[0] + 1}, column {table.y_name!r}: {table.y[bad[0]]:g} "
                        f"is not a {names} label ({bad.size} such row(s)); the label column holds "
                        f"{' or '.join(str(v) for v in labels)}")
    return table


def blobs(points: int, separation: float, seed: int) -> Table:
    """Two seeded Gaussian blobs in 2-D (unit variance), centres ``separation`` apart; label 0, 1."""
    rng = np.random.default_rng(seed)
    centre = np.array([separation / 2, 0.0])
    x = np.vstack([rng.standard_normal((points, 2)) - centre, rng.standard_normal((points, 2)) + centre])
    y = np.repeat([0.0, 1.0], points)
    return Table(x=x, y=y, x_names=["x1", "x2"], y_name="label",
                 source=f"two Gaussian blobs ({points} points each, centres {separation:g} apart, seed {seed})")


def check_representable(table: Table, dtype: str) -> None:
    """Values beyond float32's range would become inf in the tensors: refuse them by cell."""
    from .limits import FLOAT_MAX

    limit = FLOAT_MAX.get(dtype, math.inf)
    values = np.column_stack([table.x, table.y]).astype(np.float64)
    rows, cols = np.nonzero(np.abs(values) > limit)
    if rows.size:
        names = table.x_names + [table.y_name]
        raise ConfigError(
            f"{table.source}: data row {rows[0] + 1}, column {names[cols[0]]!r}: {values[rows[0], cols[0]]:g} "
            f"does not fit in {dtype} (largest {limit:.4g}; {rows.size} such value(s)); use "
            "--dtype float64 or rescale the column")


def standardize(x: np.ndarray) -> tuple[np.ndarray, dict[str, list[float]]]:
    """Each feature to mean 0, std 1 (a constant column is left at scale 1); and the scale."""
    mean, std = x.mean(axis=0), x.std(axis=0)
    std = np.where(std > 0, std, 1.0)
    return (x - mean) / std, {"mean": mean.tolist(), "std": std.tolist()}


class TabularData:
    """A table as a run's tensors: checked to fit ``config.dtype``, standardized on request,
    and the schedule (batch size, number of updates) of ``config`` on it, checked."""

    def __init__(self, table: Table, config):
        import torch

        from .limits import check_steps

        check_representable(table, config.dtype)
        self.table, self.x_np, self.feature_scale = table, table.x, None
        if config.standardize:
            self.x_np, self.feature_scale = standardize(table.x)
        self.dtype = getattr(torch, config.dtype)
        self.x, self.y = (torch.tensor(v, dtype=self.dtype) for v in (self.x_np, table.y))
        self.n, self.d = (int(v) for v in self.x.shape)
        self.batch_size = config.batch_size or self.n
        problems = Problems()
        problems.check(self.batch_size <= self.n, f"--batch-size {self.batch_size} is larger than the "
                                                  f"data set ({self.n} rows)")
        self.steps = config.steps if config.epochs is None else config.epochs * math.ceil(self.n / self.batch_size)
        if config.epochs is not None:
            check_steps(problems, self.steps, f"--epochs {config.epochs} at batch size {self.batch_size}")
        problems.raise_if_any(ConfigError)

    def data_info(self) -> dict:
        t = self.table
        return {"source": t.source, "rows": self.n, "features": t.x_names, "target": t.y_name,
                "feature_scale": self.feature_scale}


def initial_parameters(seed: int, d: int, dtype):
    """The tutorial's initialisation of a linear model: w ~ N(0, 1) drawn from the seed, b = 0.

    Returns (w, b, generator); the same generator then shuffles the minibatches.
    """
    import torch

    generator = torch.Generator().manual_seed(seed)
    w = torch.randn(d, generator=generator, dtype=dtype)
    return w, torch.zeros(1, dtype=dtype), generator
