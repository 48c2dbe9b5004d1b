"""The MLP's training step without the host in the way: how ``run.py`` drives ``core.loop``.

* No host sync inside a block of updates (``core/blocks.py``): on a GPU the loop reads the losses
  every ``sync_every`` updates (default ``GPU_SYNC_EVERY``), and a run that diverges still stops
  at, and reports, its exact step. On the CPU a read costs nothing, and the default stays 1.
* A CUDA graph (``torch.cuda.CUDAGraph``) of the whole step (index the batch, the hand-written
  forward and backward, the plain-SGD update) when the device is CUDA: captured once for the
  full batch size and replayed; an epoch's last, smaller batch (when the batch size does not
  divide the training set) runs eagerly. Plain SGD only (momentum and the other rules keep state
  updates that are not yet captured); ``--no-cuda-graph`` turns it off.
* ``--compile``: the same step through ``torch.compile`` (``reduce-overhead`` on CUDA, which uses
  CUDA graphs itself). Measured on the CPU it did not help (benchmarks/mnist_epoch.py --compile:
  README); it stays an option, off by default, since inductor's fused kernels round differently.

Steps that look at the parameters before each update (``--sharpness-every``, ``--noise-every``)
keep the per-step loop (``sync_every`` 1, no graph): the theory needs the weights of that step.
"""

from __future__ import annotations

from typing import Callable

GPU_SYNC_EVERY = 50  # updates between two reads of the losses on a GPU (an epoch at batch 100: 600)


def plain_sgd(config) -> bool:
    spec = config.optimizer
    hyper = spec.hyperparameters()
    return spec.name == "sgd" and not hyper.get("momentum") and not hyper.get("weight_decay")


def choose(config, problem, optimizer, device, batch_size: int, n: int) -> tuple[int, Callable | None]:
    """(sync_every, train_step) for ``core.loop.run``: see the module docstring."""
    from ..core.loop import default_step

    per_step_theory = bool(config.sharpness_every or config.noise_every)
    cuda = device.type == "cuda"
    every = config.sync_every if config.sync_every is not None else (GPU_SYNC_EVERY if cuda else 1)
    if per_step_theory:
        return 1, None
    step = None
    if config.compile:
        import torch

        step = torch.compile(default_step(problem, optimizer), mode="reduce-overhead" if cuda else None)
    elif (cuda and config.cuda_graph and batch_size < n and plain_sgd(config)
          and getattr(problem, "loss_and_grad", None) is not None
          and getattr(problem, "graph_capturable", True)):
        step = GraphStep(problem, optimizer, batch_size, device)
    return every, step


class GraphStep:
    """One captured CUDA graph of a full-batch step, replayed; other batch sizes run eagerly."""

    def __init__(self, problem, optimizer, batch_size: int, device):
        import torch

        from ..core.loop import default_step

        self.eager = default_step(problem, optimizer)
        self.batch_size = batch_size
        self.index = torch.zeros(batch_size, dtype=torch.long, device=device)
        params = problem.parameters()
        saved = [p.detach().clone() for p in params]
        # warm-up on a side stream, as torch.cuda.graphs asks, then back to the initial weights
        side = torch.cuda.Stream(device)
        side.wait_stream(torch.cuda.current_stream(device))
        with torch.cuda.stream(side):
            for _ in range(3):
                self.eager(self.index)
        torch.cuda.current_stream(device).wait_stream(side)
        self.graph = torch.cuda.CUDAGraph()
        with torch.cuda.graph(self.graph):
            self.loss = self.eager(self.index)
        with torch.no_grad():
            for p, s in zip(params, saved):
                p.copy_(s)

    def __call__(self, index):
        if index is None or index.shape[0] != self.batch_size:
            return self.eager(index)
        self.index.copy_(index)
        self.graph.replay()
        return self.loss.clone()  # the graph's loss is overwritten by the next replay
