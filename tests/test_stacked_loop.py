"""The shared stacked loop (``sweep.stacked.train``) on its own: one (K, P) tensor or a list of
per-layer tensors give the same run; each model draws its own batch order; a diverged model is
frozen while the others go on; the end-of-epoch hook sees the models still training."""

from __future__ import annotations

import pytest
import torch

pytestmark = pytest.mark.numeric

from sgdlab.optim import batched
from sgdlab.sweep import stacked

N, D = 20, 3
SEEDS = [4, 5, 6]


def _data():
    g = torch.Generator().manual_seed(0)
    x = torch.randn(N, D, generator=g, dtype=torch.float64)
    return x, x @ torch.tensor([1.0, -2.0, 0.5], dtype=torch.float64) + 0.3


def _run(layers: bool, lrs, *, batch_size=6, steps=10, end_epoch=None, seen=None):
    """K linear regressions, (w, b) as one (K, D + 1) tensor or as [w (K, D), b (K, 1)]."""
    x, y = _data()
    theta, generators = stacked.linear_models([_Cell(s) for s in SEEDS], D, torch.float64)
    params = [theta[:, :D].clone(), theta[:, D:].clone()] if layers else theta
    w, b = (params[0], params[1]) if layers else (theta[:, :D], theta[:, D:])
    optimizer = batched.create("sgd", params if layers else [params], lr=list(lrs))

    def batch(index):  # mean squared error and its gradient, by hand
        xb, yb = (x.expand(len(SEEDS), -1, -1), y.expand(len(SEEDS), -1)) if index is None \
            else (x[index], y[index])
        if seen is not None:
            seen.append(None if index is None else index.clone())
        # w contiguous in both forms: the same bmm kernel on the same layout, the same bits
        r = torch.bmm(xb, w.contiguous().unsqueeze(-1)).squeeze(-1) + b - yb
        gw, gb = torch.bmm(r.unsqueeze(1), xb).squeeze(1) * (2 / xb.shape[1]), r.mean(1, keepdim=True) * 2
        return (r ** 2).mean(1), [gw, gb] if layers else torch.cat([gw, gb], dim=1)

    return stacked.train(params, optimizer, generators, n=N, batch_size=batch_size, steps=steps,
                         batch=batch, end_epoch=end_epoch), params


class _Cell:
    def __init__(self, seed):
        self.seed = seed


@pytest.mark.parametrize("batch_size", [6, N], ids=["minibatch", "full-batch"])
def test_a_list_of_layers_trains_as_the_one_tensor_does(batch_size):
    lrs = [0.01, 0.1, 1e4]  # the last one diverges
    one, theta = _run(False, lrs, batch_size=batch_size)
    many, layers = _run(True, lrs, batch_size=batch_size)
    # bit-identical by construction: the same arithmetic on the same layouts, and the update
    # elementwise (one fused multiply-add per element, as optim.batched writes it) either way
    assert [lp.step_losses for lp in one.loops] == [lp.step_losses for lp in many.loops]
    assert [lp.status for lp in many.loops] == ["completed", "completed", "diverged"]
    assert many.loops[2].steps_done == many.loops[2].diverged_step - 1 < 10
    assert [lp.steps_done for lp in many.loops[:2]] == [10, 10]
    assert one.frozen.keys() == many.frozen.keys() == {2}
    assert torch.equal(one.frozen[2], torch.cat(many.frozen[2]))  # its parameters when it diverged
    assert not torch.equal(one.frozen[2], theta[2])  # the group updated on without it
    for i in range(len(SEEDS)):
        assert torch.equal(one.parameters(theta, i), torch.cat(many.parameters(layers, i)))
    for loop, times in zip(many.loops, many.step_times):
        assert len(times) == len(loop.step_losses)


def test_each_model_draws_its_own_batch_order_as_its_serial_run_does():
    seen: list = []
    _run(True, [0.01] * 3, batch_size=6, steps=8, seen=seen)
    for i, seed in enumerate(SEEDS):
        g = torch.Generator().manual_seed(seed)
        torch.randn(D, generator=g, dtype=torch.float64)  # the initial w, drawn first
        expected = torch.cat([torch.randperm(N, generator=g) for _ in range(2)])  # 2 epochs
        assert torch.equal(torch.cat([s[i] for s in seen]), expected)


def test_end_epoch_sees_each_training_models_mean_batch_loss():
    calls: list = []
    run, _ = _run(True, [0.01, 0.1, 1e4], batch_size=6, steps=10,
                  end_epoch=lambda epoch, losses, seconds: calls.append((epoch, dict(losses))))
    # 4 batches an epoch (6, 6, 6, 2 rows): epochs 1-2 full, epoch 3 cut at step 10
    assert [epoch for epoch, _ in calls] == [1, 2, 3]
    for epoch, losses in calls:
        assert 2 not in losses  # diverged in its first epoch: it no longer trains
        for i, value in losses.items():
            mine = run.loops[i].step_losses[4 * (epoch - 1): 4 * epoch]
            assert value == sum(mine) / len(mine)  # the same sum, in the same order
    assert [len(lp.epoch_seconds) for lp in run.loops] == [3, 3, 1]
