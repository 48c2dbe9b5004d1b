"""``sgdlab scaling``: N workers at a fixed per-worker batch, the learning rate scaled with N.

For N = 1, 2, 4, 8, ... the global batch is N * b and the learning rate lr * s(N) with s the
rule (``linear``: N, Goyal et al. 2017; ``sqrt``: sqrt(N); ``none``: 1), reached by a linear warmup
over the first K steps. Each N trains until the training loss (on the whole training set, every
``eval_every`` steps) reaches the target: steps to target, examples to target (= steps * N * b).

The N workers are emulated by one process, exactly (``reference.Chunked``: the same shards, the
same summation order as N gloo processes): steps to target do not depend on where the shards
are computed, and on a 2-core machine N real processes would only share the two cores. The
wall time is split the way N parallel workers would spend it: compute = the slowest shard of
each step, summed; communication = steps times the all_reduce of the gradient measured with N
real gloo processes on this machine (``bench.allreduce_seconds``).

Beside it the theory on the same axes: B_simple (the global batch where linear scaling should
stop paying, McCandlish et al. 2018) and 2 / lambda_max (the largest stable lr, which N * lr
crosses). Problem-agnostic: the problem supplies ``setup(config)`` and ``theory(config, parts)``.
"""

from __future__ import annotations

import math
import time
from dataclasses import replace
from typing import Any, Callable

RULES = {"linear": lambda n: float(n), "sqrt": math.sqrt, "none": lambda n: 1.0}


def lr_at(step: int, base: float, scale: float, warmup: int) -> float:
    """The learning rate of update ``step`` (0-based): from ``base`` to ``base * scale`` linearly
    over ``warmup`` updates, then constant."""
    if warmup <= 0 or step >= warmup:
        return base * scale
    return base * (1 + (scale - 1) * step / warmup)


def train_to_target(config, parts: dict[str, Any], nproc: int, *, scale: float, warmup: int,
                    target: float, max_steps: int, eval_every: int) -> dict[str, Any]:
    """One N: train the emulated workers until the full training loss <= ``target``."""
    import torch

    from .. import optim
    from .reference import Chunked

    net, x, y, criterion = parts["net"], parts["x"], parts["y"], parts["criterion"]
    problem = Chunked(net, criterion, x, y, nproc, allreduce="ddp")
    optimizer = optim.create(config.optimizer.name, problem.parameters(), lr=config.lr,
                             **config.optimizer.hyperparameters())
    batch, n = config.batch_size * nproc, int(x.shape[0])
    generator = parts["generator"]
    curve, reached, step, status = [], None, 0, "target not reached"
    began = time.perf_counter()
    while step < max_steps and reached is None:
        for index in torch.randperm(n, generator=generator).split(batch):
            if index.shape[0] < batch or step >= max_steps:
                break  # whole global batches only: every shard the same size
            for group in optimizer.param_groups:
                group["lr"] = lr_at(step, config.lr, scale, warmup)
            loss = problem.loss_and_grad(index)
            if not math.isfinite(float(loss)):
                status = "diverged"
                break
            optimizer.step()
            step += 1
            if step % eval_every == 0:
                with torch.no_grad():
                    full = float(criterion(net(x), y))
                curve.append([step, full])
                if full <= target:
                    reached, status = step, "reached"
                    break
        if status == "diverged":
            break
    return {"nproc": nproc, "global_batch": batch, "lr": config.lr * scale, "status": status,
            "steps_to_target": reached, "examples_to_target": None if reached is None else reached * batch,
            "steps": step, "compute_seconds": problem.shard_seconds,
            "emulation_seconds": time.perf_counter() - began, "curve": curve}


def study(config, setup: Callable, theory: Callable | None, *, workers: list[int], rule: str,
          warmup: int, target: float, max_steps: int, eval_every: int,
          allreduce_seconds: Callable[[int, int], float] | None = None) -> dict[str, Any]:
    """The whole study: one ``train_to_target`` per N, the communication, the theory."""
    rows = []
    beside = None
    for nproc in workers:
        parts = setup(replace(config, batch_size=config.batch_size * nproc))
        if beside is None and theory is not None:
            beside = theory(config, parts)
            parts = setup(replace(config, batch_size=config.batch_size * nproc))  # fresh weights
        row = train_to_target(config, parts, nproc, scale=RULES[rule](nproc), warmup=warmup,
                              target=target, max_steps=max_steps, eval_every=eval_every)
        numel = sum(p.numel() for p in parts["net"].parameters())
        per = allreduce_seconds(nproc, numel) if allreduce_seconds and nproc > 1 else 0.0
        row["allreduce_seconds"] = per
        row["comm_seconds"] = per * row["steps"]
        row["wall_seconds"] = row["compute_seconds"] + row["comm_seconds"]
        rows.append(row)
    first = rows[0]["steps_to_target"]
    for row in rows:  # the speed-up in steps against one worker; perfect scaling is N
        row["step_speedup"] = (first / row["steps_to_target"]) if first and row["steps_to_target"] else None
    return {"rows": rows, "theory": beside or {}, "data": parts["data"]}
