"""The run store as the pages see it: opened read-only, files served only from its own folder.

``ReadOnlyStore`` is the normal ``Store`` (same queries, same records) on a connection opened
with SQLite's ``mode=ro`` URI: the pages cannot write, create or migrate the store, even by
accident. Only training from the page writes, through the normal ``Store``.
"""

from __future__ import annotations

import json
import math
import re
import sqlite3
from contextlib import closing
from pathlib import Path
from typing import Any

from ..core.errors import ConfigError, StoreError
from ..core.owned import FIGURE_SUFFIXES, owned_figure
from ..core.store import BUSY_TIMEOUT_S, RunRecord, Store, readable_records

RUN_ID = re.compile(r"^[0-9A-Za-z-]{1,64}$")  # what run and sweep ids are made of (no LIKE wildcards)
__all__ = ["FIGURE_SUFFIXES", "ReadOnlyStore", "check_id", "decimate", "figure_file"]


def check_id(value: str, what: str = "run id") -> str:
    """A run or sweep id from a URL: letters, digits and '-' only (never a path, never a pattern)."""
    if not RUN_ID.match(value or ""):
        raise ConfigError(f"{what} {value[:80]!r} is not an id (letters, digits and '-' only)")
    return value


class ReadOnlyStore(Store):
    """``Store`` whose connections are read-only; a missing store reads as empty, never created."""

    def _connect(self, create: bool = False) -> sqlite3.Connection:
        if not self.path.is_file():
            raise StoreError(f"no run store at {self.path}; nothing has been recorded there yet")
        uri = self.path.resolve().as_uri() + "?mode=ro"
        try:
            conn = sqlite3.connect(uri, uri=True, timeout=BUSY_TIMEOUT_S, isolation_level=None)
            conn.execute(f"PRAGMA busy_timeout = {int(BUSY_TIMEOUT_S * 1000)}")
            conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
            conn.row_factory = sqlite3.Row  # rows by column name (older stores lack some columns)
            return conn
        except sqlite3.Error as exc:
            raise StoreError(f"cannot read the run store {self.path}: {exc}") from None

    def exists(self) -> bool:
        return self.path.is_file()

    def check_writable(self) -> None:  # pragma: no cover - a programming error, not a user's
        raise StoreError("the pages' store is read-only")

    def find(self, *, command: str | None = None, status: str | None = None,
             sweep_id: str | None = None, limit: int = 200) -> list[RunRecord]:
        """The newest ``limit`` runs matching every filter given, newest first."""
        if not self.exists():
            return []
        clauses, args = [], []
        for column, value in (("command", command), ("status", status), ("sweep_id", sweep_id)):
            if value:
                clauses.append(f"{column} = ?")
                args.append(value)
        query = "SELECT * FROM runs" + (" WHERE " + " AND ".join(clauses) if clauses else "")
        query += " ORDER BY created DESC, rowid DESC LIMIT ?"
        with closing(self._connect()) as conn:
            rows = conn.execute(query, [*args, int(limit)]).fetchall()
        return readable_records(rows, self.path)

    def sweeps(self, limit: int = 200) -> list[dict[str, Any]]:
        """Recorded sweeps (and mnist batch-size studies), newest first, with their cell counts."""
        if not self.exists():
            return []
        with closing(self._connect()) as conn:
            rows = conn.execute(
                "SELECT s.id, s.created, s.problem, s.spec, "
                "(SELECT count(*) FROM runs r WHERE r.sweep_id = s.id) "
                "FROM sweeps s ORDER BY s.created DESC LIMIT ?", (int(limit),)).fetchall()
        return [{"id": r[0], "created": r[1], "problem": r[2], "spec": json.loads(r[3]), "runs": r[4]}
                for r in rows]

    def facets(self) -> dict[str, list[str]]:
        """The commands and statuses present, for the list's filter menus."""
        if not self.exists():
            return {"command": [], "status": []}
        with closing(self._connect()) as conn:
            return {column: [r[0] for r in conn.execute(
                        f"SELECT DISTINCT {column} FROM runs ORDER BY {column}")]
                    for column in ("command", "status")}


def figure_file(store: Store, record: RunRecord, index: int) -> Path | None:
    """The ``index``-th figure of ``record`` if the store owns it (``core.owned``: a regular image
    file inside the store's folder once every symlink and ``..`` is resolved); None otherwise.

    The client gives only a run id and a number; the path comes from the store's own record and
    is still checked, so a record pointing at ``../x``, ``/etc/...`` or a symlink leading out of
    the store folder is refused.
    """
    if not 0 <= index < len(record.figures):
        return None
    return owned_figure(store.path, record.figures[index])


def decimate(values: list[float], max_points: int) -> tuple[list[int], list[float]]:
    """At most about ``max_points`` (step, value) pairs for drawing a long curve.

    Each bucket of consecutive steps keeps its smallest and largest value (so spikes survive),
    and every non-finite value is kept: a NaN or Inf is never hidden by thinning.
    """
    n = len(values)
    if n <= max_points:
        return list(range(n)), list(values)
    buckets = max(1, max_points // 2)
    size = math.ceil(n / buckets)
    keep: set[int] = {0, n - 1}
    for begin in range(0, n, size):
        chunk = range(begin, min(n, begin + size))
        finite = [i for i in chunk if math.isfinite(values[i])]
        keep.update(i for i in chunk if not math.isfinite(values[i]))
        if finite:
            keep.add(min(finite, key=values.__getitem__))
            keep.add(max(finite, key=values.__getitem__))
    steps = sorted(keep)
    return steps, [values[i] for i in steps]
