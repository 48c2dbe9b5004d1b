"""sgdlab.theory against exact oracles: the full Hessian (torch.autograd.functional.hessian and
eigvalsh), linear regression's closed form, the bowl's curvature, per-example gradients."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from torch.func import functional_call

from sgdlab.linreg.model import objective as linreg_objective
from sgdlab.linreg.model import stable_lr_bound
from sgdlab.mnist import model as mlp
from sgdlab.surface import functions as surfaces
from sgdlab.surface import theory as surface_theory
from sgdlab.theory import curvature, noise

# numbers compared to a tolerance or bit for bit: `make test-numeric` runs these on every kernel path
pytestmark = pytest.mark.numeric


def tiny_mlp(activation="tanh", loss="mse", n=40, seed=0):
    """A 6-5-3 MLP (53 parameters) on random data, float64: small enough for the full Hessian."""
    g = torch.Generator().manual_seed(seed)
    net = mlp.build_model(6, [5], 3, g, activation).double()
    x = torch.randn(n, 6, generator=g, dtype=torch.float64)
    y = torch.randint(0, 3, (n,), generator=g)
    return net, x, y, mlp.loss_function(loss)


def full_hessian(net, x, y, criterion):
    names = [k for k, _ in net.named_parameters()]
    shapes = [p.shape for p in net.parameters()]
    sizes = [p.numel() for p in net.parameters()]

    def loss_of_flat(flat):
        params = {k: t.view(s) for k, t, s in zip(names, torch.split(flat, sizes), shapes)}
        return criterion(functional_call(net, params, (x,)), y)

    flat = torch.cat([p.detach().reshape(-1) for p in net.parameters()])
    return torch.autograd.functional.hessian(loss_of_flat, flat)


def mlp_objective(net, x, y, criterion, chunk):
    names = [k for k, _ in net.named_parameters()]

    def chunk_loss(params, rows):
        return criterion(functional_call(net, dict(zip(names, params)), (x[rows],)), y[rows])

    return curvature.Objective(list(net.parameters()), chunk_loss, curvature.chunks_of(len(x), chunk))


@pytest.mark.parametrize("activation,loss", [("tanh", "mse"), ("relu", "cross-entropy"), ("tanh", "cross-entropy")])
@pytest.mark.parametrize("chunk", [40, 7])
def test_lanczos_equals_eigvalsh_of_the_full_hessian(activation, loss, chunk):
    net, x, y, criterion = tiny_mlp(activation, loss)
    exact = torch.linalg.eigvalsh(full_hessian(net, x, y, criterion)).flip(0)[:3].tolist()
    objective = mlp_objective(net, x, y, criterion, chunk)
    assert objective.dim == 53 and len(objective.chunks) == math.ceil(40 / chunk)
    lanczos = curvature.top_eigenvalues(objective, k=3, tol=1e-12, dense_max=0)
    assert lanczos.method == "lanczos"
    assert lanczos.values == pytest.approx(exact, rel=1e-6)  # Lanczos stops at residual 1e-12; 1e-6 covers its gap-dependent error
    dense = curvature.top_eigenvalues(objective, k=3)  # 53 <= DENSE_MAX: built from 53 HVPs
    assert dense.method == "dense" and dense.matvecs == 53
    assert dense.values == pytest.approx(exact, rel=1e-10)  # two float64 eigensolvers of a 53 x 53 matrix: ~53 eps * ||H|| / lambda
    # the eigenvector is one: H v = lambda v
    v = torch.from_numpy(lanczos.vectors[:, 0])
    # the vector is accurate to the Lanczos residual (its tolerance scaled by the eigengap), not to eps
    torch.testing.assert_close(curvature.hvp(objective, v), lanczos.values[0] * v, rtol=1e-5, atol=1e-7)


def test_lanczos_without_scipy_equals_eigvalsh(monkeypatch):
    """A bare checkout without SciPy (a benchmark machine) falls back to plain Lanczos."""
    import builtins

    net, x, y, criterion = tiny_mlp("tanh", "mse")
    exact = torch.linalg.eigvalsh(full_hessian(net, x, y, criterion)).flip(0)[:2].tolist()
    real_import = builtins.__import__

    def no_scipy(name, *args, **kwargs):
        if name.startswith("scipy"):
            raise ImportError("no scipy here")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_scipy)
    eigen = curvature.top_eigenvalues(mlp_objective(net, x, y, criterion, 40), 2, tol=1e-10, dense_max=0)
    assert eigen.method == "lanczos (no scipy)" and eigen.values == pytest.approx(exact, rel=1e-6)  # tol 1e-10, as above


def test_gradient_and_hvp_equal_autograd_chunked():
    net, x, y, criterion = tiny_mlp("relu", "cross-entropy", n=33)
    objective = mlp_objective(net, x, y, criterion, 10)  # chunks of 10, 10, 10, 3: weighted
    hessian = full_hessian(net, x, y, criterion)
    v = torch.randn(objective.dim, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    # float64, chunked double backward against the full Hessian: sums of <= 53 * 40 terms, ~2000 eps = 5e-13
    torch.testing.assert_close(curvature.hvp(objective, v), hessian @ v, rtol=1e-10, atol=1e-12)
    loss = criterion(net(x), y)
    expected = torch.cat([g.reshape(-1) for g in torch.autograd.grad(loss, list(net.parameters()))])
    # chunks of 10 summed and weighted against one sum of 33: <= 33 eps = 7e-15 relative, 1e-12 for cancellation
    torch.testing.assert_close(curvature.gradient(objective), expected, rtol=1e-12, atol=1e-14)
    assert curvature.loss_value(objective) == pytest.approx(float(loss.detach()), rel=1e-13)  # a positive sum of 33: <= 33 eps


def test_warm_start_saves_products_and_gives_the_same_value():
    net, x, y, criterion = tiny_mlp("tanh", "mse", n=200)
    objective = mlp_objective(net, x, y, criterion, 200)
    exact = float(torch.linalg.eigvalsh(full_hessian(net, x, y, criterion))[-1])
    first = curvature.top_eigenvalues(objective, 1, tol=1e-8, dense_max=0)
    warm = curvature.top_eigenvalues(objective, 1, tol=1e-8, dense_max=0, v0=first.vectors[:, 0])
    assert first.values[0] == pytest.approx(exact, rel=1e-6) and warm.values[0] == pytest.approx(exact, rel=1e-6)  # Lanczos tol 1e-8
    assert warm.matvecs < first.matvecs
    tracker = curvature.Sharpness(tol=1e-8)
    assert tracker(objective) == pytest.approx(exact, rel=1e-6) and tracker.estimates == 1  # Lanczos tol 1e-8
    assert tracker.vector is not None and tracker.matvecs == 53  # dense path: one product per column


def test_linear_regression_bound_is_the_closed_form():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(30, 40)) * rng.uniform(0.1, 3, size=40)  # 41 parameters, spread curvature
    y = rng.normal(size=30)
    w = torch.zeros(40, dtype=torch.float64)
    b = torch.zeros(1, dtype=torch.float64)
    objective = linreg_objective(torch.from_numpy(x), torch.from_numpy(y), w, b)
    for dense_max in (0, 64):  # Lanczos and the dense path
        top = curvature.top_eigenvalues(objective, 1, tol=1e-12, dense_max=dense_max).values[0]
        assert curvature.lr_bound(top) == pytest.approx(stable_lr_bound(x), rel=1e-9)  # Lanczos tol 1e-12 on a 2 x 2 Hessian
    # the tutorial's 15 points, 2 parameters (float32 as the tutorial runs): 0.0231492
    from sgdlab.linreg.data import tutorial_points

    table = tutorial_points()
    objective = linreg_objective(torch.from_numpy(table.x.astype(np.float64)),
                                 torch.from_numpy(table.y.astype(np.float64)),
                                 torch.zeros(1, dtype=torch.float64), torch.zeros(1, dtype=torch.float64))
    top = curvature.top_eigenvalues(objective, 1).values[0]
    assert curvature.lr_bound(top) == pytest.approx(stable_lr_bound(table.x), rel=1e-12)  # 2 x 2: the dense path, exact to a few eps


@pytest.mark.parametrize("a,b", [(1.0, 10.0), (2.0, 7.0), (3.0, -4.0)])
def test_bowl_curvature_and_the_surfaces_hessian(a, b):
    surface = surfaces.get("bowl", (a, b))
    at = surface_theory.point((0.4, -0.3))
    eigen = curvature.top_eigenvalues(surface_theory.objective(surface, at), 2)
    assert eigen.values == pytest.approx(sorted([a, b], reverse=True), rel=1e-12)  # a diagonal 2 x 2 of small integers: exact to a few eps
    assert eigen.values == pytest.approx(surface_theory.at_point(surface, (0.4, -0.3))["eigenvalues"][::-1])
    # Hutchinson with Rademacher probes is exact on a diagonal Hessian: z^T D z = tr D
    trace, _ = curvature.hutchinson_trace(surface_theory.objective(surface, at), 3, torch.Generator().manual_seed(0))
    assert trace == pytest.approx(a + b, rel=1e-12)  # exact on a diagonal Hessian: three sums of two integers
    assert curvature.lr_bound(max(a, b)) == 2 / max(a, b)


def test_hutchinson_trace_of_the_mlp_within_its_error():
    net, x, y, criterion = tiny_mlp("tanh", "mse")
    exact = float(torch.trace(full_hessian(net, x, y, criterion)))
    mean, error = curvature.hutchinson_trace(mlp_objective(net, x, y, criterion, 40), 400,
                                             torch.Generator().manual_seed(0))
    assert abs(mean - exact) < 4 * error and error < 0.1 * abs(exact)


def test_no_curvature_and_diverged_points():
    assert curvature.lr_bound(0.0) is None and curvature.lr_bound(-1.0) is None
    assert curvature.lr_bound(float("nan")) is None
    p = torch.tensor([float("nan"), 1.0], dtype=torch.float64)
    eigen = curvature.top_eigenvalues(curvature.Objective([p], lambda ps, _: (ps[0] ** 2).sum()), 1)
    assert math.isnan(eigen.values[0]) and eigen.matvecs == 0


# -- gradient noise -------------------------------------------------------------------------------

def per_example_by_hand(net, x, y, criterion):
    """The oracle: one autograd call per example, nothing vectorised."""
    rows = []
    for i in range(len(x)):
        loss = criterion(net(x[i : i + 1]), y[i : i + 1])
        rows.append(torch.cat([g.reshape(-1) for g in torch.autograd.grad(loss, list(net.parameters()))]))
    return torch.stack(rows)


@pytest.mark.parametrize("chunk", [40, 9])
def test_exact_noise_scale_equals_per_example_autograd(chunk):
    net, x, y, criterion = tiny_mlp("relu", "cross-entropy")
    grads = per_example_by_hand(net, x, y, criterion)
    mean = grads.mean(0)
    trace_sigma = float(((grads - mean) ** 2).sum(1).mean())  # population covariance's trace
    names = [k for k, _ in net.named_parameters()]

    def loss_one(params, image, label):
        return criterion(functional_call(net, dict(zip(names, params)), (image[None],)), label[None])

    chunks = [(x[i : i + chunk], y[i : i + chunk]) for i in range(0, len(x), chunk)]
    got = noise.exact(loss_one, list(net.parameters()), chunks)
    assert got.gradients == 40 and got.method == "exact"
    # float64 per-example gradients summed in chunks vs at once: sums of 40 terms, 40 eps = 9e-15;
    # trace(Sigma) subtracts |G|^2 from the mean square, which can cancel a few digits: 1e-10
    assert got.grad_norm_sq == pytest.approx(float(mean @ mean), rel=1e-10)
    assert got.trace_sigma == pytest.approx(trace_sigma, rel=1e-10)
    assert got.b_simple == pytest.approx(trace_sigma / float(mean @ mean), rel=1e-10)


def test_two_batch_formulas_invert_the_expected_norms():
    g2, trace = 0.37, 12.5
    for small, big in [(1, 2), (10, 1000), (100, 4000)]:
        expected = lambda b: g2 + trace / b  # E|G_B|^2 for batches drawn with replacement
        got = noise.from_norms(small, big, expected(small), expected(big))
        assert got == pytest.approx((g2, trace), rel=1e-12)  # inverting a 2 x 2 linear system of exact inputs: cond (<= 4000/3999 ~ 1e3) * eps


def test_two_batch_estimator_converges_to_the_exact_value():
    net, x, y, criterion = tiny_mlp("relu", "cross-entropy", n=60)
    grads = per_example_by_hand(net, x, y, criterion)
    exact_g2 = float(grads.mean(0) @ grads.mean(0))
    exact_trace = float(((grads - grads.mean(0)) ** 2).sum(1).mean())
    estimate = noise.two_batch(lambda index: grads[index].mean(0), 60, 2, 30, 4000,
                               torch.Generator().manual_seed(0))
    assert estimate.gradients == 4000 * 30 and estimate.method == "two-batch"
    # statistics (seeded): 4000 draws, the estimator's relative standard error ~1-2%; 3-5 of them
    assert estimate.trace_sigma == pytest.approx(exact_trace, rel=0.05)
    assert estimate.grad_norm_sq == pytest.approx(exact_g2, rel=0.1)
    assert noise.ratio(1.0, -0.5) != noise.ratio(1.0, -0.5)  # NaN, never a negative B_simple


def test_two_batch_sizes_default_to_100_and_1000_or_scale_down_to_the_set():
    assert noise.two_batch_sizes(1000) == noise.two_batch_sizes(60000) == (100, 1000)
    assert noise.two_batch_sizes(150) == (15, 150) and noise.two_batch_sizes(64) == (6, 60)
    assert noise.two_batch_sizes(7) == (1, 7)  # still SMALL < BIG, BIG a multiple of SMALL
    assert noise.two_batch_sizes(150, 10, 40) == (10, 40)  # given: kept, checked elsewhere
