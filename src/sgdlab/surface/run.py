"""Gradient descent on a 2-D surface: trajectories, verdicts, the escape from a saddle.

``run(config)`` returns the document that ``sgdlab surface --json`` prints and records the
invocation as one run (command "surface") with each trajectory's f-values as curves.

Verdicts, checked in this order (the thresholds are the constants below):

1. ``escaped saddle``: the surface has a saddle point, the start lies within ``escape_radius`` of
   it, and at some step the distance from it exceeds ``escape_radius`` (that step is
   ``escape_step``). A trajectory that leaves the saddle and then runs off to infinity (these
   surfaces are unbounded below) still escaped; its ``diverged_step`` is kept as well.
2. ``diverged``: at step k the point or f became non-finite, or |(x, y)| exceeded
   ``BLOWUP_RADIUS`` (the run stops there; ``diverged_step`` = k); or, after all steps, f ended
   above its starting value (``diverged_step`` = first step whose f exceeded f at the start).
3. ``stuck near saddle``: the saddle analysis applies (1.) but the trajectory never left the radius.
4. ``converged``: |grad f| at the end is <= ``CONVERGED_GRAD_NORM``; with noise sigma > 0, the
   true gradient at the mean of the last ``TAIL_FRACTION`` of the path is <= CONVERGED_GRAD_NORM +
   sigma (the gradient is smaller than the noise added to it: descent can no longer tell).
5. ``oscillating``: of the moves in the second half of the run, at least ``OSCILLATION_FRACTION``
   reverse the previous move (negative dot product): the iterate jumps back and forth.
6. ``slow``: none of the above: still far from a minimum after all steps, moving steadily.
"""

from __future__ import annotations

import math
import time
from typing import Any

import torch

from ..core.errors import ConfigError
from ..core.store import RunRecord, Store, new_run_id, run_folder
from . import functions
from . import theory
from .config import SurfaceConfig

BLOWUP_RADIUS = 1e6  # |(x, y)| beyond this counts as diverged, and the trajectory stops
CONVERGED_GRAD_NORM = 1e-5  # |grad f| at or below this at the end: converged
TAIL_FRACTION = 0.2  # with noise: judge the mean of the last 20% of the path
OSCILLATION_FRACTION = 0.8  # share of reversing moves (second half) that makes "oscillating"
OSCILLATION_MIN_MOVES = 4  # fewer moves than this in the second half: never "oscillating"

DEFINITIONS = {
    "blowup_radius": BLOWUP_RADIUS, "converged_grad_norm": CONVERGED_GRAD_NORM,
    "tail_fraction": TAIL_FRACTION, "oscillation_fraction": OSCILLATION_FRACTION,
}


def build_surface(config: SurfaceConfig) -> functions.Surface:
    if config.expr is not None:
        saddle = tuple(config.saddle) if config.saddle is not None else None
        return functions.from_expression(config.expr, saddle)
    return functions.get(config.name, tuple(config.curvature))


def make_optimizer(spec, params, lr: float) -> torch.optim.Optimizer:
    from .. import optim

    hp = spec.hyperparameters()
    try:
        return optim.create(spec.name, params, lr=lr, **hp)
    except TypeError as exc:
        raise ConfigError(f"--optimizer {spec.name} does not take {', '.join(hp) or 'these settings'}: {exc}") from None


def descend(surface, start, lr: float, steps: int, spec, sigma: float, generator,
            on_progress=None) -> dict[str, Any]:
    """One trajectory: ``steps`` updates from ``start``; stops early when it diverges."""
    p = theory.point(start).requires_grad_(True)
    optimizer = make_optimizer(spec, [p], lr)
    path: list[list[float]] = []
    values: list[float] = []
    diverged_step, reason = None, None
    for k in range(steps + 1):
        if on_progress is not None and k % 1000 == 0:
            on_progress(k, steps)
        # record the point after k updates and f there; stop on a blow-up
        value = surface.at(p)
        xy = p.detach().tolist()
        f_k = float(value.detach())
        path.append(xy)
        values.append(f_k)
        if not all(math.isfinite(v) for v in xy):
            diverged_step, reason = k, f"the point became non-finite at step {k}"
        elif math.hypot(*xy) > BLOWUP_RADIUS:
            diverged_step, reason = k, (f"|(x, y)| = {math.hypot(*xy):.3g} passed the blow-up radius "
                                        f"{BLOWUP_RADIUS:g} at step {k}")
        elif not math.isfinite(f_k):
            diverged_step, reason = k, f"f became {f_k} at step {k}"
        if diverged_step is not None or k == steps:
            break
        # the gradient by autograd, plus sigma * N(0, I) for SGD-style noise; then the update
        optimizer.zero_grad(set_to_none=True)
        (grad,) = torch.autograd.grad(value, p)
        if sigma > 0:
            grad = grad + sigma * torch.randn(2, generator=generator, dtype=torch.float64)
        p.grad = grad
        optimizer.step()
    return {"path": path, "f": values, "steps": len(path) - 1, "diverged_step": diverged_step,
            "diverged_reason": reason}


