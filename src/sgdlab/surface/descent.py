"""The descent itself: every overlaid trajectory stepped together on Python floats.

``descend_all(surface, start, settings, ...)`` runs one trajectory per (lr, optimizer spec): at
step k each live trajectory takes its k-th update from the surface's symbolic gradient
(``expr.Expression.gradient``, no autograd graph) through its rule in ``steppers.py``. A
trajectory stops at the first step whose point or f is non-finite, or whose |(x, y)| passes
``BLOWUP_RADIUS``. Measured by benchmarks/surface_descent.py against the autograd + torch.optim
loop it replaces.
"""

from __future__ import annotations

import math
from typing import Any

import torch

from ..core.errors import ConfigError
from ..i18n import text

BLOWUP_RADIUS = 1e6  # |(x, y)| beyond this counts as diverged, and the trajectory stops
RADIUS_SQUARED = BLOWUP_RADIUS**2 * (1 - 1e-12)  # x^2 + y^2 at or below: surely inside (the
#   margin covers the rounding of x*x + y*y against hypot's; _blowup decides the rest exactly)


def make_stepper(spec, lr: float):
    """The update rule of ``spec`` on a 2-D float point (``steppers.py``), checked like optim.create."""
    from ..optim import spec as optim_spec
    from .steppers import Stepper

    hp = spec.hyperparameters()
    problems = optim_spec.unaccepted(spec.name, hp)
    base = optim_spec.base_name(spec.name)
    problems = problems or optim_spec.check(spec.name, optim_spec.normalized(
        optim_spec.DEFAULTS[base] | hp | {"lr": lr}))
    if problems:
        raise ConfigError(*problems)
    return Stepper(spec.name, lr, hp)


def descend(surface, start, lr: float, steps: int, spec, sigma: float, generator,
            on_progress=None) -> dict[str, Any]:
    """One trajectory: ``steps`` updates from ``start``; stops early when it diverges."""
    return descend_all(surface, start, [(lr, spec)], steps, sigma, generator, on_progress)[0]


def descend_all(surface, start, settings, steps: int, sigma: float, generator,
                on_progress=None) -> list[dict[str, Any]]:
    """One trajectory per (lr, optimizer spec) in ``settings``, stepped together: at step k every
    live trajectory takes its k-th update (same gradient noise draw for all); each stops early
    when it diverges. The gradient is the surface's symbolic one, on Python floats."""
    value, gradient = surface.expression.value, surface.expression.gradient
    live = []
    for lr, spec in settings:
        x, y = (float(v) for v in start)
        live.append({"w": [x, y], "opt": make_stepper(spec, lr), "path": [[x, y]],
                     "f": [value(x, y)], "diverged_step": None, "diverged_reason": None, "stop": None})
    out = list(live)
    for k in range(steps + 1):
        if on_progress is not None and k % 1000 == 0:
            on_progress(k, steps)
        # the point after k updates has been recorded: stop a trajectory that blew up (the
        # quick test is False for NaN and infinities too; then _blowup says which)
        stopped = False
        for t in live:
            (x, y), f_k = t["w"], t["f"][-1]
            if not (x * x + y * y <= RADIUS_SQUARED and f_k - f_k == 0):
                stop = _blowup(t["path"][-1], f_k, k)
                if stop is not None:
                    t["diverged_step"], t["stop"], stopped = k, stop, True
                    t["diverged_reason"] = text(stop[0], "en", **stop[1])
        if stopped:
            live = [t for t in live if t["diverged_step"] is None]
        if not live or k == steps:
            break
        # the gradient, plus sigma * N(0, I) for SGD-style noise (one draw per step, shared)
        noise = (sigma * torch.randn(2, generator=generator, dtype=torch.float64)).tolist() if sigma > 0 else None
        for t in live:
            w = t["w"]
            g = gradient(w[0], w[1])
            if noise is not None:
                g = (g[0] + noise[0], g[1] + noise[1])
            t["opt"].step(w, g)
            t["path"].append([w[0], w[1]])
            t["f"].append(value(w[0], w[1]))
    return [{"path": t["path"], "f": t["f"], "steps": len(t["path"]) - 1,
             "diverged_step": t["diverged_step"], "diverged_reason": t["diverged_reason"],
             "stop": t["stop"]} for t in out]


def _blowup(xy, f_k: float, k: int) -> tuple[str, dict] | None:
    """Why the point after k updates counts as diverged, as an ``i18n`` key and its fields (None:
    it does not)."""
    if not (math.isfinite(xy[0]) and math.isfinite(xy[1])):
        return "stop.nonfinite_point", {"step": k}
    radius = math.hypot(*xy)
    if radius > BLOWUP_RADIUS:
        return "stop.radius", {"radius": radius, "limit": BLOWUP_RADIUS, "step": k}
    if not math.isfinite(f_k):
        return "stop.nonfinite_f", {"value": str(f_k), "step": k}
    return None
