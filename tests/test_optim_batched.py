"""K batched runs equal K separate runs, for every rule, in float64.

K = 4 parameter sets are stacked along a leading model dimension and stepped by one batched
optimizer whose hyperparameters differ per model; each set is also stepped alone by the plain
rule (itself proven equal to torch.optim in test_optim.py). Both runs are fed the SAME gradient
stream, bit for bit by construction (a fixed random sequence, not the gradient of a loss at the
current parameters), so they differ only in the optimizer's own arithmetic and a rounding
difference is not fed back through a loss and amplified by the dynamics. (A loss-driven version
failed at 1.2e-12 relative on an AVX-512 machine: matmuls on differently aligned views take
different MKL kernels there, so the gradients themselves differed.)

Tolerance, from the operation count: a step does at most OPS = 16 roundings per element, and
the two runs may round each one differently (an FMA on one kernel path, a multiply then an add
on another: ATen's vector width decides which elements take which). Every recurrence here has
coefficients of magnitude <= 1 (betas, alpha, momentum, 1), so after STEPS steps the two runs
differ by at most STEPS * OPS * eps(float64) times the largest magnitude the quantity takes:
25 * 16 * 2.2e-16 = 8.9e-14, compared norm-wise (relative to the tensor's largest entry). On the
kernel path this machine takes the runs are bit-identical for every rule but RMSprop (4e-15).
A vectorized (bmm) loss is tested on its own, on linear regression.
"""

from __future__ import annotations

import pytest
import torch

from sgdlab import optim
from sgdlab.core.errors import ConfigError

# numbers compared to a tolerance or bit for bit: `make test-numeric` runs these on every kernel path
pytestmark = pytest.mark.numeric

K, STEPS, OPS = 4, 25, 16
TOL = STEPS * OPS * torch.finfo(torch.float64).eps  # 8.9e-14, see the module docstring
LR = [0.005, 0.02, 0.05, 0.1]

# name -> batched hyperparameters (tensors: one value per model; numbers: shared)
CASES = {
    "sgd": dict(lr=LR, momentum=[0.0, 0.5, 0.9, 0.9], weight_decay=[0.0, 0.1, 0.0, 0.2]),
    "sgd-nesterov": dict(lr=LR, momentum=[0.1, 0.5, 0.9, 0.95], nesterov=True, weight_decay=0.05),
    "sgd-dampening": dict(lr=0.05, momentum=0.9, dampening=[0.0, 0.1, 0.5, 1.0]),
    "sgd-plain": dict(lr=LR),
    "adagrad": dict(lr=LR, lr_decay=[0.0, 0.01, 0.05, 0.1], weight_decay=[0.0, 0.1, 0.0, 0.1],
                    initial_accumulator_value=[0.0, 0.1, 0.5, 0.0], eps=[1e-10, 1e-8, 1e-3, 1e-10]),
    "rmsprop": dict(lr=LR, alpha=[0.99, 0.9, 0.5, 0.0], eps=[1e-8, 1e-6, 1e-3, 1e-8],
                    momentum=[0.0, 0.5, 0.9, 0.0], weight_decay=[0.0, 0.0, 0.1, 0.1]),
    "rmsprop-centered": dict(lr=0.01, alpha=[0.99, 0.9, 0.5, 0.8], centered=True, momentum=0.5),
    "adam": dict(lr=LR, betas=([0.9, 0.5, 0.0, 0.99], [0.999, 0.9, 0.5, 0.0]),
                 eps=[1e-8, 1e-6, 1e-3, 1e-8], weight_decay=[0.0, 0.1, 0.0, 0.5]),
    "adam-amsgrad": dict(lr=LR, betas=(0.9, [0.999, 0.9, 0.99, 0.5]), amsgrad=True),
    "adamw": dict(lr=LR, betas=([0.9, 0.5, 0.8, 0.95], 0.999), weight_decay=[0.0, 0.01, 0.1, 0.5]),
    "adamw-amsgrad": dict(lr=0.05, amsgrad=True, weight_decay=[0.0, 0.01, 0.1, 0.5]),
}


def _model_hp(hp: dict, k: int) -> dict:
    """Model k's own hyperparameters, as numbers."""
    pick = lambda v: v[k] if isinstance(v, list) else v  # noqa: E731
    return {key: tuple(pick(b) for b in v) if key == "betas" else pick(v) for key, v in hp.items()}


