"""The sharpness a training run tracks along the way, for every problem (``sgdlab mnist
--sharpness-every K``, ``sgdlab train FILE.py --sharpness-every K``): lambda_1(H) against the
update rule's own bound over lr, or under Adam/RMSprop lambda_1(P^-1 H) against its edge, with the
trackers of ``theory.curvature`` (the ones ``sgdlab sharpness --optimizer adam`` uses)."""

from __future__ import annotations

from typing import Any

from . import curvature


class Tracked:
    """The sharpness of a run's training loss (``objective``: on its fixed subset of ``images``
    rows) warm-started along training; the curve [{step, value}] and what it cost. ``config``:
    the run's config (its ``optimizer`` spec and ``lr``); ``params``: the parameters in the
    objective's order, the ones ``optimizer`` updates.

    Under Adam, AdamW or RMSprop the curve is the preconditioned sharpness lambda_1(P^-1 H), P the
    optimizer's own second moment at that step (``theory.curvature.adaptive_preconditioner``, the
    tracker ``sgdlab sharpness --optimizer adam`` uses), against its threshold (38/lr for Adam,
    beta1 0.9; ``optim.bounds.preconditioned_threshold``), from the first measurement after step 0
    (before any update there is no second moment). Every other rule: lambda_max(H) against the
    rule's own bound over lr (2/lr for plain SGD, 2(1+beta)/lr for heavy-ball momentum). The value
    at initialisation (``init``) is always lambda_max(H): the bound's curvature."""

    def __init__(self, objective, images: int, config, params, optimizer=None):
        from ..optim import bounds

        self.images = images
        self.objective = objective
        self.tracker = curvature.Sharpness()
        self.curve: list[dict] = []
        self.init: float | None = None
        self.seconds = 0.0
        name, hp, lr = config.optimizer.name, config.optimizer.hyperparameters(), config.lr
        self.optimizer, self.params = optimizer, list(params)
        self.preconditioned = None
        if tracks_preconditioned(name) and optimizer is not None:
            self.kind = "preconditioned"
            self.preconditioned = curvature.PreconditionedSharpness()
            self.threshold, self.threshold_label, self.threshold_rule = bounds.preconditioned_threshold(name, hp, lr)
        else:
            self.kind = "hessian"
            self.threshold, self.threshold_label, self.threshold_rule = hessian_threshold(name, hp, lr)

    def measure(self, step: int) -> float:
        import time

        from ..core.threads import one_thread

        began = time.perf_counter()
        with one_thread():  # small ops: 5-7x faster on shared cores (benchmarks/threads.py)
            if self.preconditioned is not None and step > 0:
                p_diag = curvature.adaptive_preconditioner(self.optimizer, self.params)
                value = self.preconditioned(self.objective, p_diag)
            else:
                value = self.tracker(self.objective)
        self.seconds += time.perf_counter() - began
        if step == 0:
            self.init = value
        if step > 0 or self.preconditioned is None:  # lambda_1(P^-1 H) exists from step 1 on
            self.curve.append({"step": step, "value": value})
        return value

    def cost(self) -> dict:
        """What the estimates cost: Hessian-vector products and seconds, in all."""
        trackers = [t for t in (self.tracker, self.preconditioned) if t is not None]
        return {"estimates": sum(t.estimates for t in trackers),
                "hessian_vector_products": sum(t.matvecs for t in trackers),
                "seconds": self.seconds, "images": self.images}

    def state(self) -> dict:
        """What a checkpoint keeps: the curve, the value at step 0 and the warm-start vectors
        (Lanczos starts from the last top eigenvector: the same start, the same bits on resume)."""
        import torch

        def vector(tracker):
            return None if tracker is None or tracker.vector is None else torch.from_numpy(tracker.vector.copy())

        return {"sharpness": [dict(p) for p in self.curve], "sharpness_init": self.init,
                "sharpness_vector": vector(self.tracker),
                "preconditioned_vector": vector(self.preconditioned)}

    def restore(self, saved: dict) -> None:
        self.curve.extend(saved.get("sharpness") or [])
        self.init = saved.get("sharpness_init")
        if self.init is None and self.curve and self.curve[0]["step"] == 0:  # an older checkpoint
            self.init = self.curve[0]["value"]
        for tracker, key in ((self.tracker, "sharpness_vector"), (self.preconditioned, "preconditioned_vector")):
            if tracker is not None and saved.get(key) is not None:
                tracker.vector = saved[key].numpy()
        if self.init is None:  # a checkpoint from before the sharpness was asked for
            self.measure(0)


