"""The gradient noise scale B_simple = tr(Sigma) / |G|^2 (McCandlish et al. 2018, "An Empirical
Model of Large-Batch Training"), two ways.

G is the gradient of the mean training loss; Sigma the covariance of the per-example gradients
g_i over the training set (population covariance, 1/n: the distribution a minibatch samples
from). A batch of B examples drawn with replacement gives a gradient G_B with
E|G_B|^2 = |G|^2 + tr(Sigma) / B: below B_simple the noise dominates the step, above it larger
batches buy little.

* ``exact``: every per-example gradient, ``torch.func.vmap(torch.func.grad(loss_one))`` over one
  chunk of examples at a time (a chunk of B examples holds B gradient copies: memory grows with
  the chunk, never with the data set), summed in float64.
* ``two_batch``: their Appendix A. From |G_B|^2 at a small and a big batch size,
      |G|^2     ~ (B_big |G_big|^2 - B_small |G_small|^2) / (B_big - B_small)
      tr(Sigma) ~ (|G_small|^2 - |G_big|^2) / (1 / B_small - 1 / B_big)
  each unbiased; averaged over ``draws`` big batches, each the union of big / small small ones
  (their data-parallel setting: a small batch per device, the big one all-reduced), so one draw
  costs ``big`` per-example gradients and gives big / small small-batch norms. Batches are drawn
  WITH replacement so that the identity above holds exactly (without replacement, tr(Sigma)/B
  shrinks by (n - B) / (n - 1), a 25% bias for B = 1000 of 4000).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any, Callable, Iterable, Sequence

import torch


@dataclass
class NoiseScale:
    """B_simple and its two parts; ``gradients``: per-example gradients the estimate cost."""

    b_simple: float
    trace_sigma: float
    grad_norm_sq: float
    method: str  # "exact" or "two-batch"
    gradients: int

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def ratio(trace_sigma: float, grad_norm_sq: float) -> float:
    """tr(Sigma) / |G|^2, NaN when |G|^2 is not positive (the two-batch estimate can be < 0)."""
    if not (math.isfinite(trace_sigma) and math.isfinite(grad_norm_sq)) or grad_norm_sq <= 0:
        return math.nan
    return trace_sigma / grad_norm_sq


def exact(loss_one: Callable[..., torch.Tensor], params: Sequence[torch.Tensor],
          chunks: Iterable[tuple[torch.Tensor, ...]]) -> NoiseScale:
    """From every per-example gradient. ``loss_one(params, *example)``: the loss of ONE example
    (tensors without a batch dimension); ``chunks``: tuples of batched tensors covering the set."""
    from torch.func import grad, vmap

    params = [p.detach() for p in params]
    per_example = None
    totals = [torch.zeros(p.shape, dtype=torch.float64, device=p.device) for p in params]  # sum of g_i
    squares = 0.0  # sum of |g_i|^2
    n = 0
    for chunk in chunks:
        if per_example is None:
            per_example = vmap(grad(loss_one), in_dims=(None,) + (0,) * len(chunk))
        grads = per_example(params, *chunk)
        for total, g in zip(totals, grads):  # per parameter: no concatenated copy of the chunk
            total += g.sum(0, dtype=torch.float64)
            squares += float(g.square().sum(dtype=torch.float64))
        n += int(chunk[0].shape[0])
    if n == 0:
        raise ValueError("no examples")
    mean = torch.cat([t.reshape(-1) for t in totals]) / n
    grad_norm_sq = float(mean.square().sum())
    trace_sigma = squares / n - grad_norm_sq  # E|g_i|^2 - |E g_i|^2
    return NoiseScale(ratio(trace_sigma, grad_norm_sq), trace_sigma, grad_norm_sq, "exact", n)


def from_norms(small: int, big: int, small_sq: float, big_sq: float) -> tuple[float, float]:
    """(|G|^2, tr(Sigma)) from mean |G_B|^2 at batch sizes ``small`` < ``big`` (Appendix A)."""
    grad_norm_sq = (big * big_sq - small * small_sq) / (big - small)
    trace_sigma = (small_sq - big_sq) / (1 / small - 1 / big)
    return grad_norm_sq, trace_sigma


def two_batch(batch_gradient: Callable[[torch.Tensor], torch.Tensor], n: int, small: int, big: int,
              draws: int, generator: torch.Generator) -> NoiseScale:
    """McCandlish's two-batch estimator, as in their data-parallel setting: each draw takes ``big``
    examples (with replacement), splits them into big / small batches of ``small`` (one per
    "device"), and uses every small batch's gradient and their mean, the big batch's gradient.
    ``batch_gradient(index)``: the flat gradient of the mean loss over rows ``index`` (a LongTensor).
    """
    if not 1 <= small < big or big % small:
        raise ValueError(f"need 1 <= small < big with big a multiple of small, got {small}, {big}")
    devices = big // small
    small_sq = big_sq = 0.0
    for _ in range(draws):
        index = torch.randint(0, n, (big,), generator=generator)
        grads = [batch_gradient(part).to(torch.float64) for part in index.split(small)]
        small_sq += sum(float(g.square().sum()) for g in grads) / (devices * draws)
        big_sq += float((sum(grads) / devices).square().sum()) / draws
    grad_norm_sq, trace_sigma = from_norms(small, big, small_sq, big_sq)
    return NoiseScale(ratio(trace_sigma, grad_norm_sq), trace_sigma, grad_norm_sq, "two-batch", draws * big)
