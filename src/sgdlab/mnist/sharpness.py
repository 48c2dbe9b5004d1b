"""The edge-of-stability study (Cohen et al. 2021, "Gradient Descent on Neural Networks Typically
Occurs at the Edge of Stability"): full-batch gradient descent on the MLP at one or more learning
rates, the sharpness lambda_max of the training loss measured every K steps on the whole training
set, against the bound 2 / lr.

What the theory says: on a quadratic, gradient descent with step lr is stable iff lambda_max <
2 / lr. On a network the sharpness first rises (progressive sharpening) until it reaches 2 / lr,
then hovers at or just above it while the loss keeps falling, not monotonically (the edge of
stability). This module runs the experiment and states in words which of these happened.

Defaults are Cohen et al.'s setting moved to mnist-5k: 784-200-200-10 tanh MLP, the squared loss
0.5 ||f - onehot||^2, inputs standardised per pixel (as locuslab/edge-of-stability does), plain
gradient descent on all 4,000 training images.
"""

from __future__ import annotations

import statistics
from dataclasses import replace
from typing import Any, Callable

from ..core.config import is_finite
from ..core.errors import ConfigError, Problems
from ..core.limits import MAX_STEPS, check_count
from ..core.paths import check_outputs
from ..core.store import RunRecord, Store, new_run_id, run_folder
from .config import MnistConfig

STUDY_DEFAULTS = dict(hidden=[200, 200], activation="tanh", loss="mse", normalize="standardize")
# 2 / lr = 10 and 6.7, both above the initial sharpness (6.0): each run sharpens until it reaches
# its own 2 / lr (near step 190 and 60), then hovers there: Cohen et al.'s figure 1
DEFAULT_LRS = [0.2, 0.3]
DEFAULT_STEPS = 300
DEFAULT_EVERY = 20
SHARPENING = 1.1  # sharpness grew by more than 10% since initialisation: "progressive sharpening"
EDGE_BAND = (0.8, 1.25)  # median of sharpness * lr / 2 after the hit within this: "at the edge"
MIN_AFTER = 3  # measurements at or after the hit needed to say it hovers there


def check(lrs: list[float], steps: int, every: int) -> None:
    problems = Problems()
    problems.check(len(lrs) > 0, "--lr: give at least one learning rate")
    for lr in lrs:
        problems.check(is_finite(lr) and lr > 0, f"--lr must be > 0, got {lr}")
    check_count(problems, steps, "--steps", high=MAX_STEPS, why="every step's loss is kept")
    check_count(problems, every, "--every")
    problems.raise_if_any(ConfigError)


