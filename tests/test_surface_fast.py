"""The fast descent against its oracles: symbolic gradients and Hessians against autograd, float
operations against torch's IEEE results, and every trajectory against the autograd + torch.optim
loop it replaced."""

from __future__ import annotations

import math

import pytest
import torch

from sgdlab import optim
from sgdlab.optim.spec import OptimizerSpec
from sgdlab.surface import functions
from sgdlab.surface.config import SurfaceConfig
from sgdlab.surface.descent import descend_all
from sgdlab.surface.expr import compile_expression
from sgdlab.surface.run import compute

EXPRESSIONS = [
    "x**2 + 3*sin(y)", "-x + +y - 2/x*y", "2**x * exp(-y) / (1 + abs(x))", "x**-2 + (y**2)**0.5**2",
    "atan2(y, x) + tanh(x*y) + pi*e", "log(1 + x**2) + sqrt(1 + y**2) + cosh(y) - sigmoid(x)",
    "x^y + log2(x) + log10(y + 3) + asin(y/9) + acos(x/9) + atan(x) + sinh(y) + tan(x/3)",
    "(1 - x)^2 + 100*(y - x^2)^2", "(x**2 + y - 11)**2 + (x + y**2 - 7)**2", "x**4 - y**3",
    "0.5*1.0*x**2 + 0.5*10.0*y**2", "abs(x - y)**3 / (1 + x*x)", "3", "x*y",
]
POINTS = [(0.3, 0.7), (1.2, -0.4), (2.5, 1.9), (0.8, 0.05)]


@pytest.mark.parametrize("text", EXPRESSIONS)
def test_value_gradient_and_hessian_equal_autograd(text):
    e = compile_expression(text)
    for x, y in POINTS:
        p = torch.tensor([x, y], dtype=torch.float64)

        def f(q):
            return e(q[0], q[1]) + 0.0 * q.sum()

        want_g = torch.autograd.functional.jacobian(f, p)
        want_h = torch.autograd.functional.hessian(f, p)
        # f: the same operations in the same order; torch's own kernels for a few functions
        # (log2, tan, ...) may round differently from libm by an ulp: ~10 terms of a few eps each
        assert e.value(x, y) == pytest.approx(float(f(p)), rel=1e-13, abs=1e-13, nan_ok=True)
        # derivatives: autograd's and the symbolic chain rule differ in the order of a few dozen
        # correctly rounded operations; each term's error is a few eps of the largest term, so
        # 1e-12 of max(1, |g|) bounds it with room
        got_g = torch.tensor(e.gradient(x, y), dtype=torch.float64)
        got_h = torch.tensor(e.hessian(x, y), dtype=torch.float64)
        torch.testing.assert_close(got_g, want_g, rtol=1e-12, atol=1e-12 * max(1.0, float(want_g.abs().max())),
                                   equal_nan=True)
        torch.testing.assert_close(got_h, want_h, rtol=1e-12, atol=1e-12 * max(1.0, float(want_h.abs().max())),
                                   equal_nan=True)


EDGES = ["1/x", "x**-1", "x**0.5", "x**(1/3)", "log(x)", "log2(x)", "log10(x)", "sqrt(x)", "exp(x)",
         "sinh(x)", "cosh(x)", "asin(x)", "acos(x)", "sin(x)", "tan(x)", "sigmoid(x)", "x**-3", "0*x",
         "x**y", "atan2(x, y)", "abs(x)"]
SPECIAL = [0.0, -0.0, -1.0, 2.0, 1e3, -1e3, math.inf, -math.inf, math.nan, -8.0]


@pytest.mark.parametrize("text", EDGES)
def test_float_operations_give_torchs_ieee_results(text):
    """x / 0 = inf, log(-1) = nan, exp(1000) = inf: never an exception; torch is the oracle,
    bit for bit (the same libm on float64 scalars)."""
    e = compile_expression(text)
    for x in SPECIAL:
        for y in (3.0, -0.5, 0.0):
            want = float(e(torch.tensor(x, dtype=torch.float64), torch.tensor(y, dtype=torch.float64)))
            got = e.value(x, y)
            assert got == want or (math.isnan(got) and math.isnan(want)), (text, x, y, got, want)


