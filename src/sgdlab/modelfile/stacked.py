"""The vectorized sweep of a model file: K cells as one stacked model, with ``torch.func``.

The K networks are built as serial runs build them (``torch.manual_seed(seed)``, then
``model()``), their parameters stacked along a leading model dimension
(``torch.func.stack_module_state``), and one ``vmap`` of ``functional_call`` evaluates all K on
their own batches: each cell keeps its own seed, its own batch order (a generator per cell, one
``randperm`` per epoch, as ``core.loop.run`` draws it) and its own learning rate (and momentum,
betas, ...) through ``optim.batched``. The K losses are summed for one backward pass (a sum keeps
each model's gradient its own).

What it cannot treat exactly, it does not pretend to: a network with BatchNorm, Dropout or any
buffer (its training-mode forward is random or moves state that vmap would share or drop), a
forward or loss that ``vmap`` cannot trace (``.item()``, data-dependent Python branches), or a
``torch-*`` optimizer (one number per hyperparameter). Those cells run one by one, as the serial
executor runs them, after one line on stderr naming the layer or the reason. So do cells that
ask for the sharpness (a Lanczos per model).

The loop itself (epochs, per-cell batch orders, divergence, times) is the shared one,
``sweep.stacked``; this module gives it each batch's K losses and their gradients (autograd),
and evaluates the test set at each epoch's end (not training time).
"""

from __future__ import annotations

import copy
import sys
from typing import Any

from ..core.loop import LoopResult
from ..core.store import RunRecord
from ..sweep.protocol import stacked_hyperparameters
from .problem import EVAL_CHUNK, mode_layers
from .source import first_line


def group_key(config) -> tuple:
    """Cells with equal keys share the file, the schedule and the update rule: one stacked run."""
    spec = config.optimizer
    return (config.file, config.file_sha256, config.batch_size, config.epochs, config.steps,
            config.device, spec.name, spec.nesterov, tuple(sorted(spec.hyperparameters())),
            config.bound, config.sharpness_every, config.dtype, config.nproc, config.emulate)


def why_not_stacked(net, loss_fn, x, y) -> str | None:
    """Why these networks cannot be stacked exactly (naming the layer), or None."""
    from torch.func import functional_call, stack_module_state, vmap

    layers = mode_layers(net)
    if layers:
        return (f"{', '.join(layers)} (training mode is random or keeps batch statistics, which "
                f"vmap cannot reproduce exactly)")
    try:
        params, _ = stack_module_state([net, net])
        base = copy.deepcopy(net).to("meta")
        xb, yb = x[:2].expand(2, *x[:2].shape), y[:2].expand(2, *y[:2].shape)
        vmap(lambda p, a, b: loss_fn(functional_call(base, p, (a,)), b))(params, xb, yb)
    except Exception as exc:  # any failure to trace: the serial runs are the exact answer
        return f"forward and loss, which torch.func cannot vmap ({type(exc).__name__}: {first_line(exc)})"
    return None


def compute_group(configs: list, cells: list[dict[str, Any]], sweep_id: str, data) -> list[RunRecord]:
    """Train ``configs`` (equal ``group_key``) as one stacked model; one run record per cell."""
    from ..optim import batched
    from . import run as file_run
    from .checks import build_model, prepare

    first = configs[0]

    def serially() -> list[RunRecord]:
        return [file_run.to_record(file_run.run(c, record=False, data=data), sweep_id, cell)
                for c, cell in zip(configs, cells)]

    if (first.optimizer.name not in batched.BATCHED or first.bound or first.sharpness_every
            or first.nproc > 1):  # data parallel: each cell is its own N-process run
        return serially()
    prepared = prepare(first, data)
    reason = why_not_stacked(prepared.net, prepared.source.loss, prepared.x, prepared.y)
    if reason is not None:
        print(f"note: the stacked sweep cannot treat {prepared.source.name}'s {reason}; its "
              f"{len(configs)} cell(s) run one by one instead", file=sys.stderr)
        return serially()
    dtype = next(prepared.net.parameters()).dtype  # --dtype, as prepare converted the first
    nets = [prepared.net] + [build_model(prepared.source, c.seed).to(prepared.device, dtype)
                             for c in configs[1:]]
    trained = train(configs, nets, prepared)
    records = []
    for config, cell, (loop, epochs, step_times, final_loss) in zip(configs, cells, trained):
        config = _with_file_hash(config, prepared.source)
        result = file_run.assemble(config, prepared.source, loop, epochs, step_times,
                                   int(prepared.x.shape[0]), prepared, file_run.new_run_id(), final_loss)
        records.append(file_run.to_record(result, sweep_id, cell))
    return records


def _with_file_hash(config, source):
    import dataclasses
    from pathlib import Path

    if config.file_sha256 is None and source.sha256 is not None:
        return dataclasses.replace(config, file=str(Path(config.file).resolve()), file_sha256=source.sha256)
    return config


ELEMENTWISE = ("Tanh", "ReLU", "Sigmoid", "GELU", "ELU", "LeakyReLU", "SiLU", "Softplus", "Identity")


def plain_sequential(net) -> bool:
    """An ``nn.Sequential`` of Linear layers and elementwise activations only (the MLP)."""
    from torch import nn

    return isinstance(net, nn.Sequential) and len(net) > 0 and all(
        isinstance(m, nn.Linear) or (type(m).__module__ == "torch.nn.modules.activation"
                                     and type(m).__name__ in ELEMENTWISE)
        or isinstance(m, nn.Identity) for m in net)


