"""What one run is, as stored: ``RunRecord``, its columns, and the encodings of its values.

Curves (per-step losses...) are float64 blobs: compact, and NaN/Inf survive exactly. Configs and
metrics are strict JSON (``jsonable``): NaN and infinities as the strings "NaN", "Infinity".
"""

from __future__ import annotations

import json
import sqlite3
from array import array
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable

# Columns added after the first version: (name, SQL type). New stores have them from SCHEMA;
# older ones get them on open (ALTER TABLE, NULL in old rows), so every store ever written stays
# readable and writable.
MIGRATIONS = [
    ("pid", "INTEGER"),  # the process that runs (or ran) it: a dead one means interrupted
    ("host", "TEXT"),  # where that process runs: on another host, its state is unknown
    ("pid_start", "INTEGER"),  # the process's start time, so a reused pid is not taken for it
    ("updated", "TEXT"),  # when the row last changed (start, end, interruption)
]
COLUMNS = ["id", "created", "command", "status", "sweep_id", "key_metric_name", "key_metric",
           "config", "metrics", "figures", "sgdlab_version", "torch_version"] + [m[0] for m in MIGRATIONS]
FINISHED = ("completed", "diverged")  # statuses of runs that ended by themselves


def encode_curve(values: Iterable[float]) -> bytes:
    return array("d", (float(v) for v in values)).tobytes()


def decode_curve(blob: bytes) -> list[float]:
    values = array("d")
    values.frombytes(blob)
    return values.tolist()


@dataclass
class RunRecord:
    """What one finished (or diverged, or interrupted) run leaves in the store."""

    id: str
    command: str
    status: str
    config: dict[str, Any]
    metrics: dict[str, Any]
    figures: list[str] = field(default_factory=list)
    curves: dict[str, list[float]] = field(default_factory=dict)
    key_metric_name: str | None = None
    key_metric: float | None = None
    sweep_id: str | None = None
    created: str = ""
    sgdlab_version: str = ""
    torch_version: str = ""
    pid: int | None = None  # the process that ran it last
    host: str | None = None
    pid_start: int | None = None
    updated: str | None = None

    @property
    def state(self) -> str:
        """The status as it is now: a ``running`` row whose process died is ``interrupted``."""
        from .liveness import effective_status

        return effective_status(self.status, self.pid, self.host, self.pid_start)


def row_to_record(row) -> RunRecord:
    """A ``runs`` row (an ``sqlite3.Row``, or a plain tuple in column order) as a RunRecord;
    columns a store written before them lacks read as None."""
    keys = row.keys() if isinstance(row, sqlite3.Row) else COLUMNS[: len(row)]
    data = {name: None for name in COLUMNS} | {k: v for k, v in zip(keys, row) if k in COLUMNS}
    for name in ("config", "metrics", "figures"):
        data[name] = json.loads(data[name])
    return RunRecord(**data)


def finite_or_none(value: float | None) -> float | None:
    if value is None:
        return None
    value = float(value)
    return value if value == value and abs(value) != float("inf") else None


def jsonable(obj: Any) -> Any:
    """Make ``obj`` strict JSON: NaN and infinities become the strings "NaN", "Infinity",
    "-Infinity" (shown, never hidden, and still valid JSON); tuples become lists."""
    if isinstance(obj, float):
        if obj != obj:
            return "NaN"
        if obj in (float("inf"), float("-inf")):
            return "Infinity" if obj > 0 else "-Infinity"
        return obj
    if isinstance(obj, dict):
        return {str(k): jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [jsonable(v) for v in obj]
    if isinstance(obj, Path):
        return str(obj)
    if hasattr(obj, "item") and callable(obj.item):  # numpy / torch scalars
        return jsonable(obj.item())
    return obj
