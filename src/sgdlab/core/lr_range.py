"""The learning-rate range test (Smith 2017; fastai's ``lr_find``, Lightning's ``Tuner.lr_find``).

Train with a learning rate that grows exponentially from ``start`` to ``end`` over ``num`` steps,
one batch per step, and record the batch loss. The loss is smoothed as fastai does: an
exponential moving average with ``beta`` = 0.98, divided by 1 - beta^(i+1) (bias correction, so
the first values are not pulled towards zero). The test stops once the smoothed loss exceeds
``stop_factor`` (4) times the best smoothed loss so far, or is not finite (``stop_lr``). The
smoothing lags (it remembers ~50 steps), so the raw loss blows up earlier: ``blowup_lr`` is the
first lr past the smoothed minimum whose batch loss is back above the loss at the start (or not
finite).

The suggestion rules, named, since none is a law, each exactly as its library computes it on the
smoothed curve (tests/test_lr_find.py reimplements each library's source and compares):
* fastai (``Learner.lr_find``) first drops the first ``num // 10`` points and the last 5, and cuts
  at the first NaN; then ``minimum/10`` is a tenth of the lr at the lowest smoothed loss and
  ``steep`` the lr at the start of the steepest fall per unit of log lr (over what is left, not
  only down to the minimum);
* ``lightning`` (``_LRFinder.suggestion``, Lightning's default) drops the first 10 points and the
  last 1, keeps the finite ones, and takes the lr where ``torch.gradient(losses, spacing=lrs)`` is
  most negative: the slope per unit of lr (not of log lr), by central differences.

Nothing here knows a problem: a problem hands over ``step(lr)``, one update at that learning rate
returning the batch loss before it (``stepper`` builds one from a problem and an optimizer).
"""

from __future__ import annotations

import math
import statistics
from dataclasses import dataclass, field
from typing import Any, Callable

START, END, NUM, BETA, STOP_FACTOR = 1e-7, 10.0, 100, 0.98, 4.0
PRIMARY_RULE = "minimum/10"


@dataclass
class Setup:
    """What a problem gives the range test: one update at a given lr, and the theory beside it."""

    step: Callable[[float], float]  # one update at lr; returns the batch loss before it
    bound: float | None  # 2 / lambda_max at initialisation (full-batch gradient descent)
    config: dict[str, Any]  # the problem's config, for the record
    data: dict[str, Any] = field(default_factory=dict)  # what was trained on
    batch_size: int = 0


def schedule(start: float = START, end: float = END, num: int = NUM) -> list[float]:
    """``num`` learning rates from ``start`` to ``end`` inclusive, evenly spaced in log."""
    if num == 1:
        return [start]
    return [start * (end / start) ** (i / (num - 1)) for i in range(num)]


def range_test(step: Callable[[float], float], lrs: list[float], beta: float = BETA,
               stop_factor: float = STOP_FACTOR) -> dict[str, Any]:
    """Run ``step`` at each lr in turn until the smoothed loss blows up; the curves and stop lr."""
    losses: list[float] = []
    smoothed: list[float] = []
    average, best = 0.0, math.inf
    stop_lr = None
    for i, lr in enumerate(lrs):
        loss = step(lr)
        average = beta * average + (1 - beta) * loss
        value = average / (1 - beta ** (i + 1))
        losses.append(loss)
        smoothed.append(value)
        if not math.isfinite(value) or value > stop_factor * best:
            stop_lr = lr
            break
        best = min(best, value)
    return {"lrs": lrs[: len(losses)], "losses": losses, "smoothed": smoothed, "stop_lr": stop_lr,
            "blowup_lr": blowup_lr(lrs, losses, smoothed)}


