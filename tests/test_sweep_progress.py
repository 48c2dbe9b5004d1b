"""A sweep's progress: every executor reports cells done / total, and the command line draws a
Rich bar on stderr only when stderr is a terminal and --json is off."""

from __future__ import annotations

import os
import pty
import re
import subprocess
import sys

import pytest

from conftest import ROOT
from sgdlab.core.store import Store
from sgdlab.sweep import SweepSpec, run_sweep

AXES = {"lr": [0.005, 0.01, 0.02], "batch_size": [5, 15], "seed": [1]}


@pytest.mark.parametrize("executor", ["serial", "vectorized", "process"])
def test_every_executor_reports_cells_done_out_of_the_grid(executor, tmp_path):
    calls = []
    spec = SweepSpec("linreg", dict(AXES), base={"steps": 10}, executor=executor, workers=2)
    doc = run_sweep(spec, store=Store(tmp_path / "runs.db"), progress=lambda d, t: calls.append((d, t)))
    assert doc["executor"] == executor and doc["cells_finished"] == 6
    assert calls[0] == (0, 6) and calls[-1] == (6, 6)
    done = [d for d, _ in calls]
    assert done == sorted(done) and {t for _, t in calls} == {6}
    if executor == "vectorized":  # one report per stacked group (batch size 5, then 15)
        assert calls == [(0, 6), (3, 6), (6, 6)]
    else:
        assert calls == [(i, 6) for i in range(7)]


def test_a_resumed_sweep_starts_from_the_cells_it_kept(tmp_path):
    import sqlite3

    store = Store(tmp_path / "runs.db")
    doc = run_sweep(SweepSpec("linreg", dict(AXES), base={"steps": 10}, executor="serial"), store=store)
    with sqlite3.connect(store.path) as conn:
        conn.execute("DELETE FROM runs WHERE id = ?", (doc["cells"][0]["run_id"],))
    calls = []
    run_sweep(resume=doc["sweep_id"], store=store, progress=lambda d, t: calls.append((d, t)))
    assert calls == [(5, 6), (6, 6)]


def run_on_a_terminal(*args: str) -> tuple[int, str]:
    """Run ``sgdlab ARGS`` with stderr on a pseudo-terminal; (exit code, what the terminal got)."""
    leader, follower = pty.openpty()
    env = dict(os.environ, PYTHONPATH=str(ROOT / "src"), COLUMNS="100")
    proc = subprocess.Popen([sys.executable, "-m", "sgdlab", *args], stdout=subprocess.DEVNULL,
                            stderr=follower, env=env)
    os.close(follower)
    chunks = []
    while True:
        try:
            chunk = os.read(leader, 4096)
        except OSError:  # the other end closed: the process is done
            break
        if not chunk:
            break
        chunks.append(chunk)
    os.close(leader)
    return proc.wait(timeout=300), b"".join(chunks).decode(errors="replace")


def test_the_bar_is_drawn_on_a_terminal_and_never_under_json():
    args = ["sweep", "linreg", "--lr", "0.005,0.01", "--batch-size", "5,15", "--steps", "10",
            "--executor", "serial", "--no-plots"]
    code, shown = run_on_a_terminal(*args)
    assert code == 0
    plain = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", shown)  # without the terminal's colour codes
    assert re.search(r"cells .* 4/4 elapsed 0:00:\d\d left", plain), plain
    code, shown = run_on_a_terminal(*args, "--json")
    assert code == 0 and "cells" not in shown and "4/4" not in shown
