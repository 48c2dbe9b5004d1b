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
