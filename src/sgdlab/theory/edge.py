"""The edge of stability in words (Cohen et al. 2021): given the sharpness measured along a
full-batch gradient-descent run at learning rate lr, did it sharpen, reach 2 / lr, hover there,
or diverge? Problem-agnostic: the MLP's study (``mnist/sharpness.py``) and a model file's
(``modelfile/theory.py``) both state their verdict with ``analyse``.
"""

from __future__ import annotations

import statistics
from typing import Any, Callable

from ..core.config import is_finite
from ..core.errors import ConfigError, Problems
from ..core.limits import MAX_STEPS, check_count

SHARPENING = 1.1  # sharpness grew by more than 10% since initialisation: "progressive sharpening"
EDGE_BAND = (0.8, 1.25)  # median of sharpness * lr / 2 after the hit within this: "at the edge"
MIN_AFTER = 3  # measurements at or after the hit needed to say it hovers there


MAX_LRS = 20


def check(lrs: list[float], steps: int, every: int) -> None:
    problems = Problems()
    problems.check(len(lrs) > 0, "--lr: give at least one learning rate")
    # one full training run per lr: a handful is a study, a thousand is a mistake
    problems.check(len(lrs) <= MAX_LRS, f"--lr: {len(lrs):,} learning rates is more than the limit {MAX_LRS} "
                                        "(one full-batch run each); give fewer")
    for lr in lrs[:MAX_LRS]:
        problems.check(is_finite(lr) and lr > 0, f"--lr must be a finite number > 0, got {lr}")
    twice = sorted({lr for lr in lrs if lrs.count(lr) > 1 and is_finite(lr)})
    problems.check(not twice, f"--lr gives {', '.join(f'{lr:g}' for lr in twice)} twice: the runs would be "
                              "identical (and drawn as one curve)")
    check_count(problems, steps, "--steps", high=MAX_STEPS, why="every step's loss is kept")
    check_count(problems, every, "--every")
    if isinstance(every, int) and isinstance(steps, int) and 0 < steps < every:
        problems.add(f"--every {every} is more than --steps {steps}: the sharpness would be measured "
                     "only at step 0; give --every <= --steps")
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
    # the verdict as a catalog key and its numbers (``sgdlab.i18n``: the same words in English and
    # Chinese); ``verdict`` is the English, the one the document and the store keep
    fields: dict[str, Any] = {"label": label, "bound": bound}
    if hit is not None:
        fields |= {"how": "eos.how_started" if hit == 0 else "eos.how_reached", "hit": hit, "first": first}
    if status == "diverged" and hit is None and points:
        # never measured at the edge: say what was measured, not that the sharpness was far above
        # it (AdamW's decay at lr x decay >= 2 blows up at any sharpness; or between measurements)
        key, fields = "eos.diverged_below", fields | {"last": last, "step": points[-1][0]}
    elif status == "diverged" and not points:  # Adam's lambda_1(P^-1 H) exists from step 1 on
        key = "eos.diverged_unmeasured"
    elif status == "diverged":
        key = "eos.diverged_gd" if gd else "eos.diverged"
    elif hit is not None and len(after) < MIN_AFTER:
        key = "eos.reached"
    elif hit is not None and median is not None and EDGE_BAND[0] <= median <= EDGE_BAND[1]:
        key = "eos.edge"
        fields |= {"falling": "eos.nonmonotone" if rises else "eos.monotone", "rises": rises,
                   "after": len(losses) - hit - 1, "median": median,
                   "ratio_name": "sharpness * lr / 2" if gd else f"sharpness / ({label})"}
    elif hit is not None:
        key = "eos.above"  # "x (1.9/lr - 0.1)", not "x 1.9/lr - 0.1"
        fields |= {"median": median, "times": f"({label})" if " " in label else label}
    elif first is not None and last > SHARPENING * first:
        key, fields = "eos.sharpening", fields | {"first": first, "last": last, "part": ratio(last)}
    else:
        key, fields = "eos.stable", fields | {"last": last if last is not None else float("nan")}
    verdict = verdict_text(key, fields, "en")
    return {"lr": lr, "bound": bound, "hit_step": hit, "ratio_median": median, "ratio_spread": spread,
            "loss_rises_after_hit": rises if hit is not None else None, "verdict": verdict,
            "verdict_key": key, "verdict_fields": fields,
            "sharpness_init": first, "sharpness_final": last}


def verdict_text(key: str, fields: dict[str, Any], lang: str) -> str:
    """A verdict of ``analyse`` (its ``verdict_key`` and ``verdict_fields``) in ``lang``: the
    clauses named in the fields (``how``, ``falling``) in the same language first."""
    from ..i18n import text

    values = dict(fields)
    for slot in ("how", "falling"):
        if slot in values:
            values[slot] = text(values[slot], lang, **fields)
    return text(key, lang, **values)


def _quartiles(values: list[float]) -> list[float] | None:
    if len(values) < 2:
        return [values[0], values[0]] if values else None
    q = statistics.quantiles(values, n=4, method="inclusive")
    return [q[0], q[2]]


