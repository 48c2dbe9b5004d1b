"""linreg and logreg report each run's own update rule's stable learning rate (issue 20):
``lr_bound`` is ``optim.bounds.lr_bound`` of the optimizer on lambda_max of the loss Hessian,
null with the reason for adaptive rules. The oracles: lambda_max from a dense autograd Hessian
(float64 eigvalsh), and for linear regression, whose Hessian is constant, the run itself:
converged just below the bound, diverged just above it."""

from __future__ import annotations

import functools

import pytest
import torch

from sgdlab import train
from sgdlab.core.store import Store
from sgdlab.linreg.config import LinRegConfig
from sgdlab.linreg.data import tutorial_points
from sgdlab.optim import bounds
from sgdlab.optim.spec import OptimizerSpec

# the tutorial's 15 points: H = 2/n [X 1]^T [X 1], eigenvalues 0.2568 and 86.396
HEAVY = {"momentum": 0.9}
NESTEROV = {"momentum": 0.9, "nesterov": True}


def _dense_lambda_max(loss, theta: torch.Tensor) -> float:
    """lambda_max of the autograd Hessian of ``loss`` at ``theta`` (float64 eigvalsh): computed
    without the code under test (which builds X^T X / n and its eigvalsh in numpy)."""
    return torch.linalg.eigvalsh(torch.autograd.functional.hessian(loss, theta))[-1].item()


@functools.lru_cache(maxsize=1)
def _linreg_lambda_max() -> float:
    x = torch.tensor(tutorial_points().x, dtype=torch.float64)
    y = torch.tensor(tutorial_points().y, dtype=torch.float64)
    return _dense_lambda_max(lambda t: ((x @ t[:-1] + t[-1] - y) ** 2).mean(), torch.zeros(2, dtype=torch.float64))


def _linreg(lr: float, hp: dict, steps: int = 1000) -> dict:
    return train(LinRegConfig(lr=lr, steps=steps, dtype="float64", plots=False,
                              optimizer=OptimizerSpec(name="sgd", **hp)), record=False)


@pytest.mark.parametrize("hp, factor", [({}, 2.0), (HEAVY, 3.8), (NESTEROV, 3.8 / 2.8),
                                        ({"momentum": 0.5, "nesterov": True}, 1.5)])
def test_linreg_bound_is_the_rules_own_on_an_independent_lambda_max(hp, factor):
    lam = _linreg_lambda_max()
    doc = _linreg(0.01, hp, steps=2)
    # float64 sums of 15 terms then a 2 x 2 eigvalsh, two ways: a few eps apart, far below 1e-12
    assert doc["lambda_max"] == pytest.approx(lam, rel=1e-12) and doc["lambda_max_kind"] == "exact"
    oracle = bounds.lr_bound("sgd", hp, lam)
    assert doc["lr_bound"] == pytest.approx(oracle["lr_bound"], rel=1e-12)  # one division more
    assert doc["lr_bound"] == pytest.approx(factor / lam, rel=1e-12)  # 2, 2(1+b), 2(1+b)/(1+2b)
    assert doc["lr_bound_rule"] == oracle["lr_bound_rule"]


@pytest.mark.numeric
@pytest.mark.parametrize("hp", [HEAVY, NESTEROV], ids=["heavy-ball", "nesterov"])
def test_momentum_converges_just_below_its_bound_and_diverges_just_above(hp):
    bound = _linreg(0.01, hp, steps=2)["lr_bound"]
    below, above = _linreg(0.98 * bound, hp), _linreg(1.02 * bound, hp)
    # below: every eigen-direction contracts by a spectral radius <= 0.97 per step (the roots of
    # the 2 x 2 iteration matrix), 0.97^1000 < 1e-13, so only float64 rounding of the loss is left
    assert below["status"] == "completed" and below["gap_to_optimum"] < 1e-9
    # above: a root of modulus > 1.05 along the top eigenvector: past 1e10 x the first loss
    # within a few hundred steps
    assert above["status"] == "diverged" and above["steps"] < 1000
    assert above["divergence"]["lr_bound"] == bound
    assert above["divergence"]["lr_over_bound"] == pytest.approx(1.02, rel=1e-12)  # 1.02 * b / b
    assert f"1.02x the largest stable learning rate of this update rule on this problem, {bound:.6g}" in \
        above["divergence"]["message"]