def blowup_lr(lrs: list[float], losses: list[float], smoothed: list[float]) -> float | None:
    """Where the loss blew up, without the smoothing's lag: the first lr past the smoothed loss's
    minimum whose batch loss is back above the loss at the start (everything learned is lost), or
    is not finite. Before the minimum a noisy batch can top the start by chance, so it does not
    count. Both ends are read as fastai reads the curve: the first ``num // 10`` points are draws
    of the initial loss (nothing is learned at those lrs), so the loss at the start is their
    median, and the minimum is looked for after them. With the first loss as the level and the
    minimum over every point, a small regression whose first batch loss was half the typical one
    had its smoothed minimum at step 0 and its "blow-up" at 1.2e-7."""
    skip = max(1, len(lrs) // 10)
    head = [loss for loss in losses[:skip] if math.isfinite(loss)]
    if not head:
        return lrs[0] if losses else None  # not finite from the start
    start_level = statistics.median(head)
    rest = range(min(skip, len(smoothed) - 1), len(smoothed))
    lowest = min(rest, key=lambda i: smoothed[i] if math.isfinite(smoothed[i]) else math.inf)
    return next((lr for lr, loss in zip(lrs[lowest:], losses[lowest:]) if not loss <= start_level), None)


def flat(losses: list[float]) -> bool:
    """Every batch loss the same finite number (a loss the parameters do not reach, or reach
    below its dtype's resolution): fastai's and Lightning's rules would still name an lr."""
    return len(losses) >= 2 and math.isfinite(losses[0]) and all(loss == losses[0] for loss in losses)


FASTAI_SKIP_END, LIGHTNING_SKIP_BEGIN, LIGHTNING_SKIP_END = 5, 10, 1


def suggestions(lrs: list[float], smoothed: list[float], num: int = NUM) -> dict[str, float | None]:
    """Each named rule's learning rate (None when the curve is too short to say). ``num`` is the
    number of lrs scheduled (fastai skips ``num // 10`` of them, however many were run)."""
    rules: dict[str, float | None] = {"minimum/10": None, "steep": None, "lightning": None}
    # fastai: lrs[num_it//10:-5], cut at the first NaN
    x, y = lrs[num // 10: len(lrs) - FASTAI_SKIP_END], smoothed[num // 10: len(smoothed) - FASTAI_SKIP_END]
    if any(math.isnan(v) for v in y):
        cut = next(i for i, v in enumerate(y) if math.isnan(v))
        x, y = x[:cut], y[:cut]
    if y:
        rules["minimum/10"] = x[min(range(len(y)), key=y.__getitem__)] / 10  # argmin: the first lowest
    if len(y) >= 2:
        slopes = [(b - a) / (math.log(lb) - math.log(la)) for a, b, la, lb in zip(y, y[1:], x, x[1:])]
        rules["steep"] = x[min(range(len(slopes)), key=slopes.__getitem__)]
    # Lightning: [10:-1], the finite points, torch.gradient's central differences in lr
    kept = [(lr, v) for lr, v in zip(lrs[LIGHTNING_SKIP_BEGIN: len(lrs) - LIGHTNING_SKIP_END],
                                     smoothed[LIGHTNING_SKIP_BEGIN: len(smoothed) - LIGHTNING_SKIP_END])
            if math.isfinite(v)]
    if len(kept) >= 2:
        gradient = _gradient([v for _, v in kept], [lr for lr, _ in kept])
        rules["lightning"] = kept[min(range(len(gradient)), key=gradient.__getitem__)][0]
    return rules


def _gradient(f: list[float], x: list[float]) -> list[float]:
    """numpy's / torch's ``gradient`` with coordinates ``x``: second-order central differences
    inside, one-sided first-order ones at both ends (``edge_order=1``)."""
    out = [(f[1] - f[0]) / (x[1] - x[0])]
    for i in range(1, len(f) - 1):
        hs, hd = x[i] - x[i - 1], x[i + 1] - x[i]
        out.append((hs * hs * f[i + 1] + (hd * hd - hs * hs) * f[i] - hd * hd * f[i - 1]) / (hs * hd * (hd + hs)))
    return out + [(f[-1] - f[-2]) / (x[-1] - x[-2])]


def stepper(problem, optimizer, batch_size: int, generator) -> Callable[[float], float]:
    """``step(lr)`` for a problem of the training loop (``loop.Problem``): set every group's lr,
    take the next batch of a seeded stream, update unless the loss is already not finite."""
    from .loop import batch_stream

    params = problem.parameters()
    batches = batch_stream(problem.n_train, batch_size, generator, params[0].device)
    loss_and_grad = getattr(problem, "loss_and_grad", None)

    def step(lr: float) -> float:
        for group in optimizer.param_groups:
            group["lr"] = lr
        index = next(batches)
        loss = problem.loss(index) if loss_and_grad is None else loss_and_grad(index)
        value = float(loss.detach())
        if math.isfinite(value):
            if loss_and_grad is None:
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
            optimizer.step()
        return value

    return step
