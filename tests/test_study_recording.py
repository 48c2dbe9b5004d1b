"""Studies are runs (issue 19): each is recorded when it starts and updated as it goes, so a study
stopped part-way shows `interrupted` with what it had measured. Before, lr-find, noise-scale and
sharpness wrote their rows only at the very end: a kill at 25 s of a 25.5 s study left nothing.

The interruption is a KeyboardInterrupt raised from inside the work (what Ctrl-C does); a SIGKILL
leaves the same row as `running` with a dead process, which `runs` shows as `interrupted`.
"""

from __future__ import annotations

import pytest

from sgdlab.core import lr_range, study
from sgdlab.core.store import Store


def _only_run(command: str):
    (record,) = [r for r in Store().list_runs() if r.command == command]
    return Store().get(record.id)


def test_lr_find_is_recorded_at_start_and_keeps_its_curve_when_stopped(cli, monkeypatch):
    monkeypatch.setattr(study, "EVERY_S", 0.0)  # save after every point: the test sees each
    real = lr_range.range_test
    seen_while_running = []

    def stopped_after_7(step, lrs, *args):
        def counting(lr):
            loss = step(lr)
            seen_while_running.append(_only_run("lr-find").state)
            if len(seen_while_running) == 7:
                raise KeyboardInterrupt
            return loss

        return real(counting, lrs, *args)

    monkeypatch.setattr(lr_range, "range_test", stopped_after_7)
    assert cli("lr-find", "linreg", "--no-plots").exit_code == 130  # the CLI's exit on Ctrl-C
    assert seen_while_running == ["running"] * 7
    record = _only_run("lr-find")
    assert record.state == "interrupted" and len(record.curves["lr"]) == 7 and len(record.curves["loss"]) == 7
    assert record.curves["lr"] == lr_range.schedule()[:7]
    listing = cli("runs").stdout  # a study has no checkpoint: `runs` does not offer `resume`
    assert "interrupted lr-find: kept what it had measured" in listing and "sgdlab resume" not in listing


def test_noise_scale_keeps_its_measurement_at_init_when_stopped(cli, monkeypatch):
    from sgdlab.core import loop

    def stopped(*args, **kwargs):
        assert _only_run("noise-scale").state == "running"  # recorded before the training
        raise KeyboardInterrupt

    monkeypatch.setattr(loop, "run", stopped)
    result = cli("noise-scale", "--limit-train", "120", "--hidden", "8", "--train-steps", "3", "--batch-size", "20",
                 "--two-batch", "10,40", "--draws", "4", "--no-plots")
    assert result.exit_code == 130, result.stderr
    record = _only_run("noise-scale")
    assert record.state == "interrupted"
    assert record.metrics["init"]["b_simple_exact"] > 0 and "trained" not in record.metrics


def test_a_sharpness_study_keeps_its_finished_lrs_when_stopped(cli):
    from sgdlab.mnist import sharpness
    from sgdlab.mnist.config import MnistConfig

    def stop_in_the_second(lr, step, steps):
        if lr == 0.5 and step == 2:
            raise KeyboardInterrupt

    config = MnistConfig(limit_train=60, hidden=[4], plots=False)
    with pytest.raises(KeyboardInterrupt):
        sharpness.run_study(config, [0.1, 0.5], steps=4, every=2, on_progress=stop_in_the_second)
    records = Store().list_runs()
    assert [(r.config["lr"], r.state) for r in records] == [(0.1, "completed"), (0.5, "interrupted")]
    assert len({r.sweep_id for r in records}) == 1 and Store().sweep(records[0].sweep_id) is not None
    assert len(Store().get(records[1].id).curves["loss"]) >= 1  # the losses it had