def escape_step(path, saddle, radius: float) -> int | None:
    """First step farther than ``radius`` from ``saddle`` (None if never; the start must be inside)."""
    for k, (x, y) in enumerate(path):
        distance = math.hypot(x - saddle[0], y - saddle[1])
        if not distance <= radius:  # NaN counts as far
            return k
    return None


def judge(surface, trajectory: dict, sigma: float, escape_radius: float) -> dict[str, Any]:
    """The verdict for one trajectory (see the module docstring for the definitions)."""
    path, values = trajectory["path"], trajectory["f"]
    steps = trajectory["steps"]
    final = theory.point(path[-1])
    grad_norm = float(theory.gradient(surface, final).norm()) if torch.isfinite(final).all() else math.nan
    out = {"grad_norm": grad_norm, "escape_step": None, "diverged_step": trajectory["diverged_step"]}
    saddle = surface.saddle
    near = saddle is not None and math.dist(path[0], saddle) <= escape_radius
    if near:
        out["escape_step"] = escape_step(path, saddle, escape_radius)
        if out["escape_step"] is not None:
            return out | {"verdict": "escaped saddle", "reason": (
                f"left the radius {escape_radius:g} around the saddle {tuple(saddle)} at step "
                f"{out['escape_step']}" + (f"; then {trajectory['diverged_reason']}"
                                           if trajectory["diverged_reason"] else ""))}
    if trajectory["diverged_step"] is not None:
        return out | {"verdict": "diverged", "reason": "diverged: " + trajectory["diverged_reason"]}
    if near:
        return out | {"verdict": "stuck near saddle", "reason": (
            f"still within {escape_radius:g} of the saddle {tuple(saddle)} after {steps} steps "
            f"(distance {math.dist(path[-1], saddle):.3g}, |grad f| = {grad_norm:.3g})")}
    if sigma > 0:
        tail = path[-max(1, int(len(path) * TAIL_FRACTION)):]
        mean = theory.point([sum(c) / len(tail) for c in zip(*tail)])
        tail_grad = float(theory.gradient(surface, mean).norm())
        if tail_grad <= CONVERGED_GRAD_NORM + sigma:
            return out | {"verdict": "converged", "reason": (
                f"|grad f| = {tail_grad:.3g} at the mean of the last {len(tail)} points, below the "
                f"noise sigma {sigma:g} (+ {CONVERGED_GRAD_NORM:g})")}
    elif grad_norm <= CONVERGED_GRAD_NORM:
        return out | {"verdict": "converged",
                      "reason": f"|grad f| = {grad_norm:.3g} <= {CONVERGED_GRAD_NORM:g} after {steps} steps"}
    if values[-1] > values[0]:
        first = next(k for k, v in enumerate(values) if v > values[0])
        out["diverged_step"] = first
        return out | {"verdict": "diverged", "reason": (
            f"f rose above its start value at step {first} and ended higher "
            f"({values[-1]:.4g} > {values[0]:.4g})")}
    moves = [(b[0] - a[0], b[1] - a[1]) for a, b in zip(path, path[1:])]
    late = moves[len(moves) // 2:]
    pairs = list(zip(late, late[1:]))
    if len(late) >= OSCILLATION_MIN_MOVES and pairs:
        reversing = sum(1 for u, v in pairs if u[0] * v[0] + u[1] * v[1] < 0) / len(pairs)
        if reversing >= OSCILLATION_FRACTION:
            return out | {"verdict": "oscillating", "reason": (
                f"{100 * reversing:.0f}% of the last {len(pairs)} moves reverse direction "
                f"(|grad f| = {grad_norm:.3g} at the end)")}
    return out | {"verdict": "slow", "reason": (
        f"|grad f| = {grad_norm:.3g} after {steps} steps, still above {CONVERGED_GRAD_NORM:g}")}


def run(config: SurfaceConfig | None = None, *, store: Store | None = None,
        record: bool = True, sweep_id: str | None = None,
        sweep_cell: dict[str, Any] | None = None, on_progress=None) -> dict[str, Any]:
    """Descend, judge, draw, record; return the result document (see the module docstring).

    ``sweep_id``/``sweep_cell`` file the run under a sweep (``sgdlab sweep surface``).
    """
    from ..core.tracking import Tracking

    config = config or SurfaceConfig(name="bowl")
    config.validate()
    surface = build_surface(config)
    store = store or Store()
    run_id = new_run_id()
    track = Tracking(store, run_id, "surface", config, record=record, sweep_id=sweep_id,
                     standalone=sweep_cell is None)
    track.check_outputs()
    track.begin()
    with track.interruptible():
        return _descend_all(config, surface, store, run_id, record, sweep_id, sweep_cell, on_progress)


def _descend_all(config, surface, store, run_id, record, sweep_id, sweep_cell,
                 on_progress=None) -> dict[str, Any]:
    start = tuple(float(v) for v in (config.start or surface.start))
    lrs = [float(v) for v in (config.lrs or [surface.lr])]
    steps = config.steps or surface.steps
    sigma = float(config.noise)

    # theory at the start: Hessian, its eigenvalues, and the stable step size
    at_start = theory.at_point(surface, start)
    quadratic = theory.is_quadratic(surface, theory.point(start))
    bound, bound_kind = theory.lr_bound(at_start["eigenvalues"], quadratic)
    critical = theory.critical_point(surface, surface.saddle) if surface.saddle is not None else None
    noise = None
    if sigma > 0:
        noise = theory.noise_check(theory.point(at_start["gradient"]), sigma, config.noise_samples,
                                   torch.Generator().manual_seed(config.seed + 1))

    # one trajectory per learning rate, all on the same noise draws (the same seed)
    runs = []
    for lr in lrs:
        began = time.perf_counter()
        progress = None if on_progress is None else (lambda k, n, lr=lr: on_progress(f"lr={lr:g}", k, n))
        trajectory = descend(surface, start, lr, steps, config.optimizer, sigma,
                             torch.Generator().manual_seed(config.seed), on_progress=progress)
        seconds = time.perf_counter() - began
        verdict = judge(surface, trajectory, sigma, config.escape_radius)
        x, y = trajectory["path"][-1]
        runs.append({
            "lr": lr, "optimizer": config.optimizer.name, "path": trajectory["path"],
            "f": trajectory["f"], "steps": trajectory["steps"],
            "final": {"x": x, "y": y, "f": trajectory["f"][-1], "grad_norm": verdict["grad_norm"]},
            "verdict": verdict["verdict"], "reason": verdict["reason"],
            "escape_step": verdict["escape_step"], "diverged_step": verdict["diverged_step"],
            "lr_over_bound": lr / bound if bound else None, "seconds": seconds,
        })

    status = "diverged" if any(r["verdict"] == "diverged" for r in runs) else "completed"
    result: dict[str, Any] = {
        "status": status, "problem": config.problem, "run_id": run_id, "surface": surface.describe(), "start": list(start),
        "steps": steps, "noise": sigma, "seed": config.seed, "escape_radius": config.escape_radius,
        "hessian_start": {"matrix": at_start["hessian"], "eigenvalues": at_start["eigenvalues"],
                          "curvature": at_start["curvature"]},
        "start_point": {k: at_start[k] for k in ("f", "gradient", "gradient_norm")},
        "lr_bound": bound, "lr_bound_kind": bound_kind, "critical_point": critical,
        "noise_check": noise, "runs": runs, "definitions": DEFINITIONS,
        "config": config.to_dict(), "figures": [],
    }
    if config.plots:
        from . import figures

        folder = run_folder(store, run_id, config.out)
        result["figures"] = figures.draw(folder, surface, result)
    if record:
        store.save(to_record(result, sweep_id, sweep_cell))
    return result


def to_record(result: dict[str, Any], sweep_id: str | None = None,
              sweep_cell: dict[str, Any] | None = None) -> RunRecord:
    """The run record of one ``run`` result: each trajectory's f-values as a curve."""
    runs = result["runs"]
    finals = [r["final"]["f"] for r in runs if math.isfinite(r["final"]["f"])]
    curves = {f"f[{i}] lr={r['lr']:g}": r["f"] for i, r in enumerate(runs)}
    return RunRecord(
        id=result["run_id"], command="surface", status=result["status"], config=result["config"],
        sweep_id=sweep_id,
        metrics={k: result[k] for k in ("surface", "start", "hessian_start", "lr_bound",
                                        "lr_bound_kind", "critical_point", "noise_check")}
        | {"runs": [{k: v for k, v in r.items() if k not in ("path", "f")} for r in runs]}
        | ({"sweep_cell": sweep_cell} if sweep_cell is not None else {}),
        figures=result["figures"], curves=curves,
        key_metric_name="best_final_f", key_metric=min(finals) if finals else None,
    )
