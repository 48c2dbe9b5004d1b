"""The model file as the training loop and the theory see it.

``FileProblem``: the batch loss of the user's network on the training rows (``core.loop``).
``evaluate``: mean loss (and accuracy) over a split, in eval mode, in chunks.
``objective`` and ``per_example_loss``: the loss as a function of the parameters
(``torch.func.functional_call``), for ``sgdlab.theory``.

Layers that behave differently in training and in evaluation (BatchNorm, Dropout, ...) train
normally. Theory cannot treat their training mode exactly: a Dropout loss is random and a
BatchNorm loss depends on which rows share the batch, so neither has one Hessian or one
per-example gradient. Theory therefore measures the network in eval mode (running statistics,
no dropout) and ``mode_note`` says so, naming the layers: never a quietly different number.
"""

from __future__ import annotations

from typing import Any

EVAL_CHUNK = 4096  # rows per forward pass when evaluating (bounds memory)
HVP_CHUNK = 4096  # rows per Hessian-vector product chunk


def mode_layers(net) -> list[str]:
    """"Kind 'name'" of every module whose training and eval behaviour differ, or that keeps
    state (buffers) the training pass changes."""
    from torch import nn

    kinds = (nn.modules.batchnorm._BatchNorm, nn.modules.instancenorm._InstanceNorm,
             nn.modules.dropout._DropoutNd, nn.AlphaDropout, nn.FeatureAlphaDropout)
    found = []
    for name, module in net.named_modules():
        if isinstance(module, kinds) or any(True for _ in module.named_buffers(recurse=False)):
            found.append(f"{type(module).__name__} {name or '(the model)'!r}")
    return found


def mode_note(net, what: str) -> str | None:
    layers = mode_layers(net)
    if not layers:
        return None
    return (f"{what} treats {', '.join(layers)} in eval mode (running statistics, no dropout): "
            f"their training-mode loss is random or depends on the batch, which has no single "
            f"Hessian or per-example gradient")


class FileProblem:
    """The mean loss of ``net`` on training rows; the problem ``core.loop.run`` drives."""

    def __init__(self, net, loss_fn, x, y):
        self.net, self.loss_fn, self.x, self.y = net, loss_fn, x, y
        self.n_train = int(x.shape[0])

    def parameters(self):
        return [p for p in self.net.parameters() if p.requires_grad]

    def loss(self, index=None):
        if index is None:
            return self.loss_fn(self.net(self.x), self.y)
        return self.loss_fn(self.net(self.x.index_select(0, index)), self.y.index_select(0, index))


def evaluate(net, loss_fn, accuracy_fn, x, y) -> tuple[float, float | None]:
    """(mean loss, accuracy or None) over all rows of ``x``, in eval mode, without gradients.
    The file's loss is a batch mean: chunks are weighted by their rows."""
    import torch

    n = int(x.shape[0])
    total, correct = 0.0, 0.0
    was = net.training
    net.eval()
    try:
        with torch.no_grad():
            for begin in range(0, n, EVAL_CHUNK):
                out, target = net(x[begin : begin + EVAL_CHUNK]), y[begin : begin + EVAL_CHUNK]
                rows = int(target.shape[0])
                total += float(loss_fn(out, target)) * rows
                if accuracy_fn is not None:
                    correct += float(accuracy_fn(out, target)) * rows
    finally:
        net.train(was)
    return total / n, (correct / n if accuracy_fn is not None else None)


def functional_loss(net, loss_fn):
    """``value(params, x, y)``: the mean loss of ``net`` in eval mode with ``params`` (its
    trainable parameters, in order) in place of its own; buffers are the network's current ones."""
    from torch.func import functional_call

    names = [name for name, p in net.named_parameters() if p.requires_grad]

    def value(params, x, y):
        was = net.training
        net.eval()
        try:
            return loss_fn(functional_call(net, dict(zip(names, params)), (x,)), y)
        finally:
            net.train(was)

    return value


def objective(net, loss_fn, x, y, chunk: int = HVP_CHUNK):
    """The mean loss over all rows of (x, y) as a ``theory.Objective``, in row chunks."""
    from ..theory import curvature as theory

    value = functional_loss(net, loss_fn)
    params = [p for p in net.parameters() if p.requires_grad]
    return theory.Objective(params, lambda ps, rows: value(ps, x[rows], y[rows]),
                            theory.chunks_of(int(x.shape[0]), chunk))


def per_example_loss(net, loss_fn):
    """``loss_one(params, x_i, y_i)``: one example's loss, for ``vmap(grad(...))``."""
    value = functional_loss(net, loss_fn)
    return lambda params, xi, yi: value(params, xi.unsqueeze(0), yi.unsqueeze(0))


def batch_gradient(net, loss_fn, x, y):
    """``gradient(index)``: the flat gradient of the mean loss over rows ``index``."""
    from ..theory import curvature as theory

    value = functional_loss(net, loss_fn)
    params = [p for p in net.parameters() if p.requires_grad]

    def gradient(index):
        index = index.to(x.device)
        rows = lambda ps, _: value(ps, x.index_select(0, index), y.index_select(0, index))  # noqa: E731
        return theory.gradient(theory.Objective(params, rows, [(None, 1.0)]))

    return gradient


def subset(x, y, size: int | None) -> tuple[Any, Any]:
    return (x, y) if size is None else (x[:size], y[:size])
