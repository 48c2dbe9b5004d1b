"""The tutorial's network (section 4.2): ``nn.Sequential(Linear, ReLU, ..., Linear)`` with
PyTorch's default initialisation, the data transform, the problem the loop drives, evaluation."""

from __future__ import annotations

import math

EVAL_CHUNK = 10_000  # test images per forward pass when evaluating (bounds memory)


def prepare(images, device):
    """The tutorial's transform_mnist for all images at once: (x / 255 - 0.5) / 0.5, flattened."""
    import torch

    x = images.to(device=device, dtype=torch.float32, copy=True)  # ours: in-place is safe
    return x.div_(255).sub_(0.5).div_(0.5).reshape(x.shape[0], -1)


def build_model(inputs: int, hidden: list[int], classes: int, generator):
    """``nn.Sequential(Linear, ReLU, ..., Linear)`` with PyTorch's default initialisation
    (weights and biases uniform in +-1/sqrt(fan_in)), drawn from ``generator`` on the CPU."""
    import torch
    from torch import nn

    widths = [inputs, *hidden, classes]
    layers: list[nn.Module] = []
    for i, (fan_in, fan_out) in enumerate(zip(widths, widths[1:])):
        linear = nn.Linear(fan_in, fan_out)
        bound = 1 / math.sqrt(fan_in)
        with torch.no_grad():
            linear.weight.uniform_(-bound, bound, generator=generator)
            linear.bias.uniform_(-bound, bound, generator=generator)
        layers.append(linear)
        if i < len(widths) - 2:
            layers.append(nn.ReLU())
    return nn.Sequential(*layers)


class Classifier:
    """Cross-entropy of ``net`` on the training rows; the problem the training loop drives."""

    def __init__(self, net, x, y):
        from . import grad as mlp_grad

        self.net, self.x, self.y = net, x, y
        self.n_train = int(x.shape[0])
        if mlp_grad.supports(net):  # the loop then skips autograd (see grad.py)
            self.loss_and_grad = self._loss_and_grad

    def parameters(self):
        return list(self.net.parameters())

    def loss(self, index=None):
        import torch.nn.functional as F

        if index is None:
            return F.cross_entropy(self.net(self.x), self.y)
        return F.cross_entropy(self.net(self.rows(self.x, index)), self.rows(self.y, index))

    def _loss_and_grad(self, index=None):
        from . import grad as mlp_grad

        if index is None:
            return mlp_grad.loss_and_grad(self.net, self.x, self.y)
        return mlp_grad.loss_and_grad(self.net, self.rows(self.x, index), self.rows(self.y, index))

    @staticmethod
    def rows(tensor, index):
        # index_select, not tensor[index]: the same rows, about 5x faster for a batch on the CPU
        return tensor.index_select(0, index)


def evaluate(net, x, y) -> tuple[float, float]:
    """(mean cross-entropy, accuracy) over all of ``x``, in chunks, without gradients."""
    import torch
    import torch.nn.functional as F

    total, correct = 0.0, 0
    with torch.no_grad():
        for begin in range(0, x.shape[0], EVAL_CHUNK):
            out = net(x[begin : begin + EVAL_CHUNK])
            target = y[begin : begin + EVAL_CHUNK]
            total += float(F.cross_entropy(out, target, reduction="sum"))
            correct += int((out.argmax(dim=1) == target).sum())
    return total / x.shape[0], correct / x.shape[0]
