"""The vectorized executor for the MNIST MLP: K cells trained as one stacked network.

Each layer is stacked along a leading model dimension: weights ``W`` of shape (K, fan_in,
fan_out) (nn.Linear's weight, transposed) and biases ``b`` of shape (K, 1, fan_out); the forward
pass is one ``torch.baddbmm`` per layer (ReLU or tanh between), the loss each model's own mean
(cross-entropy or squared loss), summed for the backward pass (a sum keeps each model's gradient
its own), the update ``optim.batched`` with one learning rate (momentum, betas, ...) per model.
Cells that ask for the sharpness (``bound``, ``sharpness_every``: one Lanczos per model) run one
by one through ``run.run``, as do the ``torch-*`` optimizers, which have no batched form.

Each model starts as ``model.build_model`` builds it from its cell's seed, and that same generator
then draws the model's own permutation every epoch, as ``loop.run`` does for a serial run: the
records equal the serial executor's up to float32 rounding (tests/test_sweep_vectorized.py
states the tolerance). A model whose loss stops being finite, or grows past
``loop.BLOWUP_FACTOR`` times its first loss, stops being recorded at that step (status
``diverged``, as ``run.assemble`` reports it); the others go on.

The loop itself (epochs, per-cell batch orders, divergence, times) is the shared one,
``sweep.stacked``: the group's training seconds are shared equally between its K cells (each
cell's ``seconds``, epoch seconds and step times are the group's divided by K); evaluation is
excluded, as in a serial run.
"""

from __future__ import annotations

from typing import Any

from ..core.loop import LoopResult
from ..core.store import RunRecord
from ..sweep.protocol import stacked_hyperparameters


def group_key(config) -> tuple:
    """Cells with equal keys share the data, the schedule and the update rule: one stacked run."""
    spec = config.optimizer
    return (config.dataset, config.data_dir, tuple(config.hidden), config.activation, config.loss,
            config.normalize, config.batch_size, config.epochs, config.max_steps,
            config.limit_train, config.limit_test, config.device, spec.name, spec.nesterov,
            tuple(sorted(spec.hyperparameters())), config.bound, config.sharpness_every, config.noise_every)


def compute_mlp_group(configs: list, cells: list[dict[str, Any]], sweep_id: str,
                      data=None) -> list[RunRecord]:
    """Train ``configs`` (equal ``group_key``) as one stacked MLP; one ``mnist`` run record per
    cell (the sweep's driver stores them). ``data``: the ``ImageSet``, already loaded."""
    from ..optim import batched
    from . import datasets
    from . import run as mlp_run
    from .config import resolve_device

    first = configs[0]
    if (first.optimizer.name not in batched.BATCHED  # torch-* rules: one number per hyperparameter
            or first.bound or first.sharpness_every or first.noise_every):  # theory per model
        return [mlp_run.to_record(mlp_run.run(c, record=False, data=data), sweep_id, cell)
                for c, cell in zip(configs, cells)]
    device = resolve_device(first.device)
    data = data if data is not None else datasets.load(first.dataset, first.data_dir)
    x, y, xt, yt = mlp_run.tensors(first, data, device)
    trained = train(configs, x, y, xt, yt, classes=len(data.classes))
    records = []
    for config, cell, (loop, epochs, step_times) in zip(configs, cells, trained):
        result = mlp_run.assemble(config, data, loop, epochs, step_times, int(x.shape[0]),
                              int(xt.shape[0]), device)
        records.append(mlp_run.to_record(result, sweep_id, cell))
    return records


def stacked_model(configs: list, inputs: int, classes: int, device):
    """[(W, b), ...] per layer, each model drawn by ``model.build_model`` from its seed; and the
    K generators, left where the serial run leaves them (ready to shuffle)."""
    import torch
    from torch import nn

    from .model import build_model

    generators = [torch.Generator().manual_seed(c.seed) for c in configs]
    nets = [build_model(inputs, c.hidden, classes, g, c.activation) for c, g in zip(configs, generators)]
    linears = [[m for m in net if isinstance(m, nn.Linear)] for net in nets]
    layers = []
    for j in range(len(linears[0])):
        w = torch.stack([ls[j].weight.detach().T for ls in linears]).contiguous()
        b = torch.stack([ls[j].bias.detach() for ls in linears]).unsqueeze(1)
        layers.append((w.to(device).requires_grad_(True), b.to(device).requires_grad_(True)))
    return layers, generators