def check_every(problems, config, steps: int, what: str = "") -> None:
    """--sharpness-every K and --noise-every K within the run's ``steps`` updates: beyond, the
    curve would hold step 0 alone, or under Adam/RMSprop no sharpness at all (lambda_1(P^-1 H)
    exists from the first update on), and the run said nothing of it (as ``sharpness --every``
    did: issue 19). A config without ``noise_every`` (a model file) is checked for the sharpness."""
    updates = f"{steps} update" + ("" if steps == 1 else "s")
    for flag, every, measured in (
            ("--sharpness-every", getattr(config, "sharpness_every", None),
             "the preconditioned sharpness (from the first update on) would never be measured"
             if tracks_preconditioned(config.optimizer.name)
             else "the sharpness would be measured at initialisation only"),
            ("--noise-every", getattr(config, "noise_every", None),
             "the gradient noise scale would be measured at initialisation only")):
        if every and steps > 0 and every > steps:
            problems.add(f"{flag} {every} is more than the {updates} of the run{what}: {measured}; "
                         f"give {flag} <= {steps}")


def hessian_threshold(name: str, hp: dict[str, Any], lr: float) -> tuple[float | None, str | None, str]:
    """Where lambda_max(H) sits at the edge of a rule without a second moment: the rule's own
    bound over lr (``optim.bounds``), less SGD's weight decay (it adds to the curvature:
    lr (lambda_max + decay) < factor). (None, None, "none") where there is no such edge: Adagrad
    (its step shrinks for ever) and heavy-ball momentum >= 1 (stable at no lr). The threshold can
    be <= 0 (a decay of factor/lr or more): the sharpness study refuses it (``theory.edge``)."""
    from ..optim import bounds

    rule = bounds.rule_of(name, hp)
    beta = float(hp.get("momentum") or 0.0)
    if rule == "none" or (rule == "heavy-ball" and beta >= 1):
        return None, None, "none"
    times, decay = bounds.factor(rule, beta), float(hp.get("weight_decay") or 0.0)
    label = f"{times:g}/lr" + (f" - {decay:g}" if decay else "")
    return times / lr - decay, label, f"{rule}: {label}"


def tracks_preconditioned(name: str) -> bool:
    """Adam, AdamW, RMSprop: rules with a second moment, whose edge is lambda_1(P^-1 H)."""
    from ..optim.spec import base_name

    return base_name(name) in ("adam", "adamw", "rmsprop")


def draw(result: dict[str, Any], label: str, path) -> str:
    """One run's sharpness curve against the threshold of the quantity it tracked: lambda_1(H)
    with the rule's own bound over lr (2/lr for plain SGD), or under Adam/RMSprop lambda_1(P^-1 H)
    with its edge (38/lr for Adam at beta1 0.9), as ``Tracked`` recorded them."""
    return draw_many([result], [label], path)


def draw_many(results: list[dict[str, Any]], labels: list[str], path) -> str:
    """Several runs' curves (a batch-size study: one per size) on one figure, with the first
    run's threshold: a study's runs share the update rule and lr, so the threshold too."""
    from ..core import plots

    result = results[0]
    threshold, name = result.get("sharpness_threshold"), result.get("sharpness_threshold_label")
    levels = {} if threshold is None else {labels[0]: (threshold, f"{name} = {threshold:.4g}")}
    preconditioned = result.get("sharpness_kind") == "preconditioned"
    what = "preconditioned sharpness lambda_1(P^-1 H)" if preconditioned else "sharpness (top Hessian eigenvalue)"
    series = {label: ([p["step"] for p in r["sharpness"]], [p["value"] for p in r["sharpness"]])
              for r, label in zip(results, labels)}
    return plots.curves(series, path,
                        xlabel="step (updates)", ylabel=what, log=preconditioned, levels=levels,
                        title=f"{what[0].upper() + what.split(' (')[0][1:]} against step, with {name or 'no threshold'}")
