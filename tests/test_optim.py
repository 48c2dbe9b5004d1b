"""The hand-written rules against torch.optim, the oracle: same parameters and same state, bit for bit.

Each case runs 25 steps of a tiny float64 MLP twice from the same start, once with our rule and
once with its torch.optim twin (single-tensor path, ``foreach=False``), and compares every
parameter and every state tensor exactly (tolerance 0: the rules use torch's own kernels).
"""

from __future__ import annotations

import copy
import io
import itertools

import pytest
import torch

from sgdlab import optim
from sgdlab.core.errors import ConfigError

# numbers compared to a tolerance or bit for bit: `make test-numeric` runs these on every kernel path
pytestmark = pytest.mark.numeric

STEPS = 25
TORCH = {"sgd": torch.optim.SGD, "adagrad": torch.optim.Adagrad, "rmsprop": torch.optim.RMSprop,
         "adam": torch.optim.Adam, "adamw": torch.optim.AdamW}


def _grid() -> list[tuple[str, dict]]:
    cases = []
    for lr, momentum, nesterov, wd in itertools.product([0.01, 0.2], [0.0, 0.9], [False, True], [0.0, 0.1]):
        if nesterov and momentum == 0:
            continue
        cases.append(("sgd", dict(lr=lr, momentum=momentum, nesterov=nesterov, weight_decay=wd)))
    cases += [("sgd", dict(lr=0.1, momentum=0.9, dampening=0.5, weight_decay=wd)) for wd in (0.0, 0.1)]
    for lr, lr_decay, wd, (init, eps) in itertools.product(
        [0.01, 0.5], [0.0, 0.05], [0.0, 0.1], [(0.0, 1e-10), (0.1, 1e-3)]
    ):
        cases.append(("adagrad", dict(lr=lr, lr_decay=lr_decay, weight_decay=wd,
                                      initial_accumulator_value=init, eps=eps)))
    for alpha, momentum, centered, wd in itertools.product([0.99, 0.5], [0.0, 0.9], [False, True], [0.0, 0.1]):
        cases.append(("rmsprop", dict(lr=0.01, alpha=alpha, momentum=momentum, centered=centered,
                                      weight_decay=wd)))
    for name in ("adam", "adamw"):
        for lr, betas, eps, wd in itertools.product(
            [1e-3, 0.05], [(0.9, 0.999), (0.5, 0.9)], [1e-8, 1e-3], [0.0, 0.01, 0.5]
        ):
            cases.append((name, dict(lr=lr, betas=betas, eps=eps, weight_decay=wd)))
        cases += [(name, dict(lr=0.05, weight_decay=wd, amsgrad=True)) for wd in (0.0, 0.1)]
    return cases


CASES = _grid()


def _case_id(case) -> str:
    name, hp = case
    return name + "-" + "-".join(f"{k}={v}" for k, v in hp.items())


def _problem(seed: int = 0):
    """A tiny MLP in float64: three parameter tensors and a non-quadratic loss."""
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(16, 3, generator=g, dtype=torch.float64)
    y = torch.randn(16, generator=g, dtype=torch.float64)
    start = [torch.randn(3, 5, generator=g, dtype=torch.float64), torch.randn(5, generator=g, dtype=torch.float64),
             torch.randn(5, generator=g, dtype=torch.float64)]

    def loss(params):
        w1, b1, w2 = params
        return ((torch.tanh(x @ w1 + b1) @ w2 - y) ** 2).mean()

    return start, loss


def _train(make, steps=STEPS, start=None, opt=None):
    init, loss = _problem()
    params = [t.clone().requires_grad_(True) for t in (start or init)]
    opt = opt(params) if opt is not None else make(params)
    for _ in range(steps):
        opt.zero_grad()
        loss(params).backward()
        opt.step()
    return params, opt


def _assert_same(ours, theirs, tol=0.0):
    (p1, o1), (p2, o2) = ours, theirs
    for a, b in zip(p1, p2):
        torch.testing.assert_close(a, b, rtol=tol, atol=tol)
    s1, s2 = o1.state_dict()["state"], o2.state_dict()["state"]
    assert s1.keys() == s2.keys()
    for i in s1:
        assert s1[i].keys() == s2[i].keys(), (i, s1[i].keys(), s2[i].keys())
        for key in s1[i]:
            assert s1[i][key].dtype == s2[i][key].dtype, key
            torch.testing.assert_close(s1[i][key], s2[i][key], rtol=tol, atol=tol)


