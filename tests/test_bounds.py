"""Each optimizer's own stable learning rate, against exact oracles: the spectral radius of the
2x2 iteration matrix of PyTorch's update on one eigen-direction, and real descents on the bowl."""

from __future__ import annotations

import math

import numpy as np
import pytest

from sgdlab.optim import bounds
from sgdlab.optim.spec import OptimizerSpec
from sgdlab.surface.config import SurfaceConfig
from sgdlab.surface.run import run


def iteration_matrix(rule: str, lr: float, lam: float, beta: float) -> np.ndarray:
    """PyTorch's SGD on f = lambda/2 w^2, state (w, b): b' = beta b + lambda w, then
    heavy-ball w' = w - lr b', Nesterov w' = w - lr (lambda w + beta b'); gd is 1 x 1."""
    if rule == "gd":
        return np.array([[1 - lr * lam]])
    if rule == "heavy-ball":
        return np.array([[1 - lr * lam, -lr * beta], [lam, beta]])
    return np.array([[1 - lr * lam * (1 + beta), -lr * beta * beta], [lam, beta]])


def radius(rule: str, lr: float, lam: float, beta: float) -> float:
    return float(max(abs(np.linalg.eigvals(iteration_matrix(rule, lr, lam, beta)))))


def crossing(rule: str, lam: float, beta: float) -> float:
    """The smallest lr whose spectral radius exceeds 1, by bisection (60 halvings: float64's end)."""
    lo, hi = 1e-12, 1.0
    while radius(rule, hi, lam, beta) <= 1:
        hi *= 2
    for _ in range(60):
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if radius(rule, mid, lam, beta) <= 1 else (lo, mid)
    return hi


CASES = [("gd", 0.0, {}), ("heavy-ball", 0.5, {"momentum": 0.5}), ("heavy-ball", 0.9, {"momentum": 0.9}),
         ("heavy-ball", 0.99, {"momentum": 0.99}), ("nesterov", 0.5, {"momentum": 0.5, "nesterov": True}),
         ("nesterov", 0.9, {"momentum": 0.9, "nesterov": True})]


@pytest.mark.parametrize("rule,beta,hp", CASES)
@pytest.mark.parametrize("lam", [0.37, 1.0, 10.0, 250.0])
def test_bound_is_the_spectral_radius_crossing(rule, beta, hp, lam):
    got = bounds.lr_bound("sgd", hp, lam)
    assert bounds.rule_of("sgd", hp) == rule and got["lr_bound_rule"].startswith(rule)
    bound = got["lr_bound"]
    # just below: every eigenvalue inside the unit circle; just above: one outside
    assert radius(rule, 0.999 * bound, lam, beta) < 1 < radius(rule, 1.001 * bound, lam, beta)
    # the crossing found by bisection on the exact radius; the eigenvalue at the crossing is -1,
    # a simple root, so the radius is 1 + O(eps) near it: bisection resolves it to ~1e-13
    assert crossing(rule, lam, beta) == pytest.approx(bound, rel=1e-9)


def test_weight_decay_adds_to_the_curvature():
    got = bounds.lr_bound("torch-sgd", {"momentum": 0.9, "weight_decay": 0.5}, 9.5)
    assert got["lr_bound"] == 2 * 1.9 / 10.0 and got["lr_bound_key"] == "bound.heavy-ball.decay"
    assert got["lr_bound_rule"].startswith("heavy-ball: 2(1+beta)/(lambda_max + weight_decay)")  # words and number agree


@pytest.mark.parametrize("name", ["adam", "adamw", "rmsprop", "adagrad", "torch-adam"])
def test_adaptive_rules_have_no_fixed_bound_and_say_why(name):
    got = bounds.lr_bound(name, {}, 10.0)
    assert got["lr_bound"] is None and got["lr_bound_rule"].startswith("none: ")
    if "adam" in name:
        assert "38/lr" in got["lr_bound_rule"]  # (2 + 2 beta1) / (1 - beta1) at beta1 = 0.9


