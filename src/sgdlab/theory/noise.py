"""The gradient noise scale B_simple = tr(Sigma) / |G|^2 (McCandlish et al. 2018, "An Empirical
Model of Large-Batch Training"), two ways.

G is the gradient of the mean training loss; Sigma the covariance of the per-example gradients
g_i over the training set (population covariance, 1/n: the distribution a minibatch samples
from). A batch of B examples drawn with replacement gives a gradient G_B with
E|G_B|^2 = |G|^2 + tr(Sigma) / B: below B_simple the noise dominates the step, above it larger
batches buy little.

* ``exact_model``: exact, from every per-example gradient's squared norm. For a model built of
  Linear and Conv2d layers the norms come from each layer's input and output gradient, never
  materializing a per-example gradient (``per_example.py``, Goodfellow 2015): one forward and one
  backward per chunk, in float64. Any other model takes ``exact``.
* ``exact``: every per-example gradient, ``torch.func.vmap(torch.func.grad(loss_one))`` over one
  chunk of examples at a time (a chunk of B examples holds B gradient copies: memory grows with
  the chunk, never with the data set), summed in float64. Works for any model; the oracle.
* ``two_batch``: their Appendix A. From |G_B|^2 at a small and a big batch size,
      |G|^2     ~ (B_big |G_big|^2 - B_small |G_small|^2) / (B_big - B_small)
      tr(Sigma) ~ (|G_small|^2 - |G_big|^2) / (1 / B_small - 1 / B_big)
  each unbiased; averaged over ``draws`` big batches, each the union of big / small small ones
  (their data-parallel setting: a small batch per device, the big one all-reduced), so one draw
  costs ``big`` per-example gradients and gives big / small small-batch norms. Batches are drawn
  WITH replacement so that the identity above holds exactly. Without replacement (from n
  examples) it holds with (n - B) / (n - 1) tr(Sigma) / B in place of tr(Sigma) / B, that is
      E|G_B|^2 = (|G|^2 - tr(Sigma) / (n - 1)) + (n / (n - 1)) tr(Sigma) / B,
  the same form in B: the estimator then returns tr(Sigma) n / (n - 1) (the factors cancel in
  tr(Sigma) but for n / (n - 1)) and |G|^2 - tr(Sigma) / (n - 1), so B_simple grows by the factor
  (n / (n - 1)) / (1 - B_simple / (n - 1)): +2.9% at initialisation (B_simple ~ 112, n = 4000),
  +1.1% after one epoch (~ 41); not a 25% bias. Simulated (``benchmarks/noise_replacement.py``,
  400 draws, spread about +-1.2%): +2.3% and +0.8% without replacement, +0.6% and -0.5% with.
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


TWO_BATCH = (100, 1000)  # the estimator's two batch sizes by default: the tutorial's batch, and 10x
TWO_BATCH_DRAWS = 30  # pairs of batches averaged: within 2-5% of the exact value on the MLP


def two_batch_sizes(n: int, small: int | None = None, big: int | None = None) -> tuple[int, int]:
    """The estimator's (SMALL, BIG): the ones given; else 100 and 1,000, or on a training set of
    fewer than 1,000 rows a tenth of it (at least 1) and the largest multiple of that which fits,
    so that a small data set needs no flag (a 150-row model file was refused for the default)."""
    if small is not None and big is not None:
        return small, big
    if n >= TWO_BATCH[1]:
        return TWO_BATCH
    small = max(1, n // 10)
    return small, n // small * small


def check_two_batch(problems, small: int, big: int, n: int, rows: str) -> None:
    """SMALL < BIG, BIG a multiple of SMALL (a big batch is BIG/SMALL small ones), BIG <= n."""
    if n < 2:  # no two batch sizes fit: say so, not that a --two-batch never given is wrong
        problems.check(False, f"the noise scale needs at least 2 training {rows} (tr(Sigma) is a "
                              f"variance over rows, and the two-batch estimate compares a smaller "
                              f"batch with a bigger one); the training set has {n}")
        return
    problems.check(1 <= small < big and big % small == 0,
                   f"--two-batch must be SMALL,BIG with 1 <= SMALL < BIG and BIG a multiple of SMALL "
                   f"(a big batch is BIG/SMALL small ones), got {small},{big}")
    problems.check(big <= n, f"--two-batch: {big} is larger than the training set ({n} {rows})")


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


def exact_model(model, loss_rows: Callable[..., torch.Tensor], chunks: Iterable[tuple[torch.Tensor, ...]],
                method: str = "auto", dtype: torch.dtype = torch.float64) -> NoiseScale:
    """Exact B_simple of ``model`` (an ``nn.Module``) over ``chunks`` ((inputs, *targets) each).
    ``loss_rows(output, *targets)``: each example's loss. ``method``: ``layers`` (per-example
    norms from activations, Linear and Conv2d models only), ``vmap`` (any model) or ``auto``
    (layers when the model allows it, vmap otherwise). Computed on a copy of the model in
    ``dtype``: float64 by default, since |G|^2 is a small difference of large per-example
    gradients (B_simple ~ 100 means |G| ~ |g_i| / 10); the model itself is left untouched."""
    import copy

    from . import per_example

    if method not in ("auto", "layers", "vmap"):
        raise ValueError(f"method must be auto, layers or vmap, got {method!r}")
    work = copy.deepcopy(model).to(dtype)
    chunks = [(c[0].to(dtype) if c[0].is_floating_point() else c[0], *c[1:]) for c in chunks]
    if method != "vmap" and per_example.supports(work):
        try:
            squares, sums, n = per_example.totals(work, loss_rows, chunks)
        except ValueError:  # a shared or in-place layer: per-example norms do not apply
            if method == "layers":
                raise
        else:
            if n == 0:
                raise ValueError("no examples")
            mean = torch.cat([s.reshape(-1) for s in sums]) / n
            grad_norm_sq = float(mean.square().sum())
            trace_sigma = squares / n - grad_norm_sq
            return NoiseScale(ratio(trace_sigma, grad_norm_sq), trace_sigma, grad_norm_sq, "exact", n)
    elif method == "layers":
        raise ValueError("per-example norms from activations need a model of Linear and Conv2d layers")
    return exact(per_example_loss(work, loss_rows), [p for p in work.parameters() if p.requires_grad], chunks)


def per_example_loss(model, loss_rows):
    """``loss_one(params, *example)`` of ``model`` for ``exact``'s vmap: one example, batch of one."""
    from torch.func import functional_call

    names = [name for name, p in model.named_parameters() if p.requires_grad]

    def loss_one(params, inputs, *targets):
        out = functional_call(model, dict(zip(names, params)), (inputs.unsqueeze(0),))
        return loss_rows(out, *(t.unsqueeze(0) for t in targets)).sum()

    return loss_one


