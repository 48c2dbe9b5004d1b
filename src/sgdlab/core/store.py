"""The run store: one SQLite file, one row per run, curves in their own table.

Why SQLite: one file, no server, transactions. Every run is written in a single ``BEGIN IMMEDIATE``
transaction, so a crash never leaves half a run; WAL mode and a busy timeout let several processes
(parallel sweeps, two terminals) write at once.

Curves (per-step losses...) are stored as float64 blobs: compact, and NaN/Inf survive exactly.
"""

from __future__ import annotations

import json
import os
import secrets
import sqlite3
import time
from contextlib import closing
from pathlib import Path
from typing import Any

from .errors import StoreError
from .paths import store_path_problem
from .records import (COLUMNS, FINISHED, MIGRATIONS, BadRow, RunRecord, decode_curve, encode_curve,  # noqa: F401
                      finite_or_none, jsonable, readable_curves, readable_records, row_to_record, sweep_spec)

DEFAULT_STORE = Path("sgdlab-runs") / "runs.db"
STORE_ENV = "SGDLAB_STORE"
BUSY_TIMEOUT_S = 60.0

SCHEMA = """
CREATE TABLE IF NOT EXISTS runs (
    id TEXT PRIMARY KEY,
    created TEXT NOT NULL,
    command TEXT NOT NULL,
    status TEXT NOT NULL,
    sweep_id TEXT,
    key_metric_name TEXT,
    key_metric REAL,
    config TEXT NOT NULL,
    metrics TEXT NOT NULL,
    figures TEXT NOT NULL,
    sgdlab_version TEXT NOT NULL,
    torch_version TEXT NOT NULL,
    pid INTEGER,
    host TEXT,
    pid_start INTEGER,
    updated TEXT
);
CREATE INDEX IF NOT EXISTS runs_sweep ON runs(sweep_id);
CREATE TABLE IF NOT EXISTS curves (
    run_id TEXT NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    data BLOB NOT NULL,
    PRIMARY KEY (run_id, name)
);
CREATE TABLE IF NOT EXISTS sweeps (
    id TEXT PRIMARY KEY,
    created TEXT NOT NULL,
    problem TEXT NOT NULL,
    spec TEXT NOT NULL
);
"""


def new_run_id() -> str:
    """Sortable, readable and unique enough across processes: time plus 6 random hex digits."""
    return time.strftime("%Y%m%d-%H%M%S") + "-" + secrets.token_hex(3)


def resolve_store_path(path: str | os.PathLike | None = None) -> Path:
    """``--store`` wins, then ``$SGDLAB_STORE``, then ``./sgdlab-runs/runs.db``."""
    if path is not None and not str(path).strip():
        raise StoreError("--store: the path is empty; give the run store's file, e.g. runs.db")
    env = os.environ.get(STORE_ENV)
    chosen = Path(path) if path else Path(env) if env else DEFAULT_STORE
    problem = store_path_problem(chosen)  # a folder, a device, a path under a file: before any work
    if problem:
        raise StoreError(f"the run store (--store or ${STORE_ENV}): {problem}")
    return chosen


