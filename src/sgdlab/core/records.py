"""What one run is, as stored: ``RunRecord``, its columns, and the encodings of its values.

Curves (per-step losses...) are float64 blobs: compact, and NaN/Inf survive exactly. Configs and
metrics are strict JSON (``jsonable``): NaN and infinities as the strings "NaN", "Infinity".
"""

from __future__ import annotations

import json
import sqlite3
import sys
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


class BadRow(ValueError):
    """A row of the store that cannot be read (edited by hand, written by a damaged copy)."""


def decode_curve(blob: bytes) -> list[float]:
    if not isinstance(blob, bytes) or len(blob) % 8:
        raise BadRow(f"a curve blob of {len(blob) if isinstance(blob, bytes) else type(blob).__name__} "
                     "bytes is not float64 values")
    values = array("d")
    values.frombytes(blob)
    return values.tolist()


_warned: set[str] = set()


def warn_bad_row(message: str) -> None:
    """One line on stderr per damaged row and process: the rest of the store stays usable."""
    if message not in _warned:
        _warned.add(message)
        print(f"warning: {message}", file=sys.stderr)


def readable_records(rows, where: object) -> list["RunRecord"]:
    """The rows as records, each damaged one skipped with a warning naming it."""
    records = []
    for row in rows:
        try:
            records.append(row_to_record(row))
        except BadRow as exc:
            warn_bad_row(f"run store {where}: skipped {exc}")
    return records


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


def readable_curves(rows, run_id: str, where: object) -> dict[str, list[float]]:
    """A run's curves from (name, blob) rows; a damaged blob is skipped with a warning."""
    curves = {}
    for name, blob in rows:
        try:
            curves[name] = decode_curve(blob)
        except BadRow as exc:
            warn_bad_row(f"run store {where}: run {run_id}: skipped curve {name!r} ({exc})")
    return curves


def sweep_spec(text: Any, sweep_id: str, where: object) -> dict[str, Any]:
    """A sweeps row's spec; one that is not a JSON object is a clear error naming the sweep."""
    from .errors import StoreError

    try:
        spec = json.loads(text)
    except (TypeError, ValueError):
        spec = None
    if not isinstance(spec, dict):
        raise StoreError(f"sweep {sweep_id} in {where} is damaged (its spec is not a JSON object)")
    return spec


def row_to_record(row) -> RunRecord:
    """A ``runs`` row (an ``sqlite3.Row``, or a plain tuple in column order) as a RunRecord;
    columns a store written before them lacks read as None."""
    keys = row.keys() if isinstance(row, sqlite3.Row) else COLUMNS[: len(row)]
    data = {name: None for name in COLUMNS} | {k: v for k, v in zip(keys, row) if k in COLUMNS}
    kinds = {"config": dict, "metrics": dict, "figures": list}
    for name, kind in kinds.items():
        try:
            data[name] = json.loads(data[name])
        except (TypeError, ValueError):
            raise BadRow(f"run {data['id']} ({name} is not JSON)") from None
        if not isinstance(data[name], kind):
            raise BadRow(f"run {data['id']} ({name} is not a JSON {'object' if kind is dict else 'list'})")
    if not isinstance(data["id"], str) or not isinstance(data["command"], str) or not isinstance(data["status"], str):
        raise BadRow(f"run {data['id']!r} (id, command or status is not text)")
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