def refuse_untracked(optimizer, lrs: list[float]) -> None:
    """Refuse, before anything is stored, a study with no edge to reach at some lr: Adagrad (its
    step shrinks for ever), heavy-ball momentum >= 1 (stable at no lr: the two roots of its
    iteration multiply to beta), and SGD whose weight decay alone makes it unstable, lr x decay
    >= the rule's factor, so that the threshold factor/lr - decay is <= 0 (it divided by zero at
    equality, and gave a negative edge and ratios beyond)."""
    from ..optim.spec import base_name
    from .tracked import hessian_threshold, tracks_preconditioned

    name, hp = optimizer.name, optimizer.hyperparameters()
    if base_name(name) == "adagrad":
        raise ConfigError("--optimizer adagrad: its step shrinks for ever, it has no edge of stability; "
                          "use sgd (with or without --momentum), adam, adamw or rmsprop")
    beta, decay = float(hp.get("momentum") or 0.0), float(hp.get("weight_decay") or 0.0)
    if not hp.get("nesterov") and beta >= 1:  # SGD's heavy-ball, or RMSprop's on its scaled step
        raise ConfigError(f"--momentum {beta:g}: heavy-ball momentum >= 1 is stable at no learning rate "
                          "(the two roots of its iteration multiply to beta), so there is no edge to "
                          "study; give --momentum < 1")
    if hp.get("nesterov") and beta > 1:
        raise ConfigError(f"--momentum {beta:g} --nesterov: Nesterov momentum > 1 is unstable at every "
                          "learning rate along the flat directions (its roots multiply to beta (1 - lr "
                          "lambda)), so the run diverges whatever the sharpness; give --momentum <= 1")
    if tracks_preconditioned(name):
        return
    problems = Problems()
    for lr in lrs:
        if not (is_finite(lr) and lr > 0):
            continue  # refused by check()
        threshold, label, _ = hessian_threshold(name, hp, lr)
        if threshold is not None and threshold <= 0:
            edge = label.split(" - ")[0]  # the rule's factor over lr, before the decay
            problems.add(f"--weight-decay {decay:g} at lr {lr:g}: the edge {label} = {threshold:.4g} is not "
                         f"above 0: a decay of {edge} = {threshold + decay:.4g} or more makes the run "
                         f"unstable at any sharpness; give --weight-decay < {threshold + decay:.4g} or a "
                         "smaller --lr")
    problems.raise_if_any(ConfigError)


def recording(recorder) -> tuple[Callable[[int, float], None], Callable[[list[dict[str, Any]]], None]]:
    """``on_loss`` and ``on_sharpness`` for a study's run: its row keeps the loss curve and the
    sharpness measured so far, so a study stopped (Ctrl-C, a kill) shows both (it kept the loss
    alone: the sharpness, what the study measures, was lost with the run)."""
    losses: list[float] = []

    def on_loss(step: int, loss: float) -> None:
        losses.append(loss)
        recorder.update(curves={"loss": losses})

    def on_sharpness(curve: list[dict[str, Any]]) -> None:
        recorder.update(curves={"sharpness_step": [p["step"] for p in curve],
                                "sharpness": [p["value"] for p in curve]})

    return on_loss, on_sharpness


def analyse_tracked(lr: float, result: dict[str, Any]) -> dict[str, Any]:
    """``analyse`` on a run that tracked its sharpness (``theory.tracked.Tracked``), against the
    threshold of what it tracked: 2/lr for plain gradient descent (the words as they always were),
    the rule's own for momentum (2(1+beta)/lr heavy-ball, 2(1+beta)/((1+2beta) lr) Nesterov, minus
    SGD's weight decay), 38/lr for Adam's preconditioned sharpness at beta1 0.9."""
    kind = result.get("sharpness_kind") or "hessian"
    label = result.get("sharpness_threshold_label") or "2/lr"
    plain = kind == "hessian" and label == "2/lr"
    entry = analyse(lr, result["sharpness"], result["step_losses"], result["status"],
                    None if plain else result["sharpness_threshold"], label)
    entry.update(kind=kind, threshold_label=label,
                 threshold_rule="2/lr" if plain else result.get("sharpness_threshold_rule") or label)
    return entry


def draw_study(runs: list[dict[str, Any]], folder, how: str = "gradient descent") -> list[str]:
    """Cohen et al.'s figure 1: the training loss, and the sharpness with each lr's threshold
    (2 / lr for plain gradient descent; the rule's own; lambda_1(P^-1 H) on a log scale against
    its edge under Adam/RMSprop)."""
    from pathlib import Path

    from ..core import plots

    folder = Path(folder)
    losses = {f"lr {r['lr']:g}": (list(range(len(r["losses"]))), r["losses"]) for r in runs}
    series = {f"lr {r['lr']:g}": ([p["step"] for p in r["sharpness"]], [p["value"] for p in r["sharpness"]])
              for r in runs}
    preconditioned = bool(runs) and runs[0].get("kind") == "preconditioned"
    label = (runs[0].get("threshold_label") or "2/lr") if runs else "2/lr"
    levels = {f"lr {r['lr']:g}": (r["bound"], f"{(r.get('threshold_label') or '2/lr').replace('/', ' / ')} = "
                                              f"{r['bound']:.4g}") for r in runs}
    if preconditioned:
        name, what = "eos_preconditioned_sharpness.png", "preconditioned sharpness lambda_1(P^-1 H)"
        title = "Preconditioned sharpness against step, with its threshold"
    else:
        name, what = "eos_sharpness.png", "sharpness (top Hessian eigenvalue)"
        title = ("Sharpness against step, with the bound 2 / lr" if label == "2/lr"
                 else "Sharpness against step, with the update rule's own bound")
    return [
        plots.curves(losses, folder / "eos_loss.png", xlabel="step (full-batch updates)",
                     ylabel="training loss", title=f"Training loss under full-batch {how}"),
        plots.curves(series, folder / name, xlabel="step (updates)", ylabel=what, title=title,
                     log=preconditioned, levels=levels),
    ]
