"""The tutorial's network (section 4.2): ``nn.Sequential(Linear, ReLU, ..., Linear)`` with
PyTorch's default initialisation; the data transforms, the losses, the problem the loop drives,
evaluation.

Options beyond the tutorial (for the curvature studies, after Cohen et al. 2021): tanh instead of
ReLU; the squared loss 0.5 ||f(x) - onehot(y)||^2 averaged over examples (their ``SquaredLoss``)
instead of cross-entropy; inputs standardised per pixel with the training set's mean and standard
deviation (as locuslab/edge-of-stability prepares its images) instead of (x / 255 - 0.5) / 0.5.
"""

from __future__ import annotations

import math

from .config import ACTIVATIONS, LOSSES, NORMALIZATIONS  # noqa: F401  (the options, one place)

EVAL_CHUNK = 10_000  # test images per forward pass when evaluating (bounds memory)


def prepare(images, device, normalize: str = "tutorial", reference=None):
    """Images -> (n, pixels) float32 on ``device``.

    ``tutorial``: its transform_mnist for all images at once, (x / 255 - 0.5) / 0.5.
    ``standardize``: per pixel, minus the mean and over the standard deviation (population) of
    ``reference`` (the training images; default ``images``); a pixel that never varies there
    (MNIST's borders) is only centred, since dividing by a zero deviation would give NaN.
    """
    import torch

    x = images.to(device=device, dtype=torch.float32, copy=True)  # ours: in-place is safe
    x = x.div_(255).reshape(x.shape[0], -1)
    if normalize == "tutorial":
        return x.sub_(0.5).div_(0.5)
    ref = x if reference is None else reference.to(device=device, dtype=torch.float32).div(255)
    ref = ref.reshape(ref.shape[0], -1)
    mean, std = ref.mean(0), ref.std(0, unbiased=False)
    return x.sub_(mean).div_(torch.where(std > 0, std, torch.ones_like(std)))


def build_model(inputs: int, hidden: list[int], classes: int, generator, activation: str = "relu"):
    """``nn.Sequential(Linear, act, ..., Linear)`` with PyTorch's default initialisation
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
            layers.append(nn.Tanh() if activation == "tanh" else nn.ReLU())
    return nn.Sequential(*layers)


def loss_function(kind: str, reduction: str = "mean"):
    """``loss(logits, labels)`` over rows (``reduction``: mean, sum or none): cross-entropy, or
    the squared loss 0.5 ||f - onehot(y)||^2 per row."""
    import functools

    import torch.nn.functional as F

    if kind != "mse":
        return functools.partial(F.cross_entropy, reduction=reduction)

    def squared(out, y):
        per_row = (out - F.one_hot(y, out.shape[-1]).to(out.dtype)).square().sum(-1).mul(0.5)
        return {"mean": per_row.mean, "sum": per_row.sum}.get(reduction, lambda: per_row)()
    return squared


class Classifier:
    """The loss of ``net`` on the training rows; the problem the training loop drives."""

    def __init__(self, net, x, y, loss: str = "cross-entropy"):
        from . import grad as mlp_grad

        self.net, self.x, self.y, self.kind = net, x, y, loss
        self.criterion = loss_function(loss)
        self.n_train = int(x.shape[0])
        if mlp_grad.supports(net, loss):  # the loop then skips autograd (see grad.py)
            self.loss_and_grad = self._loss_and_grad

    def parameters(self):
        return list(self.net.parameters())

    def loss(self, index=None):
        if index is None:
            return self.criterion(self.net(self.x), self.y)
        return self.criterion(self.net(self.rows(self.x, index)), self.rows(self.y, index))

    def _loss_and_grad(self, index=None):
        from . import grad as mlp_grad

        if index is None:
            return mlp_grad.loss_and_grad(self.net, self.x, self.y, self.kind)
        return mlp_grad.loss_and_grad(self.net, self.rows(self.x, index), self.rows(self.y, index),
                                      self.kind)

    @staticmethod
    def rows(tensor, index):
        # index_select, not tensor[index]: the same rows, about 5x faster for a batch on the CPU
        return tensor.index_select(0, index)


def evaluate(net, x, y, loss: str = "cross-entropy") -> tuple[float, float]:
    """(mean loss, accuracy) over all of ``x``, in chunks, without gradients."""
    import torch

    criterion = loss_function(loss, "sum")
    total, correct = 0.0, 0
    with torch.no_grad():
        for begin in range(0, x.shape[0], EVAL_CHUNK):
            out = net(x[begin : begin + EVAL_CHUNK])
            target = y[begin : begin + EVAL_CHUNK]
            total += float(criterion(out, target))
            correct += int((out.argmax(dim=1) == target).sum())
    return total / x.shape[0], correct / x.shape[0]