def _data():
    g = torch.Generator().manual_seed(5)
    x = torch.randn(K, 12, 3, generator=g, dtype=torch.float64)
    y = torch.randn(K, 12, generator=g, dtype=torch.float64)
    start = [torch.randn(K, 3, 5, generator=g, dtype=torch.float64),
             torch.randn(K, 5, generator=g, dtype=torch.float64)]
    return x, y, start


def _loss(x, y, w1, w2):
    """Model-wise MSE of tanh(x w1) w2; works for one model or K stacked ones (bmm)."""
    hidden = torch.tanh(x @ w1)
    return ((hidden @ w2.unsqueeze(-1)).squeeze(-1) - y).pow(2).mean(-1)


def _gradients():
    """STEPS gradients per stacked tensor, entries of magnitude 0.1 to ~3 (away from zero)."""
    g = torch.Generator().manual_seed(11)
    _, _, start = _data()
    out = []
    for _ in range(STEPS):
        draws = [torch.randn(t.shape, generator=g, dtype=torch.float64) for t in start]
        out.append([d.sign() * (0.1 + d.abs()) for d in draws])
    return start, out


def _assert_near(got: torch.Tensor, want: torch.Tensor) -> None:
    """Norm-wise: every entry within TOL times the tensor's largest magnitude."""
    scale = float(want.abs().max()) if want.numel() else 0.0
    torch.testing.assert_close(got, want, rtol=0, atol=TOL * max(scale, 1e-300))


@pytest.mark.parametrize("case", list(CASES))
def test_batched_equals_separate_runs(case):
    name, hp = case.split("-")[0], CASES[case]
    start, grads = _gradients()
    stacked = [t.clone().requires_grad_(True) for t in start]
    opt = optim.batched.create(name, stacked, **hp)
    for step in range(STEPS):
        for t, grad in zip(stacked, grads[step]):
            t.grad = grad.clone()
        opt.step()
    batched_state = opt.state_dict()["state"]
    for k in range(K):
        params = [t[k].clone().requires_grad_(True) for t in start]
        alone = optim.create(name, params, **_model_hp(hp, k))
        for step in range(STEPS):
            for p, grad in zip(params, grads[step]):
                p.grad = grad[k].clone()  # the same bits the batched run saw for model k
            alone.step()
        for a, b in zip(stacked, params):
            _assert_near(a[k].detach(), b.detach())
        state = alone.state_dict()["state"]
        for i in state:
            # a batched SGD/RMSprop keeps a momentum buffer for every model when any has momentum
            assert set(state[i]) <= set(batched_state[i])
            for key, value in state[i].items():
                if key == "step":
                    assert float(batched_state[i][key]) == float(value)  # a count: exact
                else:
                    _assert_near(batched_state[i][key][k], value)


def test_hyperparameters_become_one_value_per_model():
    w = torch.zeros(3, 2, requires_grad=True, dtype=torch.float64)
    opt = optim.batched.create("adam", [w], lr=torch.tensor([0.1, 0.2, 0.3]), betas=(0.9, [0.9, 0.99, 0.999]))
    group = opt.param_groups[0]
    assert group["lr"].dtype == torch.float64 and group["lr"].tolist() == pytest.approx([0.1, 0.2, 0.3])
    assert group["eps"].tolist() == [1e-8] * 3
    assert group["betas"][0].tolist() == [0.9] * 3 and group["betas"][1].tolist() == [0.9, 0.99, 0.999]
    assert isinstance(opt, optim.batched.BatchedAdam) and isinstance(opt, optim.Adam)


def test_batched_state_dict_round_trip():
    x, y, start = _data()

    def train(params, opt, steps):
        for _ in range(steps):
            opt.zero_grad()
            _loss(x, y, *params).sum().backward()
            opt.step()

    hp = dict(lr=LR, momentum=[0.5, 0.9, 0.0, 0.3], centered=True)
    whole = [t.clone().requires_grad_(True) for t in start]
    train(whole, optim.batched.create("rmsprop", whole, **hp), 12)
    half = [t.clone().requires_grad_(True) for t in start]
    opt = optim.batched.create("rmsprop", half, **hp)
    train(half, opt, 5)
    resumed = [t.detach().clone().requires_grad_(True) for t in half]
    fresh = optim.batched.create("rmsprop", resumed, lr=0.5)  # the saved groups bring back the lr
    fresh.load_state_dict(opt.state_dict())
    train(resumed, fresh, 7)
    for a, b in zip(resumed, whole):
        assert torch.equal(a, b)


