"""The MLP's loss and gradients written out by hand: forward, loss, backward.

Why by hand: at the tutorial's sizes (batch 100, 784-200-10) autograd's bookkeeping costs about as
much as the arithmetic; the two matrix products per layer are all that a step really needs. The
formulas are the textbook ones, and tests/test_mlp_grad.py checks them against autograd (the
oracle) for several widths, depths, activations and both losses. Only ``nn.Sequential`` of
``Linear`` layers with ``ReLU`` or ``Tanh`` between them qualifies (what ``model.build_model``
makes); anything else keeps autograd.

For logits z = h W^T + b over B rows:
    cross-entropy, mean over rows:          dJ/dz = (softmax(z) - onehot(y)) / B
    MSE, 0.5 ||z - onehot(y)||^2 averaged:  dJ/dz = (z - onehot(y)) / B
    dJ/dW = (dJ/dz)^T h,  dJ/db = sum over rows of dJ/dz,  dJ/dh = dJ/dz W, then through the
    activation: ReLU zeroes it where its output was zero; tanh multiplies it by 1 - tanh^2.
"""

from __future__ import annotations

from .config import LOSSES


def supports(net, loss: str = "cross-entropy") -> bool:
    """True for Linear, act, Linear, ..., Linear with act ReLU or Tanh, and a loss named above."""
    from torch import nn

    layers = list(net)
    if loss not in LOSSES or not layers or len(layers) % 2 == 0:
        return False
    return all(isinstance(m, nn.Linear if i % 2 == 0 else (nn.ReLU, nn.Tanh))
               for i, m in enumerate(layers))


def loss_and_grad(net, x, y, loss: str = "cross-entropy"):
    """Mean loss of ``net`` on (x, y); sets every parameter's ``.grad``; returns the loss."""
    import torch
    from torch import nn

    layers = list(net)
    linears = layers[::2]
    tanh = [isinstance(m, nn.Tanh) for m in layers[1::2]]
    with torch.no_grad():
        # forward, keeping each layer's input (the activations' outputs double as their derivatives)
        inputs = []
        h = x
        for i, layer in enumerate(linears):
            inputs.append(h)
            h = torch.addmm(layer.bias, h, layer.weight.t())
            if i < len(linears) - 1:
                h.tanh_() if tanh[i] else h.clamp_min_(0)
        target = y[:, None]
        if loss == "mse":
            grad = h.scatter_add_(1, target, torch.full_like(target, -1, dtype=h.dtype))  # z - onehot
            value = grad.square().sum(1).mean().mul(0.5)
        else:
            log_probs = torch.log_softmax(h, dim=1)
            value = log_probs.gather(1, target).mean().neg()
            # dJ/dz = (softmax - onehot) / B, then layer by layer
            grad = log_probs.exp_()
            grad.scatter_add_(1, target, torch.full_like(target, -1, dtype=grad.dtype))
        grad.div_(x.shape[0])
        for i in range(len(linears) - 1, -1, -1):
            layer = linears[i]
            layer.weight.grad = grad.t() @ inputs[i]
            layer.bias.grad = grad.sum(0)
            if i > 0:  # back through the activation
                grad = grad @ layer.weight
                if tanh[i - 1]:
                    grad.mul_(1 - inputs[i].square())
                else:  # ReLU: zero where its output was zero; one fused pass (autograd's own
                    # ReLU backward), not a comparison's mask and then masked_fill_: same values
                    grad = torch.ops.aten.threshold_backward(grad, inputs[i], 0)
    return value
