"""What data parallelism costs on this machine: the MLP's time per step and the fraction of it
spent communicating for N = 1, 2, 4 processes (DDP and the hand-written all_reduce), and the
all_reduce's bandwidth for a gradient-sized buffer, all measured in one run.

Each N is a real `sgdlab mnist --nproc N` run (gloo on CPU; nccl with --device cuda) at the same
global batch, so the work per step is the same and only its split and the communication change.
On a machine with fewer cores than processes (2 cores here, shared with other jobs) the ranks
share the cores: the time per step cannot fall with N; the communication fraction is what to read.
Every rank (and N = 1) computes with one thread. The communication time is measured from the
moment a rank starts its all_reduce to its end: it includes waiting for the slowest rank, which
on an oversubscribed machine is most of it.

    PYTHONPATH=src python3 benchmarks/data_parallel.py                  # batch 256, 3 epochs
    PYTHONPATH=src python3 benchmarks/data_parallel.py --nproc 1,2 --json
    PYTHONPATH=src python3 benchmarks/data_parallel.py --device cuda    # one GPU per rank
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from sgdlab.core.store import Store  # noqa: E402
from sgdlab.distributed.bench import allreduce_seconds, bus_bandwidth  # noqa: E402
from sgdlab.mnist.config import MnistConfig  # noqa: E402
from sgdlab.mnist.run import run  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nproc", default="1,2,4")
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--train", type=int, default=2048, help="training images (mnist-5k)")
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    import torch

    torch.set_num_threads(1)  # as each worker runs (OMP_NUM_THREADS=1): N=1 is compared fairly
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for n in (int(v) for v in args.nproc.split(",")):
            for allreduce in (["ddp"] if n == 1 else ["ddp", "manual"]):
                config = MnistConfig(limit_train=args.train, limit_test=256, batch_size=args.batch_size,
                                     epochs=args.epochs, nproc=n, allreduce=allreduce, plots=False,
                                     bound=False, device=args.device)
                doc = run(config, store=Store(Path(tmp) / "runs.db"), record=False)
                rows.append({"nproc": n, "allreduce": allreduce if n > 1 else "-",
                             "ms_per_step": 1e3 * doc["seconds"] / doc["steps"],
                             "comm_fraction": doc.get("comm_fraction") or 0.0,
                             "comm_ms_per_step": 1e3 * (doc.get("comm_seconds_per_step") or 0.0)})
        numel = MnistConfig().parameter_count()
        bandwidth = []
        for n in sorted({r["nproc"] for r in rows if r["nproc"] > 1}):
            seconds = allreduce_seconds(n, numel, device=args.device)
            bandwidth.append({"nproc": n, "bytes": 4 * numel, "ms": 1e3 * seconds,
                              "bus_gb_per_s": bus_bandwidth(numel, n, seconds) / 1e9})
    base = rows[0]["ms_per_step"]
    if args.json:
        print(json.dumps({"steps": rows, "allreduce": bandwidth}))
        return
    print(f"MLP 784-200-10, global batch {args.batch_size}, {args.train} images x {args.epochs} "
          f"epochs, {args.device} (the machine is shared: compare the rows, not with other runs)")
    print(f"{'N':>3} {'allreduce':>9} {'ms/step':>8} {'x N=1':>6} {'comm ms':>8} {'comm %':>7}")
    for r in rows:
        print(f"{r['nproc']:>3} {r['allreduce']:>9} {r['ms_per_step']:>8.2f} {r['ms_per_step'] / base:>6.2f} "
              f"{r['comm_ms_per_step']:>8.2f} {100 * r['comm_fraction']:>6.1f}%")
    for b in bandwidth:
        print(f"all_reduce of {b['bytes'] / 1e6:.2f} MB on {b['nproc']} processes: {b['ms']:.2f} ms, "
              f"bus bandwidth {b['bus_gb_per_s']:.2f} GB/s")


if __name__ == "__main__":
    main()
