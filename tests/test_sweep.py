"""Sweeps: the grid, the executors agree, divergence is a result, resume, tables, bad input."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import pytest

from conftest import ROOT
from sgdlab.core.store import Store

GRID = ["--lr", "0.005,0.02,0.05", "--batch-size", "5,15", "--seeds", "2", "--steps", "20",
        "--dtype", "float64", "--no-plots"]


def by_cell(doc):
    return {(c["lr"], c["batch_size"], c["seed"]): c for c in doc["cells"]}


def test_serial_sweep_records_every_cell_as_an_ordinary_run(cli):
    doc = cli.json("sweep", "linreg", *GRID, "--executor", "serial", "--target", "0.3")
    assert doc["status"] == "completed" and doc["cells_total"] == 12
    assert len(doc["cells"]) == 12
    assert {c["optimizer"] for c in doc["cells"]} == {"sgd"}
    for cell in doc["cells"]:
        assert set(cell) >= {"lr", "batch_size", "optimizer", "seed", "status", "final_loss",
                             "best_loss", "seconds", "run_id"}
    statuses = {(c["lr"], c["batch_size"]): c["status"] for c in doc["cells"]}
    assert statuses[(0.05, 15)] == "diverged"  # above 2/lambda_max = 0.0231: recorded, sweep goes on
    assert statuses[(0.005, 15)] == "completed"
    diverged = [c for c in doc["cells"] if c["status"] == "diverged"]
    assert all(c["diverged_step"] >= 1 for c in diverged)
    # the best cell is a finished one, and its mean really is the lowest
    finished = [g for g in doc["groups"] if g["diverged"] == 0]
    assert doc["best"]["final_loss_mean"] == min(g["final_loss_mean"] for g in finished)
    assert all(g["seeds"] == 2 for g in doc["groups"])
    # each cell is an ordinary run, listed under the sweep
    listed = cli.json("runs", "--sweep", doc["sweep_id"])["runs"]
    assert sorted(r["id"] for r in listed) == sorted(c["run_id"] for c in doc["cells"])
    one = cli.json("runs", "show", doc["cells"][0]["run_id"])
    assert one["command"] == "linreg" and one["sweep_id"] == doc["sweep_id"]


def test_a_cell_equals_the_same_run_made_alone(cli):
    doc = cli.json("sweep", "linreg", "--lr", "0.01", "--seeds", "1", "--executor", "serial", "--no-plots")
    alone = cli.json("linreg", "--no-plots")
    assert doc["cells"][0]["final_loss"] == alone["final"]["loss"]


def test_process_executor_gives_the_serial_results(cli):
    serial = cli.json("sweep", "linreg", *GRID, "--executor", "serial")
    process = cli.json("sweep", "linreg", *GRID, "--executor", "process", "--workers", "2")
    assert process["executor"] == "process"
    a, b = by_cell(serial), by_cell(process)
    assert a.keys() == b.keys()
    for key in a:
        assert a[key]["status"] == b[key]["status"]
        assert a[key]["final_loss"] == b[key]["final_loss"]  # the same code in another process


def test_figures_are_written(cli, tmp_path):
    doc = cli.json("sweep", "linreg", "--lr", "0.01,0.03", "--batch-size", "5,15", "--steps", "10",
                   "--executor", "serial", "--out", "figs")
    names = sorted(os.path.basename(p) for p in doc["figures"])
    assert names == ["curves_by_batch_size.png", "curves_by_lr.png", "final_loss_heatmap.png",
                     "loss_vs_samples.png", "loss_vs_time.png"]
    for path in doc["figures"]:
        assert (tmp_path / "figs" / os.path.basename(path)).stat().st_size > 1000


def test_resume_finishes_without_redoing_cells(cli):
    doc = cli.json("sweep", "linreg", *GRID, "--executor", "serial")
    store = Store()
    # forget three cells, as if Ctrl-C had stopped the sweep before them
    forgotten = [c["run_id"] for c in doc["cells"][:3]]
    import sqlite3

    with sqlite3.connect(store.path) as conn:
        conn.executemany("DELETE FROM runs WHERE id = ?", [(r,) for r in forgotten])
    resumed = cli.json("sweep", "--resume", doc["sweep_id"], "--no-plots")
    assert resumed["cells_run_now"] == 3 and resumed["cells_finished"] == 12
    kept = {c["run_id"] for c in doc["cells"][3:]}
    assert kept <= {c["run_id"] for c in resumed["cells"]}
    a, b = by_cell(doc), by_cell(resumed)
    assert {k: v["final_loss"] for k, v in a.items()} == {k: v["final_loss"] for k, v in b.items()}


def test_ctrl_c_keeps_finished_cells_and_resume_completes(tmp_path):
    env = dict(os.environ, PYTHONPATH=str(ROOT / "src"), SGDLAB_STORE=str(tmp_path / "runs.db"))
    cmd = [sys.executable, "-m", "sgdlab", "sweep", "linreg", "--lr", ",".join(f"0.00{i}" for i in range(1, 10)),
           "--batch-size", "1", "--epochs", "40", "--seeds", "3", "--executor", "serial", "--no-plots", "--json"]
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    store = Store(tmp_path / "runs.db")
    deadline = time.time() + 120
    while time.time() < deadline:
        time.sleep(0.3)
        if store.path.exists() and len(store.list_runs()) >= 2:
            break
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err
    doc = json.loads(out)
    assert doc["status"] == "interrupted" and 2 <= doc["cells_finished"] < 27
    assert f"--resume {doc['sweep_id']}" in err
    done = len(store.list_runs(sweep_id=doc["sweep_id"]))
    assert done == doc["cells_finished"]


@pytest.mark.parametrize(
    "args,expected",
    [
        (["--lr", "0.1,,0.2"], "--lr: empty value in '0.1,,0.2'"),
        (["--lr", "0.1,0.1"], "--lr: duplicate value(s) 0.1"),
        (["--batch-size", "5,x"], "--batch-size: 'x' is not a whole number; give whole numbers, comma separated"),
        (["--executor", "warp"], "unknown executor 'warp'; choose one of: auto, serial, process, vectorized"),
        (["--lr", ",".join(str(0.001 * i) for i in range(1, 102)), "--momentum",
          ",".join(str(0.001 * i) for i in range(1, 101))], "pass --yes"),
        (["--lr", "-1"], "--lr must be a finite number > 0, got -1.0"),
        (["--optimizer", "sgd,nope"], "unknown optimizer 'nope'"),
    ],
)
def test_bad_sweep_input(cli, args, expected):
    result = cli("sweep", "linreg", *args)
    assert result.exit_code == 2, result.stdout
    assert any(expected in line for line in result.stderr.splitlines()), result.stderr
    assert cli.json("runs")["runs"] == []


def test_resume_of_an_unknown_sweep(cli):
    result = cli("sweep", "--resume", "s-nope")
    assert result.exit_code == 2
    assert "no sweep 's-nope'" in result.stderr


def test_unknown_problem(cli):
    result = cli("sweep", "kmeans", "--lr", "0.1")
    assert result.exit_code == 2 and "unknown problem 'kmeans'" in result.stderr


@pytest.mark.numeric
def test_torch_optimizers_run_one_by_one_under_the_vectorized_executor(cli):
    doc = cli.json("sweep", "linreg", "--optimizer", "sgd,torch-sgd", "--lr", "0.01,0.02",
                   "--dtype", "float64", "--executor", "vectorized", "--no-plots")
    finals = {(c["optimizer"], c["lr"]): c["final_loss"] for c in doc["cells"]}
    assert len(finals) == 4 and doc["status"] == "completed"
    for lr in (0.01, 0.02):  # torch.optim.SGD (run alone) and the stacked hand-written rule agree
        # float64 linreg, bmm against mm: each step's dot products of <= 15 terms round differently
        # (<= 15 eps), a contracting GD (lr < 2/lambda) damps them: <= steps * 15 * eps = 1e-13
        assert finals[("torch-sgd", lr)] == pytest.approx(finals[("sgd", lr)], rel=1e-12)


@pytest.mark.parametrize("plots", [False, True])
def test_a_base_that_names_what_the_sweep_fixes_is_not_an_error(plots):
    """From Python, base={"plots": ...} beside the sweep's own plots=False for each cell raised
    TypeError ("multiple values for keyword argument 'plots'"); the sweep's setting wins."""
    from sgdlab.sweep import SweepSpec, run_sweep

    doc = run_sweep(SweepSpec("linreg", {"lr": [0.01]}, base={"plots": plots, "steps": 3}))
    assert doc["status"] == "completed" and doc["cells_finished"] == 1
    (record,) = Store().list_runs(sweep_id=doc["sweep_id"])
    assert record.config["plots"] is False and record.figures == []
