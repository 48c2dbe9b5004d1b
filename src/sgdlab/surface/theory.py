"""Theory next to practice: the Hessian, critical points, the stable step size, E[J] = grad f.

The gradient and Hessian come from the surface's expression differentiated symbolically once
(``symbolic.py``; float64, never a hand-derived formula per surface); tests/test_surface_fast.py
checks them against autograd (``torch.autograd.functional.hessian``).
"""

from __future__ import annotations

import math
from typing import Any

import torch

from .functions import Surface

# an eigenvalue is "zero" when |lambda| <= EIG_ZERO_TOL * max(1, max |lambda|)
EIG_ZERO_TOL = 1e-9
# a point is critical when |grad f| <= CRITICAL_GRAD_TOL
CRITICAL_GRAD_TOL = 1e-9
# f is treated as quadratic (constant Hessian) when the Hessians at the start and at these offsets
# from it agree to QUADRATIC_TOL (relative); then 2 / lambda_max is exact, otherwise local
QUADRATIC_PROBES = ((1.0, 0.0), (0.0, 1.0), (-0.7, 1.3))
QUADRATIC_TOL = 1e-9
Z_95 = 1.959963984540054  # two-sided 95% quantile of N(0, 1)


def point(values) -> torch.Tensor:
    return torch.tensor([float(v) for v in values], dtype=torch.float64)


def gradient(surface: Surface, at: torch.Tensor) -> torch.Tensor:
    x, y = (float(v) for v in at)
    return torch.tensor(surface.expression.gradient(x, y), dtype=torch.float64)


def hessian(surface: Surface, at: torch.Tensor) -> torch.Tensor:
    x, y = (float(v) for v in at)
    return torch.tensor(surface.expression.hessian(x, y), dtype=torch.float64)


def objective(surface: Surface, at: torch.Tensor):
    """f near ``at`` for ``sgdlab.theory`` (its one curvature implementation; the 2x2 Hessian
    above is the special case the tests check it against)."""
    from ..theory.curvature import Objective

    return Objective([at.detach().clone()], lambda params, _: surface.at(params[0]))


def classify(eigenvalues: list[float]) -> str:
    """Curvature at a point from the Hessian's eigenvalues (ascending)."""
    if not all(math.isfinite(v) for v in eigenvalues):
        return "undefined (non-finite Hessian)"
    scale = max(1.0, max(abs(v) for v in eigenvalues))
    zero = [abs(v) <= EIG_ZERO_TOL * scale for v in eigenvalues]
    lo, hi = eigenvalues[0], eigenvalues[-1]
    if any(zero):
        return "degenerate (a zero eigenvalue: the Hessian alone cannot tell)"
    if lo > 0:
        return "positive definite (curves up in every direction)"
    if hi < 0:
        return "negative definite (curves down in every direction)"
    return "indefinite (up in one direction, down in another)"


def critical_kind(grad_norm: float, eigenvalues: list[float]) -> str:
    """What a critical point is: minimum, maximum, saddle, or degenerate (second order can't tell)."""
    if not grad_norm <= CRITICAL_GRAD_TOL:
        return "not a critical point (the gradient is not zero)"
    curvature = classify(eigenvalues)
    if curvature.startswith("positive"):
        return "minimum (positive definite Hessian)"
    if curvature.startswith("negative"):
        return "maximum (negative definite Hessian)"
    if curvature.startswith("indefinite"):
        return "saddle (indefinite Hessian)"
    return "degenerate critical point (Hessian has a zero eigenvalue; higher-order terms decide)"


def eigenvalues_2x2(h: list[list[float]]) -> list[float]:
    """Ascending eigenvalues of a symmetric 2x2 matrix: (a + d)/2 -+ hypot((a - d)/2, b), with an
    absolute error of a few eps * |H| (what LAPACK's eigvalsh gives); NaN if any entry is not
    finite. Exact for a diagonal H with exactly representable halves (the bowls)."""
    (a, b), (_, d) = h
    if not all(math.isfinite(v) for v in (a, b, d)):
        return [math.nan, math.nan]
    mean, radius = (a + d) / 2, math.hypot((a - d) / 2, b)
    return [mean - radius, mean + radius]


