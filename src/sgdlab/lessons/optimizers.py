"""The optimizers lesson: the same problems, every update rule, curves and paths overlaid.

Two figures. ``optimizers_linreg.png``: the tutorial's linear regression trained with each rule
(every run recorded like ``sgdlab linreg``), full-batch loss per step on one log axis, with the
closed-form optimum as the floor. ``optimizers_surface.png``: each rule's path on two of
``sgdlab surface``'s built-ins (``bowl`` made ill-conditioned, and Rosenbrock's valley), descended
and judged by ``surface.run`` and drawn over its contour plot, with f against step below; that run
is recorded as command ``optimizers-surface``.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from ..core.store import RunRecord, Store, new_run_id

# label -> (rule, learning rate, other hyperparameters); rates picked so every rule is stable
LINREG_RUNS: dict[str, tuple[str, float, dict[str, Any]]] = {
    "sgd lr=0.02": ("sgd", 0.02, {}),
    "sgd momentum=0.9 lr=0.005": ("sgd", 0.005, {"momentum": 0.9}),
    "sgd nesterov lr=0.005": ("sgd", 0.005, {"momentum": 0.9, "nesterov": True}),
    "adagrad lr=0.5": ("adagrad", 0.5, {}),
    "rmsprop lr=0.01": ("rmsprop", 0.01, {}),
    "adam lr=0.1": ("adam", 0.1, {}),
    "adamw lr=0.1 wd=0.01": ("adamw", 0.1, {"weight_decay": 0.01}),
}

# panel -> a built-in surface (``sgdlab.surface.functions``), its start, the steps, and
# {label: (rule, lr, other hyperparameters)}. bowl with curvatures (1, 25) is (x^2 + 25 y^2) / 2:
# 25 times steeper along y than along x.
SURFACES: dict[str, dict[str, Any]] = {
    "quadratic": dict(name="bowl", curvature=(1.0, 25.0), start=(-4.0, 1.5), steps=60, runs={
        "sgd": ("sgd", 0.07, {}),
        "sgd momentum=0.7": ("sgd", 0.03, {"momentum": 0.7}),
        "adagrad": ("adagrad", 1.0, {}),
        "rmsprop": ("rmsprop", 0.1, {}),
        "adam": ("adam", 0.3, {}),
    }),
    "rosenbrock": dict(name="rosenbrock", start=(-1.5, 2.0), steps=1000, runs={
        "sgd": ("sgd", 1e-3, {}),
        "sgd momentum=0.9": ("sgd", 2e-4, {"momentum": 0.9}),
        "adagrad": ("adagrad", 0.3, {}),
        "rmsprop": ("rmsprop", 3e-3, {}),
        "adam": ("adam", 0.05, {}),
    }),
}


def surface_of(panel: str):
    """The ``sgdlab.surface.functions.Surface`` that ``SURFACES[panel]`` names."""
    from ..surface import functions as surfaces

    spec = SURFACES[panel]
    return surfaces.get(spec["name"], spec.get("curvature", surfaces.DEFAULT_CURVATURE))


def descend_each(panel: str, steps: int) -> list[dict[str, Any]]:
    """Every rule of ``SURFACES[panel]`` from its start, ``steps`` updates each, by
    ``surface_run.descend`` (no noise) and judged by ``surface_run.judge``."""
    from ..optim.spec import OptimizerSpec
    from ..surface import run as surface_run

    surface, spec = surface_of(panel), SURFACES[panel]
    runs = []
    for label, (rule, lr, hp) in spec["runs"].items():
        trajectory = surface_run.descend(surface, spec["start"], lr, steps,
                                         OptimizerSpec(name=rule, **hp), 0.0, None)
        verdict = surface_run.judge(surface, trajectory, 0.0, escape_radius=1.0)
        runs.append({"label": label, "lr": lr, "path": trajectory["path"], "f": trajectory["f"],
                     "verdict": verdict["verdict"]})
    return runs


def lesson_optimizers(folder: Path, store: Store, quick: bool) -> dict[str, Any]:
    from ..core import plots
    from ..linreg.config import LinRegConfig
    from ..linreg.run import run
    from ..optim.spec import OptimizerSpec

    folder = Path(folder)
    steps = 30 if quick else 150
    curves, finals, run_ids, optimum = {}, {}, [], None
    for label, (rule, lr, hp) in LINREG_RUNS.items():
        spec = OptimizerSpec(name=rule, **hp)
        result = run(LinRegConfig(lr=lr, steps=steps, dtype="float64", optimizer=spec, plots=False),
                     store=store)
        curves[label] = (list(range(len(result["losses"]))), result["losses"])
        finals[label] = result["final"]["loss"]
        run_ids.append(result["run_id"])
        optimum = result["optimum"]["loss"]
    curves["closed-form optimum"] = ([0, steps - 1], [optimum, optimum])
    linreg_figure = plots.curves(
        curves, folder / "optimizers_linreg.png", xlabel="update step", ylabel="mean squared error",
        title="Linear regression (tutorial's 15 points): one rule per curve",
    )

    runs = {panel: descend_each(panel, max(20, spec["steps"] // 6) if quick else spec["steps"])
            for panel, spec in SURFACES.items()}
    surface_figure = draw_surfaces(runs, folder / "optimizers_surface.png")

    run_id = new_run_id()
    minimum = {panel: surface_of(panel).minima[0] for panel in SURFACES}
    distances = {panel: {r["label"]: _distance(r["path"][-1], minimum[panel]) for r in by}
                 for panel, by in runs.items()}
    store.save(RunRecord(
        id=run_id, command="optimizers-surface", status="completed",
        config={panel: {k: spec[k] for k in ("name", "curvature", "start", "runs") if k in spec}
                for panel, spec in SURFACES.items()} | {"quick": quick},
        metrics={"distance_to_minimum": distances,
                 "final_value": {panel: {r["label"]: r["f"][-1] for r in by} for panel, by in runs.items()},
                 "verdict": {panel: {r["label"]: r["verdict"] for r in by} for panel, by in runs.items()}},
        figures=[surface_figure],
        curves={f"{panel}/{r['label']}": r["f"] for panel, by in runs.items() for r in by},
    ))
    best = min(finals, key=finals.get)
    rosen = distances["rosenbrock"]
    return {
        "name": "optimizers: one rule per curve, one path per rule",
        "summary": (
            f"linear regression after {steps} steps: best {best} (loss {finals[best]:.5f}, optimum "
            f"{optimum:.5f}); Rosenbrock: closest to (1, 1) is {min(rosen, key=rosen.get)} "
            f"({min(rosen.values()):.3g} away); {len(run_ids) + 1} runs recorded"
        ),
        "figures": [linreg_figure, surface_figure],
        "run_ids": run_ids + [run_id],
        "final_losses": finals,
        "distance_to_minimum": distances,
    }


def _distance(point, minimum) -> float:
    return math.dist(point, minimum) if all(math.isfinite(v) for v in point) else math.inf


def draw_surfaces(runs: dict[str, list[dict[str, Any]]], path) -> str:
    """One column per surface: ``sgdlab surface``'s contour plot with every rule's path on top,
    and below it f against step for each rule (log scale), in the same colors."""
    from ..core.plots import _pyplot, plot_series, save
    from ..surface import figures as surface_plots

    plt = _pyplot()
    fig, axes = plt.subplots(2, len(runs), figsize=(6.4 * len(runs), 9.5), squeeze=False,
                             gridspec_kw={"height_ratios": [5, 3]})
    for column, (panel, by_rule) in enumerate(runs.items()):
        surface = surface_of(panel)
        top, bottom = axes[0][column], axes[1][column]
        surface_plots.contour_panel(fig, top, surface, by_rule, f"{panel}: f = {surface.formula}")
        for i, r in enumerate(by_rule):
            points = [(k, v) for k, v in enumerate(r["f"]) if math.isfinite(v) and v > 0]
            if points:  # one point (a rule that blew up after its start) gets a marker
                plot_series(bottom, *zip(*points), color=surface_plots.color(i), linewidth=1.2,
                            label=r["label"])
        bottom.set_yscale("log")
        bottom.set_xlabel("step")
        bottom.set_ylabel("f(x, y) (log scale)")
        bottom.grid(True, which="both", alpha=0.3)
        bottom.legend(loc="best", fontsize=7)
    fig.tight_layout()
    return save(fig, path)
