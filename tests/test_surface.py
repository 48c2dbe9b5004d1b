"""`sgdlab surface`: gradients, verdicts, the stable step size, saddles, noise, JSON, bad input."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
import torch

from sgdlab.core.store import Store
from sgdlab.optim.spec import OptimizerSpec
from sgdlab.surface import functions as surfaces
from sgdlab.surface import theory
from sgdlab.surface.config import SurfaceConfig
from sgdlab.surface.run import BLOWUP_RADIUS, run

from conftest import run_module

ANALYTIC = {  # name -> analytic gradient
    "bowl": lambda x, y: (1.0 * x, 10.0 * y),
    "saddle": lambda x, y: (2 * x, -2 * y),
    "x4-y3": lambda x, y: (4 * x**3, -3 * y**2),
    "rosenbrock": lambda x, y: (-2 * (1 - x) - 400 * x * (y - x**2), 200 * (y - x**2)),
    "himmelblau": lambda x, y: (4 * x * (x**2 + y - 11) + 2 * (x + y**2 - 7),
                                2 * (x**2 + y - 11) + 4 * y * (x + y**2 - 7)),
}
POINTS = [(0.3, -1.2), (-1.5, 2.0), (2.2, 0.7), (0.0, 0.0)]


@pytest.mark.numeric
@pytest.mark.parametrize("name", list(ANALYTIC))
def test_builtin_gradients_equal_their_analytic_forms(name):
    surface = surfaces.get(name)
    for x, y in POINTS:
        got = theory.gradient(surface, theory.point((x, y))).tolist()
        want = ANALYTIC[name](x, y)
        # autograd vs the analytic formula in float64, a handful of operations (pow, exp, products): < 20 eps each
        assert got == pytest.approx(want, rel=1e-12, abs=1e-12), (name, x, y)


def test_bowl_curvature_sets_the_hessian():
    info = theory.at_point(surfaces.get("bowl", (2.0, 7.0)), (0.4, -0.3))
    assert info["hessian"] == [[2.0, 0.0], [0.0, 7.0]]
    assert info["eigenvalues"] == [2.0, 7.0]


def _config(**kw):
    kw.setdefault("plots", False)
    return SurfaceConfig(**kw)


@pytest.mark.numeric
def test_bowl_just_below_the_bound_converges_just_above_diverges():
    result = run(_config(name="bowl", lrs=[0.99 * 0.2, 1.01 * 0.2], steps=800), record=False)
    assert result["lr_bound"] == pytest.approx(0.2, rel=1e-15)  # 2 / 10 in float64: correctly rounded
    assert result["lr_bound_kind"].startswith("exact")
    below, above = result["runs"]
    assert below["verdict"] == "converged"
    assert above["verdict"] == "diverged"
    # the divergence step is the first k with |(x_k, y_k)| > BLOWUP_RADIUS, where plain gradient
    # descent on the bowl gives x_k = x0 (1 - lr a)^k, y_k = y0 (1 - lr b)^k
    lr, (x0, y0) = above["lr"], result["start"]
    k = next(k for k in range(800) if math.hypot(x0 * (1 - lr) ** k, y0 * (1 - 10 * lr) ** k) > BLOWUP_RADIUS)
    assert above["diverged_step"] == k
    assert above["steps"] == k and len(above["path"]) == k + 1


@pytest.mark.numeric
def test_bowl_verdicts_for_known_learning_rates():
    result = run(_config(name="bowl", lrs=[0.01, 0.1, 0.199, 0.21], steps=200), record=False)
    assert [r["verdict"] for r in result["runs"]] == ["slow", "converged", "oscillating", "diverged"]
    # 0.21: the y error grows by |1 - 2.1| = 1.1 per step until it passes the blow-up radius
    (x0, y0), top = result["start"], result["runs"][3]
    assert top["diverged_step"] == next(
        k for k in range(200) if math.hypot(x0 * 0.79**k, y0 * 1.1**k) > BLOWUP_RADIUS) == 138
    # too few steps to blow up: f ended above its start value, which counts as diverged too
    short = run(_config(name="bowl", lrs=[0.21], steps=30), record=False)["runs"][0]
    assert short["verdict"] == "diverged" and short["diverged_step"] == 1
    assert short["reason"].startswith("f rose above its start value at step 1")
    # gradient descent on a quadratic, step by step: the path equals the closed form
    path = result["runs"][1]["path"]
    x0, y0 = result["start"]
    for k in (1, 5, 20):
        assert path[k] == pytest.approx([x0 * 0.9**k, y0 * 0.0**k], abs=1e-12)  # k <= 20 float64 products of |x| < 5: 20 * 5 * eps


def test_saddle_is_classified_and_the_escape_step_is_exact():
    result = run(_config(name="saddle"), record=False)
    crit = result["critical_point"]
    assert crit["eigenvalues"] == [-2.0, 2.0]
    assert crit["kind"] == "saddle (indefinite Hessian)"
    r = result["runs"][0]
    assert r["verdict"] == "escaped saddle"
    lr, (x0, y0) = r["lr"], result["start"]
    k = next(k for k in range(1000) if math.hypot(x0 * (1 - 2 * lr) ** k, y0 * (1 + 2 * lr) ** k) > 1.0)
    assert r["escape_step"] == k == 38
    # exactly on the stable manifold (y = 0) descent goes into the saddle and stays
    stuck = run(_config(name="saddle", start=(0.5, 0.0)), record=False)["runs"][0]
    assert stuck["verdict"] == "stuck near saddle" and stuck["escape_step"] is None


def test_x4_y3_degenerate_saddle_escape_and_stuck():
    result = run(_config(name="x4-y3"), record=False)
    assert result["critical_point"]["eigenvalues"] == [0.0, 0.0]
    assert result["critical_point"]["kind"].startswith("degenerate critical point")
    r = result["runs"][0]
    assert r["verdict"] == "escaped saddle"
    y, k = result["start"][1], 0  # y_{k+1} = y_k + 3 lr y_k^2, x stays small
    while True:
        k += 1
        y = y + 3 * r["lr"] * y * y
        if y > 1.0:
            break
    assert r["escape_step"] == k
    below = run(_config(name="x4-y3", start=(0.5, -0.05)), record=False)["runs"][0]
    assert below["verdict"] == "stuck near saddle"


def test_start_far_from_a_saddle_is_judged_normally():
    r = run(_config(name="saddle", start=(1.0, 1.5), steps=100), record=False)["runs"][0]
    assert r["escape_step"] is None
    assert r["verdict"] == "diverged"  # x^2 - y^2 is unbounded below: y runs off to infinity
    assert "blow-up radius" in r["reason"] and r["diverged_step"] == 74


@pytest.mark.numeric
def test_user_expression_descends_to_its_minimum():
    result = run(_config(expr="x**2 + 3*sin(y)", lrs=[0.1], steps=200), record=False)
    r = result["runs"][0]
    assert r["verdict"] == "converged"
    # convergence, not rounding: 200 steps contract x by 0.8 and y by 0.7 a step (0.8**200 ~ 4e-20)
    assert [r["final"]["x"], r["final"]["y"]] == pytest.approx([0.0, -math.pi / 2], abs=1e-8)
    assert result["lr_bound_kind"].startswith("local")


def test_torch_optimizer_gives_the_same_path_as_ours():
    ours = run(_config(name="rosenbrock", steps=50), record=False)["runs"][0]["path"]
    theirs = run(_config(name="rosenbrock", steps=50, optimizer=OptimizerSpec(name="torch-sgd")),
                 record=False)["runs"][0]["path"]
    assert ours == theirs
    heavy = run(_config(name="bowl", steps=50,
                        optimizer=OptimizerSpec(name="torch-sgd", momentum=0.5)), record=False)
    assert heavy["runs"][0]["optimizer"] == "torch-sgd"
    assert heavy["runs"][0]["path"] != run(_config(name="bowl", steps=50), record=False)["runs"][0]["path"]


@pytest.mark.numeric
def test_noise_check_mean_gradient_matches_the_true_gradient():
    g = torch.tensor([3.0, -1.5], dtype=torch.float64)
    check = theory.noise_check(g, 2.0, 4000, torch.Generator().manual_seed(0))
    standard_error = 2.0 / math.sqrt(4000)
    assert check["mean"] == pytest.approx(g.tolist(), abs=4 * standard_error)  # statistics: 4 standard errors, seeded
    half = [(hi - lo) / 2 for lo, hi in zip(check["ci95_low"], check["ci95_high"])]
    # a sample std of 4000 draws: its relative standard error is 1/sqrt(2 * 4000) = 1.1%; 0.06 is 5 of them
    assert half == pytest.approx([theory.Z_95 * 2.0 / math.sqrt(4000)] * 2, rel=0.06)
    # coverage over many seeds is close to 95%: the interval is honest, not just wide
    inside = [theory.noise_check(g, 2.0, 200, torch.Generator().manual_seed(s))["true_inside_ci"][0]
              for s in range(200)]
    assert 0.90 <= sum(inside) / len(inside) <= 0.99
    # a biased estimator would be caught: the true gradient shifted by 5 standard errors is outside
    shifted = theory.noise_check(g + 5 * 2.0 / math.sqrt(4000), 2.0, 4000, torch.Generator().manual_seed(0))
    assert not (shifted["ci95_low"][0] <= 3.0 <= shifted["ci95_high"][0])


def test_noisy_descent_is_seeded_and_converges_in_the_noise_sense():
    a = run(_config(name="bowl", lrs=[0.1], noise=0.5, seed=7), record=False)
    b = run(_config(name="bowl", lrs=[0.1], noise=0.5, seed=7), record=False)
    c = run(_config(name="bowl", lrs=[0.1], noise=0.5, seed=8), record=False)
    assert a["runs"][0]["path"] == b["runs"][0]["path"] != c["runs"][0]["path"]
    assert a["runs"][0]["verdict"] == "converged"
    assert a["noise_check"]["agrees"] and a["noise_check"]["samples"] == 1000
    assert a["noise_check"]["true_gradient"] == [-3.0, 20.0]


def test_cli_json_document_store_and_figures(cli, tmp_path):
    doc = cli.json("surface", "bowl", "--lr", "0.05,0.1", "--steps", "30", "--out", "figs")
    assert doc["status"] == "completed"
    assert doc["hessian_start"]["eigenvalues"] == [1.0, 10.0]
    assert doc["lr_bound"] == 0.2
    assert [r["lr"] for r in doc["runs"]] == [0.05, 0.1]
    for r in doc["runs"]:
        assert set(r) >= {"lr", "optimizer", "path", "final", "verdict", "escape_step"}
        assert set(r["final"]) >= {"x", "y", "f"} and len(r["path"]) == 31
        assert r["optimizer"] == "sgd" and r["escape_step"] is None
    assert [Path(p).name for p in doc["figures"]] == ["contour.png", "f_vs_step.png"]
    assert all((tmp_path / "figs" / n).stat().st_size > 5000 for n in ("contour.png", "f_vs_step.png"))
    record = Store().get(doc["run_id"])
    assert record.command == "surface" and record.status == "completed"
    assert record.curves["f[0] lr=0.05"] == doc["runs"][0]["f"]
    assert record.curves["f[1] lr=0.1"] == doc["runs"][1]["f"]


def test_cli_human_output_and_diverged_exit_code(cli):
    result = cli("surface", "saddle", "--no-plots")
    assert result.exit_code == 0
    assert "saddle (indefinite Hessian)" in result.stdout
    assert "escaped saddle (step 38)" in result.stdout
    result = cli("surface", "bowl", "--lr", "0.3", "--steps", "20", "--no-plots")
    assert result.exit_code == 3
    assert "stable learning rate bound 2/lambda_max = 0.2, exact" in result.stdout
    assert "error: lr=0.3 diverged: |(x, y)| = 1.05e+06 passed the blow-up radius 1e+06 at step 19" in result.stderr
    assert len(Store().list_runs()) == 2


@pytest.mark.parametrize("args,message", [
    (["bowl", "--start", "1"], "error: --start must be two finite numbers X,Y (e.g. --start 1.5,-0.5), got '1.0'"),
    (["bowl", "--lr", "-1"], "error: --lr must be a finite number > 0, got -1.0"),
    (["bowl", "--steps", "0"], "error: --steps must be >= 1, got 0"),
    (["bowl", "--lr", "0.1,x"], "error: --lr: 'x' is not a number"),
    (["--f", "x + foo(y)"], "error: --f 'x + foo(y)': unknown function 'foo' at column 5 (x + >>foo(y)); known functions: sin, cos,"),
    (["--f", "x**2 + * y"], "error: --f 'x**2 + * y': syntax error at column 8"),
    (["nope"], "error: unknown surface 'nope'; built-ins: bowl, saddle, x4-y3, rosenbrock, himmelblau"),
    ([], "error: give a built-in surface name"),
    (["bowl", "--f", "x"], "error: give a built-in surface name"),
    (["bowl", "--noise", "-1"], "error: --noise must be >= 0, got -1.0"),
])
def test_bad_input_is_one_clear_line_and_exit_2(cli, args, message):
    result = cli("surface", *args, "--no-plots")
    assert result.exit_code == 2, result.stdout
    assert result.stderr.startswith(message), result.stderr
    assert result.stdout == ""
    assert not Store().path.exists() or Store().list_runs() == []


def test_several_problems_are_reported_together(cli):
    result = cli("surface", "bowl", "--start", "1", "--lr", "-1", "--steps", "0", "--no-plots")
    assert result.exit_code == 2
    assert len(result.stderr.strip().splitlines()) == 3


def test_api_train_and_json_subprocess(tmp_path):
    from sgdlab import SurfaceConfig as Exported, train

    doc = train(Exported(name="himmelblau", steps=50, plots=False), record=False)
    assert doc["runs"][0]["verdict"] in ("converged", "slow")
    proc = run_module("surface", "--f", "x**2 + y**2", "--steps", "5", "--no-plots", "--json")
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["runs"][0]["final"]["f"] < 2.0


def test_demo_lessons_write_their_figures(tmp_path):
    from sgdlab.lessons.demo import LESSONS

    lessons = dict(LESSONS)
    lr = lessons["surface-lr"](tmp_path / "lr", Store(), True)
    assert "lr 0.01: slow, lr 0.1: converged, lr 0.199: oscillating, lr 0.21: diverged" in lr["summary"]
    saddles = lessons["surface-saddles"](tmp_path / "saddles", Store(), True)
    assert "saddle: saddle, escaped saddle at step 38" in saddles["summary"]
    assert "x4-y3, y < 0: degenerate critical point, stuck near saddle" in saddles["summary"]
    assert all(Path(p).exists() for p in lr["figures"] + saddles["figures"])
    assert len(saddles["figures"]) == 6