def analyse(lr: float, sharpness: list[dict[str, Any]], losses: list[float], status: str,
            threshold: float | None = None, label: str = "2/lr") -> dict[str, Any]:
    """The numbers and the verdict of one learning rate's run; ``threshold`` (default 2 / lr, named
    ``label``) is where the sharpness sits at the edge (38/lr for Adam's preconditioned one)."""
    bound = threshold if threshold is not None else 2 / lr
    points = [(p["step"], p["value"]) for p in sharpness if p["value"] == p["value"]]
    hit = next((step for step, value in points if value >= bound), None)
    gd = threshold is None  # gradient descent's 2/lr: the words and numbers as they always were
    ratio = (lambda value: value * lr / 2) if gd else (lambda value: value / bound)
    after = [ratio(value) for step, value in points if hit is not None and step >= hit]
    median = statistics.median(after) if after else None
    spread = _quartiles(after)
    first, last = (points[0][1], points[-1][1]) if points else (None, None)
    rises = 0
    if hit is not None:
        tail = losses[hit:]
        rises = sum(b > a for a, b in zip(tail, tail[1:]))
    how = "" if hit is None else (
        f"started above {label} = {bound:.4g} (sharpness {first:.4g})" if hit == 0
        else f"reached {label} = {bound:.4g} at step {hit}")
    if status == "diverged":
        verdict = ("diverged: the loss blew up (lr far above 2 / sharpness, and no catapult saved it)" if gd
                   else f"diverged: the loss blew up (the sharpness far above {label}, and no catapult saved it)")
    elif hit is not None and len(after) < MIN_AFTER:
        verdict = (f"reached the edge: the sharpness {how}; too few measurements after it to tell "
                   f"whether it stays there (give more --steps)")
    elif hit is not None and median is not None and EDGE_BAND[0] <= median <= EDGE_BAND[1]:
        falling = (f"non-monotonically ({rises} of the {len(losses) - hit - 1} steps after it raised "
                   f"the loss)" if rises else "monotonically")
        verdict = (f"at the edge of stability: the sharpness {how} and then hovered around it "
                   f"(median {'sharpness * lr / 2' if gd else f'sharpness / ({label})'} = {median:.3f}) "
                   f"while the loss went on falling, {falling}")
    elif hit is not None:
        verdict = f"above the edge: the sharpness {how} and stayed at {median:.3f} x {label} (median)"
    elif first is not None and last > SHARPENING * first:
        verdict = (f"progressive sharpening: the sharpness rose from {first:.4g} to {last:.4g}, still "
                   f"below {label} = {bound:.4g} ({ratio(last):.2f} of it); more steps would reach it")
    else:
        verdict = (f"stable below the edge: the sharpness stayed near {last if last is not None else float('nan'):.4g}, "
                   f"below {label} = {bound:.4g}")
    return {"lr": lr, "bound": bound, "hit_step": hit, "ratio_median": median, "ratio_spread": spread,
            "loss_rises_after_hit": rises if hit is not None else None, "verdict": verdict,
            "sharpness_init": first, "sharpness_final": last}


def _quartiles(values: list[float]) -> list[float] | None:
    if len(values) < 2:
        return [values[0], values[0]] if values else None
    q = statistics.quantiles(values, n=4, method="inclusive")
    return [q[0], q[2]]


def run_study(config: MnistConfig, lrs: list[float], *, steps: int = DEFAULT_STEPS,
              every: int = DEFAULT_EVERY, store: Store | None = None, record: bool = True,
              data=None, on_progress: Callable[[float, int, int], None] | None = None) -> dict[str, Any]:
    """One full-batch run per learning rate (``config`` gives the rest); the study document."""
    from . import datasets, figures
    from .run import run

    check(lrs, steps, every)
    base = replace(config, batch_size=None, epochs=steps, max_steps=steps, sharpness_every=every,
                   sharpness_subset=None, bound=True, plots=False)
    base.validate()
    store = store or Store()
    study_id = new_run_id()
    check_outputs(store, run_folder(store, study_id, config.out), record=record, plots=config.plots,
                  out=config.out)
    data = data if data is not None else datasets.load(config.dataset, config.data_dir)
    runs, records = [], []
    adaptive = _adaptive(base)
    for lr in lrs:
        progress = None if on_progress is None else (lambda s, t, lr=lr: on_progress(lr, s, t))
        if adaptive:  # Adam or RMSprop: the preconditioned sharpness against its own threshold
            from ..optim.bounds import preconditioned_threshold
            from .adaptive import run_adaptive

            result = run_adaptive(replace(base, lr=lr), lr, steps, every, data, on_progress=progress)
            threshold, label, rule = preconditioned_threshold(base.optimizer.name,
                                                              base.optimizer.hyperparameters(), lr)
            entry = analyse(lr, result["sharpness"], result["step_losses"], result["status"], threshold, label)
            entry["kind"], entry["threshold_rule"], entry["threshold_label"] = "preconditioned", rule, label
        else:
            result = run(replace(base, lr=lr), store=store, record=False, data=data, on_progress=progress)
            entry = analyse(lr, result["sharpness"], result["step_losses"], result["status"])
            entry["kind"], entry["threshold_rule"], entry["threshold_label"] = "hessian", "2/lr", "2/lr"
        entry.update({"sharpness": result["sharpness"], "losses": result["step_losses"],
                      "status": result["status"], "seconds": result["seconds"], "run_id": result["run_id"],
                      "test_accuracy": result["test_accuracy"], "cost": result["sharpness_cost"]})
        runs.append(entry)
        records.append(to_record(entry, result, study_id))
    figures_out: list[str] = []
    if config.plots:
        folder = run_folder(store, study_id, config.out)
        figures_out = draw(runs, folder)
        for r in records:
            r.figures = figures_out
    if record:
        store.save_sweep(study_id, "mnist", {"study": "sharpness", "lrs": lrs, "steps": steps,
                                             "every": every, "config": base.to_dict()})
        store.save_many(records)
    statuses = {r["status"] for r in runs}
    return {"status": "diverged" if "diverged" in statuses else "completed", "study_id": study_id,
            "steps": steps, "every": every, "data": records[0].metrics["data"],
            "config": base.to_dict(), "runs": runs, "figures": figures_out}


