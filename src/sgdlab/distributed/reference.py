"""The chunked reference: N data-parallel workers emulated by one process, exactly.

``Chunked`` is a problem for ``core.loop.run`` that does in one process what N ranks of
``DataParallel`` do: the global batch (the same seeded permutation) is cut into the same N
contiguous shards; each shard's mean loss and gradient are computed by the same code on the same
rows (the same GEMM shapes); the gradients are combined in rank order 0, 1, ..., N-1 the way the
collective does: ``ddp`` divides each by N, then sums (DDP's default hook); ``manual`` sums,
then divides. The loss is summed in rank order, then divided by N.

Where it equals the real processes bit for bit: whenever the collective's summation order is
the rank order. Two ranks: always (a + b == b + a exactly). More ranks: gloo's ring all-reduce
starts each chunk of the buffer at a different rank, so the N-term sums associate differently
per chunk; the results then agree to a few ulps of the gradient, not bit for bit (tests/
test_distributed.py checks both). Dividing by a power of two is exact, so for N = 2, 4, 8
``ddp`` and ``manual`` give the same bits too.

It is also what ``sgdlab scaling`` uses to count steps to a target for N workers on a 2-core
machine (``--emulate``): the steps are the same as with N processes; only the wall time is not.
"""

from __future__ import annotations

import time
from typing import Any


class Chunked:
    """One process computing N workers' shards in turn and combining them as the collective would."""

    def __init__(self, net, criterion, x, y, world: int, *, allreduce: str = "ddp"):
        self.net, self.criterion, self.x, self.y = net, criterion, x, y
        self.world, self.allreduce = world, allreduce
        self.n_train = int(x.shape[0])
        self.params = [p for p in net.parameters() if p.requires_grad]  # frozen: no gradient
        self.shard_seconds = 0.0  # the slowest shard's compute time each step, summed: the
        #                           compute time N parallel workers would have had
        self.steps = 0

    def parameters(self):
        return self.params

    def loss_and_grad(self, index):
        import torch

        if index is None:
            index = torch.arange(self.n_train, device=self.x.device)
        size = index.shape[0] // self.world
        sums, losses, slowest = None, [], 0.0
        for rank in range(self.world):
            began = time.perf_counter()
            rows = index[rank * size : (rank + 1) * size]
            for p in self.params:
                p.grad = None
            loss = self.criterion(self.net(self.x.index_select(0, rows)), self.y.index_select(0, rows))
            loss.backward()
            grads = [p.grad for p in self.params]
            slowest = max(slowest, time.perf_counter() - began)
            if self.allreduce == "ddp":  # DDP's hook divides each rank's bucket before the sum
                grads = [g.div(self.world) for g in grads]
            sums = [g.clone() for g in grads] if sums is None else [s.add_(g) for s, g in zip(sums, grads)]
            losses.append(loss.detach())
        if self.allreduce == "manual":
            sums = [s.div_(self.world) for s in sums]
        for p, s in zip(self.params, sums):
            p.grad = s
        total = losses[0].clone()
        for loss in losses[1:]:
            total.add_(loss)
        self.shard_seconds += slowest
        self.steps += 1
        return total.div_(self.world)

    def wrap_optimizer(self, optimizer):
        return optimizer

    def describe(self, train_seconds: float, steps: int) -> dict[str, Any]:
        return {
            "nproc": self.world, "world": 1, "backend": "emulated (one process, shards in turn)",
            "allreduce": self.allreduce, "local_steps": 1, "communications": 0,
            "loss_allreduces": 0, "comm_seconds": 0.0, "comm_seconds_per_step": 0.0,
            "comm_fraction": 0.0, "shard_seconds": self.shard_seconds,
        }
