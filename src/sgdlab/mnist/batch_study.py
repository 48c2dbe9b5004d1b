"""Steps to a target loss against batch size, the learning rate tuned per batch size, and
McCandlish et al.'s fit S = S_min (1 + B_noise / B), E = E_min (1 + B / B_noise).

Every (batch size, learning rate) pair is one cell of an ordinary sweep (``sweep.run_sweep``, the
vectorized executor: one stacked network per batch size), recorded like any sweep. For each batch
size the learning rate that reaches the target in the fewest steps counts. With B_noise fitted,
B_crit = E_min / S_min (= B_noise) is the batch size beyond which more examples per step stop
buying fewer steps; the theory says it is about B_simple, measured beside it.

A batch loss is noisy at small batches (batch 10 jumps across any target by chance), so the loss
that must reach the target is the mean of the batch losses over the last ``SMOOTH_EXAMPLES``
training images (ceil(1000 / B) steps); the step counted is the middle of that window, where a
trailing mean is centred (a window of w steps lags the loss by (w - 1) / 2 steps).
"""

from __future__ import annotations

import math
from dataclasses import asdict
from pathlib import Path
from typing import Any, Callable

from ..core.errors import ConfigError, Problems
from ..core.limits import MAX_STEPS, check_count
from ..core.store import Store

DEFAULT_LRS = [0.01, 0.03, 0.1, 0.3]  # lr 1 diverged at every batch size here
DEFAULT_TARGET = 0.5  # training loss; the tutorial's MLP reaches it in about 100 steps at batch 100
# Caps per cell: the steps (what small batches need: ~300 at batch 10) and the passes over the
# data (what large batches cost: full batch needs ~60 steps = 60 passes). A cell that does not
# reach the target within them counts as "not reached"; the sweep's cost is about 4 x 1.1 million
# images for 10,30,100,300,1000,4000 (a whole group runs until its last model stops).
CAP_STEPS = 1000
CAP_EPOCHS = 80
SMOOTH_EXAMPLES = 1000
MIN_POINTS = 3  # batch sizes that reached the target, needed for a two-parameter fit


def arguments(batch_sizes, target, lrs, max_steps, max_epochs) -> dict[str, Any]:
    """The study's settings with their defaults, checked together."""
    args = {"batch_sizes": batch_sizes or [], "target": DEFAULT_TARGET if target is None else target,
            "lrs": lrs or list(DEFAULT_LRS), "max_steps": CAP_STEPS if max_steps is None else max_steps,
            "max_epochs": CAP_EPOCHS if max_epochs is None else max_epochs}
    problems = Problems()
    problems.check(math.isfinite(args["target"]) and args["target"] > 0, f"--target must be a finite number > 0, got {args['target']}")
    for lr in args["lrs"]:
        problems.check(math.isfinite(lr) and lr > 0, f"--lrs must be a finite number > 0, got {lr}")
    check_count(problems, args["max_steps"], "--max-steps", high=MAX_STEPS)
    check_count(problems, args["max_epochs"], "--max-epochs", high=MAX_STEPS)
    problems.raise_if_any(ConfigError)
    return args


def check_sizes(sizes: list[int], n: int) -> None:
    problems = Problems()
    for b in sizes:
        problems.check(1 <= b <= n, f"--batch-sizes: {b} must be between 1 and the training set's {n} images")
    problems.check(len(set(sizes)) == len(sizes), f"--batch-sizes: duplicate values in {sizes}")
    problems.raise_if_any(ConfigError)


def steps_to_target(losses: list[float], batch_size: int, target: float, n: int | None = None) -> int | None:
    """Updates until the loss, averaged over the last ~SMOOTH_EXAMPLES images (at most one pass
    over the ``n`` training images), is <= target. Unbounded by n, 9 images averaged over 112
    updates, more than the 80-epoch cap gives at batch 9: no cell could ever reach a target."""
    examples = SMOOTH_EXAMPLES if n is None else min(SMOOTH_EXAMPLES, n)
    window = max(1, math.ceil(examples / batch_size))
    total = 0.0
    for t, value in enumerate(losses):
        if not math.isfinite(value):
            return None
        total += value - (losses[t - window] if t >= window else 0.0)
        if t >= window - 1 and total / window <= target:
            return round(t - (window - 1) / 2)
    return None


def fit(points: list[dict[str, Any]]) -> dict[str, Any] | None:
    """S_min and B_noise by least squares on log S = log S_min + log(1 + B_noise / B) (SciPy)."""
    import numpy as np

    try:
        from scipy.optimize import curve_fit
    except ImportError:  # only a bare PYTHONPATH checkout lacks SciPy (a dependency of sgdlab)
        return None
    if len(points) < MIN_POINTS:
        return None
    b = np.array([p["batch_size"] for p in points], dtype=float)
    s = np.array([max(p["steps"], 1) for p in points], dtype=float)

    def log_steps(batch, log_s_min, log_b_noise):
        return log_s_min + np.log1p(np.exp(log_b_noise) / batch)

    guess = (math.log(s.min()), math.log(float(np.median(b))))
    try:
        (log_s_min, log_b_noise), _ = curve_fit(log_steps, b, np.log(s), p0=guess, maxfev=10_000)
    except RuntimeError:  # no convergence: say so rather than print a number
        return None
    s_min, b_noise = math.exp(log_s_min), math.exp(log_b_noise)
    return {"s_min": s_min, "e_min": s_min * b_noise, "b_crit": b_noise, "points": len(points)}


