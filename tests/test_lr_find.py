"""`sgdlab lr-find`: fastai's range test (schedule, bias-corrected smoothing, stop rule, named
suggestions) beside the bound 2/lambda_max at initialisation."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import torch

from sgdlab.core import lr_range
from sgdlab.core.store import Store
from sgdlab.linreg.data import tutorial_points
from sgdlab.linreg.model import stable_lr_bound


def test_schedule_is_fastais_exponential_range():
    lrs = lr_range.schedule()
    # lr_i = start * ratio**i in float64: pow and a product, a few eps (Python floats, no kernel path)
    assert len(lrs) == 100 and lrs[0] == 1e-7 and lrs[-1] == pytest.approx(10.0, rel=1e-12)
    ratios = {round(b / a, 12) for a, b in zip(lrs, lrs[1:])}
    assert len(ratios) == 1 and ratios.pop() == pytest.approx(1e8 ** (1 / 99))


@pytest.mark.numeric
def test_smoothing_is_bias_corrected_and_the_test_stops_at_four_times_the_best():
    losses = iter([5.0, 4.0, 3.0, 2.0, 50.0, 500.0, 5000.0, 1e5])
    result = lr_range.range_test(lambda lr: next(losses), lr_range.schedule(1e-3, 1, 8))
    average = 0.0
    for i, (loss, smoothed) in enumerate(zip(result["losses"], result["smoothed"])):
        average = 0.98 * average + 0.02 * loss
        assert smoothed == pytest.approx(average / (1 - 0.98 ** (i + 1)), rel=1e-12)  # the same recurrence in Python floats: a few eps
    assert result["smoothed"][0] == 5.0  # no pull towards zero at the start
    best = min(result["smoothed"][:-1])
    assert result["smoothed"][-1] > 4 * best and all(v <= 4 * best for v in result["smoothed"][:-1])
    assert result["stop_lr"] == result["lrs"][-1] and len(result["lrs"]) < 8
    assert result["blowup_lr"] == result["lrs"][4]  # 50 > 5: back above the first loss
    nan = iter([1.0, float("nan")])
    assert lr_range.range_test(lambda lr: next(nan), [0.1, 0.2, 0.3])["stop_lr"] == 0.2



def test_the_blowup_is_read_past_the_minimum_against_the_median_start():
    lrs = lr_range.schedule(1e-7, 10, 40)  # num // 10 = 4 draws of the initial loss
    # a lucky first batch (3.3 against a typical 6), noise above it long before anything is learned,
    # a fall, then the blow-up at index 34 (the first loss past the smoothed minimum above 5.95)
    losses = [3.3, 6.0, 6.4, 5.9] + [6.5, 5.8] * 10 + [4.0, 2.0, 1.0, 0.5, 0.3, 0.25, 0.2, 0.1, 0.2, 0.4,
                                                       6.3, 9.0, 40.0, 900.0, float("nan"), 1e9]
    steps = iter(losses)
    result = lr_range.range_test(lambda lr: next(steps), lrs)
    # the start level is the median of the first four (5.95), not the lucky 3.3: the old rule
    # (the first loss past the smoothed minimum over every point above the first loss) said lrs[1]
    assert result["blowup_lr"] == lrs[34]
    smoothed = result["smoothed"]
    assert lr_range.blowup_lr(lrs, losses[:30], smoothed[:30]) is None  # it ends below the start
    assert lr_range.blowup_lr(lrs, [float("nan")] * 3, [float("nan")] * 3) == lrs[0]  # never finite


def _fastai(lrs, losses, num_it):
    """fastai's Learner.lr_find suggestions (fastai/callback/schedule.py), as written there, in
    float64 (fastai's ``tensor`` of Python floats is float32: the rule is compared, not rounding)."""
    f64 = torch.float64
    lrs, losses = torch.tensor(lrs[num_it // 10:-5], dtype=f64), torch.tensor(losses[num_it // 10:-5], dtype=f64)
    nan_idxs = torch.nonzero(torch.isnan(losses.view(-1)))
    if len(nan_idxs) > 0:
        drop_idx = min(nan_idxs)
        lrs, losses = lrs[:drop_idx], losses[:drop_idx]
    minimum = lrs[losses.argmin()].item() / 10
    grads = (losses[1:] - losses[:-1]) / (lrs[1:].log() - lrs[:-1].log())
    return minimum, lrs[grads.argmin()].item()


def _lightning(lrs, losses, skip_begin=10, skip_end=1):
    """Lightning's _LRFinder.suggestion (lightning/pytorch/tuner/lr_finder.py), as written there
    (in float64, as above)."""
    l = torch.tensor(losses[skip_begin:-skip_end], dtype=torch.float64)  # noqa: E741
    x = torch.tensor(lrs[skip_begin:-skip_end], dtype=torch.float64)
    finite = torch.isfinite(l)
    l, x = l[finite], x[finite]
    gradients = torch.gradient(l, spacing=[x])[0]
    min_grad = torch.argmin(gradients).item()
    idx = torch.arange(len(losses))[skip_begin:-skip_end][finite]
    return lrs[idx[min_grad].item()]


CURVES = {  # smoothed range-test curves: a valley, a noisy one, one that ends in NaN
    "valley": [3.0 - 2.5 / (1 + math.exp(-(i - 40) / 6)) + 0.002 * max(0, i - 70) ** 2 for i in range(96)],
    "noisy": [2.0 + 0.3 * math.sin(i * 1.7) * math.exp(-i / 30) - 0.015 * i + 0.0004 * max(0, i - 60) ** 3
              for i in range(100)],
    "nan": [5.0 - 0.04 * i for i in range(60)] + [float("inf"), float("nan")],
}


@pytest.mark.numeric
@pytest.mark.parametrize("name", list(CURVES))
def test_suggestions_are_fastais_and_lightnings_rules(name):
    smoothed = CURVES[name]
    lrs = lr_range.schedule()[: len(smoothed)]
    rules = lr_range.suggestions(lrs, smoothed, 100)
    minimum, steep = _fastai(lrs, smoothed, 100)
    # the same float64 operations on the same points: equal up to log's last bit (1 ulp)
    assert rules["minimum/10"] == pytest.approx(minimum, rel=1e-15)
    assert rules["steep"] == steep and rules["lightning"] == _lightning(lrs, smoothed)  # a chosen lr: exact


@pytest.mark.numeric
def test_too_short_curves_have_no_suggestion():
    lrs = lr_range.schedule(1e-4, 1, 13)
    assert lr_range.suggestions(lrs, [1.0] * 13, 13)["lightning"] is not None  # [10:-1]: two points
    assert lr_range.suggestions(lrs[:12], [1.0] * 12, 12)["lightning"] is None  # one point
    assert lr_range.suggestions(lrs[:11], [1.0] * 11, 100) == {"minimum/10": None, "steep": None, "lightning": None}


@pytest.mark.numeric
def test_linreg_range_test_beside_the_closed_form_bound(cli, tmp_path):
    doc = cli.json("lr-find", "linreg", "--out", "lf")
    assert set(doc) >= {"lrs", "losses", "smoothed", "stop_lr", "bound", "suggestion", "figures"}
    assert doc["bound"] == pytest.approx(stable_lr_bound(tutorial_points().x), rel=1e-12)  # 0.0231, the same float64 formula
    assert doc["losses"][0] == pytest.approx(10.2335, abs=1e-4)  # the tutorial's initial loss, printed to 4 decimals
    assert doc["lrs"] == lr_range.schedule()[: len(doc["lrs"])]
    # full-batch gradient descent blows up only above its bound, never below it
    assert doc["blowup_lr"] > doc["bound"] and doc["stop_lr"] > doc["bound"]
    # fastai's rule (first 10 and last 5 points dropped): 0.00792; dropping only the last gave 0.01385
    assert doc["suggestions"]["minimum/10"] == pytest.approx(0.00792, rel=1e-3)
    assert doc["blowup_over_bound"] == pytest.approx(doc["blowup_lr"] / doc["bound"])
    assert doc["suggestion_rule"] == "minimum/10"
    assert doc["suggestion"] == doc["suggestions"]["minimum/10"]
    assert isinstance(doc["suggestion"], float)
    assert (tmp_path / "lf" / "lr_find.png").stat().st_size > 1000
    record = Store().get(doc["run_id"])
    assert record.command == "lr-find" and record.curves["smoothed"] == doc["smoothed"]
    text = cli("lr-find", "linreg", "--no-plots").stdout
    assert "largest stable learning rate at initialisation (full batch, 2 / lambda_max): 0.02315" in text
    assert "rule minimum/10: " in text and "(the suggestion)" in text


@pytest.mark.numeric
def test_mnist_range_test_bound_is_the_runs_bound(cli):
    args = ["--limit-train", "200", "--hidden", "16", "--sharpness-subset", "100"]
    doc = cli.json("lr-find", "mnist", *args, "--num", "40", "--no-plots")
    run = cli.json("mnist", *args, "--limit-test", "20", "--no-plots")
    assert doc["bound"] == pytest.approx(run["lr_bound"], rel=1e-9)  # the same Lanczos on the same weights and images: bit-identical on one path
    assert len(doc["lrs"]) <= 40 and doc["batch_size"] == 100
    assert math.isclose(doc["losses"][0], run["step_losses"][0], rel_tol=1e-6)  # same weights, same first batch, same kernels: ~eps32


def test_bad_input_and_problems_without_a_hook(cli):
    result = cli("lr-find", "linreg", "--start", "1", "--end", "0.1", "--num", "1", "--beta", "1")
    assert result.exit_code == 2 and result.stdout == ""
    assert result.stderr.splitlines() == ["error: --start and --end must satisfy 0 < start < end, got 1, 0.1",
                                          "error: --num must be >= 2, got 1", "error: --beta must be in [0, 1), got 1"]
    result = cli("lr-find", "mnist", "--batch-size", "10,20")
    assert result.exit_code == 2 and "--batch-size takes one value here" in result.stderr
    from sgdlab import ConfigError, SurfaceConfig
    from sgdlab.lrfind import run

    with pytest.raises(ConfigError, match="lr-find does not know the problem 'surface'; it knows: linreg, mnist"):
        run(SurfaceConfig(), record=False)
    assert not Path("sgdlab-runs").exists()


FLAT = '''
import torch

def data():
    x = torch.randn(20, 3, generator=torch.Generator().manual_seed(0))
    return {"train": (x, x.sum(1, keepdim=True))}

def model():
    return torch.nn.Linear(3, 1)

def loss(output, target):
    return LOSS
'''


@pytest.mark.parametrize("loss", ["0.0 * output.sum() + 1.0",  # the parameters do not reach it
                                  "1e-30 * ((output - target) ** 2).mean() + 1.0"])  # below float32's step at 1
def test_a_loss_that_never_moves_suggests_no_lr(cli, tmp_path, loss):
    """Found by the fourth hostile round: on a constant loss every rule still named an lr
    (minimum/10 4.1e-07, steep 1.4e-06): the first point of a flat line."""
    path = tmp_path / "flat.py"
    path.write_text(FLAT.replace("LOSS", loss))
    doc = cli.json("lr-find", path, "--batch-size", "full", "--no-plots", "--store", tmp_path / "runs.db")
    assert doc["losses"] == [1.0] * 100
    assert doc["suggestion"] is None and set(doc["suggestions"].values()) == {None}
    assert doc["notes"] == ["the loss was 1 at every one of the 100 steps: no update moved it (a loss "
                            "the parameters do not reach, or lrs too small to change it), so no rule "
                            "suggests an lr"]
    assert lr_range.flat([1.0, 1.0]) and not lr_range.flat([1.0, 1.0 + 2 ** -23]) and not lr_range.flat([math.nan] * 2)
