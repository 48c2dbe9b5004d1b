"""The MLP's loss and gradients written out by hand: forward, cross-entropy, backward.

Why by hand: at the tutorial's sizes (batch 100, 784-200-10) autograd's bookkeeping costs about as
much as the arithmetic; the two matrix products per layer are all that a step really needs. The
formulas are the textbook ones, and tests/test_mlp_grad.py checks them against autograd (the
oracle) for several widths and depths. Only ``nn.Sequential`` of ``Linear`` layers with ``ReLU``
between them qualifies (what ``mlp.build_model`` makes); anything else keeps autograd.

For logits z = h W^T + b and mean cross-entropy over B rows:
    dJ/dz = (softmax(z) - onehot(y)) / B
    dJ/dW = (dJ/dz)^T h,  dJ/db = sum over rows of dJ/dz,  dJ/dh = dJ/dz W, masked by h > 0 (ReLU)
"""

from __future__ import annotations


def supports(net) -> bool:
    """True for Linear, ReLU, Linear, ..., Linear (the shapes this module knows how to differentiate)."""
    from torch import nn

    layers = list(net)
    if not layers or len(layers) % 2 == 0:
        return False
    return all(isinstance(m, nn.Linear if i % 2 == 0 else nn.ReLU) for i, m in enumerate(layers))


def loss_and_grad(net, x, y):
    """Mean cross-entropy of ``net`` on (x, y); sets every parameter's ``.grad``; returns the loss."""
    import torch

    linears = list(net)[::2]
    with torch.no_grad():
        # forward, keeping each layer's input (the ReLU outputs double as the backward masks)
        inputs = []
        h = x
        for i, layer in enumerate(linears):
            inputs.append(h)
            h = torch.addmm(layer.bias, h, layer.weight.t())
            if i < len(linears) - 1:
                h.clamp_min_(0)
        log_probs = torch.log_softmax(h, dim=1)
        target = y[:, None]
        loss = log_probs.gather(1, target).mean().neg()
        # backward: dJ/dz = (softmax - onehot) / B, then layer by layer
        grad = log_probs.exp_()
        grad.scatter_add_(1, target, torch.full_like(target, -1, dtype=grad.dtype))
        grad.div_(x.shape[0])
        for i in range(len(linears) - 1, -1, -1):
            layer = linears[i]
            layer.weight.grad = grad.t() @ inputs[i]
            layer.bias.grad = grad.sum(0)
            if i > 0:  # through the ReLU: zero where its output was zero
                grad = (grad @ layer.weight).masked_fill_(inputs[i] <= 0, 0)
    return loss