def test_no_positive_curvature_means_no_bound():
    assert bounds.lr_bound("sgd", {}, -2.0)["lr_bound"] is None
    assert bounds.lr_bound("sgd", {}, math.nan)["lr_bound"] is None


@pytest.mark.parametrize("hp,bound", [({"momentum": 0.9}, 0.38), ({"momentum": 0.9, "nesterov": True}, 0.38 / 2.8)])
def test_momentum_on_the_bowl_just_below_converges_just_above_diverges(hp, bound):
    """The bowl's lambda_max is 10: the real descent agrees with the bound, on either side."""
    spec = OptimizerSpec(name="sgd", **hp)
    result = run(SurfaceConfig(name="bowl", lrs=[0.98 * bound, 1.02 * bound], steps=3000, optimizer=spec,
                               plots=False), record=False)
    below, above = result["runs"]
    assert below["lr_bound"] == pytest.approx(bound, rel=1e-15)  # one division: 2(1+b)/10 or /28
    assert below["verdict"] == "converged" and above["verdict"] == "diverged"
    assert below["lr_over_bound"] == pytest.approx(0.98, rel=1e-15)


def test_each_run_of_surface_json_carries_its_own_bound(cli):
    doc = cli.json("surface", "bowl", "--lr", "0.37", "--optimizer", "sgd", "--momentum", "0.9",
                   "--steps", "200", "--no-plots")
    r = doc["runs"][0]
    assert doc["lr_bound"] == 0.2  # plain gradient descent's, as before
    assert r["lr_bound"] == pytest.approx(0.38, rel=1e-15) and r["lr_bound_rule"].startswith("heavy-ball")
    assert r["lr_over_bound"] == pytest.approx(0.37 / 0.38, rel=1e-15) and r["verdict"] != "diverged"
    adam = cli.json("surface", "bowl", "--lr", "0.1", "--optimizer", "adam", "--no-plots")["runs"][0]
    assert adam["lr_bound"] is None and adam["lr_over_bound"] is None
    assert adam["lr_bound_rule"].startswith("none: adam")


def test_mnist_json_bound_is_the_optimizers_own(cli):
    args = ("mnist", "--hidden", "3", "--limit-train", "150", "--sharpness-subset", "120",
            "--limit-test", "50", "--no-plots")
    heavy = cli.json(*args, "--momentum", "0.9")
    # one multiplication and one division after lambda_max: a few ulps
    assert heavy["lr_bound"] == pytest.approx(2 * 1.9 / heavy["sharpness_init"], rel=1e-15)
    assert heavy["lr_bound_rule"].startswith("heavy-ball")
    adam = cli.json(*args, "--optimizer", "adam", "--lr", "0.001")
    assert adam["lr_bound"] is None and adam["sharpness_init"] > 0
    assert adam["lr_bound_rule"].startswith("none: adam")
    result = cli(*args, "--optimizer", "adam", "--lr", "0.001")
    assert "largest stable learning rate: none: adam" in result.stdout


@pytest.mark.parametrize("name,hp", [("rmsprop", {"momentum": 0.9}), ("torch-rmsprop", {"momentum": 0.5}),
                                     ("adam", {"betas": (0.9999999, 0.5)}), ("rmsprop", {})])
def test_the_adaptive_rule_names_the_threshold_the_tracker_draws(name, hp):
    """Found by the fourth hostile round: rmsprop with momentum 0.9 said 'settles near 2/lr'
    while its tracked sharpness was drawn against 3.8/lr; Adam's beta1 0.9999999 was said to
    be 'beta1 = 1', a value --betas refuses."""
    from sgdlab.i18n import text

    got = bounds.lr_bound(name, hp, 10.0)
    _, label, rule = bounds.preconditioned_threshold(name, hp, 0.01)
    assert f"settles near {label} instead" in got["lr_bound_rule"]
    assert f"{label} 附近" in text(got["lr_bound_key"], "zh", **got["lr_bound_fields"])
    if "betas" in hp:
        assert "beta1 = 0.9999999" in got["lr_bound_rule"] and "beta1 = 0.9999999" in rule