def from_norms(small: int, big: int, small_sq: float, big_sq: float) -> tuple[float, float]:
    """(|G|^2, tr(Sigma)) from mean |G_B|^2 at batch sizes ``small`` < ``big`` (Appendix A)."""
    grad_norm_sq = (big * big_sq - small * small_sq) / (big - small)
    trace_sigma = (small_sq - big_sq) / (1 / small - 1 / big)
    return grad_norm_sq, trace_sigma


def two_batch(batch_gradient: Callable[[torch.Tensor], torch.Tensor], n: int, small: int, big: int,
              draws: int, generator: torch.Generator,
              on_draw: Callable[[int, int], None] | None = None) -> NoiseScale:
    """McCandlish's two-batch estimator, as in their data-parallel setting: each draw takes ``big``
    examples (with replacement), splits them into big / small batches of ``small`` (one per
    "device"), and uses every small batch's gradient and their mean, the big batch's gradient.
    ``batch_gradient(index)``: the flat gradient of the mean loss over rows ``index`` (a LongTensor).
    ``on_draw(draws done, draws)`` after each draw (the CLI's progress).
    """
    if not 1 <= small < big or big % small:
        raise ValueError(f"need 1 <= small < big with big a multiple of small, got {small}, {big}")
    devices = big // small
    small_sq = big_sq = 0.0
    for done in range(1, draws + 1):
        index = torch.randint(0, n, (big,), generator=generator)
        grads = [batch_gradient(part).to(torch.float64) for part in index.split(small)]
        small_sq += sum(float(g.square().sum()) for g in grads) / (devices * draws)
        big_sq += float((sum(grads) / devices).square().sum()) / draws
        if on_draw is not None:
            on_draw(done, draws)
    grad_norm_sq, trace_sigma = from_norms(small, big, small_sq, big_sq)
    return NoiseScale(ratio(trace_sigma, grad_norm_sq), trace_sigma, grad_norm_sq, "two-batch", draws * big)