def at_point(surface: Surface, where) -> dict[str, Any]:
    """f, gradient, Hessian, eigenvalues and curvature class at ``where`` (Python floats)."""
    x, y = (float(v) for v in where)
    e = surface.expression
    h = e.hessian(x, y)
    if h[0][1] != h[1][0]:  # fxy and fyx, differentiated in either order, may differ by rounding
        h[0][1] = h[1][0] = (h[0][1] + h[1][0]) / 2
    eigenvalues = eigenvalues_2x2(h)
    g = list(e.gradient(x, y))
    return {
        "point": [x, y], "f": e.value(x, y), "gradient": g, "gradient_norm": math.hypot(*g),
        "hessian": h, "eigenvalues": eigenvalues, "curvature": classify(eigenvalues),
    }


def critical_point(surface: Surface, where) -> dict[str, Any]:
    info = at_point(surface, where)
    info["kind"] = critical_kind(info["gradient_norm"], info["eigenvalues"])
    return info


def is_quadratic(surface: Surface, start: torch.Tensor) -> bool:
    if surface.expression.constant_hessian:  # the Hessian's trees are numbers: quadratic exactly
        return True
    x, y = (float(v) for v in start)
    hessian_at = surface.expression.hessian
    base = [v for row in hessian_at(x, y) for v in row]
    if not all(math.isfinite(v) for v in base):
        return False
    scale = max(1.0, max(abs(v) for v in base))
    for dx, dy in QUADRATIC_PROBES:
        other = [v for row in hessian_at(x + dx, y + dy) for v in row]
        if not all(math.isfinite(v) and abs(v - w) <= QUADRATIC_TOL * scale for v, w in zip(other, base)):
            return False
    return True


def lr_bound(eigenvalues: list[float], quadratic: bool) -> tuple[float | None, str]:
    """2 / lambda_max when lambda_max > 0; exact for a quadratic f, a local estimate otherwise.

    For f quadratic, plain gradient descent multiplies the error along eigenvector i by
    (1 - lr * lambda_i) each step, so it converges iff lr < 2 / lambda_max.
    """
    top = eigenvalues[-1] if eigenvalues else math.nan
    if not (math.isfinite(top) and top > 0):
        return None, "none (no positive curvature at the start)"
    if quadratic:
        return 2.0 / top, "exact (f is quadratic: the Hessian is the same everywhere)"
    return 2.0 / top, "local (from the Hessian at the start; f is not quadratic)"


def noise_check(true_grad: torch.Tensor, sigma: float, samples: int, generator: torch.Generator) -> dict:
    """Draw N noisy gradients J = grad f + sigma z at the start; mean and 95% CI per coordinate.

    The tutorial's claim E[J] = grad f holds when the true gradient lies inside each interval
    (which, at 95%, fails by chance about once in 20 coordinates).
    """
    z = torch.randn(samples, 2, generator=generator, dtype=torch.float64)
    draws = true_grad + sigma * z
    mean = draws.mean(dim=0)
    std = draws.std(dim=0, unbiased=True)
    half = Z_95 * std / math.sqrt(samples)
    low, high = mean - half, mean + half
    inside = [bool(lo <= g <= hi) for lo, g, hi in zip(low.tolist(), true_grad.tolist(), high.tolist())]
    return {
        "samples": samples, "sigma": sigma, "true_gradient": true_grad.tolist(),
        "mean": mean.tolist(), "std": std.tolist(), "ci95_low": low.tolist(), "ci95_high": high.tolist(),
        "true_inside_ci": inside, "agrees": all(inside),
    }
