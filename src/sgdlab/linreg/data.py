"""Tabular data for linear regression: the tutorial's 15 points, or a user's CSV file.

Loading goes through pandas (a well-kept CSV parser); the checks after it exist so that every
bad cell is reported with its row and column, not as a stack trace deep inside training.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..core.errors import DataError, Problems

# Section 3.2.1 of the tutorial, verbatim (float32, as it was written).
TUTORIAL_X = [3.3, 4.4, 5.5, 6.71, 6.93, 4.168, 9.779, 6.182, 7.59, 2.167, 7.042, 10.791, 5.313,
              7.997, 3.1]
TUTORIAL_Y = [1.7, 2.76, 2.09, 3.19, 1.694, 1.573, 3.366, 2.596, 2.53, 1.221, 2.827, 3.465, 1.65,
              2.904, 1.3]


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


def tutorial_points() -> Table:
    x = np.array(TUTORIAL_X, dtype=np.float32).reshape(-1, 1)
    y = np.array(TUTORIAL_Y, dtype=np.float32)
    return Table(x=x, y=y, x_names=["x"], y_name="y", source="tutorial (15 points, section 3.2.1)")


def split_columns(spec: str | None) -> list[str] | None:
    if spec is None:
        return None
    return [c.strip() for c in spec.split(",") if c.strip()]


def read_csv(path: str | Path, x_cols: list[str] | None = None, y_col: str | None = None) -> Table:
    """Read ``path`` with a header row. Default columns: ``y`` = the last, ``x`` = all others."""
    import pandas as pd

    path = Path(path)
    if not path.exists():
        raise DataError(f"CSV file {path} does not exist; check the path given to --csv")
    if path.is_dir():
        raise DataError(f"{path} is a folder, not a CSV file; give the file to --csv")
    if path.stat().st_size == 0:
        raise DataError(f"CSV file {path} is empty; it needs a header row and at least 2 data rows")
    try:
        # utf-8-sig: spreadsheets often start a CSV with a byte-order mark, which would otherwise
        # become part of the first column name
        frame = pd.read_csv(path, dtype=str, keep_default_na=False, skipinitialspace=True,
                            encoding="utf-8-sig")
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise DataError(f"CSV file {path} cannot be parsed: {first}") from None
    columns = [str(c).strip() for c in frame.columns]
    frame.columns = columns
    if not columns:
        raise DataError(f"CSV file {path} has no header row")

    problems = Problems()
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
    problems.raise_if_any(DataError)

    if len(frame) < 2:
        raise DataError(
            f"CSV file {path} has {len(frame)} data row(s); linear regression needs at least 2"
        )
    # vectorised conversion; only the bad cells are visited one by one, to name them
    numeric = frame[wanted].apply(pd.to_numeric, errors="coerce").to_numpy(dtype=np.float64)
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


def _looks_numeric(cell: str) -> bool:
    try:
        float(cell)
    except (TypeError, ValueError):
        return False
    return True
