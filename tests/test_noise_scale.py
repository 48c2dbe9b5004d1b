"""`sgdlab noise-scale`: B_simple of the MLP against per-example gradients, the steps-to-target
study through the sweep machinery, and McCandlish's fit."""

from __future__ import annotations

import math

import pytest
import torch

from sgdlab.core.store import Store
from sgdlab.mnist import batch_study, datasets
from sgdlab.mnist import model as mlp
from sgdlab.mnist import run as mnist_run
from sgdlab.mnist.config import MnistConfig


@pytest.mark.numeric
def test_b_simple_at_init_equals_per_example_autograd(cli):
    doc = cli.json("noise-scale", "--limit-train", "120", "--hidden", "8", "--train-steps", "3", "--batch-size", "20",
                   "--two-batch", "10,40", "--draws", "4", "--no-plots")
    for key in ("init", "trained"):
        assert set(doc[key]) >= {"b_simple_exact", "b_simple_two_batch", "trace_sigma", "grad_norm_sq"}
    assert doc["trained"]["step"] == 3 and len(doc["train_losses"]) == 3
    # the oracle: one autograd call per image, at the initial weights
    config = MnistConfig(limit_train=120, hidden=[8])
    x, y, _, _ = mnist_run.tensors(config, datasets.load("mnist-5k"), torch.device("cpu"))
    net = mlp.build_model(784, [8], 10, torch.Generator().manual_seed(0)).double()
    grads = []
    for i in range(120):
        loss = torch.nn.functional.cross_entropy(net(x[i : i + 1].double()), y[i : i + 1])
        grads.append(torch.cat([g.reshape(-1) for g in torch.autograd.grad(loss, list(net.parameters()))]))
    grads = torch.stack(grads)
    mean = grads.mean(0)
    # ours runs in float32 (the oracle in float64): a norm of 6,370 squared float32 entries, each
    # from sums of <= 784 products: <= 784 eps32 = 4.7e-5 relative
    assert doc["init"]["grad_norm_sq"] == pytest.approx(float(mean @ mean), rel=1e-4)
    assert doc["init"]["trace_sigma"] == pytest.approx(float(((grads - mean) ** 2).sum(1).mean()), rel=1e-4)
    assert doc["init"]["b_simple_exact"] == pytest.approx(doc["init"]["trace_sigma"] / doc["init"]["grad_norm_sq"])  # one division
    assert doc["init"]["two_batch"]["gradients"] == 4 * 40
    record = Store().get(doc["run_id"])
    assert record.command == "noise-scale" and record.key_metric == pytest.approx(doc["trained"]["b_simple_exact"])  # stored as is


def test_steps_to_target_smooths_over_a_thousand_images():
    losses = [1.0] * 5 + [0.4] * 20
    assert batch_study.steps_to_target(losses, 1000, 0.5) == 5  # one step per window: no smoothing
    # batch 250: a window of 4 steps; the mean first reaches <= 0.5 at index 8, centred 1.5 back
    assert batch_study.steps_to_target(losses, 250, 0.5) == round(8 - 1.5)
    noisy = [1.0, 0.1] + [1.0] * 20  # one lucky batch does not count
    assert batch_study.steps_to_target(noisy, 100, 0.5) is None
    assert batch_study.steps_to_target([1.0, float("nan")], 1000, 0.5) is None


@pytest.mark.numeric
def test_fit_recovers_s_min_and_b_noise():
    points = [{"batch_size": b, "steps": 50 * (1 + 100 / b)} for b in (10, 30, 100, 300, 1000)]
    fit = batch_study.fit(points)
    # noise-free points of the model: a least-squares fit recovers it to rounding (cond ~ 1e3 * eps);
    # 1e-4 is the fit's own stopping tolerance
    assert fit["s_min"] == pytest.approx(50, rel=1e-4) and fit["b_crit"] == pytest.approx(100, rel=1e-4)
    assert fit["e_min"] == pytest.approx(5000, rel=1e-4)
    assert batch_study.fit(points[:2]) is None  # two points cannot check a two-parameter curve