def run_study(config, args: dict[str, Any], *, store: Store, folder: Path, sweep_id: str, study_run: str,
              progress: Callable[[int, int], None] | None = None) -> dict[str, Any]:
    """Run the grid as a sweep; steps to target per batch size at its best lr; the fit; figures.

    The sweep is recorded under ``sweep_id``, which the study's own row (``study_run``) names from
    its start, and is marked as that study's grid: `sweep --resume` refuses it (a part of the grid
    is no study). Ctrl-C in the sweep stops the study (KeyboardInterrupt): no fit of a partial grid.
    """
    from ..sweep import SweepSpec, run_sweep

    base = {k: v for k, v in config.to_dict().items()
            if k in ("dataset", "data_dir", "hidden", "activation", "loss", "normalize", "seed",
                     "limit_train", "device") and v is not None}
    base |= {k: v for k, v in asdict(config.optimizer).items() if k != "name" and v not in (None, False)}
    base |= {"optimizer": config.optimizer.name, "epochs": args["max_epochs"], "max_steps": args["max_steps"]}
    spec = SweepSpec("mnist", {"batch_size": list(args["batch_sizes"]), "lr": list(args["lrs"])},
                     base=base, executor="vectorized", study="noise-scale", study_run=study_run)
    sweep = run_sweep(spec, store=store, sweep_id=sweep_id, progress=progress)
    if sweep["status"] != "completed":  # the vectorized executor in this process: only Ctrl-C
        raise KeyboardInterrupt
    records = store.get_many([c["run_id"] for c in sweep["cells"]])
    best: dict[int, dict[str, Any]] = {}
    for record in records:
        b, lr = record.config["batch_size"], record.config["lr"]
        steps = steps_to_target(record.curves.get("step_loss", []), b, args["target"],
                                (record.metrics.get("data") or {}).get("train"))
        if steps is not None and (b not in best or steps < best[b]["steps"]):
            best[b] = {"batch_size": b, "lr": lr, "steps": steps, "examples": steps * b}
    study = []
    for b in args["batch_sizes"]:
        row = best.get(b) or {"batch_size": b, "lr": None, "steps": None, "examples": None}
        row["lr_at_grid_edge"] = row["lr"] is not None and row["lr"] in (min(args["lrs"]), max(args["lrs"]))
        study.append(row)
    fitted = fit([r for r in study if r["steps"] is not None])
    figures = [draw(study, fitted, folder / "steps_vs_examples.png")] if config.plots else []
    return {"study": study, "fit": fitted, "target": args["target"], "sweep_id": sweep["sweep_id"],
            "study_settings": args, "figures": figures}


def draw(study: list[dict[str, Any]], fitted: dict[str, Any] | None, path: Path) -> str:
    """McCandlish et al.'s figure: steps against examples to reach the target, one point per
    batch size, the fitted curve (S/S_min - 1)(E/E_min - 1) = 1 and its two asymptotes."""
    import numpy as np

    from ..core import plots

    plt = plots._pyplot()
    fig, ax = plt.subplots(figsize=(6.5, 4.5))
    reached = [r for r in study if r["steps"] is not None]
    ax.plot([r["examples"] for r in reached], [max(r["steps"], 1) for r in reached], "o", label="measured")
    for r in reached:
        ax.annotate(f"B={r['batch_size']}", (r["examples"], max(r["steps"], 1)), textcoords="offset points",
                    xytext=(4, 4), fontsize=8)
    if fitted:
        s_min, e_min, b_noise = fitted["s_min"], fitted["e_min"], fitted["b_crit"]
        sizes = [r["batch_size"] for r in reached]
        batch = np.logspace(math.log10(min(sizes) / 3), math.log10(max(sizes) * 3), 200)
        ax.plot(e_min * (1 + batch / b_noise), s_min * (1 + b_noise / batch), "-",
                label=f"fit: S_min = {s_min:.3g}, E_min = {e_min:.3g}, B_crit = {b_noise:.3g}")
        ax.axhline(s_min, linestyle="--", color="gray", linewidth=1)
        ax.axvline(e_min, linestyle="--", color="gray", linewidth=1)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("examples processed to reach the target (E)")
    ax.set_ylabel("optimisation steps to reach the target (S)")
    ax.set_title("Steps against examples to reach the target (McCandlish et al. 2018)")
    ax.legend(fontsize=8)
    ax.grid(True, which="both", alpha=0.3)
    return plots.save(fig, path)
