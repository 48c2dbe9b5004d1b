"""The adaptive edge of stability (Cohen et al. 2022, "Adaptive Gradient Methods at the Edge of
Stability"): full-batch Adam or RMSprop on the MLP, with the preconditioned sharpness
lambda_1(P^-1 H) measured every K steps on the whole training set, P the optimizer's own
second-moment preconditioner at that step (``theory.curvature.adaptive_preconditioner``), from
step K on (before the first update there is no second moment: at step 0 P would be |g| + eps,
a sign-descent step, not a state the optimizer settles in).

What the theory says: on a quadratic, Adam with step lr and momentum beta1 is stable while
lambda_1(P^-1 H) < (2 + 2 beta1) / ((1 - beta1) lr) (38/lr for beta1 = 0.9), RMSprop while it is
below 2/lr. On a network the preconditioned sharpness rises to that threshold and hovers there.

``run_adaptive`` is the study's own full-batch loop (one forward and backward per step, the
loss before each update kept); it returns what ``sharpness.run_study`` needs of a run.
"""

from __future__ import annotations

import math
import time
from typing import Any, Callable

from ..core.store import new_run_id


def run_adaptive(config, lr: float, steps: int, every: int, data,
                 on_progress: Callable[[int, int], None] | None = None,
                 on_loss: Callable[[int, float], None] | None = None,
                 on_sharpness: Callable[[list[dict[str, Any]]], None] | None = None) -> dict[str, Any]:
    """``on_loss(step, loss)`` and ``on_sharpness(curve)`` as each is measured (the study's row
    keeps both as they grow, as for plain SGD's runs)."""
    import torch

    from .. import optim
    from ..theory.curvature import PreconditionedSharpness, adaptive_preconditioner
    from .config import resolve_device
    from .curvature import objective
    from .model import build_model, evaluate, loss_function
    from .run import tensors

    device = resolve_device(config.device)
    x, y, xt, yt = tensors(config, data, device)
    generator = torch.Generator().manual_seed(config.seed)
    net = build_model(x.shape[1], config.hidden, len(data.classes), generator, config.activation).to(device)
    params = list(net.parameters())
    optimizer = optim.create(config.optimizer.name, params, lr=lr, **config.optimizer.hyperparameters())
    criterion = loss_function(config.loss)
    whole = objective(net, x, y, config.loss)  # the full training set, as the updates see it
    tracker = PreconditionedSharpness()
    curve: list[dict[str, Any]] = []
    losses: list[float] = []
    status, divergence, theory_seconds = "completed", None, 0.0
    began = time.perf_counter()
    for step in range(steps + 1):
        if on_progress is not None:
            on_progress(min(step + 1, steps), steps)
        # the full-batch loss and gradient at the weights after `step` updates
        optimizer.zero_grad(set_to_none=True)
        loss = criterion(net(x), y)
        value = float(loss.detach())
        losses.append(value)
        if on_loss is not None:
            on_loss(step, value)
        if not math.isfinite(value):
            status = "diverged"
            divergence = {"step": step, "last_finite_loss": next((v for v in reversed(losses[:-1])), None),
                          "lr": lr, "reason": f"the loss became {value}",
                          "message": f"diverged at step {step}: the loss became {value} with learning rate {lr:g}"}
            break
        loss.backward()
        if step % every == 0 and step > 0:  # P of the last update: the optimizer's own state
            measured = time.perf_counter()
            p_diag = adaptive_preconditioner(optimizer, params)
            curve.append({"step": step, "value": tracker(whole, p_diag)})
            theory_seconds += time.perf_counter() - measured
            if on_sharpness is not None:
                on_sharpness(curve)
        if step == steps:
            break
        optimizer.step()
    seconds = time.perf_counter() - began - theory_seconds
    _, accuracy = evaluate(net, xt, yt, config.loss)
    result = {
        "run_id": new_run_id(), "status": status, "sharpness": curve, "step_losses": losses,
        "steps": len(losses) - 1, "seconds": seconds, "test_accuracy": accuracy, "device": str(device),
        "data": data.describe() | {"train": int(x.shape[0]), "test": int(xt.shape[0])},
        "config": config.to_dict() | {"lr": lr},
        "sharpness_cost": {"estimates": tracker.estimates, "hessian_vector_products": tracker.matvecs,
                           "seconds": theory_seconds, "images": int(x.shape[0])},
    }
    if divergence is not None:
        result["divergence"] = divergence
    return result
