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

from ..core.store import RunRecord, Store, new_run_id, run_folder
from . import functions
from . import theory
from ..i18n import text
from .config import SurfaceConfig
from .descent import BLOWUP_RADIUS, descend, descend_all  # noqa: F401  (re-exported)

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


def run_bound(spec, eigenvalues) -> dict[str, Any]:
    """This optimizer's own stable-lr bound from lambda_max at the start (sgdlab.optim.bounds)."""
    from ..optim import bounds

    top = eigenvalues[-1] if eigenvalues else math.nan
    return bounds.lr_bound(spec.name, spec.hyperparameters(), top)


def escape_step(path, saddle, radius: float) -> int | None:
    """First step farther than ``radius`` from ``saddle`` (None if never; the start must be inside)."""
    for k, (x, y) in enumerate(path):
        distance = math.hypot(x - saddle[0], y - saddle[1])
        if not distance <= radius:  # NaN counts as far
            return k
    return None


def judge(surface, trajectory: dict, sigma: float, escape_radius: float) -> dict[str, Any]:
    """The verdict for one trajectory (see the module docstring for the definitions); ``reason``
    in English, and ``why`` = (i18n key, fields) to say it in another language (``reason_in``)."""
    out = _judge(surface, trajectory, sigma, escape_radius)
    out["reason"] = reason_in(out["why"], "en")
    return out


def reason_in(why, lang: str) -> str:
    """A verdict's reason in ``lang`` from its ``why`` (key, fields; a field "then" is itself a
    (key, fields) pair: why the trajectory stopped)."""
    key, fields = why
    if isinstance(fields.get("then"), (list, tuple)):
        then_key, then_fields = fields["then"]
        fields = fields | {"then": text(then_key, lang, **then_fields)}
    return text(key, lang, **fields)


