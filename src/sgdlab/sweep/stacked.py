"""The stacked loop of the vectorized executor: K models of one problem trained as one.

The models' parameters are the optimizer's: one (K, P) tensor ``theta`` (a linear model's w and
b), or a list of tensors each with a leading model dimension K (a network's layers); every
per-cell hyperparameter is a tensor of K values in ``optim.batched``. Each model keeps its own
generator, so its own shuffling, exactly as the serial run draws it (one ``randperm`` per epoch).

A problem gives ``batch(index)``: each model's mean loss (K,) on its own rows ``index`` (K, B)
(``None``: all rows, in order) and the gradient of each model's loss, shaped as the parameters
(written by hand, or ``autograd_gradients``). Optionally ``full_loss()``, each model's loss on
all rows (K,) before each update, and ``end_epoch(epoch, train_losses, seconds)``, called after
each pass over the data with the mean batch loss of each model still training (its evaluation:
that time is not training time). The loop does the rest: epochs, per-model batch orders,
divergence (a diverged model is frozen at its last parameters while the others go on), per-model
losses and times.

Time: the group's training seconds are shared equally between its K cells (each cell's step
times and epoch seconds are the group's divided by K); a diverged cell's time stops where it
diverged, as a serial run's does.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any, Callable

from ..core.loop import LoopResult, divergence_reason


@dataclass
class Stacked:
    loops: list[LoopResult]  # per model: batch losses, steps, status, divergence, seconds
    full: list[list[float]]  # per model: the loss on all rows before each update (``full_loss``)
    step_times: list[list[float]]  # per model: training seconds before each update
    frozen: dict[int, Any] = field(default_factory=dict)  # diverged model -> its parameters then
    seconds: float = 0.0

    def parameters(self, params, i: int):
        """Model ``i``'s final parameters (a row of ``params``, or one row per tensor of a list):
        where it diverged, else where it ended."""
        import torch

        if i in self.frozen:
            return self.frozen[i]
        return params[i].clone() if isinstance(params, torch.Tensor) else [p[i].detach().clone() for p in params]


def autograd_gradients(losses, params) -> list:
    """The gradient of each model's loss (K,) by autograd: one backward pass of their sum (a sum
    keeps each model's gradient its own); ``None`` for a parameter the losses do not use."""
    import torch

    return list(torch.autograd.grad(losses.sum(), params, allow_unused=True))


def train(params, optimizer, generators: list, *, n: int, batch_size: int, steps: int,
          batch: Callable[[Any], tuple[Any, Any]], full_loss: Callable[[], Any] | None = None,
          end_epoch: Callable[[int, dict[int, float], float], None] | None = None,
          device=None) -> Stacked:
    """``steps`` updates of ``optimizer`` on ``params`` (see the module docstring); the batch
    orders are drawn on the CPU and moved to ``device`` (``None``: left there)."""
    import torch

    single = isinstance(params, torch.Tensor)  # one (K, P) tensor, or a list of (K, ...) ones
    tensors = [params] if single else list(params)
    k = tensors[0].shape[0]
    full_batch = batch_size >= n
    out = Stacked(loops=[LoopResult() for _ in range(k)], full=[[] for _ in range(k)],
                  step_times=[[] for _ in range(k)])
    alive = [True] * k
    first_loss: list[float | None] = [None] * k
    start = time.perf_counter()
    evaluating = 0.0  # seconds spent in end_epoch: not training time
    step = epoch = 0
    while step < steps and any(alive):
        # one epoch: each model's own seeded permutation
        epoch += 1
        epoch_start = time.perf_counter()
        epoch_losses: list[list[float]] = [[] for _ in range(k)]
        orders = None if full_batch else torch.stack([torch.randperm(n, generator=g) for g in generators])
        if orders is not None and device is not None:
            orders = orders.to(device)
        for begin in range(0, n, batch_size):
            if step >= steps:
                break
            if orders is None:  # full batch: the data in order, as loop.run keeps it
                batch_loss, grad = batch(None)
                full_now = batch_loss
            else:
                batch_loss, grad = batch(orders[:, begin:begin + batch_size])
                full_now = full_loss() if full_loss is not None else None
            values = batch_loss.tolist()
            full_values = full_now.tolist() if full_loss is not None else None
            now = (time.perf_counter() - start - evaluating) / k
            for i in range(k):
                if not alive[i]:
                    continue
                loop = out.loops[i]
                loop.step_losses.append(values[i])
                out.step_times[i].append(now)
                epoch_losses[i].append(values[i])
                if full_values is not None:
                    out.full[i].append(full_values[i])
                if first_loss[i] is None:
                    first_loss[i] = values[i]
                reason = divergence_reason(values[i], first_loss[i])
                if reason is not None:  # this model stops here, the others go on
                    alive[i] = False
                    loop.status, loop.diverged_step, loop.divergence_reason = "diverged", step + 1, reason
                    loop.steps_done, loop.seconds = step, now
                    loop.epoch_seconds.append((time.perf_counter() - epoch_start) / k)
                    out.frozen[i] = params[i].clone() if single else [p[i].detach().clone() for p in tensors]
                    continue
                loop.last_finite_loss = values[i]
            if not any(alive):
                break
            for p, g in zip(tensors, [grad] if single else grad):
                p.grad = g
            optimizer.step()
            step += 1
        seconds = (time.perf_counter() - epoch_start) / k
        training = {i: sum(epoch_losses[i]) / len(epoch_losses[i]) for i in range(k) if alive[i]}
        if not training:
            break
        for i in training:
            out.loops[i].epoch_seconds.append(seconds)
        if end_epoch is not None:
            began = time.perf_counter()
            end_epoch(epoch, training, seconds)
            evaluating += time.perf_counter() - began
    out.seconds = time.perf_counter() - start
    for i in range(k):
        if alive[i]:
            out.loops[i].steps_done = step
            out.loops[i].seconds = out.seconds / k  # the group's time, shared equally between its cells
    return out


def linear_models(configs: list, d: int, dtype):
    """K linear models (w, b) as the rows of one (K, d + 1) tensor, each drawn from its own seed
    as its serial run draws it (``core.tabular.initial_parameters``); and their generators."""
    import torch

    from ..core.tabular import initial_parameters

    inits = [initial_parameters(c.seed, d, dtype) for c in configs]
    return torch.stack([torch.cat([w, b]) for w, b, _ in inits]), [g for *_, g in inits]