@pytest.mark.numeric
def test_heavy_ball_converges_where_plain_gradient_descents_bound_said_it_would_not():
    """lr = 1.5 x 2/lambda_max: plain SGD diverges (|1 - 3| = 2 per step along the top
    eigenvector), heavy-ball momentum 0.9 converges (its bound is 3.8/lambda_max)."""
    lam = _linreg_lambda_max()
    lr = 1.5 * 2 / lam
    plain, heavy = _linreg(lr, {}), _linreg(lr, HEAVY)
    # lr and the bound each a few float64 roundings from 1.5 x 2/lam and 2/lam: a few eps
    assert plain["status"] == "diverged" and plain["divergence"]["lr_over_bound"] == pytest.approx(1.5, rel=1e-12)
    assert heavy["status"] == "completed" and heavy["gap_to_optimum"] < 1e-9  # radius sqrt(0.9)^1000
    assert heavy["lr_bound"] * lam == pytest.approx(3.8, rel=1e-12) and lr / heavy["lr_bound"] < 1  # as above


def test_weight_decay_adds_to_the_curvature():
    lam = _linreg_lambda_max()
    doc = _linreg(0.01, {"weight_decay": 0.5}, steps=2)
    assert doc["lr_bound"] == pytest.approx(2 / (lam + 0.5), rel=1e-12)  # SGD's decay: H + 0.5 I
    below = _linreg(0.98 * doc["lr_bound"], {"weight_decay": 0.5}, steps=300)
    above = _linreg(1.02 * doc["lr_bound"], {"weight_decay": 0.5}, steps=3000)
    assert below["status"] == "completed" and above["status"] == "diverged"


@pytest.mark.parametrize("name", ["adam", "rmsprop", "adagrad"])
def test_adaptive_rules_have_no_bound_and_say_why(cli, name):
    doc = cli.json("linreg", "--optimizer", name, "--steps", "3", "--no-plots")
    assert doc["lr_bound"] is None and doc["lr_bound_rule"].startswith(f"none: {name}")
    assert doc["lambda_max"] == pytest.approx(_linreg_lambda_max(), rel=1e-12)  # as above
    record = Store().get(doc["run_id"])
    assert record.metrics["lr_bound"] is None and record.metrics["lambda_max"] == doc["lambda_max"]


def test_a_diverged_adaptive_run_names_the_missing_bound_and_every_consumer_copes(cli, tmp_path):
    """Adam's steps are about lr per coordinate: lr 1e6 sends the loss past 1e10 x its first
    value in one step. The message, the record, the report and the page's API take a null bound."""
    result = cli("linreg", "--optimizer", "adam", "--lr", "1e6", "--no-plots")
    assert result.exit_code == 3
    message = result.stderr.strip().splitlines()[-1]
    assert "this update rule has no fixed stable learning rate (none: adam divides" in message
    doc = cli.json("linreg", "--optimizer", "adam", "--lr", "1e6", "--no-plots", code=3)
    div = doc["divergence"]
    assert div["lr_bound"] is None and div["lr_over_bound"] is None
    assert cli.json("report", doc["run_id"], "--out", "r.html")["report"].endswith("r.html")
    assert "no fixed stable learning rate" in (tmp_path / "r.html").read_text()
    from fastapi.testclient import TestClient

    from sgdlab.serve.app import create_app

    with TestClient(create_app(Store().path), base_url="http://127.0.0.1") as client:
        run = client.get(f"/api/runs/{doc['run_id']}").json()
        assert run["metrics"]["lr_bound"] is None and run["metrics"]["divergence"]["lr_over_bound"] is None
        # the run page (run.js) shows divergence.message as it is: the words above
        assert run["metrics"]["divergence"]["message"] == div["message"]
        assert [r["id"] for r in client.get("/api/runs").json()["runs"]].count(doc["run_id"]) == 1