def test_batch_size_study_runs_as_a_vectorized_sweep(cli, tmp_path):
    doc = cli.json("noise-scale", "--limit-train", "300", "--hidden", "16", "--train-steps", "2", "--two-batch", "10,50",
                   "--draws", "2", "--batch-sizes", "30,100,300", "--target", "1.9", "--lrs", "0.05,0.1",
                   "--max-steps", "60", "--max-epochs", "30", "--out", "ns")
    assert [r["batch_size"] for r in doc["study"]] == [30, 100, 300]
    assert all(r["steps"] is not None for r in doc["study"])  # every batch size reached 1.9
    store = Store()
    sweep = store.get_many([r.id for r in store.list_runs(sweep_id=doc["sweep_id"])])
    assert len(sweep) == 6 and {r.command for r in sweep} == {"mnist"}
    assert {r.metrics["sweep_cell"]["lr"] for r in sweep} == {0.05, 0.1}
    for row in doc["study"]:
        cells = [r for r in sweep if r.config["batch_size"] == row["batch_size"]]
        steps = {r.config["lr"]: batch_study.steps_to_target(r.curves["step_loss"], row["batch_size"], 1.9, 300) for r in cells}
        reached = {lr: s for lr, s in steps.items() if s is not None}
        if reached:
            assert row["steps"] == min(reached.values()) and steps[row["lr"]] == row["steps"]
            assert row["examples"] == row["steps"] * row["batch_size"]
        else:
            assert row["steps"] is None
        assert max(len(r.curves["step_loss"]) for r in cells) <= min(60, 30 * math.ceil(300 / row["batch_size"]))
    assert set(doc) >= {"init", "trained", "study", "fit"}
    points = [{"batch_size": r["batch_size"], "steps": r["steps"]} for r in doc["study"]]
    assert doc["fit"] == pytest.approx(batch_study.fit(points))  # the same function on the same numbers
    assert doc["fit"]["b_crit"] == pytest.approx(doc["fit"]["e_min"] / doc["fit"]["s_min"])
    assert (tmp_path / "ns" / "steps_vs_examples.png").stat().st_size > 1000


@pytest.mark.parametrize("args, message", [
    (["--two-batch", "100"], "--two-batch must be two sizes SMALL,BIG, got '100'"),
    (["--two-batch", "100,50"], "--two-batch must be SMALL,BIG with 1 <= SMALL < BIG and BIG a multiple of SMALL"),
    (["--two-batch", "100,150"], "--two-batch must be SMALL,BIG with 1 <= SMALL < BIG and BIG a multiple of SMALL "
                                 "(a big batch is BIG/SMALL small ones), got 100,150"),
    (["--draws", "0"], "--draws must be >= 1, got 0"),
    (["--batch-sizes", "10,5000"], "--batch-sizes: 5000 must be between 1 and the training set's 4000 images"),
    (["--batch-sizes", "10", "--target", "-1"], "--target must be a finite number > 0, got -1.0"),
    (["--target", "0.5"], "--target belongs to the study: give --batch-sizes too"),
    (["--out", "figs"], "--out is the folder for the study's figure; without --batch-sizes there is none"),
])
def test_bad_input_exit_2(cli, args, message):
    result = cli("noise-scale", *args)
    assert result.exit_code == 2 and f"error: {message}" in result.stderr and result.stdout == ""


def test_the_training_batch_default_fits_a_small_limit_train(cli):
    """Found by the fourth hostile round: `noise-scale --limit-train 9` was refused for the
    --batch-size 100 it never gave, with a hint ('or full') noise-scale does not take."""
    doc = cli.json("noise-scale", "--limit-train", "9", "--draws", "2", "--hidden", "2")
    assert doc["batch_size"] == 9 and doc["trained"]["step"] == 1
    assert (doc["init"]["two_batch"]["small"], doc["init"]["two_batch"]["big"]) == (1, 9)


def test_the_smoothing_window_is_at_most_one_pass_over_a_small_set():
    """Found by the fourth hostile round: on --limit-train 9 the loss was averaged over 112
    updates at batch 9, more than the 80-epoch cap gives: 'not reached within the caps' at
    every batch size, whatever the loss did."""
    losses = [2.0] * 3 + [0.1] * 77  # batch 9 on 9 images: one update per epoch, 80 epochs
    assert batch_study.steps_to_target(losses, 9, 0.5) is None  # window 112 > 80 updates
    assert batch_study.steps_to_target(losses, 9, 0.5, n=9) == 3  # window 1: one pass
    assert batch_study.steps_to_target(losses, 3, 0.5, n=9) == round(5 - 1)  # window 3, centred
    assert batch_study.steps_to_target(losses, 9, 0.5, n=4000) is None  # a big set: 1,000 images


def test_a_study_on_a_small_set_can_reach_its_target(cli):
    doc = cli.json("noise-scale", "--limit-train", "9", "--hidden", "4", "--batch-sizes", "1,9",
                   "--target", "1.5", "--draws", "2", "--no-plots")
    assert any(row["steps"] is not None for row in doc["study"]), doc["study"]