@pytest.mark.parametrize("case", CASES, ids=[_case_id(c) for c in CASES])
def test_rule_equals_torch_optim(case):
    name, hp = case
    ours = _train(lambda p: optim.create(name, p, **hp))
    theirs = _train(lambda p: TORCH[name](p, foreach=False, **hp))
    _assert_same(ours, theirs)
    assert type(ours[1]) is optim.RULES[name]
    # the parameters moved, so the comparison meant something
    assert not torch.equal(ours[0][0], _problem()[0][0])


def test_grid_covers_every_rule():
    assert {name for name, _ in CASES} == set(optim.RULES)
    assert len(CASES) >= 80


@pytest.mark.parametrize("name", list(TORCH))
def test_torch_prefix_gives_torch_class(name):
    params, opt = _train(lambda p: optim.create(f"torch-{name}", p, lr=0.01), steps=3)
    assert type(opt) is TORCH[name]
    _assert_same(_train(lambda p: optim.create(name, p, lr=0.01), steps=3), (params, opt))


@pytest.mark.parametrize("name", list(TORCH))
def test_defaults_are_torch_defaults(name):
    w = [torch.zeros(2, requires_grad=True)]
    ours, theirs = optim.create(name, w), TORCH[name]([torch.zeros(2, requires_grad=True)])
    assert ours.defaults == {k: theirs.defaults[k] for k in ours.defaults}
    assert ours.defaults == optim.spec.DEFAULTS[name]


@pytest.mark.parametrize("name", list(TORCH))
def test_state_dict_round_trip_continues_identically(name):
    hp = {"sgd": dict(lr=0.1, momentum=0.9, nesterov=True), "rmsprop": dict(momentum=0.5, centered=True),
          "adam": dict(lr=0.05, amsgrad=True)}.get(name, dict(lr=0.05))
    whole = _train(lambda p: optim.create(name, p, **hp), steps=20)
    first, opt = _train(lambda p: optim.create(name, p, **hp), steps=8)
    buffer = io.BytesIO()
    torch.save(opt.state_dict(), buffer)
    saved = torch.load(io.BytesIO(buffer.getvalue()), weights_only=True)
    start = [t.detach() for t in first]
    # a fresh optimizer of ours, and torch's own, both continue from our saved state
    for make in (lambda p: optim.create(name, p, **hp), lambda p: TORCH[name](p, foreach=False, **hp)):
        def resumed(p, make=make):
            o = make(p)
            o.load_state_dict(copy.deepcopy(saved))
            return o

        params, o = _train(None, steps=12, start=start, opt=resumed)
        for a, b in zip(params, whole[0]):
            assert torch.equal(a, b)
        assert float(next(iter(o.state_dict()["state"].values())).get("step", torch.tensor(20.0))) == 20.0


def test_param_groups_and_missing_gradients():
    init, loss = _problem()

    def run(make):
        params = [t.clone().requires_grad_(True) for t in init]
        extra = torch.ones(2, dtype=torch.float64, requires_grad=True)  # never gets a gradient
        opt = make([{"params": params[:2]}, {"params": [params[2], extra], "lr": 0.2, "weight_decay": 0.1}])
        for _ in range(10):
            opt.zero_grad()
            loss(params).backward()
            opt.step()
        assert torch.equal(extra, torch.ones(2, dtype=torch.float64))
        return params, opt

    for name in TORCH:
        _assert_same(run(lambda g: optim.create(name, g, lr=0.01)),
                     run(lambda g: TORCH[name](g, lr=0.01, foreach=False)))


def test_tutorial_sgd_update():
    """With the defaults, sgd is section 4.2.3's ``param.data = param.data - lr * param.grad.data``."""
    w = torch.tensor([1.0, -2.0], requires_grad=True)
    opt = optim.SGD([w], lr=0.1)
    (w**2).sum().backward()
    expected = w.data - 0.1 * w.grad.data
    opt.step()
    assert torch.equal(w.detach(), expected)