class Store:
    """A handle on the SQLite run store. Cheap to create; opens a connection per operation."""

    def __init__(self, path: str | os.PathLike | None = None):
        self.path = resolve_store_path(path)

    # -- connection -------------------------------------------------------------------------
    def exists(self) -> bool:
        """A store file with something in it: a 0-byte file is read as no store, never made one."""
        return self.path.is_file() and self.path.stat().st_size > 0

    def _connect(self, create: bool = True) -> sqlite3.Connection:
        """A connection; the file (and its folder) is created only by writers (``create``):
        reading a store that does not exist yet leaves nothing behind."""
        if not create and not self.exists():
            raise StoreError(f"no run store at {self.path}{' (an empty file)' if self.path.is_file() else ''}; "
                             "nothing has been recorded there yet")
        try:
            if create:
                self.path.parent.mkdir(parents=True, exist_ok=True)
            conn = sqlite3.connect(self.path, timeout=BUSY_TIMEOUT_S, isolation_level=None)
            conn.execute(f"PRAGMA busy_timeout = {int(BUSY_TIMEOUT_S * 1000)}")
            conn.execute("PRAGMA journal_mode = WAL")
            conn.execute("PRAGMA foreign_keys = ON")
            conn.executescript(SCHEMA)
            _migrate(conn)
            conn.row_factory = sqlite3.Row
            return conn
        except (OSError, sqlite3.Error) as exc:
            raise StoreError(
                f"cannot open the run store {self.path}: {exc}; "
                f"pass --store PATH or set {STORE_ENV} to a writable file"
            ) from None

    def check_writable(self) -> None:
        """Fail early (before any training) when the store cannot be written; create nothing."""
        from .paths import check_file
        from .errors import Problems

        if not self.exists():
            problems = Problems()
            check_file(problems, self.path, f"the run store (--store or ${STORE_ENV})")
            problems.raise_if_any(StoreError)
            return
        with closing(self._connect()) as conn:
            try:
                conn.execute("BEGIN IMMEDIATE")
                conn.execute("ROLLBACK")
            except sqlite3.Error as exc:
                raise StoreError(f"the run store {self.path} is not writable: {exc}") from None

    # -- a run's life: recorded when it starts, updated when it ends --------------------------
    def start(self, record: RunRecord) -> None:
        """Record ``record`` as ``running`` in this process (``sgdlab runs`` shows it at once;
        if the process dies, it shows as ``interrupted``)."""
        from .liveness import host, start_ticks

        record.status = "running"
        record.pid, record.host = os.getpid(), host()
        record.pid_start = start_ticks(record.pid)
        self.save(record)

    def mark(self, run_id: str, status: str) -> None:
        """Change the status of a recorded run (``interrupted`` after Ctrl-C)."""
        with closing(self._connect()) as conn:
            conn.execute("UPDATE runs SET status = ?, updated = ? WHERE id = ?", (status, _now(), run_id))

    # -- writing ----------------------------------------------------------------------------
    def save(self, record: RunRecord) -> str:
        """Write one run and its curves in one transaction."""
        self.save_many([record])
        return record.id

    def save_many(self, records: list[RunRecord]) -> None:
        """Write several runs in one transaction (a vectorized sweep's cells): all or none."""
        from .. import __version__

        from .liveness import host, start_ticks

        for record in records:
            record.created = record.created or _now()
            record.updated = _now()
            if record.pid is None:
                record.pid, record.host = os.getpid(), host()
                record.pid_start = start_ticks(record.pid)
            record.sgdlab_version = record.sgdlab_version or __version__
            record.torch_version = record.torch_version or _torch_version()
        with closing(self._connect()) as conn:
            try:
                conn.execute("BEGIN IMMEDIATE")
                for record in records:
                    self._insert(conn, record)
                conn.execute("COMMIT")
            except BaseException as exc:
                # anything at all (a full disk, Ctrl-C, a bug) undoes the whole write
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                if isinstance(exc, sqlite3.Error):
                    ids = ", ".join(r.id for r in records[:3])
                    raise StoreError(f"cannot write run(s) {ids} to {self.path}: {exc}") from None
                raise

    @staticmethod
    def _insert(conn: sqlite3.Connection, record: RunRecord) -> None:
        # a run recorded when it started keeps its creation time when it ends
        row = conn.execute("SELECT created FROM runs WHERE id = ?", (record.id,)).fetchone()
        if row is not None:
            record.created = row[0]
        values = (
            record.id, record.created, record.command, record.status, record.sweep_id,
            record.key_metric_name, finite_or_none(record.key_metric),
            json.dumps(jsonable(record.config)), json.dumps(jsonable(record.metrics)),
            # whole paths: a relative one would mean another file when read from another folder
            json.dumps([os.path.abspath(str(f)) for f in record.figures]), record.sgdlab_version, record.torch_version,
            record.pid, record.host, record.pid_start, record.updated,
        )
        conn.execute(
            f"INSERT OR REPLACE INTO runs ({', '.join(COLUMNS)}) VALUES ({', '.join('?' * len(COLUMNS))})",
            values,
        )
        conn.execute("DELETE FROM curves WHERE run_id = ?", (record.id,))
        conn.executemany(
            "INSERT INTO curves VALUES (?,?,?)",
            [(record.id, name, encode_curve(vals)) for name, vals in record.curves.items()],
        )

    def has_sweep(self, sweep_id: str) -> bool:
        """True when ``sweep_id`` names a sweep (or a batch-size study) of this store."""
        if not self.exists():
            return False
        with closing(self._connect(create=False)) as conn:
            return conn.execute(
                "SELECT 1 FROM sweeps WHERE id = ? UNION SELECT 1 FROM runs WHERE sweep_id = ? LIMIT 1",
                (sweep_id, sweep_id),
            ).fetchone() is not None

    def save_sweep(self, sweep_id: str, problem: str, spec: dict[str, Any]) -> None:
        with closing(self._connect()) as conn:
            conn.execute(
                "INSERT OR IGNORE INTO sweeps VALUES (?,?,?,?)",
                (sweep_id, _now(), problem, json.dumps(spec)),
            )

    # -- reading ----------------------------------------------------------------------------
    def list_runs(self, sweep_id: str | None = None, limit: int | None = None) -> list[RunRecord]:
        if not self.exists():
            return []
        query = "SELECT * FROM runs"
        args: list[Any] = []
        if sweep_id:
            query += " WHERE sweep_id = ?"
            args.append(sweep_id)
        # the newest ``limit`` runs, oldest first (SQL does the cutting: a store can grow large)
        query += " ORDER BY created DESC, rowid DESC"
        if limit:
            query += " LIMIT ?"
            args.append(int(limit))
        with closing(self._connect(create=False)) as conn:
            rows = conn.execute(query, args).fetchall()
        return readable_records(reversed(rows), self.path)  # a damaged row: skipped, named

    def get(self, run_id: str, curves: bool = True) -> RunRecord:
        """Fetch a run by id or unique id prefix."""
        with closing(self._connect(create=False)) as conn:
            return self._get(conn, run_id, curves)

    def get_many(self, run_ids: list[str], curves: bool = True) -> list[RunRecord]:
        """Fetch several runs (ids or unique prefixes) through one connection (a sweep's cells)."""
        if not run_ids:
            return []
        with closing(self._connect(create=False)) as conn:
            return [self._get(conn, run_id, curves) for run_id in run_ids]

    def _get(self, conn: sqlite3.Connection, run_id: str, curves: bool) -> RunRecord:
        if not str(run_id).strip():
            raise StoreError("the run id is empty; `sgdlab runs` lists the runs")
        # a literal prefix: substr, not LIKE, so '_' and '%' in an id are just characters
        rows = conn.execute(
            "SELECT * FROM runs WHERE substr(id, 1, length(?)) = ? ORDER BY id LIMIT 6",
            (run_id, run_id),
        ).fetchall()
        exact = [r for r in rows if r[0] == run_id]
        rows = exact or rows
        if not rows:
            raise StoreError(f"no run {run_id!r} in {self.path}; `sgdlab runs` lists the runs")
        if len(rows) > 1:
            ids = ", ".join(r[0] for r in rows[:5])
            raise StoreError(f"run id prefix {run_id!r} is ambiguous ({ids}...); give more of it")
        try:
            record = row_to_record(rows[0])
        except BadRow as exc:
            raise StoreError(f"{exc} in {self.path} is damaged; the other runs are unaffected") from None
        if curves:
            rows = conn.execute("SELECT name, data FROM curves WHERE run_id = ? ORDER BY name", (record.id,))
            record.curves = readable_curves(rows, record.id, self.path)
        return record

    def sweep(self, sweep_id: str) -> dict[str, Any] | None:
        if not self.exists():
            return None
        with closing(self._connect(create=False)) as conn:
            row = conn.execute("SELECT * FROM sweeps WHERE id = ?", (sweep_id,)).fetchone()
        if row is None:
            return None
        return {"id": row[0], "created": row[1], "problem": row[2], "spec": sweep_spec(row[3], sweep_id, self.path)}


def _migrate(conn: sqlite3.Connection) -> None:
    """Add the columns an older store lacks, once, even with several processes opening it."""
    if {m[0] for m in MIGRATIONS} <= {row[1] for row in conn.execute("PRAGMA table_info(runs)")}:
        return
    conn.execute("BEGIN IMMEDIATE")  # one process at a time; look again inside the lock
    try:
        have = {row[1] for row in conn.execute("PRAGMA table_info(runs)")}
        for name, kind in MIGRATIONS:
            if name not in have:
                conn.execute(f"ALTER TABLE runs ADD COLUMN {name} {kind}")
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise


def _now() -> str:
    """Local time to the millisecond, so runs of the same second still list in order."""
    from datetime import datetime

    return datetime.now().isoformat(timespec="milliseconds")


def _torch_version() -> str:
    import torch; return torch.__version__  # noqa: E702 (lazy: `sgdlab --help` stays fast)


def run_folder(store: Store, run_id: str, out: str | os.PathLike | None = None) -> Path:
    """Where a run's files go: ``out`` when given, else ``<store folder>/<run id>``."""
    return Path(out) if out else store.path.parent / run_id