class Stack:
    """K networks as one: stacked parameters and a vmapped loss over per-model batches."""

    def __init__(self, nets, loss_fn, accuracy_fn):
        from torch.func import stack_module_state

        params, _ = stack_module_state(nets)
        trainable = {name for name, p in nets[0].named_parameters() if p.requires_grad}
        self.params = {name: p.detach().requires_grad_(name in trainable) for name, p in params.items()}
        self.trainable = [p for name, p in self.params.items() if name in trainable]
        self.base = copy.deepcopy(nets[0]).to("meta")
        self.loss_fn, self.accuracy_fn, self.k = loss_fn, accuracy_fn, len(nets)
        self.plain = plain_sequential(nets[0])

    def outputs(self, params, xb):
        """The K models' outputs on their own inputs xb (K, B, ...)."""
        from torch.func import functional_call, vmap

        if self.plain and xb.dim() == 3:
            return self._plain_forward(params, xb)
        return vmap(lambda p, a: functional_call(self.base, p, (a,)))(params, xb)

    def _plain_forward(self, params, h):
        """A Sequential of Linear layers and elementwise activations, stacked by hand: one
        ``baddbmm`` per layer. vmap's batching rule for a linear layer with per-model weights
        is measured here at 2.5x the time of ``baddbmm`` (37 vs 13 ms for 16 models of
        784-100, batch 100, one thread); the arithmetic is the same up to float32 rounding."""
        import torch
        from torch import nn

        for i, module in enumerate(self.base):
            if isinstance(module, nn.Linear):
                weight, bias = params[f"{i}.weight"].transpose(1, 2), params.get(f"{i}.bias")
                h = torch.bmm(h, weight) if bias is None else torch.baddbmm(bias.unsqueeze(1), h, weight)
            else:
                h = module(h)  # elementwise: any shape
        return h

    def losses(self, xb, yb):
        """Each model's mean loss on its own batch: (K,) from xb (K, B, ...), yb (K, B, ...)."""
        from torch.func import vmap

        return vmap(self.loss_fn)(self.outputs(self.params, xb), yb)

    def evaluate(self, x, y) -> tuple[list[float], list[float] | None]:
        """Per model (mean loss, accuracy or None) over all of ``x``, in chunks, no gradients."""
        import torch
        from torch.func import vmap

        n, k = int(x.shape[0]), self.k
        totals = torch.zeros(k, dtype=torch.float64)
        correct = torch.zeros(k, dtype=torch.float64)
        with torch.no_grad():
            for begin in range(0, n, EVAL_CHUNK):
                xb, yb = x[begin : begin + EVAL_CHUNK], y[begin : begin + EVAL_CHUNK]
                rows = int(yb.shape[0])
                out = self.outputs(self.params, xb.expand(k, *xb.shape))
                target = yb.expand(k, *yb.shape)
                totals += vmap(self.loss_fn)(out, target).double().cpu() * rows
                if self.accuracy_fn is not None:
                    accs = [float(self.accuracy_fn(out[i], yb)) for i in range(k)]
                    correct += torch.tensor(accs, dtype=torch.float64) * rows
        accuracy = (correct / n).tolist() if self.accuracy_fn is not None else None
        return (totals / n).tolist(), accuracy


def train(configs: list, nets, prepared) -> list[tuple[LoopResult, list, list, float | None]]:
    """Train the K stacked models on the shared stacked loop (``sweep.stacked``); per model
    (LoopResult, epochs, step times, final loss)."""
    import torch

    from ..optim import batched
    from ..sweep import stacked

    first, x, y = configs[0], prepared.x, prepared.y
    source = prepared.source
    k, n = len(configs), int(x.shape[0])
    stack = Stack(nets, source.loss, source.accuracy)
    optimizer = batched.create(first.optimizer.name, stack.trainable, **stacked_hyperparameters(configs))
    generators = [torch.Generator().manual_seed(c.seed) for c in configs]
    batch_size, steps = first.updates(n)
    epochs: list[list[dict[str, Any]]] = [[] for _ in range(k)]

    def batch(index):  # each model's loss on its own rows, and its gradients by autograd
        if index is None:  # full batch: the data in order, as loop.run keeps it
            xb, yb = x.expand(k, *x.shape), y.expand(k, *y.shape)
        else:
            xb = x.index_select(0, index.reshape(-1)).view(k, -1, *x.shape[1:])
            yb = y.index_select(0, index.reshape(-1)).view(k, -1, *y.shape[1:])
        losses = stack.losses(xb, yb)
        return losses.detach(), stacked.autograd_gradients(losses, stack.trainable)

    def end_epoch(epoch: int, train_losses: dict[int, float], seconds: float) -> None:
        test = stack.evaluate(prepared.xt, prepared.yt) if prepared.xt is not None else None
        for i, train_loss in train_losses.items():
            entry = {"epoch": epoch, "train_loss": train_loss,
                     "test_loss": None if test is None else test[0][i], "seconds": seconds}
            if test is not None and test[1] is not None:
                entry["test_accuracy"] = test[1][i]
            epochs[i].append(entry)

    run = stacked.train(stack.trainable, optimizer, generators, n=n, batch_size=batch_size,
                        steps=steps, batch=batch, end_epoch=end_epoch, device=x.device)
    finals = stack.evaluate(x, y)[0]
    return [(run.loops[i], epochs[i], run.step_times[i], None if i in run.frozen else finals[i])
            for i in range(k)]
