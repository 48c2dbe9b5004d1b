"""The all_reduce of a gradient-sized buffer on N real processes: seconds per call, bandwidth.

``allreduce_seconds(world, numel)`` starts ``world`` gloo (or nccl) ranks on this machine
(``launch.start_workers``), each all-reduces a float32 buffer of ``numel`` elements ``repeats``
times after ``WARMUP`` untimed calls, and returns rank 0's median seconds per call. Used by
``sgdlab scaling`` (the communication part of the wall time) and benchmarks/data_parallel.py.

Bus bandwidth as nccl-tests defines it: a ring all-reduce moves 2 (N - 1) / N of the buffer
through every link, so busbw = bytes * 2 (N - 1) / N / seconds.
"""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path

WARMUP = 3
TIMEOUT_S = 120.0


def allreduce_seconds(world: int, numel: int, repeats: int = 20, device: str = "cpu") -> float:
    from ..core.errors import ClusterError
    from .launch import start_workers, stop, watch

    with tempfile.TemporaryDirectory(prefix="sgdlab-bench-") as tmp:
        out = Path(tmp) / "seconds.json"
        procs = start_workers(["sgdlab.distributed.bench", str(numel), str(repeats), device,
                               str(out)], world)
        try:
            bad = watch(procs)
        finally:
            stop(procs, __import__("signal").SIGTERM)
        if bad is not None or not out.is_file():
            raise ClusterError(f"the all_reduce benchmark on {world} processes failed")
        return float(json.loads(out.read_text())["seconds"])


def bus_bandwidth(numel: int, world: int, seconds: float, bytes_per: int = 4) -> float:
    """Bytes per second through each link of a ring all-reduce (nccl-tests' busbw)."""
    return numel * bytes_per * 2 * (world - 1) / world / seconds if seconds > 0 else float("nan")


def _rank_main(numel: int, repeats: int, device: str, out: str) -> None:
    import statistics
    import time

    import torch
    import torch.distributed as dist

    from ..core.files import write_text
    from .env import join

    place = join(device)
    buffer = torch.ones(numel, dtype=torch.float32, device=place.device)
    times = []
    for i in range(WARMUP + repeats):
        dist.barrier()
        began = time.perf_counter()
        dist.all_reduce(buffer)
        if place.device.type == "cuda":
            torch.cuda.synchronize()
        if i >= WARMUP:
            times.append(time.perf_counter() - began)
    if place.writer:
        write_text(out, json.dumps({"seconds": statistics.median(times)}))
    dist.destroy_process_group()


if __name__ == "__main__":
    _rank_main(int(sys.argv[1]), int(sys.argv[2]), sys.argv[3], sys.argv[4])
