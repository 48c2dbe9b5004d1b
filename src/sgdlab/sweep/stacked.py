"""The stacked loop of the vectorized executor: K models of one problem trained as one.

The models' parameters are rows of one (K, P) tensor ``theta``; every per-cell hyperparameter is
a tensor of K values in ``optim.batched``. Each model keeps its own generator, so its own
shuffling, exactly as the serial run draws it. A problem gives two functions of the current
``theta``: ``batch(index)``, each model's mean loss (K,) and gradient (K, P) on its own rows
``index`` (K, B) (``None``: all rows, in order), and ``full_loss()``, each model's loss on all
rows (K,). The loop does the rest: epochs, per-model batch orders, divergence (a diverged model
is frozen at its last parameters while the others go on), per-model losses.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any, Callable

from ..core.loop import LoopResult, divergence_reason


@dataclass
class Stacked:
    loops: list[LoopResult]  # per model: batch losses, steps, status, divergence
    full: list[list[float]]  # per model: the loss on all rows before each update
    frozen: dict[int, Any] = field(default_factory=dict)  # diverged model -> its parameters then
    seconds: float = 0.0

    def parameters(self, theta, i: int):
        """Model ``i``'s final parameters: where it diverged, else where it ended."""
        return self.frozen[i] if i in self.frozen else theta[i].clone()


def train(theta, optimizer, generators: list, *, n: int, batch_size: int, steps: int,
          batch: Callable[[Any], tuple[Any, Any]], full_loss: Callable[[], Any]) -> Stacked:
    """``steps`` updates of ``optimizer`` on ``theta`` (K, P); see the module docstring."""
    import torch

    k = theta.shape[0]
    full_batch = batch_size >= n
    out = Stacked(loops=[LoopResult() for _ in range(k)], full=[[] for _ in range(k)])
    alive = [True] * k
    first_loss: list[float | None] = [None] * k
    start = time.perf_counter()
    step = 0
    while step < steps and any(alive):
        # one epoch: each model's own seeded permutation
        orders = None if full_batch else torch.stack([torch.randperm(n, generator=g) for g in generators])
        for begin in range(0, n, batch_size):
            if step >= steps or not any(alive):
                break
            if orders is None:
                batch_loss, grad = batch(None)
                full_now = batch_loss
            else:
                batch_loss, grad = batch(orders[:, begin:begin + batch_size])
                full_now = full_loss()
            values, full_values = batch_loss.tolist(), full_now.tolist()
            for i in range(k):
                if not alive[i]:
                    continue
                loop = out.loops[i]
                loop.step_losses.append(values[i])
                out.full[i].append(full_values[i])
                if first_loss[i] is None:
                    first_loss[i] = values[i]
                reason = divergence_reason(values[i], first_loss[i])
                if reason is not None:  # this model stops here, the others go on
                    alive[i] = False
                    loop.status, loop.diverged_step, loop.divergence_reason = "diverged", step + 1, reason
                    out.frozen[i] = theta[i].clone()
                    continue
                loop.last_finite_loss = values[i]
                loop.steps_done = step + 1
            theta.grad = grad
            optimizer.step()
            step += 1
    out.seconds = time.perf_counter() - start
    for loop in out.loops:
        loop.seconds = out.seconds / k  # the group's time, shared equally between its cells
    return out


def linear_models(configs: list, d: int, dtype):
    """K linear models (w, b) as the rows of one (K, d + 1) tensor, each drawn from its own seed
    as its serial run draws it (``core.tabular.initial_parameters``); and their generators."""
    import torch

    from ..core.tabular import initial_parameters

    inits = [initial_parameters(c.seed, d, dtype) for c in configs]
    return torch.stack([torch.cat([w, b]) for w, b, _ in inits]), [g for *_, g in inits]
