"""The adaptive edge of stability: the preconditioned sharpness lambda_1(P^-1 H) against a dense
P^-1 H (numpy's eigvals), P against the optimizer's state, the threshold against the spectral
radius of Adam's iteration matrix, and `sgdlab sharpness --optimizer adam` end to end."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from sgdlab import optim
from sgdlab.optim.bounds import preconditioned_threshold
from sgdlab.theory import curvature


def small_net_objective(sizes, seed=0, n=40):
    """An MLP (tanh) with squared loss on random data, float64; its parameters as an Objective."""
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, sizes[0], generator=g, dtype=torch.float64)
    y = torch.randn(n, sizes[-1], generator=g, dtype=torch.float64)
    params = []
    for a, b in zip(sizes, sizes[1:]):
        params += [torch.randn(b, a, generator=g, dtype=torch.float64) / math.sqrt(a),
                   torch.zeros(b, dtype=torch.float64)]

    def loss(ps, _):
        h = x
        for i in range(0, len(ps), 2):
            h = h @ ps[i].T + ps[i + 1]
            if i + 2 < len(ps):
                h = torch.tanh(h)
        return 0.5 * ((h - y) ** 2).sum(1).mean()

    return curvature.Objective(params, loss), loss


def trained(objective, loss, name, steps=5, **hp):
    """A few full-batch steps of ``name`` on the objective's (own) parameters."""
    params = [p.requires_grad_(True) for p in objective.params]
    opt = optim.create(name, params, lr=1e-2, **hp)
    for _ in range(steps):
        opt.zero_grad()
        loss(params, None).backward()
        opt.step()
    for p in params:
        p.requires_grad_(False)
    return opt, params


def dense_top(objective, loss, p_diag) -> float:
    """The oracle: the full Hessian by autograd, P^-1 H formed densely, its largest eigenvalue."""
    shapes = [p.shape for p in objective.params]
    sizes = [p.numel() for p in objective.params]
    flat = torch.cat([p.reshape(-1) for p in objective.params]).detach()

    def f(v):
        return loss([t.view(s) for t, s in zip(torch.split(v, sizes), shapes)], None)

    h = torch.autograd.functional.hessian(f, flat).numpy()
    values = np.linalg.eigvals(h / p_diag.numpy()[:, None])  # P^-1 H, not symmetric
    return float(values.real.max())


@pytest.mark.parametrize("sizes,name,hp", [
    ((6, 8, 3), "adam", {}),  # 83 parameters: past DENSE_MAX, so Lanczos (eigsh) runs
    ((6, 8, 3), "rmsprop", {"centered": True}),
    ((3, 5, 2), "adamw", {"amsgrad": True}),  # 32 parameters: the dense path
])
def test_preconditioned_sharpness_equals_the_dense_oracle(sizes, name, hp):
    objective, loss = small_net_objective(sizes)
    opt, params = trained(objective, loss, name, **hp)
    p_diag = curvature.adaptive_preconditioner(opt, params)
    want = dense_top(objective, loss, p_diag)
    eigen = curvature.top_eigenvalues(objective, 1, tol=1e-12, scale=p_diag.rsqrt())
    # eigsh at tol 1e-12 (relative) and LAPACK's eigvals on a matrix of ~100 entries per row: both
    # within ~1e-10 of the true value relative to |lambda|
    assert eigen.values[0] == pytest.approx(want, rel=1e-8)
    tracked = curvature.PreconditionedSharpness(tol=1e-12)(objective, p_diag)
    assert tracked == pytest.approx(want, rel=1e-8)


def test_the_preconditioner_is_the_optimizers_own_denominator():
    objective, loss = small_net_objective((4, 3, 2))
    opt, params = trained(objective, loss, "torch-adam", steps=3, betas=(0.8, 0.99), eps=1e-6)
    state = opt.state[params[0]]
    want = state["exp_avg_sq"].sqrt() / math.sqrt(1 - 0.99**3) + 1e-6  # torch's own expression
    got = curvature.adaptive_preconditioner(opt, params)[: params[0].numel()]
    assert torch.equal(got, want.reshape(-1))  # the same operations: bit for bit
    objective, loss = small_net_objective((4, 3, 2))
    opt, params = trained(objective, loss, "rmsprop", steps=2)
    want = opt.state[params[1]]["square_avg"].sqrt() + 1e-8
    got = curvature.adaptive_preconditioner(opt, params)[params[0].numel(): params[0].numel() + params[1].numel()]
    assert torch.equal(got, want)
    sgd = optim.create("sgd", params, lr=0.1)
    assert curvature.adaptive_preconditioner(sgd, params) is None


def adam_radius(lr: float, curvature_over_p: float, beta1: float) -> float:
    """Adam with P frozen, on one eigen-direction of P^-1 H (value c): m' = b m + (1 - b) P c w,
    w' = w - lr m' / P; in the scaled state (w, m / P) the 2x2 iteration matrix below."""
    c = curvature_over_p
    m = np.array([[1 - lr * (1 - beta1) * c, -lr * beta1], [(1 - beta1) * c, beta1]])
    return float(max(abs(np.linalg.eigvals(m))))


@pytest.mark.parametrize("beta1", [0.0, 0.5, 0.9, 0.99])
def test_adam_threshold_is_the_radius_one_crossing(beta1):
    lr = 1e-3
    threshold, label, rule = preconditioned_threshold("adam", {"betas": (beta1, 0.999)}, lr)
    assert threshold == pytest.approx((2 + 2 * beta1) / ((1 - beta1) * lr), rel=1e-15)
    assert adam_radius(lr, 0.999 * threshold, beta1) < 1 < adam_radius(lr, 1.001 * threshold, beta1)
    if beta1 == 0.9:
        assert label == "38/lr" and rule.startswith("(2+2beta1)/((1-beta1) lr) = 38/lr")
    assert preconditioned_threshold("rmsprop", {}, lr)[:2] == (2 / lr, "2/lr")


def test_sharpness_cli_with_adam(cli):
    doc = cli.json("sharpness", "--optimizer", "adam", "--lr", "0.001", "--steps", "20", "--every", "10",
                   "--limit-train", "200", "--hidden", "8", "--no-plots")
    (run,) = doc["runs"]
    assert run["kind"] == "preconditioned" and run["threshold_label"] == "38/lr"
    assert run["bound"] == pytest.approx(38 / 0.001, rel=1e-14)  # 3.8 / 0.1 rounds once or twice
    assert [p["step"] for p in run["sharpness"]] == [10, 20]
    assert all(p["value"] > 0 for p in run["sharpness"]) and run["verdict"]
    assert len(run["losses"]) == 21
    result = cli("sharpness", "--optimizer", "adagrad", "--steps", "5", "--every", "5", "--no-plots")
    assert result.exit_code == 2 and "no edge of stability" in result.stderr


def test_the_human_text_names_the_step_of_adams_first_measurement(cli):
    # Adam's first preconditioned sharpness is measured at step --every (no second moment
    # before the first update): the text said "at step 0" for it; SGD's is at step 0.
    base = ["--lr", "0.001", "--steps", "20", "--every", "10", "--limit-train", "200", "--hidden", "8",
            "--no-plots"]
    adam = cli("sharpness", "--optimizer", "adam", *base)
    assert adam.exit_code == 0, adam.stderr
    first = cli.json("sharpness", "--optimizer", "adam", *base)["runs"][0]["sharpness_init"]
    assert f"lambda_1(P^-1 H) {first:.4g} at step 10, " in adam.stdout
    sgd = cli("sharpness", *base)
    assert sgd.exit_code == 0, sgd.stderr
    assert " at step 0, " in sgd.stdout