BAD = [
    ("sgd", dict(lr=-0.1), "sgd: lr must be > 0, got -0.1"),
    ("sgd", dict(momentum=-0.5), "sgd: momentum must be >= 0, got -0.5"),
    ("sgd", dict(nesterov=True), "sgd: nesterov needs momentum > 0 and dampening = 0"),
    ("sgd", dict(momentum=0.9, dampening=0.1, nesterov=True), "nesterov needs momentum > 0 and dampening = 0"),
    ("sgd", dict(weight_decay=-1), "sgd: weight_decay must be >= 0, got -1"),
    ("adam", dict(betas=(0.9, 1.0)), "adam: betas[1] must be in [0, 1), got 1.0"),
    ("adam", dict(betas=(-0.1, 0.9)), "adam: betas[0] must be in [0, 1), got -0.1"),
    ("adam", dict(betas=(0.9,)), "adam: betas must be two numbers in [0, 1)"),
    ("adamw", dict(eps=0.0), "adamw: eps must be > 0, got 0.0"),
    ("adagrad", dict(eps=-1e-8), "adagrad: eps must be > 0"),
    ("rmsprop", dict(alpha=1.0), "rmsprop: alpha must be in [0, 1), got 1.0"),
    ("rmsprop", dict(lr=float("nan")), "rmsprop: lr must be > 0, got nan"),
    ("adam", dict(lr="fast"), "adam: lr must be a number, got 'fast'"),
    ("adam", dict(amsgrad="yes"), "adam: amsgrad must be True or False"),
    ("adam", dict(momentum=0.9), "optimizer adam does not take momentum; it takes lr, betas, eps, weight_decay, amsgrad"),
    ("sgd", dict(eps=1e-8), "optimizer sgd does not take eps"),
]


@pytest.mark.parametrize("prefix", ["", "torch-"])
@pytest.mark.parametrize("name,hp,message", BAD, ids=[f"{n}-{m[:40]}" for n, _, m in BAD])
def test_bad_hyperparameters(prefix, name, hp, message):
    with pytest.raises(ConfigError) as info:
        optim.create(prefix + name, [torch.zeros(2, requires_grad=True)], **hp)
    message = message.replace(name, prefix + name, 1)  # messages name the optimizer as given
    assert any(message in p for p in info.value.problems), info.value.problems
    assert all("\n" not in p for p in info.value.problems)


def test_bad_values_in_a_class_and_a_later_group():
    with pytest.raises(ConfigError, match="adam: lr must be > 0"):
        optim.Adam([torch.zeros(2, requires_grad=True)], lr=-1)
    opt = optim.SGD([torch.zeros(2, requires_grad=True)], lr=0.1)
    with pytest.raises(ConfigError, match="sgd: momentum must be >= 0"):
        opt.add_param_group({"params": [torch.zeros(1, requires_grad=True)], "momentum": -1})
    assert len(opt.param_groups) == 1


def test_unknown_name_lists_valid_ones():
    with pytest.raises(ConfigError) as info:
        optim.create("adamax", [torch.zeros(2, requires_grad=True)])
    assert info.value.problems == [
        "unknown optimizer 'adamax'; choose one of: adagrad, adam, adamw, rmsprop, sgd, "
        "torch-adagrad, torch-adam, torch-adamw, torch-rmsprop, torch-sgd"
    ]


def test_none_keeps_the_default():
    opt = optim.create("rmsprop", [torch.zeros(2, requires_grad=True)], lr=0.1, momentum=None, eps=None)
    assert opt.defaults["eps"] == 1e-8 and opt.defaults["momentum"] == 0.0


def test_describe_formula_comes_from_the_docstring():
    rows = {r["name"]: r for r in optim.describe()}
    assert list(rows) == ["sgd", "adagrad", "rmsprop", "adam", "adamw"]
    assert rows["sgd"]["formula"].splitlines()[-1] == "w = w - lr * d"
    assert "w = w * (1 - lr * weight_decay)" in rows["adamw"]["formula"]
    assert rows["adamw"]["defaults"]["weight_decay"] == 1e-2
