"""Demo lesson: the theory beside practice, in seconds. The MLP's stability bound 2 / lambda_max
(the Hessian's largest eigenvalue at initialisation, by Lanczos) printed next to a run at the
tutorial's learning rate, and the sharpness tracked while it trains (`sgdlab mnist --help`)."""

from __future__ import annotations

from typing import Any

from ..core.store import Store


def lesson_theory(folder, store: Store, quick: bool) -> dict[str, Any]:
    """One epoch on 1,000 images (quick: 200) with the sharpness every 5 updates (quick: 2)."""
    from ..mnist.config import MnistConfig
    from ..mnist.run import run

    n = 200 if quick else 1000
    updates = -(-n // MnistConfig().batch_size)  # one epoch at the tutorial's batch: 10 (quick: 2)
    config = MnistConfig(out=str(folder), limit_train=n, limit_test=200, epochs=1,
                         sharpness_every=min(5, updates), sharpness_subset=min(n, 500))
    result = run(config, store=store)
    lam, bound, lr = result["sharpness_init"], result["lr_bound"], config.lr
    track = result.get("sharpness") or []
    losses = result["step_losses"]
    where = f"{bound / lr:.1f}x below it" if lr < bound else f"{lr / bound:.1f}x ABOVE it"
    summary = (f"lambda_max at init = {lam:.4g}, so gradient descent is stable for lr < 2/lambda_max = "
               f"{bound:.4g}; the tutorial's lr {lr:g} is {where}: loss {losses[0]:.3f} -> {losses[-1]:.3f}")
    if track:
        summary += f"; sharpness {track[0]['value']:.4g} -> {track[-1]['value']:.4g} over {len(losses)} updates"
    return {"name": "The theory beside a run: the MLP's stable learning rate 2/lambda_max",
            "summary": summary, "figures": result["figures"], "run_ids": [result["run_id"]]}
