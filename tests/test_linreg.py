"""Linear regression: the tutorial's exact numbers, the formulas, the optimizers, the bounds."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import torch

from sgdlab import LinRegConfig, OptimizerSpec, train
from sgdlab.linreg.model import analytic_gradients, closed_form, stable_lr_bound

# Printed by tutorial section 3.2 (../shared/seed/000_914e17bac8af4a1c.txt).
TUTORIAL_EPOCH_LOSSES = {0: 0.4142104387283325, 10: 0.2260516732931137,
                         20: 0.2231873869895935, 30: 0.2204667031764984}


def same_digits(a: float, b: float, digits: int = 5) -> bool:
    return f"{a:.{digits - 1}e}" == f"{b:.{digits - 1}e}"


def test_default_run_prints_the_tutorial_numbers(cli):
    result = cli("linreg")
    assert result.exit_code == 0, result.stderr
    out = result.stdout
    assert "initial w: [-0.1187], b: 0.0000" in out
    assert "initial loss: 10.2335" in out
    assert "dJ/dw = [-41.1289], dJ/db = -6.0890" in out
    for epoch, expected in TUTORIAL_EPOCH_LOSSES.items():
        line = next(l for l in out.splitlines() if l.startswith(f"epoch: {epoch}, loss: "))
        assert same_digits(float(line.split("loss: ")[1]), expected, digits=6), line


def test_default_json_matches_the_tutorial(cli):
    doc = cli.json("linreg")
    assert doc["status"] == "completed"
    assert round(doc["init"]["w"][0], 4) == -0.1187 and doc["init"]["b"] == 0.0
    assert round(doc["init"]["loss"], 4) == 10.2335
    assert round(doc["init"]["grad_w"][0], 4) == -41.1289
    assert round(doc["init"]["grad_b"], 4) == -6.0890
    losses = doc["losses"]
    assert len(losses) == 32 and losses[0] == doc["init"]["loss"]
    for epoch, expected in TUTORIAL_EPOCH_LOSSES.items():
        assert same_digits(losses[1 + epoch], expected), (epoch, losses[1 + epoch])
    assert doc["final"]["loss"] < losses[-1]
    assert set(doc["optimum"]) == {"w", "b", "loss"}
    assert doc["run_id"]
    assert len(doc["figures"]) == 4
    for path in doc["figures"]:
        assert Path(path).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


@pytest.mark.numeric
def test_same_numbers_as_a_plain_pytorch_loop_written_like_the_tutorial():
    torch.manual_seed(2019)
    x = torch.tensor([[3.3], [4.4], [5.5], [6.71], [6.93], [4.168], [9.779], [6.182], [7.59],
                      [2.167], [7.042], [10.791], [5.313], [7.997], [3.1]])
    y = torch.tensor([[1.7], [2.76], [2.09], [3.19], [1.694], [1.573], [3.366], [2.596], [2.53],
                      [1.221], [2.827], [3.465], [1.65], [2.904], [1.3]])
    w = torch.randn(1, requires_grad=True)
    b = torch.zeros(1, requires_grad=True)
    expected = []
    for _ in range(32):
        loss = torch.mean((x * w + b - y) ** 2)
        expected.append(loss.item())
        w.grad = b.grad = None
        loss.backward()
        w.data = w.data - 1e-2 * w.grad.data
        b.data = b.data - 1e-2 * b.grad.data
    got = train(LinRegConfig(plots=False), record=False)
    # float32, 32 steps: the loop computes the same formula as the tutorial but its mean sums the
    # 15 terms in another order (and another kernel path may vectorise differently): <= 15 eps32 a
    # step, 32 steps * 15 * 6e-8 = 2.9e-5 at worst without damping; the iteration contracts
    # (lr 0.01 < bound 0.023), so the error stays near one step's: 1e-6 ~ 17 eps32
    np.testing.assert_allclose(got["losses"], expected, rtol=1e-6)
    np.testing.assert_allclose(got["final"]["w"], w.detach().numpy(), rtol=1e-6)


@pytest.mark.numeric
@pytest.mark.parametrize("n,d", [(15, 1), (40, 3), (7, 5)])
def test_analytic_gradients_equal_autograd_in_float64(n, d):
    g = torch.Generator().manual_seed(n * 100 + d)
    x = torch.randn(n, d, generator=g, dtype=torch.float64)
    y = torch.randn(n, generator=g, dtype=torch.float64)
    w = torch.randn(d, generator=g, dtype=torch.float64, requires_grad=True)
    b = torch.randn(1, generator=g, dtype=torch.float64, requires_grad=True)
    loss = ((x @ w + b - y) ** 2).mean()
    auto_w, auto_b = torch.autograd.grad(loss, [w, b])
    hand_w, hand_b = analytic_gradients(x, y, w.detach(), b.detach())
    # the same sum of n <= 40 float64 products in another order: <= n * eps = 9e-15 relative to
    # the sum of magnitudes; 1e-12 allows a sum that cancels to 1/100 of its terms
    torch.testing.assert_close(hand_w, auto_w, rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(hand_b, auto_b, rtol=1e-12, atol=1e-12)


@pytest.mark.numeric
@pytest.mark.parametrize("batch_size,epochs", [(None, None), (4, 3), (1, 2)])
def test_hand_written_sgd_equals_torch_optim_sgd_exactly(batch_size, epochs):
    runs = [
        train(LinRegConfig(batch_size=batch_size, epochs=epochs, plots=False,
                           optimizer=OptimizerSpec(name=name)), record=False)
        for name in ("sgd", "torch-sgd")
    ]
    assert runs[0]["losses"] == runs[1]["losses"]  # bit for bit, not approximately
    assert runs[0]["final"] == runs[1]["final"]


@pytest.mark.numeric
def test_closed_form_against_the_normal_equations():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(50, 3))
    y = x @ np.array([1.0, -2.0, 0.5]) + 3.0 + rng.normal(scale=0.1, size=50)
    w, b, loss = closed_form(x, y)
    design = torch.tensor(np.hstack([x, np.ones((50, 1))]))
    solution = torch.linalg.solve(design.T @ design, design.T @ torch.tensor(y))
    # two float64 solvers of a 4 x 4 system with cond(X'X) ~ 1e2: each within cond * eps ~ 2e-14
    np.testing.assert_allclose(np.append(w, b), solution.numpy(), rtol=1e-10)
    assert loss == pytest.approx(float(((design @ solution - torch.tensor(y)) ** 2).mean()))  # approx: 1e-6


@pytest.mark.numeric
def test_learning_rate_bound_separates_convergence_from_divergence():
    bound = stable_lr_bound(np.array([[v] for v in [3.3, 4.4, 5.5, 6.71, 6.93, 4.168, 9.779, 6.182,
                                                   7.59, 2.167, 7.042, 10.791, 5.313, 7.997, 3.1]]))
    below = train(LinRegConfig(lr=0.98 * bound, steps=3000, dtype="float64", plots=False), record=False)
    above = train(LinRegConfig(lr=1.02 * bound, steps=3000, dtype="float64", plots=False), record=False)
    assert below["lr_bound"] == pytest.approx(bound)  # the same formula in float32 vs float64: 1e-6 >> eps32
    assert below["status"] == "completed"
    assert below["gap_to_optimum"] < 1e-6
    assert above["status"] == "diverged"


def test_divergence_is_a_result_with_exit_code_3(cli):
    result = cli("linreg", "--lr", "1")
    assert result.exit_code == 3
    message = result.stderr.strip().splitlines()[-1]
    assert message.startswith("error: diverged at step ")
    assert "learning rate 1" in message and "last finite loss" in message
    assert "0.0231492" in message  # the bound, 2 / lambda_max
    doc = cli.json("linreg", "--lr", "1", code=3)
    assert doc["status"] == "diverged"
    div = doc["divergence"]
    assert div["step"] >= 2 and math.isfinite(div["last_finite_loss"]) and div["lr"] == 1.0
    assert "grew past" in div["reason"]
    assert doc["losses"][-1] > 1e10 * doc["losses"][0]
    overflow = cli.json("linreg", "--lr", "1e20", code=3)
    assert overflow["divergence"]["step"] == 2
    assert overflow["losses"][-1] in ("Infinity", "NaN")  # shown, never hidden
    runs = cli.json("runs")["runs"]
    assert [r["status"] for r in runs] == ["diverged"] * 3


def test_minibatch_sgd_is_seeded_and_counts_epochs():
    config = dict(batch_size=4, epochs=3, plots=False)
    a = train(LinRegConfig(**config), record=False)
    b = train(LinRegConfig(**config), record=False)
    c = train(LinRegConfig(seed=7, **config), record=False)
    assert a["steps"] == 3 * 4  # ceil(15 / 4) = 4 batches per epoch
    assert a["batch_losses"] == b["batch_losses"]
    assert a["batch_losses"] != c["batch_losses"]
    assert len(a["losses"]) == 12  # full-data loss before each update


@pytest.mark.numeric
def test_csv_several_features_standardized_reaches_the_optimum(cli, tmp_path):
    rng = np.random.default_rng(1)
    x = rng.normal(loc=[10, -3], scale=[5, 0.5], size=(60, 2))
    y = 2 * x[:, 0] - 4 * x[:, 1] + 1 + rng.normal(scale=0.05, size=60)
    lines = ["height, weight ,target"] + [f"{a},{b},{c}" for (a, b), c in zip(x, y)]
    (tmp_path / "d.csv").write_text("\n".join(lines) + "\n")
    doc = cli.json("linreg", "--csv", "d.csv", "--x", "height,weight", "--y", "target",
                   "--standardize", "--lr", "0.3", "--steps", "300", "--dtype", "float64")
    assert doc["data"]["features"] == ["height", "weight"] and doc["data"]["rows"] == 60
    assert len(doc["final"]["w"]) == 2
    assert doc["gap_to_optimum"] < 1e-8
    # a convergence tolerance, not rounding: gap < 1e-8 in the loss bounds |w - w*| by sqrt(gap / lambda_min)
    np.testing.assert_allclose(doc["final"]["w"], doc["optimum"]["w"], rtol=1e-4)


def test_csv_from_a_spreadsheet_with_bom_and_crlf(cli, tmp_path):
    (tmp_path / "excel.csv").write_bytes(b"\xef\xbb\xbfx,y\r\n1,2\r\n2,4\r\n3,6.1\r\n")
    doc = cli.json("linreg", "--csv", "excel.csv", "--x", "x", "--y", "y", "--no-plots")
    assert doc["data"]["features"] == ["x"] and doc["data"]["rows"] == 3
