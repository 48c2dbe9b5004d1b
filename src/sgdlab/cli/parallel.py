"""The data-parallel flags (``--nproc``, ``--allreduce``, ``--local-steps``, ``--dtype``), shared by
every training command that runs on ``sgdlab.distributed`` (`sgdlab mnist`, `sgdlab train FILE.py`)."""

from __future__ import annotations

import typer

NPROC = typer.Option(1, "--nproc", help="Data-parallel processes on this machine (gloo on CPU, nccl on CUDA); --batch-size stays the global batch, split evenly. Under torchrun leave it out: RANK/WORLD_SIZE decide.")
ALLREDUCE = typer.Option("ddp", "--allreduce", help="How gradients are averaged: ddp (DistributedDataParallel) manual (one all_reduce, then divide by N), or local-sgd (no gradient exchange; parameters averaged every --local-steps updates).")
LOCAL_STEPS = typer.Option(1, "--local-steps", help="Local SGD: H updates on each process between parameter averages (1: synchronous data parallelism, unless --allreduce local-sgd); H > 1 implies local-sgd.")
EMULATE = typer.Option(False, "--emulate", help="One process computes the --nproc shards in turn (the chunked reference): the same steps as N processes, no communication.")
DTYPE = typer.Option("float32", "--dtype", help="Floating-point type of the weights and data: float32 or float64.")


def settings(nproc: int, allreduce: str, local_steps: int, emulate: bool, dtype: str) -> dict:
    """The config fields these flags set."""
    return {"nproc": nproc, "allreduce": allreduce, "local_steps": local_steps,
            "emulate": emulate, "dtype": dtype}