def _judge(surface, trajectory: dict, sigma: float, escape_radius: float) -> dict[str, Any]:
    path, values = trajectory["path"], trajectory["f"]
    steps = trajectory["steps"]
    final = path[-1]
    grad_norm = (math.hypot(*surface.expression.gradient(*final))
                 if math.isfinite(final[0]) and math.isfinite(final[1]) else math.nan)
    out = {"grad_norm": grad_norm, "escape_step": None, "diverged_step": trajectory["diverged_step"]}
    stop = trajectory.get("stop")
    saddle = surface.saddle
    near = saddle is not None and math.dist(path[0], saddle) <= escape_radius
    if near:
        out["escape_step"] = escape_step(path, saddle, escape_radius)
        if out["escape_step"] is not None:
            fields = {"radius": escape_radius, "saddle": tuple(saddle), "step": out["escape_step"]}
            if stop is not None:
                return out | {"verdict": "escaped saddle", "why": ("why.escaped_then", fields | {"then": stop})}
            return out | {"verdict": "escaped saddle", "why": ("why.escaped", fields)}
    if trajectory["diverged_step"] is not None:
        return out | {"verdict": "diverged", "why": ("why.diverged", {"then": stop})}
    if near:
        return out | {"verdict": "stuck near saddle", "why": ("why.stuck", {
            "radius": escape_radius, "saddle": tuple(saddle), "steps": steps,
            "distance": math.dist(path[-1], saddle), "grad_norm": grad_norm})}
    if sigma > 0:
        tail = path[-max(1, int(len(path) * TAIL_FRACTION)):]
        mean = [sum(c) / len(tail) for c in zip(*tail)]
        tail_grad = math.hypot(*surface.expression.gradient(*mean))
        if tail_grad <= CONVERGED_GRAD_NORM + sigma:
            return out | {"verdict": "converged", "why": ("why.converged_noise", {
                "tail_grad": tail_grad, "tail": len(tail), "sigma": sigma, "tol": CONVERGED_GRAD_NORM})}
    elif grad_norm <= CONVERGED_GRAD_NORM:
        return out | {"verdict": "converged", "why": ("why.converged", {
            "grad_norm": grad_norm, "tol": CONVERGED_GRAD_NORM, "steps": steps})}
    if values[-1] > values[0]:
        first = next(k for k, v in enumerate(values) if v > values[0])
        out["diverged_step"] = first
        return out | {"verdict": "diverged", "why": ("why.rose", {
            "step": first, "last": values[-1], "first": values[0]})}
    moves = [(b[0] - a[0], b[1] - a[1]) for a, b in zip(path, path[1:])]
    late = moves[len(moves) // 2:]
    pairs = list(zip(late, late[1:]))
    if len(late) >= OSCILLATION_MIN_MOVES and pairs:
        reversing = sum(1 for u, v in pairs if u[0] * v[0] + u[1] * v[1] < 0) / len(pairs)
        if reversing >= OSCILLATION_FRACTION:
            return out | {"verdict": "oscillating", "why": ("why.oscillating", {
                "percent": 100 * reversing, "pairs": len(pairs), "grad_norm": grad_norm})}
    return out | {"verdict": "slow", "why": ("why.slow", {
        "grad_norm": grad_norm, "steps": steps, "tol": CONVERGED_GRAD_NORM})}


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
    result = compute(config, surface, on_progress=on_progress, run_id=run_id)
    if config.plots:
        from . import figures

        folder = run_folder(store, run_id, config.out)
        result["figures"] = figures.draw(folder, surface, result)
    if record:
        store.save(to_record(result, sweep_id, sweep_cell))
    return result


def compute(config, surface, settings=None, on_progress=None, run_id=None) -> dict[str, Any]:
    """The result document without figures or a record: theory at the start, then one trajectory
    per (lr, optimizer spec) in ``settings`` (default: each of the config's lrs with its optimizer),
    stepped together, judged. The playground calls this with one lr and several optimizers."""
    start = tuple(float(v) for v in (config.start or surface.start))
    if settings is None:
        settings = [(float(lr), config.optimizer) for lr in (config.lrs or [surface.lr])]
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

    # the trajectories, stepped together, all on the same noise draws (one seed)
    began = time.perf_counter()
    label = "lr=" + ",".join(f"{lr:g}" for lr, _ in settings)
    progress = None if on_progress is None else (lambda k, n: on_progress(label, k, n))
    trajectories = descend_all(surface, start, settings, steps, sigma,
                               torch.Generator().manual_seed(config.seed), on_progress=progress)
    seconds = (time.perf_counter() - began) / len(settings)  # each trajectory's share
    runs = []
    for (lr, spec), trajectory in zip(settings, trajectories):
        verdict = judge(surface, trajectory, sigma, config.escape_radius)
        x, y = trajectory["path"][-1]
        own = run_bound(spec, at_start["eigenvalues"])
        runs.append({
            "lr": lr, "optimizer": spec.name, "path": trajectory["path"],
            "f": trajectory["f"], "steps": trajectory["steps"],
            "final": {"x": x, "y": y, "f": trajectory["f"][-1], "grad_norm": verdict["grad_norm"]},
            "verdict": verdict["verdict"], "reason": verdict["reason"], "why": verdict["why"],
            "escape_step": verdict["escape_step"], "diverged_step": verdict["diverged_step"],
            "lr_bound": own["lr_bound"], "lr_bound_rule": own["lr_bound_rule"],
            "lr_over_bound": lr / own["lr_bound"] if own["lr_bound"] else None, "seconds": seconds,
        })

    status = "diverged" if any(r["verdict"] == "diverged" for r in runs) else "completed"
    return {
        "status": status, "problem": config.problem, "run_id": run_id, "surface": surface.describe(), "start": list(start),
        "steps": steps, "noise": sigma, "seed": config.seed, "escape_radius": config.escape_radius,
        "hessian_start": {"matrix": at_start["hessian"], "eigenvalues": at_start["eigenvalues"],
                          "curvature": at_start["curvature"]},
        "start_point": {k: at_start[k] for k in ("f", "gradient", "gradient_norm")},
        "lr_bound": bound, "lr_bound_kind": bound_kind, "critical_point": critical,
        "noise_check": noise, "runs": runs, "definitions": DEFINITIONS,
        "config": config.to_dict(), "figures": [],
    }


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
