"""The gradient noise scale along a run (``sgdlab mnist --noise-every K``): the exact B_simple
(McCandlish et al. 2018) over the run's whole training set at initialisation and every K updates,
from per-example norms (``theory.per_example``: one forward and one backward over the training
set, about 0.1-0.3 s for 4,000 images on 2 cores), so that it is affordable inside a run."""

from __future__ import annotations


class NoiseCurve:
    """B_simple of ``net`` on (x, y) at the steps asked: the curve [{step, b_simple, trace_sigma,
    grad_norm_sq}] and its seconds."""

    def __init__(self, net, x, y, loss: str):
        self.net, self.x, self.y, self.loss = net, x, y, loss
        self.curve: list[dict] = []
        self.seconds = 0.0

    def measure(self, step: int) -> float:
        import time

        from .noise_scale import exact_noise

        began = time.perf_counter()
        scale = exact_noise(self.net, self.x, self.y, self.loss)
        self.seconds += time.perf_counter() - began
        self.curve.append({"step": step, "b_simple": scale.b_simple, "trace_sigma": scale.trace_sigma,
                           "grad_norm_sq": scale.grad_norm_sq})
        return scale.b_simple


def add_noise(result: dict, noise: NoiseCurve) -> None:
    """The curve beside a run's result, with what it cost."""
    result["noise_scale"] = noise.curve
    result["noise_scale_cost"] = {"estimates": len(noise.curve), "seconds": noise.seconds,
                                  "images": int(noise.x.shape[0])}


def draw(curve: list[dict], batch_size: int, path) -> str:
    """B_simple against step, with the run's batch size as a level: below the line the batch is
    larger than the noise scale (larger batches buy little), above it noise dominates each step."""
    from ..core import plots

    series = {"B_simple (exact)": ([p["step"] for p in curve], [p["b_simple"] for p in curve])}
    levels = {"B_simple (exact)": (batch_size, f"batch size {batch_size}")}
    return plots.curves(series, path, xlabel="step (updates)", ylabel="gradient noise scale B_simple",
                        title="Gradient noise scale along training", levels=levels)