def _adaptive(config) -> bool:
    """Adam, AdamW or RMSprop: the study tracks lambda_1(P^-1 H); plain SGD tracks lambda_1(H)."""
    from ..core.errors import ConfigError
    from ..optim.spec import base_name

    name = base_name(config.optimizer.name)
    if name == "adagrad":
        raise ConfigError("--optimizer adagrad: its step shrinks for ever, it has no edge of stability; "
                          "use sgd, adam, adamw or rmsprop")
    if name == "sgd" and config.optimizer.hyperparameters():
        raise ConfigError("sgdlab sharpness runs plain gradient descent with --optimizer sgd "
                          "(no --momentum or --weight-decay); or use adam, adamw, rmsprop")
    return name in ("adam", "adamw", "rmsprop")


def to_record(entry: dict[str, Any], result: dict[str, Any], study_id: str) -> RunRecord:
    metrics = {k: entry[k] for k in ("lr", "bound", "kind", "threshold_rule", "hit_step", "ratio_median", "ratio_spread",
                                     "loss_rises_after_hit", "verdict", "sharpness_init",
                                     "sharpness_final", "seconds")}
    metrics.update({"data": result["data"], "steps": result["steps"], "device": result["device"]})
    if "divergence" in result:
        metrics["divergence"] = result["divergence"]
    return RunRecord(
        id=result["run_id"], command="sharpness", status=result["status"], sweep_id=study_id,
        config=result["config"], metrics=metrics,
        curves={"loss": result["step_losses"], "sharpness_step": [p["step"] for p in entry["sharpness"]],
                "sharpness": [p["value"] for p in entry["sharpness"]]},
        key_metric_name="ratio_median", key_metric=entry["ratio_median"],
    )


def draw(runs: list[dict[str, Any]], folder) -> list[str]:
    """Cohen et al.'s figure 1: the training loss, and the sharpness with 2 / lr, per lr."""
    from pathlib import Path

    from ..core import plots
    from .figures import draw_sharpness

    folder = Path(folder)
    losses = {f"lr {r['lr']:g}": (list(range(len(r["losses"]))), r["losses"]) for r in runs}
    if runs and runs[0].get("kind") == "preconditioned":  # Adam/RMSprop: lambda_1(P^-1 H) vs its threshold
        series = {f"lr {r['lr']:g}": ([p["step"] for p in r["sharpness"]], [p["value"] for p in r["sharpness"]])
                  for r in runs}
        levels = {f"lr {r['lr']:g}": (r["bound"], f"{r['threshold_label']} = {r['bound']:.4g}")
                  for r in runs}
        return [
            plots.curves(losses, folder / "eos_loss.png", xlabel="step (full-batch updates)",
                         ylabel="training loss", title="Training loss under full-batch adaptive updates"),
            plots.curves(series, folder / "eos_preconditioned_sharpness.png", xlabel="step (updates)",
                         ylabel="preconditioned sharpness lambda_1(P^-1 H)", log=True, levels=levels,
                         title="Preconditioned sharpness against step, with its threshold"),
        ]
    return [
        plots.curves(losses, folder / "eos_loss.png", xlabel="step (full-batch updates)",
                     ylabel="training loss", title="Training loss under full-batch gradient descent"),
        draw_sharpness({f"lr {r['lr']:g}": (r["sharpness"], r["lr"]) for r in runs}, folder / "eos_sharpness.png"),
    ]