def autograd_descent(surface, start, lr, steps, spec):
    """The loop `sgdlab surface` ran before issue 20 (autograd gradient, torch optimizer)."""
    p = torch.tensor(start, dtype=torch.float64, requires_grad=True)
    opt = optim.create(spec.name, [p], lr=lr, **spec.hyperparameters())
    path = [p.detach().tolist()]
    for _ in range(steps):
        opt.zero_grad(set_to_none=True)
        (p.grad,) = torch.autograd.grad(surface.at(p), p)
        opt.step()
        path.append(p.detach().tolist())
    return path


SPECS = [OptimizerSpec(), OptimizerSpec(momentum=0.9), OptimizerSpec(momentum=0.5, nesterov=True),
         OptimizerSpec(weight_decay=0.1, momentum=0.3), OptimizerSpec(name="adagrad"),
         OptimizerSpec(name="rmsprop"), OptimizerSpec(name="rmsprop", momentum=0.5, weight_decay=0.01),
         OptimizerSpec(name="adam"), OptimizerSpec(name="adam", betas=(0.8, 0.9), weight_decay=0.1),
         OptimizerSpec(name="adamw"), OptimizerSpec(name="torch-adam"), OptimizerSpec(name="torch-sgd", momentum=0.9)]


@pytest.mark.parametrize("name,lr", [("himmelblau", 0.01), ("rosenbrock", 1e-3), ("bowl", 0.15)])
def test_every_optimizer_follows_the_autograd_torch_optim_path(name, lr):
    surface = functions.get(name)
    got = descend_all(surface, surface.start, [(lr, s) for s in SPECS], 60, 0.0, None)
    for spec, trajectory in zip(SPECS, got):
        want = autograd_descent(surface, surface.start, lr, 60, spec)
        # contracting or slowly moving runs (lr below each bound): the per-step rounding of the
        # two orders of operations (a few eps) does not grow; 60 steps stay far below 1e-10
        for a, b in zip(trajectory["path"], want):
            assert a == pytest.approx(b, rel=1e-10, abs=1e-12), (name, spec)


def test_rmsprop_centered_and_amsgrad_too():
    surface = functions.get("himmelblau")
    specs = [OptimizerSpec(name="adam"), OptimizerSpec(name="rmsprop")]
    # centered and amsgrad are not CLI options: build the steppers' rules with them directly
    from sgdlab.surface.steppers import Stepper

    for name, hp in (("rmsprop", {"centered": True}), ("adam", {"amsgrad": True})):
        stepper, w = Stepper(name, 0.01, hp), [0.0, 0.0]
        p = torch.zeros(2, dtype=torch.float64, requires_grad=True)
        opt = optim.create(name, [p], lr=0.01, **hp)
        for _ in range(40):
            stepper.step(w, surface.expression.gradient(*w))
            (p.grad,) = torch.autograd.grad(surface.at(p), p)
            opt.step()
            assert w == pytest.approx(p.detach().tolist(), rel=1e-10, abs=1e-12)  # as above
    assert specs  # the CLI's own specs are covered by the test above


def test_the_playground_steps_optimizers_together_as_the_cli_does_one_by_one():
    config = SurfaceConfig(name="rosenbrock", steps=300, plots=False)
    together = compute(config, functions.get("rosenbrock"), settings=[(1e-3, s) for s in SPECS[:4]])
    for spec, run in zip(SPECS[:4], together["runs"]):
        alone = compute(SurfaceConfig(name="rosenbrock", steps=300, plots=False, optimizer=spec),
                        functions.get("rosenbrock"))["runs"][0]
        assert run["path"] == alone["path"] and run["verdict"] == alone["verdict"]  # bit for bit
