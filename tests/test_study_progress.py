"""`lr-find` and `noise-scale` say how long they will take when stderr is not a terminal (issue
19: runs of 25-46 s were silent in logs and pipes), with the helper every long command uses
(``cli/progress.Progress``): one line per part that will take longer than ``LONG_RUN_S``.

The clock is a fake that moves 1 s at each progress call, so the lines are exact: a part of N
units reaches ``ESTIMATE_AFTER_S`` (3 s) at its 4th call, 3 units after its first, and then has
(N - 4) seconds left."""

from __future__ import annotations

import itertools
import types

import pytest

from sgdlab.cli import progress


@pytest.fixture
def one_second_per_call(monkeypatch):
    ticks = itertools.count()
    monkeypatch.setattr(progress, "time", types.SimpleNamespace(monotonic=lambda: float(next(ticks))))


def test_lr_find_prints_its_estimate_without_a_terminal(cli, one_second_per_call):
    result = cli("lr-find", "linreg", "--num", "30", "--no-plots")
    assert result.exit_code == 0, result.stderr
    # 30 steps at 1 s: at step 4, 3 s for 3 steps, 26 left, 29 s in all (> LONG_RUN_S = 20)
    assert result.stderr.splitlines().count("lr-find: step 4 of 30; about 26 s left (Ctrl-C stops it)") == 1


def test_noise_scale_prints_an_estimate_for_each_long_part_without_a_terminal(cli, one_second_per_call,
                                                                              monkeypatch):
    monkeypatch.setattr(progress, "LONG_RUN_S", 3.5)  # the 4-cell study below takes 4 fake seconds
    result = cli("noise-scale", "--limit-train", "120", "--hidden", "8", "--train-steps", "30", "--batch-size", "20",
                 "--two-batch", "10,40", "--draws", "30", "--batch-sizes", "10,20,30,40", "--lrs", "0.1",
                 "--max-steps", "5", "--no-plots")
    assert result.exit_code == 0, result.stderr
    lines = [line for line in result.stderr.splitlines() if line.startswith("noise-scale, ")]
    assert lines == [
        "noise-scale, two-batch draws at init: draw 4 of 30; about 26 s left (Ctrl-C stops it)",
        "noise-scale, training: step 4 of 30; about 26 s left (Ctrl-C stops it)",
        "noise-scale, two-batch draws after training: draw 4 of 30; about 26 s left (Ctrl-C stops it)",
        # the study's cells arrive one stacked group (one batch size) at a time, from 0 of 4
        "noise-scale, study: cell 3 of 4; about 1 s left (Ctrl-C stops it)",
    ]


def test_a_short_part_prints_nothing(cli, one_second_per_call):
    result = cli("lr-find", "linreg", "--num", "10", "--no-plots")  # 10 fake seconds < LONG_RUN_S
    assert result.exit_code == 0 and "left (Ctrl-C stops it)" not in result.stderr


def test_noise_scale_on_a_model_file_prints_the_same_estimates(cli, one_second_per_call, tmp_path):
    """A model file's noise-scale was silent (the last note left it so); its three parts now report
    as the MLP's do."""
    import textwrap

    from test_modelfile import TANH

    path = tmp_path / "net.py"
    path.write_text(textwrap.dedent(TANH))
    result = cli("noise-scale", path, "--train-steps", "30", "--batch-size", "8", "--two-batch", "10,40",
                 "--draws", "30")
    assert result.exit_code == 0, result.stderr
    assert [line for line in result.stderr.splitlines() if line.startswith("noise-scale, ")] == [
        "noise-scale, two-batch draws at init: draw 4 of 30; about 26 s left (Ctrl-C stops it)",
        "noise-scale, training: step 4 of 30; about 26 s left (Ctrl-C stops it)",
        "noise-scale, two-batch draws after training: draw 4 of 30; about 26 s left (Ctrl-C stops it)",
    ]
