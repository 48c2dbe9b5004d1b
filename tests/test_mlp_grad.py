"""The MLP's hand-written gradients against autograd (the oracle), and when they apply."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from sgdlab.mnist import grad as mlp_grad
from sgdlab.mnist import model as mlp

# numbers compared to a tolerance or bit for bit: `make test-numeric` runs these on every kernel path
pytestmark = pytest.mark.numeric


@pytest.mark.parametrize("activation", ["relu", "tanh"])
@pytest.mark.parametrize("loss_kind", ["cross-entropy", "mse"])
@pytest.mark.parametrize("hidden,batch", [([200], 100), ([64, 32], 7), ([], 13), ([5, 5, 5], 1)])
def test_loss_and_gradients_equal_autograd_in_float64(hidden, batch, activation, loss_kind):
    g = torch.Generator().manual_seed(len(hidden) * 10 + batch)
    net = mlp.build_model(20, hidden, 10, g, activation).double()
    x = torch.randn(batch, 20, generator=g, dtype=torch.float64)
    y = torch.randint(0, 10, (batch,), generator=g)
    loss = mlp.loss_function(loss_kind)(net(x), y)
    expected = torch.autograd.grad(loss, list(net.parameters()))
    got = mlp_grad.loss_and_grad(net, x, y, loss_kind)
    # float64; the hand-written forward is autograd's forward (the same kernels), the losses differ
    # by the reduction order at most: <= batch (100) * eps = 2.2e-14 relative in the worst case,
    # here a loss of ~2 summed from 100 terms of ~2 (no cancellation), so 1e-14 holds with margin
    torch.testing.assert_close(got, loss.detach(), rtol=1e-14, atol=1e-14)
    for want, p in zip(expected, net.parameters()):
        # a gradient entry sums <= 200 products through <= 4 layers: <= 4 * 200 * eps = 1.8e-13
        # relative to the sum of magnitudes; 1e-12 allows some cancellation
        torch.testing.assert_close(p.grad, want, rtol=1e-12, atol=1e-14)


def test_the_squared_loss_is_cohens():
    """0.5 ||f - onehot(y)||^2 summed over classes, averaged over examples (locuslab's SquaredLoss / n)."""
    out = torch.tensor([[0.5, -1.0, 2.0], [0.0, 0.0, 0.0]], dtype=torch.float64)
    y = torch.tensor([2, 0])
    expected = (0.5 * (0.25 + 1.0 + 1.0) + 0.5 * 1.0) / 2
    # six float64 operations on exactly representable halves and quarters: exact up to 1 eps
    assert float(mlp.loss_function("mse")(out, y)) == pytest.approx(expected, rel=1e-15)
    assert mlp.loss_function("mse", "none")(out, y).tolist() == pytest.approx([1.125, 0.5])


def test_only_linear_relu_or_tanh_stacks_qualify():
    g = torch.Generator().manual_seed(0)
    assert mlp_grad.supports(mlp.build_model(784, [200], 10, g))
    assert mlp_grad.supports(nn.Sequential(nn.Linear(3, 3), nn.Tanh(), nn.Linear(3, 2)), "mse")
    assert not mlp_grad.supports(nn.Sequential(nn.Linear(3, 3), nn.Sigmoid(), nn.Linear(3, 2)))
    assert not mlp_grad.supports(nn.Sequential(nn.Linear(3, 3), nn.ReLU()))
    assert not mlp_grad.supports(mlp.build_model(4, [3], 2, g), "hinge")


def test_the_training_step_matches_autograd_steps():
    """Ten SGD steps with hand-written gradients land where autograd's ten steps land."""
    g = torch.Generator().manual_seed(3)
    x = torch.randn(64, 30, generator=g, dtype=torch.float64)
    y = torch.randint(0, 10, (64,), generator=g)
    fused = mlp.build_model(30, [16], 10, torch.Generator().manual_seed(1)).double()
    plain = mlp.build_model(30, [16], 10, torch.Generator().manual_seed(1)).double()
    for step in range(10):
        rows = torch.arange(step * 6, step * 6 + 6)
        mlp_grad.loss_and_grad(fused, x[rows], y[rows])
        plain.zero_grad()
        torch.nn.functional.cross_entropy(plain(x[rows]), y[rows]).backward()
        with torch.no_grad():
            for a, b in zip(fused.parameters(), plain.parameters()):
                a.add_(a.grad, alpha=-0.1)
                b.add_(b.grad, alpha=-0.1)
    # ten steps, each gradient within 1.8e-13 (above), lr 0.1 and a contracting step: 1e-12
    for a, b in zip(fused.parameters(), plain.parameters()):
        torch.testing.assert_close(a, b, rtol=1e-12, atol=1e-13)
