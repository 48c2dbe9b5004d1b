"""Per-example squared gradient norms without per-example gradients (Goodfellow 2015, "Efficient
per-example gradient computations"), for models whose every parameter sits in an ``nn.Linear``
or an ``nn.Conv2d`` (groups 1, zero padding) called once per forward pass.

A layer z = W a + b applied to each example's rows a_t (t over a sequence, or over a conv's
positions after ``unfold``) gives example i the weight gradient g_i = sum_t delta_t a_t^T, where
delta_t = d loss_i / d z_t. Its squared norm needs only the layer's input and output gradient:
    one row per example:  |g_i|^2 = |a_i|^2 |delta_i|^2          (bias: |delta_i|^2)
    T rows per example:   |g_i|^2 = sum_{t,s} (a_t . a_s)(delta_t . delta_s)   (the Gram form;
                          bias: |sum_t delta_t|^2), or |D_i^T A_i|^2 when out x in < T^2.
A forward hook keeps each layer's input and output; one ``autograd.grad`` of the summed loss
returns the outputs' gradients (delta, since examples do not interact) and the parameters'
gradients (their sum over the batch, for G) together: one forward and one backward per chunk.

Written by hand rather than through BackPACK's ``BatchL2Grad``: the formulas are these few lines,
BackPACK is not a dependency of the pinned torch, and it cannot extend a model it does not know
anyway, so the ``torch.func.vmap`` path in ``noise.py`` stays for every other model (and as the
oracle the tests compare with). Like that path, this assumes the examples do not interact (no
batch norm in training mode): each example's loss depends on its own row only.
"""

from __future__ import annotations

from typing import Callable, Sequence

import torch


def _layer_kind(module) -> str | None:
    from torch import nn

    if type(module) is nn.Linear:
        return "linear"
    if (type(module) is nn.Conv2d and module.groups == 1 and module.padding_mode == "zeros"
            and not isinstance(module.padding, str)):
        return "conv2d"
    return None


def supports(model) -> bool:
    """True when every trainable parameter belongs to a Linear or Conv2d this module handles."""
    covered = set()
    for module in model.modules():
        if _layer_kind(module) is not None:
            covered.update(id(p) for p in module.parameters(recurse=False))
    trainable = [p for p in model.parameters() if p.requires_grad]
    return bool(trainable) and all(id(p) in covered for p in trainable)


def _rows(kind: str, module, inputs: torch.Tensor, grad_out: torch.Tensor):
    """(A, D): each example's input rows (B, T, in) and output-gradient rows (B, T, out)."""
    batch = inputs.shape[0]
    if kind == "linear":
        return inputs.reshape(batch, -1, inputs.shape[-1]), grad_out.reshape(batch, -1, grad_out.shape[-1])
    patches = torch.nn.functional.unfold(inputs, module.kernel_size, module.dilation, module.padding,
                                         module.stride)  # (B, in * kh * kw, positions)
    return patches.transpose(1, 2), grad_out.flatten(2).transpose(1, 2)


def _square_norms(a: torch.Tensor, d: torch.Tensor, bias: bool) -> torch.Tensor:
    """Per example, |sum_t d_t a_t^T|^2 (+ |sum_t d_t|^2 for the bias), from (B, T, in), (B, T, out)."""
    rows = a.shape[1]
    if rows == 1:  # vector_norm: one pass, no squared copy of the activations
        weight = (torch.linalg.vector_norm(a, dim=(1, 2)) * torch.linalg.vector_norm(d, dim=(1, 2))).square()
    elif a.shape[2] * d.shape[2] <= rows * rows:  # the per-example gradient is the smaller matrix
        weight = torch.bmm(d.transpose(1, 2), a).square().sum((1, 2))
    else:  # the Gram form
        weight = (torch.bmm(a, a.transpose(1, 2)) * torch.bmm(d, d.transpose(1, 2))).sum((1, 2))
    if bias:
        weight = weight + d.sum(1).square().sum(1)
    return weight


def squared_norms(model, loss_rows: Callable[..., torch.Tensor], inputs: torch.Tensor,
                  *targets: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor]]:
    """(|g_i|^2 per example, the summed gradient per parameter) of ``model`` on one chunk.

    ``loss_rows(output, *targets)``: each example's loss (reduction none). Raises ``ValueError``
    when a layer was called more than once in the pass (shared weights: an example's gradient is
    then a sum of several terms, and its norm not the sum of theirs).
    """
    layers = [(m, kind) for m in model.modules() if (kind := _layer_kind(m)) is not None]
    seen: dict[int, tuple] = {}

    def keep(module, args, output):
        if id(module) in seen:
            raise ValueError(f"{type(module).__name__} called twice in one forward pass")
        seen[id(module)] = (args[0].detach(), output, output._version)

    handles = [m.register_forward_hook(keep) for m, _ in layers]
    try:
        losses = loss_rows(model(inputs), *targets)
    finally:
        for handle in handles:
            handle.remove()
    used = [(m, kind) for m, kind in layers if id(m) in seen]
    if any(seen[id(m)][1]._version != seen[id(m)][2] for m, _ in used):
        # an in-place op (ReLU(inplace=True)) overwrote a layer's output: its gradient is lost
        raise ValueError("a layer's output was modified in place")
    params = [p for p in model.parameters() if p.requires_grad]
    outputs = [seen[id(m)][1] for m, _ in used]
    grads = torch.autograd.grad(losses.sum(), outputs + params, allow_unused=True)
    norms = torch.zeros(inputs.shape[0], dtype=losses.dtype, device=losses.device)
    for (module, kind), grad_out in zip(used, grads[: len(used)]):
        if grad_out is None:
            continue
        a, d = _rows(kind, module, seen[id(module)][0], grad_out)
        norms += _square_norms(a, d, module.bias is not None and module.bias.requires_grad)
    sums = [torch.zeros_like(p) if g is None else g for p, g in zip(params, grads[len(used):])]
    return norms, sums


def totals(model, loss_rows, chunks: Sequence[tuple[torch.Tensor, ...]]):
    """(sum of |g_i|^2, [sum of g_i per parameter], n) over every chunk, summed in float64 (the
    model's own dtype inside a chunk: ``noise.exact_model`` hands a float64 copy)."""
    squares = torch.zeros((), dtype=torch.float64)
    sums = None
    n = 0
    for chunk in chunks:
        norms, grads = squared_norms(model, loss_rows, *chunk)
        squares = squares + norms.sum(dtype=torch.float64).cpu()
        grads = [g.to(torch.float64) for g in grads]
        sums = grads if sums is None else [s + g for s, g in zip(sums, grads)]
        n += int(chunk[0].shape[0])
    return float(squares), sums or [], n
