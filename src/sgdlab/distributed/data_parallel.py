"""The training loop's problem on one rank of a data-parallel run.

Generic: it takes a model (``nn.Module``), a loss function ``criterion(output, target)`` (mean
over rows), the data tensors and an optimizer; ``core.loop.run`` drives it like any problem.

Each step the loop draws the GLOBAL batch (the same seeded permutation a single process draws,
every rank holding the same generator), and ``loss_and_grad`` takes this rank's contiguous shard
of it: rows ``[r*B/N, (r+1)*B/N)``. So N ranks together see exactly the examples one process sees.

Three ways to combine the ranks' work, what ``allreduce`` and ``local_steps`` choose:

- ``ddp``: ``DistributedDataParallel`` averages the gradients during ``backward`` (each bucket
  divided by N, then summed across ranks) - what PyTorch users run;
- ``manual``: the lesson written out: one ``all_reduce`` (SUM) of the flattened gradients, then a
  divide by N;
- ``local-sgd`` (implied by ``local_steps`` H > 1): no gradient exchange; each rank steps on its own shard and
  ``PeriodicModelAverager`` averages the parameters every H updates (``PostLocalSGDOptimizer``).

Every step also all-reduces the scalar batch loss (8 bytes), so that every rank reports, and
every rank's divergence guard sees, the loss of the global batch: the ranks stop together.
"""

from __future__ import annotations

import time
from typing import Any


class DataParallel:
    """One rank's view of the run: its shard, its communication, what it counted."""

    # a CUDA graph would capture the collectives with the step: not supported here (fast_step.py)
    graph_capturable = False

    def __init__(self, net, criterion, x, y, place, *, allreduce: str = "ddp", local_steps: int = 1):
        import torch.distributed as dist

        self.place, self.world, self.rank = place, place.world, place.rank
        self.net, self.criterion, self.x, self.y = net, criterion, x, y
        self.allreduce, self.local_steps = allreduce, local_steps
        self.local = allreduce == "local-sgd" or local_steps > 1  # parameters averaged, not grads
        self.n_train = int(x.shape[0])
        self.params = [p for p in net.parameters() if p.requires_grad]  # frozen: no gradient
        self.comm_seconds = 0.0  # gradient / parameter exchange, summed over steps
        self.loss_seconds = 0.0  # the scalar loss's all_reduce
        self.communications = 0  # gradient all-reduces or parameter averages
        self.steps = 0
        self.forward = net
        if not self.local and allreduce == "ddp":
            from torch.nn.parallel import DistributedDataParallel as DDP

            ids = [place.device.index] if place.device.type == "cuda" else None
            self.forward = DDP(net, device_ids=ids)  # broadcasts rank 0's weights (all equal here)
            self.forward.register_comm_hook(self, _timed_allreduce)
        self.group = dist.group.WORLD

    def parameters(self):
        return self.params

    def shard(self, index):
        """This rank's rows of the global batch ``index`` (None: all rows, in order)."""
        import torch

        if index is None:
            index = torch.arange(self.n_train, device=self.x.device)
        size = index.shape[0] // self.world
        return index[self.rank * size : (self.rank + 1) * size]

    def loss_and_grad(self, index):
        """The global batch's mean loss; every parameter's ``.grad`` set to the averaged gradient
        (or, under local SGD, to this rank's own)."""
        import torch
        import torch.distributed as dist

        rows = self.shard(index)
        for p in self.params:
            p.grad = None
        loss = self.criterion(self.forward(self.x.index_select(0, rows)), self.y.index_select(0, rows))
        loss.backward()  # under DDP this also averages the gradients (the comm hook times it)
        if not self.local and self.allreduce == "manual":
            began = time.perf_counter()
            flat = torch.cat([p.grad.reshape(-1) for p in self.params])
            dist.all_reduce(flat, op=dist.ReduceOp.SUM)
            flat.div_(self.world)
            offset = 0
            for p in self.params:
                p.grad.copy_(flat[offset : offset + p.numel()].view_as(p))
                offset += p.numel()
            self.comm_seconds += time.perf_counter() - began
            self.communications += 1
        began = time.perf_counter()
        total = loss.detach().clone()
        dist.all_reduce(total, op=dist.ReduceOp.SUM)
        self.loss_seconds += time.perf_counter() - began
        self.steps += 1
        return total.div_(self.world)

    def wrap_optimizer(self, optimizer):
        """Under local SGD: ``optimizer`` followed by a parameter average every H steps."""
        if not self.local:
            return optimizer
        from torch.distributed.algorithms.model_averaging.averagers import PeriodicModelAverager
        from torch.distributed.optim import PostLocalSGDOptimizer

        import warnings

        with warnings.catch_warnings():
            # H = 1 is asked for (the H sweep's baseline; under Adam it differs from DDP, each
            # rank keeping its own moments): torch's advice to use DDP instead is not the user's
            # business, and the run's summary already says what the averages cost
            warnings.filterwarnings("ignore", "When period is 1", UserWarning)
            averager = PeriodicModelAverager(period=self.local_steps, warmup_steps=0)
        averager = _CountingAverager(self, averager)
        return PostLocalSGDOptimizer(optim=optimizer, averager=averager)

    def describe(self, train_seconds: float, steps: int) -> dict[str, Any]:
        """What the run document adds: who ran it and what the communication cost."""
        comm = self.comm_seconds + self.loss_seconds
        return {
            "nproc": self.world, "world": self.world, "rank_device": str(self.place.device),
            "backend": self.place.backend,
            "allreduce": "local-sgd" if self.local else self.allreduce,
            "local_steps": self.local_steps,
            "communications": self.communications,  # gradient all-reduces or parameter averages
            "loss_allreduces": self.steps,  # one 8-byte scalar per step, for the record
            "comm_seconds": comm,
            "comm_seconds_per_step": comm / steps if steps else None,
            "comm_fraction": comm / train_seconds if train_seconds > 0 else None,
        }


def _timed_allreduce(state: DataParallel, bucket):
    """DDP's default hook (divide the bucket by N, all_reduce SUM), timed until it completes."""
    from torch.distributed.algorithms.ddp_comm_hooks.default_hooks import allreduce_hook

    began = time.perf_counter()
    state.communications += 1

    def done(future):
        state.comm_seconds += time.perf_counter() - began
        return future.value()

    return allreduce_hook(state.group, bucket).then(done)


class _CountingAverager:
    """A ``PeriodicModelAverager`` that counts and times the averages it makes."""

    def __init__(self, owner: DataParallel, averager):
        self.owner, self.inner = owner, averager

    @property
    def step(self) -> int:
        return self.inner.step

    @step.setter
    def step(self, value: int) -> None:
        self.inner.step = value

    def average_parameters(self, params) -> None:
        inner = self.inner
        due = inner.step >= inner.warmup_steps and (inner.step - inner.warmup_steps) % inner.period == 0
        began = time.perf_counter()
        inner.average_parameters(params)
        if due:
            self.owner.communications += 1
            self.owner.comm_seconds += time.perf_counter() - began
