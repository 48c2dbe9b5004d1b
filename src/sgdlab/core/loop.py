"""ONE training loop for every problem (linear regression, the MLP, ...).

A problem supplies its parameters and ``loss(batch_index)``; the loop supplies batches (a seeded
permutation per epoch, indexed slices, no per-sample Python), the update, the records and the
divergence guard. A loss that becomes NaN or Inf stops the run with status ``diverged``: it is a
result, reported with the step and the last finite loss, never smoothed away. So does a loss that
grows past ``BLOWUP_FACTOR`` times the first one: gradient descent beyond its stable learning rate
grows geometrically, and waiting for float overflow can take thousands of steps.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Callable, Protocol

import torch

from .blocks import Block

# A loss this many times the first loss counts as diverged (documented in the README).
BLOWUP_FACTOR = 1e10


class StopTraining(Exception):
    """Raised by a ``before_update`` callback (a run's progress hook) to end the run early.

    The loop ends cleanly with status ``stopped``: the run keeps what it did so far and is
    recorded like any other (``sgdlab serve``'s stop button). Ctrl-C, by contrast, leaves the run
    ``interrupted``, to be continued with ``sgdlab resume``.
    """


class Problem(Protocol):
    n_train: int

    def parameters(self) -> list[torch.Tensor]: ...

    def loss(self, index: torch.Tensor | None) -> torch.Tensor:
        """Mean loss over the training rows ``index`` (``None``: all of them, in order)."""
        ...

    # Optional: ``loss_and_grad(index)`` returns the same loss with every parameter's ``.grad``
    # already set (gradients written by hand); the loop then skips autograd.


@dataclass
class LoopResult:
    status: str = "completed"  # completed | diverged | stopped (a callback raised StopTraining)
    step_losses: list[float] = field(default_factory=list)  # the batch loss before each update
    steps_done: int = 0
    diverged_step: int | None = None  # 1-based update number whose loss was not finite
    last_finite_loss: float | None = None
    divergence_reason: str | None = None  # "non-finite loss" or "loss grew past ..."
    seconds: float = 0.0
    epoch_seconds: list[float] = field(default_factory=list)
    final_state: dict | None = None  # the loop's state at the end (for a final checkpoint)


def batches_per_epoch(n: int, batch_size: int) -> int:
    return math.ceil(n / batch_size)


def batch_stream(n: int, batch_size: int, generator: torch.Generator, device):
    """Batches without end, as ``run`` draws them: each epoch a seeded permutation and index
    slices of it (the full batch: ``None``, all rows in order). For procedures counted in steps
    that stop on their own (the learning-rate range test)."""
    while True:
        if batch_size >= n:
            yield None
            continue
        yield from torch.randperm(n, generator=generator).to(device).split(batch_size)


def run(
    problem: Problem,
    optimizer: torch.optim.Optimizer,
    *,
    batch_size: int,
    steps: int,
    generator: torch.Generator,
    before_update: Callable[[int, torch.Tensor], None] | None = None,
    after_epoch: Callable[[int, float], None] | None = None,
    checkpoint=None,
    resume: dict | None = None,
    sync_every: int = 1,
    train_step: Callable[[torch.Tensor | None], torch.Tensor] | None = None,
) -> LoopResult:
    """Make ``steps`` updates of ``optimizer`` on ``problem``.

    Full batch (``batch_size >= n_train``) keeps the data in order, as the tutorial does;
    smaller batches take a fresh ``randperm`` from ``generator`` every epoch (the last batch of an
    epoch may be smaller). ``before_update(step, loss)`` sees each batch loss; ``after_epoch``
    runs after each pass over the data with the epoch number and its seconds. A
    ``before_update`` that raises ``StopTraining`` ends the run before that update (status
    ``stopped``; its loss is kept in ``step_losses``, as a diverged step's is).

    ``checkpoint`` (a ``core.checkpoint.Checkpointer``) is asked after every update and at the
    end of every epoch whether one is due, and handed the loop's state (``state`` below);
    ``resume`` is such a state: the loop continues from it, mid-epoch included, exactly.

    ``sync_every`` K > 1 reads the losses on the host once every K updates instead of after each
    one (``blocks.py``: on a GPU each read waits for the device): the updates run ahead, and a
    block whose losses show a divergence (or whose ``before_update`` stops the run) is rolled
    back to its start and replayed up to the exact step, so the result, the parameters and the
    checkpoints equal those of K = 1. ``before_update`` then runs when its block is read, not
    before its update: callers that look at the parameters there keep K = 1.
    ``train_step(index)``: forward, backward and update in one call returning the loss (a captured
    CUDA graph, a compiled step); it runs through the block path, with K = 1 too.
    """
    result = LoopResult()
    n = problem.n_train
    full_batch = batch_size >= n
    params = problem.parameters()
    device = params[0].device if params else torch.device("cpu")
    resume = resume or {}
    step, epoch = int(resume.get("step", 0)), int(resume.get("epoch", 0))
    first_loss: float | None = resume.get("first_loss")
    result.last_finite_loss = resume.get("last_finite_loss")
    result.step_losses = [float(v) for v in resume.get("step_losses", [])]
    result.epoch_seconds = [float(v) for v in resume.get("epoch_seconds", [])]
    start = time.perf_counter() - float(resume.get("seconds", 0.0))
    # mid-epoch resume: that epoch's permutation and the place in it
    pending = (resume.get("order"), int(resume["position"]), float(resume.get("epoch_elapsed", 0.0))) \
        if resume.get("position") else None
    loss_and_grad = getattr(problem, "loss_and_grad", None)
    block = (Block(params, optimizer, train_step or default_step(problem, optimizer))
             if sync_every > 1 or train_step is not None else None)

    def state(order, position: int, epoch_start: float) -> dict:
        """What a checkpoint needs to continue from here (plain tensors, numbers and lists)."""
        now = time.perf_counter()
        return {
            "step": step, "epoch": epoch, "position": position,
            "order": None if order is None or position == 0 else order.to("cpu"),
            "epoch_elapsed": now - epoch_start if position else 0.0,
            "first_loss": first_loss, "last_finite_loss": result.last_finite_loss,
            "step_losses": torch.tensor(result.step_losses, dtype=torch.float64),
            "epoch_seconds": list(result.epoch_seconds), "seconds": now - start,
        }

    # Ctrl-C is not caught here: it propagates to the run, which records it as interrupted.
    while step < steps:
        # one epoch: a seeded permutation (or the one a checkpoint saved), then index slices of it
        if pending is not None:
            order, first, elapsed = pending
            order = None if order is None else order.to(device)
            pending = None
        else:
            epoch += 1
            order = None if full_batch else torch.randperm(n, generator=generator).to(device)
            first, elapsed = 0, 0.0
        epoch_start = time.perf_counter() - elapsed
        for begin in range(first, n, batch_size):
            if step >= steps:
                break
            index = None if order is None else order[begin : begin + batch_size]
            if block is not None:  # K > 1: update now, read the losses at the block's end
                block.run(step, index)
                step += 1
                saving = (checkpoint is not None and begin + batch_size < n and step < steps
                          and checkpoint.due(step, epoch_end=False))
                if len(block.items) >= sync_every or saving or step >= steps or begin + batch_size >= n:
                    step, first_loss = block.read(result, before_update, first_loss)
                    if result.status != "completed":
                        break
                if saving:
                    checkpoint.save(state(order, begin + batch_size, epoch_start))
                continue
            # forward: the batch loss (and the gradients, for problems that write them by hand);
            # stop at the first loss that diverged
            loss = problem.loss(index) if loss_and_grad is None else loss_and_grad(index)
            value = float(loss.detach())
            result.step_losses.append(value)
            if before_update is not None:
                try:
                    before_update(step, loss)
                except StopTraining:
                    result.status = "stopped"
                    break
            if first_loss is None:
                first_loss = value
            reason = divergence_reason(value, first_loss)
            if reason is not None:
                result.status = "diverged"
                result.diverged_step = step + 1
                result.divergence_reason = reason
                break
            result.last_finite_loss = value
            # backward (unless the problem already set the gradients) and update
            if loss_and_grad is None:
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
            optimizer.step()
            step += 1
            # a checkpoint inside the epoch (--checkpoint-every); one at its end comes below
            if (checkpoint is not None and begin + batch_size < n and step < steps
                    and checkpoint.due(step, epoch_end=False)):
                checkpoint.save(state(order, begin + batch_size, epoch_start))
        result.steps_done = step
        seconds = time.perf_counter() - epoch_start
        result.epoch_seconds.append(seconds)
        if result.status in ("diverged", "stopped"):
            break
        if after_epoch is not None:
            after_epoch(epoch, seconds)
        if checkpoint is not None and step < steps and checkpoint.due(step, epoch_end=True):
            checkpoint.save(state(None, 0, epoch_start))
    result.steps_done = step
    result.seconds = time.perf_counter() - start
    result.final_state = state(None, 0, time.perf_counter())
    return result


def default_step(problem, optimizer):
    """Forward, backward and update of one batch, as the K = 1 path does them; returns the loss."""
    loss_and_grad = getattr(problem, "loss_and_grad", None)

    def step(index):
        if loss_and_grad is not None:
            loss = loss_and_grad(index)
        else:
            loss = problem.loss(index)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
        optimizer.step()
        return loss

    return step


def divergence_reason(loss: float, first_loss: float) -> str | None:
    """Why ``loss`` means the run diverged, or None while it is still healthy."""
    if not math.isfinite(loss):
        return f"the loss became {loss}"
    if math.isfinite(first_loss) and loss > BLOWUP_FACTOR * max(abs(first_loss), 1e-30):
        return f"the loss grew past {BLOWUP_FACTOR:g} times its first value ({loss:.4g})"
    return None


def divergence_message(step, reason, last_finite, lr, bound, hint: str = "", rule: str | None = None,
                       rescale: str | None = None) -> str:
    """A diverged run in words, beside its update rule's bound (``optim.bounds``: ``rule`` in
    words; None: full-batch gradient descent's 2 / lambda_max) as "lr is N x the bound"; a rule
    with no fixed bound (``bound`` None, adaptive optimizers) is named with its reason. ``hint``:
    the problem's own advice after "use a smaller --lr" (e.g. linear regression's
    " (or --standardize ...)"), given only where there is a bound that it would raise.
    ``rescale``: given when the Hessian overflowed (lambda_max inf), the problem's flag that makes
    its features smaller ("" for none): no lr is small enough then, so the advice is to rescale."""
    last = "none" if last_finite is None else f"{last_finite:.6g}"
    head = f"diverged at step {step}: {reason} (last finite loss {last}) with learning rate {lr:g}"
    if bound is None:  # momentum >= 1, an overflowed Hessian: the rule's words say what to change
        if rescale is not None:
            from ..i18n import rescale_advice

            advice = rescale_advice(rescale, "en")
        else:
            advice = "" if rule and "; give " in rule else ": use a smaller --lr"
        return f"{head}; this update rule has no fixed stable learning rate ({rule}){advice}"
    rule = rule or "2 / largest Hessian eigenvalue"
    return (f"{head}, {lr / bound:.3g}x the largest stable learning rate of this update rule on this "
            f"problem, {bound:.6g} ({rule}): use a smaller --lr{hint}")


def settle(loop: LoopResult, final_loss: float, first_loss: float | None) -> str:
    """The run's status once its final loss is known: a last update that blew the loss up
    makes a completed loop ``diverged`` (at step ``steps_done + 1``)."""
    reason = divergence_reason(final_loss, first_loss) if loop.status == "completed" and first_loss is not None else None
    if reason is not None:
        loop.status, loop.diverged_step, loop.divergence_reason = "diverged", loop.steps_done + 1, reason
    return loop.status


def divergence_document(loop: LoopResult, lr: float, bound: float | None, hint: str = "",
                        rule: str | None = None, lambda_max: float | None = None, rescale: str = "") -> dict:
    """A diverged run's ``divergence`` entry: where, the last finite loss, lr beside its rule's
    bound (``lr_over_bound`` None where the rule has none). With ``lambda_max`` inf (the Hessian
    overflowed) no lr is stable: the entry's ``rescale`` holds the problem's flag that makes the
    features smaller (``rescale``; "" for none), and its message says to use it, not a smaller lr."""
    overflowed = lambda_max is not None and math.isinf(lambda_max) and bound is None
    doc = {"step": loop.diverged_step, "last_finite_loss": loop.last_finite_loss, "lr": lr, "lr_bound": bound,
           "lr_over_bound": None if bound is None else lr / bound, "reason": loop.divergence_reason,
           "message": divergence_message(loop.diverged_step, loop.divergence_reason, loop.last_finite_loss,
                                         lr, bound, hint, rule, rescale if overflowed else None)}
    if overflowed:
        doc["rescale"] = rescale
    return doc
