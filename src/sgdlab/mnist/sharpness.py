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

from dataclasses import replace
from typing import Any, Callable

from ..core.paths import check_outputs
from ..core.store import RunRecord, Store, new_run_id, run_folder
from ..theory.edge import (EDGE_BAND, MIN_AFTER, SHARPENING, analyse, analyse_tracked, check,  # noqa: F401
                           _quartiles, draw_study, recording, refuse_untracked)  # (moved to theory/edge.py, shared)
from ..core.study import Recorder
from .config import MnistConfig

STUDY_DEFAULTS = dict(hidden=[200, 200], activation="tanh", loss="mse", normalize="standardize")
# 2 / lr = 10 and 6.7, both above the initial sharpness (6.0): each run sharpens until it reaches
# its own 2 / lr (near step 190 and 60), then hovers there: Cohen et al.'s figure 1
DEFAULT_LRS = [0.2, 0.3]
DEFAULT_STEPS = 300
DEFAULT_EVERY = 20


def run_study(config: MnistConfig, lrs: list[float], *, steps: int = DEFAULT_STEPS,
              every: int = DEFAULT_EVERY, store: Store | None = None, record: bool = True,
              data=None, on_progress: Callable[[float, int, int], None] | None = None) -> dict[str, Any]:
    """One full-batch run per learning rate (``config`` gives the rest); the study document."""
    from . import datasets, figures
    from .run import run

    check(lrs, steps, every)
    refuse_untracked(config.optimizer, lrs)  # before the study's row is stored
    base = replace(config, batch_size=None, epochs=steps, max_steps=steps, sharpness_every=every,
                   sharpness_subset=None, bound=True, plots=False)
    base.validate()
    store = store or Store()
    study_id = new_run_id()
    check_outputs(store, run_folder(store, study_id, config.out), record=record, plots=config.plots,
                  out=config.out)
    data = data if data is not None else datasets.load(config.dataset, config.data_dir)
    runs, records = [], []
    if record:  # recorded at start: a killed study shows its finished lrs and the one it was on
        store.save_sweep(study_id, "mnist", {"study": "sharpness", "lrs": lrs, "steps": steps,
                                             "every": every, "config": base.to_dict()})
    adaptive = _adaptive(base)
    for lr in lrs:
        progress = None if on_progress is None else (lambda s, t, lr=lr: on_progress(lr, s, t))
        run_id = new_run_id()
        recorder = Recorder(store, RunRecord(id=run_id, command="sharpness", status="running", sweep_id=study_id,
                                             config=replace(base, lr=lr).to_dict(), metrics={"lr": lr}), enabled=record)
        on_loss, on_sharpness = recording(recorder)  # the row keeps both curves as they grow
        recorder.begin()
        with recorder.interruptible():
            if adaptive:  # Adam or RMSprop: the preconditioned sharpness against its own threshold
                from ..optim.bounds import preconditioned_threshold
                from .adaptive import run_adaptive

                result = run_adaptive(replace(base, lr=lr), lr, steps, every, data, on_progress=progress,
                                      on_loss=on_loss, on_sharpness=on_sharpness)
                result["run_id"] = run_id
            else:
                result = run(replace(base, lr=lr), store=store, record=False, data=data, on_progress=progress,
                             on_loss=on_loss, on_sharpness=on_sharpness, run_id=run_id)
        if adaptive:
            threshold, label, rule = preconditioned_threshold(base.optimizer.name,
                                                              base.optimizer.hyperparameters(), lr)
            entry = analyse(lr, result["sharpness"], result["step_losses"], result["status"], threshold, label)
            entry["kind"], entry["threshold_rule"], entry["threshold_label"] = "preconditioned", rule, label
        else:  # lambda_1(H) against the rule's own threshold: 2/lr, or with momentum 2(1+beta)/lr...
            entry = analyse_tracked(lr, result)
        entry.update({"sharpness": result["sharpness"], "losses": result["step_losses"],
                      "status": result["status"], "seconds": result["seconds"], "run_id": result["run_id"],
                      "test_accuracy": result["test_accuracy"], "cost": result["sharpness_cost"]})
        runs.append(entry)
        records.append(to_record(entry, result, study_id))
        if record:
            store.save(records[-1])
    figures_out: list[str] = []
    if config.plots:
        folder = run_folder(store, study_id, config.out)
        figures_out = draw(runs, folder)
        for r in records:
            r.figures = figures_out
    if record and figures_out:
        store.save_many(records)  # again, with the figures
    statuses = {r["status"] for r in runs}
    return {"status": "diverged" if "diverged" in statuses else "completed", "study_id": study_id,
            "steps": steps, "every": every, "data": records[0].metrics["data"],
            "config": base.to_dict(), "runs": runs, "figures": figures_out}


def _adaptive(config) -> bool:
    """Adam, AdamW or RMSprop: the study tracks lambda_1(P^-1 H); SGD (with or without momentum
    or weight decay) tracks lambda_1(H) against its own threshold (``theory.tracked.Tracked``)."""
    from ..optim.spec import base_name

    return base_name(config.optimizer.name) in ("adam", "adamw", "rmsprop")


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
    """Cohen et al.'s figure 1: the training loss, and the sharpness with each lr's threshold."""
    adaptive = bool(runs) and runs[0].get("kind") == "preconditioned"
    return draw_study(runs, folder, "adaptive updates" if adaptive else "gradient descent")
