"""The optimizers lesson: the same problems, every update rule, curves and paths overlaid.

Two figures. ``optimizers_linreg.png``: the tutorial's linear regression trained with each rule
(every run recorded like ``sgdlab linreg``), full-batch loss per step on one log axis, with the
closed-form optimum as the floor. ``optimizers_surface.png``: each rule's path on two fixed 2-D
surfaces written here with torch (an ill-conditioned quadratic and Rosenbrock's valley), over
their contour lines; that run is recorded as command ``optimizers-surface``.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from .store import RunRecord, Store, new_run_id

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


def quadratic(xy):
    """f(x, y) = (x^2 + 25 y^2) / 2: curvature 25 times larger along y than along x."""
    return 0.5 * (xy[..., 0] ** 2 + 25.0 * xy[..., 1] ** 2)


def rosenbrock(xy):
    """f(x, y) = (1 - x)^2 + 100 (y - x^2)^2: a curved, narrow valley with its minimum at (1, 1)."""
    return (1 - xy[..., 0]) ** 2 + 100.0 * (xy[..., 1] - xy[..., 0] ** 2) ** 2


# surface -> (function, start, minimum, plot window, steps, {label: (rule, lr, other hp)})
SURFACES: dict[str, tuple] = {
    "quadratic": (quadratic, (-4.0, 1.5), (0.0, 0.0), ((-4.5, 1.5), (-2.0, 2.0)), 60, {
        "sgd": ("sgd", 0.07, {}),
        "sgd momentum=0.7": ("sgd", 0.03, {"momentum": 0.7}),
        "adagrad": ("adagrad", 1.0, {}),
        "rmsprop": ("rmsprop", 0.1, {}),
        "adam": ("adam", 0.3, {}),
    }),
    "rosenbrock": (rosenbrock, (-1.5, 2.0), (1.0, 1.0), ((-2.0, 2.0), (-1.0, 3.0)), 1000, {
        "sgd": ("sgd", 1e-3, {}),
        "sgd momentum=0.9": ("sgd", 2e-4, {"momentum": 0.9}),
        "adagrad": ("adagrad", 0.3, {}),
        "rmsprop": ("rmsprop", 3e-3, {}),
        "adam": ("adam", 0.05, {}),
    }),
}


def path_on_surface(f, start, rule: str, lr: float, steps: int, **hp) -> tuple[list, list]:
    """Run ``rule`` from ``start`` on ``f``; returns the points visited and f at each, in float64."""
    import torch

    from . import optim

    xy = torch.tensor(start, dtype=torch.float64, requires_grad=True)
    opt = optim.create(rule, [xy], lr=lr, **hp)
    points, values = [list(start)], []
    for _ in range(steps):
        opt.zero_grad()
        value = f(xy)
        values.append(float(value.detach()))
        if not math.isfinite(values[-1]):
            break
        value.backward()
        opt.step()
        points.append(xy.detach().tolist())
    values.append(float(f(xy.detach())))
    return points, values


def lesson_optimizers(folder: Path, store: Store, quick: bool) -> dict[str, Any]:
    from . import plots
    from .config import LinRegConfig, OptimizerSpec
    from .linreg import run

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

    paths = {}
    for surface, (f, start, _, _, surface_steps, runs) in SURFACES.items():
        n = max(20, surface_steps // 6) if quick else surface_steps
        paths[surface] = {label: path_on_surface(f, start, rule, lr, n, **hp)
                          for label, (rule, lr, hp) in runs.items()}
    surface_figure = draw_surfaces(paths, folder / "optimizers_surface.png")

    run_id = new_run_id()
    distances = {s: {label: _distance(p[0][-1], SURFACES[s][2]) for label, p in by.items()}
                 for s, by in paths.items()}
    store.save(RunRecord(
        id=run_id, command="optimizers-surface", status="completed",
        config={s: {"start": SURFACES[s][1], "runs": SURFACES[s][5]} for s in SURFACES} | {"quick": quick},
        metrics={"distance_to_minimum": distances,
                 "final_value": {s: {label: p[1][-1] for label, p in by.items()} for s, by in paths.items()}},
        figures=[surface_figure],
        curves={f"{s}/{label}": p[1] for s, by in paths.items() for label, p in by.items()},
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


def draw_surfaces(paths: dict[str, dict[str, tuple]], path) -> str:
    """One panel per surface: log-spaced contour lines, each rule's path, start and minimum."""
    import numpy as np
    import torch

    from .plots import _pyplot, save

    plt = _pyplot()
    fig, axes = plt.subplots(1, len(paths), figsize=(6 * len(paths), 4.8))
    for ax, (surface, by_rule) in zip(np.atleast_1d(axes), paths.items()):
        f, start, minimum, ((x0, x1), (y0, y1)), _, _ = SURFACES[surface]
        gx, gy = torch.meshgrid(torch.linspace(x0, x1, 200, dtype=torch.float64),
                                torch.linspace(y0, y1, 200, dtype=torch.float64), indexing="xy")
        z = f(torch.stack([gx, gy], dim=-1)).numpy()
        levels = np.logspace(math.log10(max(z.min(), 1e-3)), math.log10(z.max()), 18)
        ax.contour(gx.numpy(), gy.numpy(), z, levels=levels, cmap="Greys", linewidths=0.6)
        for label, (points, _) in by_rule.items():
            pts = np.array([p for p in points if all(math.isfinite(v) for v in p)])
            line, = ax.plot(pts[:, 0], pts[:, 1], "-", linewidth=1.3, alpha=0.85, label=label)
            ax.plot(pts[-1, 0], pts[-1, 1], "o", color=line.get_color(), markersize=6)  # where it ended
        ax.plot(*start, "ko", markersize=5)
        ax.plot(*minimum, "k*", markersize=11)
        ax.set_xlim(x0, x1)
        ax.set_ylim(y0, y1)
        ax.set_title(f"{surface}: {_formula_of(f)}", fontsize=9)
        ax.set_xlabel("x")
        ax.set_ylabel("y")
        ax.legend(loc="best", fontsize=7)
    return save(fig, path)


def _formula_of(f) -> str:
    return (f.__doc__ or "").split(":")[0]  # the formula, from the surface's docstring
