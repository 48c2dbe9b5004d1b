"""The run store: what a run records, listing and showing, atomic and concurrent writes."""

from __future__ import annotations

import multiprocessing as mp
import os
import sqlite3
import subprocess
import sys

import pytest

from sgdlab.core import store as store_mod
from sgdlab.core.store import RunRecord, Store


def test_a_run_records_config_metrics_curves_figures_and_versions(cli, tmp_path):
    doc = cli.json("linreg", "--lr", "0.02", "--steps", "5")
    shown = cli.json("runs", "show", doc["run_id"])
    assert shown["command"] == "linreg" and shown["status"] == "completed"
    assert shown["config"]["lr"] == 0.02 and shown["config"]["steps"] == 5
    assert shown["metrics"]["final"]["loss"] == doc["final"]["loss"]
    assert shown["curves"]["loss"] == doc["losses"]
    assert shown["figures"] == doc["figures"]
    assert shown["sgdlab_version"] == "0.1.0" and shown["torch_version"].startswith("2.13.0")
    # a unique prefix is enough
    assert cli.json("runs", "show", doc["run_id"][:-2])["id"] == doc["run_id"]


def test_runs_lists_every_run_with_its_key_metric(cli):
    first = cli.json("linreg", "--no-plots")
    second = cli.json("linreg", "--no-plots", "--steps", "3")
    listed = cli.json("runs")["runs"]
    assert [r["id"] for r in listed] == [first["run_id"], second["run_id"]]
    assert listed[0]["key_metric_name"] == "final_loss"
    assert listed[0]["key_metric"] == pytest.approx(first["final"]["loss"])  # the same float, stored and read back
    table = cli("runs")
    assert table.exit_code == 0 and first["run_id"] in table.stdout and "linreg" in table.stdout


def test_store_flag_and_environment_variable(cli, tmp_path, monkeypatch):
    cli.json("linreg", "--no-plots", "--store", str(tmp_path / "a.db"))
    monkeypatch.setenv("SGDLAB_STORE", str(tmp_path / "b.db"))
    cli.json("linreg", "--no-plots")
    assert len(Store(tmp_path / "a.db").list_runs()) == 1
    assert len(Store(tmp_path / "b.db").list_runs()) == 1


def test_unknown_run_id_is_a_clear_error(cli):
    cli.json("linreg", "--no-plots")
    result = cli("runs", "show", "no-such-run")
    assert result.exit_code == 2
    assert result.stderr.startswith("error: no run 'no-such-run'")


def test_a_failure_mid_write_leaves_no_half_run(tmp_path, monkeypatch):
    db = Store(tmp_path / "runs.db")
    record = RunRecord(id="r1", command="test", status="completed", config={}, metrics={},
                       curves={"loss": [1.0, 2.0], "other": [3.0]})

    def broken(values):
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(store_mod, "encode_curve", broken)
    with pytest.raises(RuntimeError):
        db.save(record)
    with sqlite3.connect(tmp_path / "runs.db") as conn:
        assert conn.execute("SELECT COUNT(*) FROM runs").fetchone() == (0,)
        assert conn.execute("SELECT COUNT(*) FROM curves").fetchone() == (0,)


def test_nan_and_inf_survive_the_store(tmp_path):
    db = Store(tmp_path / "runs.db")
    db.save(RunRecord(id="r", command="t", status="diverged", config={}, metrics={"x": float("nan")},
                      curves={"loss": [1.0, float("inf"), float("nan")]}))
    got = db.get("r")
    assert got.curves["loss"][1] == float("inf") and got.curves["loss"][2] != got.curves["loss"][2]
    assert got.metrics["x"] == "NaN"


def _writer(path: str, tag: str, count: int) -> None:
    db = Store(path)
    for i in range(count):
        db.save(RunRecord(id=f"{tag}-{i}", command="test", status="completed", config={"i": i},
                          metrics={}, curves={"loss": [float(i)] * 500}))


def test_two_processes_writing_at_once_both_succeed(tmp_path):
    path = str(tmp_path / "runs.db")
    Store(path).check_writable()
    ctx = mp.get_context("spawn")
    procs = [ctx.Process(target=_writer, args=(path, tag, 40)) for tag in ("a", "b")]
    for p in procs:
        p.start()
    for p in procs:
        p.join(120)
    assert [p.exitcode for p in procs] == [0, 0]
    ids = {r.id for r in Store(path).list_runs()}
    assert ids == {f"{t}-{i}" for t in "ab" for i in range(40)}


def test_a_store_written_before_run_tracking_is_migrated_and_keeps_its_runs(tmp_path, cli):
    """An old store (no pid/host/updated columns) stays readable and writable."""
    path = tmp_path / "old.db"
    old_schema = store_mod.SCHEMA.replace(",\n    pid INTEGER,\n    host TEXT,\n    pid_start INTEGER,\n    updated TEXT", "")
    assert "pid" not in old_schema
    with sqlite3.connect(path) as conn:
        conn.executescript(old_schema)
        conn.execute("INSERT INTO runs VALUES ('old-1','2026-01-01T00:00:00.000','linreg','completed',"
                     "NULL,'final_loss',0.5,'{}','{}','[]','0.1.0','2.13.0')")
    assert [(r["id"], r["status"]) for r in cli.json("runs", "--store", path)["runs"]] == [("old-1", "completed")]
    cli.json("linreg", "--no-plots", "--store", path)
    with sqlite3.connect(path) as conn:
        columns = [row[1] for row in conn.execute("PRAGMA table_info(runs)")]
    assert columns[-4:] == ["pid", "host", "pid_start", "updated"]
    assert len(Store(path).list_runs()) == 2


def test_run_ids_are_literal_prefixes_not_patterns(tmp_path, cli):
    db = Store(tmp_path / "s.db")
    for run_id in ("2026a-1", "2026b-2"):
        db.save(RunRecord(id=run_id, command="t", status="completed", config={}, metrics={}))
    for pattern in ("2026_", "2026%", "%", "_"):
        result = cli("runs", "show", pattern, "--store", db.path)
        assert result.exit_code == 2 and result.stderr.startswith(f"error: no run {pattern!r}"), result.stderr
    assert cli.json("runs", "show", "2026a", "--store", db.path)["id"] == "2026a-1"
    result = cli("runs", "--sweep", "UNKNOWN", "--store", db.path)
    assert result.exit_code == 2 and result.stderr.startswith("error: no sweep 'UNKNOWN'")


def test_a_run_whose_process_died_shows_as_interrupted_and_another_hosts_as_unknown(tmp_path, cli):
    from sgdlab.core import liveness

    db = Store(tmp_path / "s.db")
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True).stdout.strip()
    rows = [("mine", os.getpid(), liveness.host()), ("dead", int(dead), liveness.host()),
            ("far", os.getpid(), "another-host.example")]
    for run_id, pid, host in rows:
        db.save(RunRecord(id=run_id, command="mnist", status="running", config={}, metrics={},
                          pid=pid, host=host, pid_start=liveness.start_ticks(pid)))
    shown = {r["id"]: r["status"] for r in cli.json("runs", "--store", db.path)["runs"]}
    assert shown == {"mine": "running", "dead": "interrupted", "far": "unknown"}