def test_a_killed_batch_size_study_shows_interrupted_naming_its_grid_which_resume_refuses(cli, tmp_path):
    """SIGKILL of a real `noise-scale --batch-sizes` process once its first stacked group (batch
    1000) is stored, while the second (batch 1: 30,000 steps) runs. Before, the study's row did not
    name its sweep, and `sweep --resume` on that sweep ran the rest of the grid as if it were a
    sweep of its own (no measurement, no fit: another and longer computation)."""
    import json
    import os
    import signal
    import subprocess
    import sys
    import time

    from conftest import ROOT

    env = dict(os.environ, PYTHONPATH=str(ROOT / "src"))
    args = ["noise-scale", "--limit-train", "1000", "--hidden", "8", "--train-steps", "2", "--two-batch", "10,50",
            "--draws", "2", "--batch-sizes", "1000,1", "--lrs", "0.05,0.1", "--max-epochs", "30",
            "--max-steps", "100000", "--no-plots"]
    with open(tmp_path / "study.log", "w") as log:
        process = subprocess.Popen([sys.executable, "-m", "sgdlab", *args], stdout=log, stderr=log, env=env)
    try:
        deadline = time.monotonic() + 180  # the first group takes ~8 s on a quiet 2-core machine
        cells = []
        while not cells and process.poll() is None and time.monotonic() < deadline:
            time.sleep(0.2)
            cells = [r for r in Store().list_runs() if r.command == "mnist"] if Store().exists() else []
        assert cells and process.poll() is None, (process.poll(), (tmp_path / "study.log").read_text()[-2000:])
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=30)

    listed = json.loads(cli("runs", "--json").stdout)["runs"]
    (study_row,) = [r for r in listed if r["command"] == "noise-scale"]
    assert study_row["status"] == "interrupted"
    assert study_row["key_metric_name"] == "b_simple_trained"  # what it measured, in the list
    record = Store().get(study_row["id"])
    sweep_id = record.metrics["sweep_id"]  # named from the start: the cells it had are found
    assert record.metrics["init"]["b_simple_exact"] > 0 and record.metrics["trained"]["step"] == 2
    assert study_row["key_metric"] == record.metrics["trained"]["b_simple_exact"]  # exact: a double round-trips SQLite REAL and JSON
    assert {r.id for r in Store().list_runs(sweep_id=sweep_id)} >= {c.id for c in cells}
    assert record.metrics.get("study_cells", {"finished": 0})["finished"] <= 4  # 2 batch sizes x 2 lrs
    resumed = cli("sweep", "mnist", "--resume", sweep_id)
    assert resumed.exit_code == 2
    assert resumed.stderr.splitlines() == [
        f"error: {sweep_id} is the grid of the noise-scale study {record.id} (`sgdlab runs show {record.id}`): "
        "`sweep --resume` finishes sweeps made by `sgdlab sweep` only; run `sgdlab noise-scale` again to redo it"]
    assert len(Store().list_runs(sweep_id=sweep_id)) == len(cells)  # nothing ran


def test_ctrl_c_in_the_batch_size_study_leaves_it_interrupted_without_a_fit_of_part_of_the_grid(cli, monkeypatch):
    """Ctrl-C while the study's sweep runs: the sweep keeps its finished group, the study's row is
    `interrupted` (exit 130). Before, the sweep swallowed the Ctrl-C, and the study fitted the part
    it had and recorded itself `completed`."""
    from sgdlab.sweep import executors

    real = executors.EXECUTORS["vectorized"]

    def stopped_after_one_group(plan):
        for n, records in enumerate(real(plan)):
            if n == 1:
                raise KeyboardInterrupt
            yield records

    monkeypatch.setitem(executors.EXECUTORS, "vectorized", stopped_after_one_group)
    result = cli("noise-scale", "--limit-train", "120", "--hidden", "8", "--train-steps", "3", "--batch-size", "20",
                 "--two-batch", "10,40", "--draws", "4", "--batch-sizes", "10,20,30", "--lrs", "0.1",
                 "--max-steps", "5", "--no-plots")
    assert result.exit_code == 130, result.stderr
    record = _only_run("noise-scale")
    assert record.state == "interrupted" and "fit" not in record.metrics and "study" not in record.metrics
    assert record.metrics["study_cells"] == {"finished": 1, "total": 3}
    assert [r.config["batch_size"] for r in Store().list_runs(sweep_id=record.metrics["sweep_id"])] == [10]