def test_text_names_the_rule_in_english_and_chinese(cli, monkeypatch):
    for name in ("LC_ALL", "LC_MESSAGES"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("LANG", "C.UTF-8")
    heavy = cli("linreg", "--momentum", "0.9", "--steps", "3", "--no-plots").stdout
    assert "largest Hessian eigenvalue lambda_max = 86.3961 (exact: the loss is quadratic" in heavy
    assert ("largest stable learning rate (heavy-ball: 2(1+beta)/lambda_max with beta = 0.9 (PyTorch's "
            "momentum)): 0.0439835; lr 0.01 is 0.227x it") in heavy  # 3.8 / 86.3961; 0.01 / that
    adam = cli("linreg", "--optimizer", "adam", "--steps", "3", "--no-plots").stdout
    assert "largest stable learning rate: none: adam divides each step" in adam
    monkeypatch.setenv("LANG", "zh_CN.UTF-8")
    zh = cli("linreg", "--momentum", "0.9", "--nesterov", "--steps", "3", "--no-plots").stdout
    assert "Hessian 的最大特征值 lambda_max = 86.3961（精确" in zh
    assert "最大稳定学习率（Nesterov：2(1+beta)/((1+2beta) lambda_max)，beta = 0.9）：0.0157084" in zh
    zh_adam = cli("linreg", "--optimizer", "adam", "--steps", "3", "--no-plots").stdout
    assert "最大稳定学习率：无：adam 把每一步除以梯度的滑动均方根" in zh_adam
    zh_logreg = cli("logreg", "--optimizer", "rmsprop", "--steps", "3", "--no-plots").stdout
    assert "（局部：初始点处的 Hessian" in zh_logreg and "最大稳定学习率：无：rmsprop" in zh_logreg


# -- logistic regression: lambda_max of the Hessian at the initialisation --------------------------

def _logreg_lambda_max(seed: int = 0) -> float:
    from sgdlab.core.tabular import initial_parameters
    from sgdlab.logreg.config import LogRegConfig
    from sgdlab.logreg.model import load

    config = LogRegConfig(seed=seed)
    table = load(config)
    x, y = torch.tensor(table.x), torch.tensor(table.y)
    w, b, _ = initial_parameters(seed, x.shape[1], getattr(torch, config.dtype))  # the run's start

    def loss(t):
        z = x @ t[:-1] + t[-1]
        return (torch.nn.functional.softplus(z) - y * z).mean()

    return _dense_lambda_max(loss, torch.cat([w, b]).double())


@pytest.mark.parametrize("args, hp", [((), {}), (("--momentum", "0.9"), HEAVY),
                                      (("--momentum", "0.9", "--nesterov"), NESTEROV),
                                      (("--weight-decay", "0.1"), {"weight_decay": 0.1}),
                                      (("--optimizer", "adam"), None)])
def test_logreg_bound_per_optimizer_from_the_hessian_at_the_start(cli, args, hp):
    lam = _logreg_lambda_max()
    doc = cli.json("logreg", *args, "--steps", "3", "--no-plots")
    # float64: sums of 200 terms, then a 3 x 3 eigvalsh, two ways: ~200 eps apart
    assert doc["lambda_max"] == pytest.approx(lam, rel=1e-12) and doc["lambda_max_kind"] == "local"
    if hp is None:
        assert doc["lr_bound"] is None and doc["lr_bound_rule"].startswith("none: adam")
        assert "38/lr" in doc["lr_bound_rule"]  # (2 + 2 beta1) / (1 - beta1) at beta1 = 0.9
    else:
        oracle = bounds.lr_bound("sgd", hp, lam)
        assert doc["lr_bound"] == pytest.approx(oracle["lr_bound"], rel=1e-12)  # as above
        assert doc["lr_bound_rule"] == oracle["lr_bound_rule"]
    metrics = Store().get(doc["run_id"]).metrics
    assert metrics["lr_bound"] == doc["lr_bound"] and metrics["lr_bound_rule"] == doc["lr_bound_rule"]


def test_logreg_divergence_is_measured_against_the_rules_bound(cli):
    """The logistic loss grows only linearly in |w|: lr 1e12 moves w by ~1e12 in one step."""
    doc = cli.json("logreg", "--momentum", "0.9", "--lr", "1e12", "--steps", "5", "--no-plots", code=3)
    div = doc["divergence"]
    # the same division of the same two floats: equal bit for bit (approx only as a guard of form)
    assert div["lr_bound"] == doc["lr_bound"] and div["lr_over_bound"] == pytest.approx(1e12 / doc["lr_bound"], rel=1e-15)
    assert "heavy-ball: 2(1+beta)/lambda_max with beta = 0.9" in div["message"]


# -- sweeps: a stacked group with momentum, nesterov and adam cells, each with its own bound ---------

@pytest.mark.parametrize("problem", ["linreg", "logreg"])
def test_each_sweep_cell_carries_its_own_bound(cli, problem):
    lam = _linreg_lambda_max() if problem == "linreg" else _logreg_lambda_max()
    records = []
    for extra in (("--optimizer", "sgd,adam", "--momentum", "0,0.9"), ("--nesterov", "--momentum", "0.5,0.9")):
        sweep = cli.json("sweep", problem, "--lr", "0.001,0.002", "--steps", "3", "--no-plots", "--dtype",
                         "float64", "--executor", "vectorized", *extra)
        records += Store().list_runs(sweep_id=sweep["sweep_id"])
    seen = set()
    for record in records:
        spec = OptimizerSpec.from_dict(record.config["optimizer"])
        oracle = bounds.lr_bound(spec.name, spec.hyperparameters(), lam)
        seen.add(oracle["lr_bound_key"])
        assert record.metrics["lr_bound_rule"] == oracle["lr_bound_rule"]
        if oracle["lr_bound"] is None:
            assert record.metrics["lr_bound"] is None
        else:  # as above: the same lambda_max to a few eps, one division
            assert record.metrics["lr_bound"] == pytest.approx(oracle["lr_bound"], rel=1e-12)
    assert seen == {"bound.gd", "bound.heavy-ball", "bound.nesterov", "bound.none.adam"}
    assert len(records) == 2 * 3 + 2 * 2