def forward(layers, xb, activation: str = "relu"):
    """Logits (K, B, classes) of the K stacked models on inputs ``xb`` (K, B, features)."""
    import torch

    h = xb
    last = len(layers) - 1
    for j, (w, b) in enumerate(layers):
        h = torch.baddbmm(b, h, w)
        if j < last:
            h = torch.tanh(h) if activation == "tanh" else torch.relu(h)
    return h


def model_losses(logits, targets, loss: str = "cross-entropy", reduction: str = "mean"):
    """Each model's loss over its own rows: (K,) from logits (K, B, C), targets (K, B)."""
    from .model import loss_function

    k = logits.shape[0]
    per_row = loss_function(loss, "none")(logits.flatten(0, 1), targets.flatten()).view(k, -1)
    return per_row.mean(1) if reduction == "mean" else per_row.sum(1)


def evaluate(layers, x, y, activation: str = "relu", loss: str = "cross-entropy") -> tuple[list[float], list[float]]:
    """Per model (mean cross-entropy, accuracy) over all of ``x``, in chunks, as ``model.evaluate``."""
    import torch

    from .model import EVAL_CHUNK

    k = layers[0][0].shape[0]
    totals, correct = [0.0] * k, [0] * k
    with torch.no_grad():
        for begin in range(0, x.shape[0], EVAL_CHUNK):
            chunk = x[begin : begin + EVAL_CHUNK]
            target = y[begin : begin + EVAL_CHUNK].expand(k, -1)
            out = forward(layers, chunk.expand(k, -1, -1), activation)
            sums = model_losses(out, target, loss, "sum").tolist()
            hits = (out.argmax(dim=2) == target).sum(1).tolist()
            totals = [t + s for t, s in zip(totals, sums)]
            correct = [c + h for c, h in zip(correct, hits)]
    n = x.shape[0]
    return [t / n for t in totals], [c / n for c in correct]


def train(configs: list, x, y, xt, yt, *, classes: int) -> list[tuple[LoopResult, list, list]]:
    """Train the K stacked models on the shared stacked loop (``sweep.stacked``); per model
    (LoopResult, epoch records, step times)."""
    import torch

    from ..optim import batched
    from ..sweep import stacked

    first = configs[0]
    k, n, features = len(configs), int(x.shape[0]), int(x.shape[1])
    layers, generators = stacked_model(configs, features, classes, x.device)
    params = [p for layer in layers for p in layer]
    optimizer = batched.create(first.optimizer.name, params, **stacked_hyperparameters(configs))
    batch_size, steps = first.updates(n)
    epochs: list[list[dict[str, Any]]] = [[] for _ in range(k)]

    def batch(index):  # each model's loss on its own rows, and its gradients by autograd
        if index is None:  # full batch: the data in order, as loop.run keeps it
            xb, yb = x.expand(k, -1, -1), y.expand(k, -1)
        else:
            xb = x.index_select(0, index.reshape(-1)).view(k, -1, features)
            yb = y.index_select(0, index.reshape(-1)).view(k, -1)
        losses = model_losses(forward(layers, xb, first.activation), yb, first.loss)
        return losses.detach(), stacked.autograd_gradients(losses, params)

    def end_epoch(epoch: int, train_losses: dict[int, float], seconds: float) -> None:
        test_losses, accuracies = evaluate(layers, xt, yt, first.activation, first.loss)
        for i, train_loss in train_losses.items():
            epochs[i].append({
                "epoch": epoch, "train_loss": train_loss, "test_loss": test_losses[i],
                "test_accuracy": accuracies[i], "seconds": seconds,
                "samples_per_second": n / seconds if seconds > 0 else None,
            })

    run = stacked.train(params, optimizer, generators, n=n, batch_size=batch_size, steps=steps,
                        batch=batch, end_epoch=end_epoch, device=x.device)
    return [(run.loops[i], epochs[i], run.step_times[i]) for i in range(k)]