BAD = [
    (dict(lr=[0.1, -0.2, 0.3, 0.4]), "sgd: lr must be > 0 for every model, got -0.2 for model 1"),
    (dict(lr=[0.1, 0.2]), "sgd: lr has 2 values but the parameters stack 4 models"),
    (dict(lr=torch.ones(4, 1)), "sgd: lr must be a number or a 1-D float tensor of one value per model"),
    (dict(nesterov=True, momentum=[0.9, 0.0, 0.9, 0.9]), "sgd: nesterov needs momentum > 0 and dampening = 0"),
    (dict(momentum=[0.9, float("nan"), 0.9, 0.9]), "sgd: momentum must be >= 0 for every model, got nan for model 1"),
]


@pytest.mark.parametrize("hp,message", BAD, ids=[m[:40] for _, m in BAD])
def test_batched_bad_hyperparameters(hp, message):
    with pytest.raises(ConfigError) as info:
        optim.batched.create("sgd", [torch.zeros(4, 3, requires_grad=True)], **({"lr": 0.1} | hp))
    assert any(message in p for p in info.value.problems), info.value.problems


def test_batched_bad_shapes_and_names():
    with pytest.raises(ConfigError, match="same number of models"):
        optim.batched.create("adam", [torch.zeros(4, 3, requires_grad=True), torch.zeros(3, requires_grad=True)])
    with pytest.raises(ConfigError, match="leading model dimension"):
        optim.batched.create("adam", [torch.zeros((), requires_grad=True)])
    with pytest.raises(ConfigError, match="torch-adam has no batched form"):
        optim.batched.create("torch-adam", [torch.zeros(4, 3, requires_grad=True)])
    with pytest.raises(ConfigError, match="unknown optimizer 'lion'"):
        optim.batched.create("lion", [torch.zeros(4, 3, requires_grad=True)])
    with pytest.raises(ConfigError, match="optimizer adagrad does not take betas"):
        optim.batched.create("adagrad", [torch.zeros(4, 3, requires_grad=True)], betas=(0.9, 0.99))


def test_vectorized_linear_regressions_reach_their_own_optimum():
    """The intended use: K linear regressions in one bmm, one batched step, K learning rates."""
    g = torch.Generator().manual_seed(0)
    x = torch.randn(K, 30, 2, generator=g, dtype=torch.float64)
    y = x @ torch.tensor([2.0, -1.0], dtype=torch.float64) + 0.1 * torch.randn(K, 30, generator=g, dtype=torch.float64)
    w = torch.zeros(K, 2, dtype=torch.float64, requires_grad=True)
    opt = optim.batched.create("sgd", [w], lr=[0.05, 0.1, 0.2, 0.3], momentum=0.5)
    for _ in range(300):
        opt.zero_grad()
        (torch.bmm(x, w.unsqueeze(-1)).squeeze(-1) - y).pow(2).mean(-1).sum().backward()
        opt.step()
    for k in range(K):
        best = torch.linalg.lstsq(x[k], y[k]).solution
        # converged: heavy ball contracts by sqrt(0.5) a step here (eigenvalues 1.3-2.7), 0.71**300 ~ 1e-45;
        # what is left is rounding, cond(X'X) * 300 * eps < 1e-12, far below 1e-9
        torch.testing.assert_close(w[k].detach(), best, rtol=1e-9, atol=1e-9)
    # and each model equals its separate run up to the rounding of bmm against mm
    alone = torch.zeros(2, dtype=torch.float64, requires_grad=True)
    opt1 = optim.create("sgd", [alone], lr=0.3, momentum=0.5)
    for _ in range(300):
        opt1.zero_grad()
        (x[3] @ alone - y[3]).pow(2).mean().backward()
        opt1.step()
    # the iteration contracts (by 0.71 a step, above), so it damps each step's rounding difference (a dot product of 30
    # terms rounds differently in bmm and mm: <= 30 eps); 300 steps add at most 300 * 30 * eps
    bound = 300 * 30 * torch.finfo(torch.float64).eps  # 2.0e-12
    torch.testing.assert_close(w[3].detach(), alone.detach(), rtol=bound, atol=bound)
