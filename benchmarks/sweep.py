"""The same sweep grid, serial against the other executors, in one run.

    python benchmarks/sweep.py --problem linreg          # 64 cells: 8 lrs x 2 batch sizes x sgd,adam x 2 seeds
    python benchmarks/sweep.py --problem mnist           # mnist-5k MLP, 8 cells: 4 lrs x 2 seeds, batch 100, 1 epoch
    python benchmarks/sweep.py --problem mnist --json    # {problem, cells, serial_s, best_s, executor, speedup, ...}

Each executor runs the whole sweep (``sweep.run_sweep``: every cell trained, recorded and
summarised) against a throwaway store in a temporary folder, so its store writes are timed too;
figures are not drawn. Executors take turns, ``--repeats`` times, and the best time of each counts
(a shared machine only ever adds time). A warm-up sweep first loads torch's kernels and the data
set cache, which no executor should pay for. ``--threads``: torch's CPU threads in this process
(the serial and vectorized executors); the process executor's workers always use one thread each.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

GRIDS = {
    "linreg": {
        "axes": {"optimizer": ["sgd", "adam"], "batch_size": [5, 15],
                 "lr": [0.001, 0.002, 0.004, 0.008, 0.016, 0.032, 0.064, 0.128], "seed": [2019, 2020]},
        "base": {"steps": 100},
        "executors": ["vectorized", "process"],
    },
    "mnist": {
        "axes": {"optimizer": ["sgd"], "batch_size": [100], "lr": [0.01, 0.03, 0.1, 0.3], "seed": [0, 1]},
        "base": {"dataset": "mnist-5k", "epochs": 1, "device": "cpu"},
        "executors": ["vectorized", "process"],
    },
}


def time_sweep(problem: str, executor: str, workers: int | None) -> float:
    from sgdlab.core.store import Store
    from sgdlab.sweep import SweepSpec, run_sweep

    grid = GRIDS[problem]
    spec = SweepSpec(problem, {k: list(v) for k, v in grid["axes"].items()}, base=dict(grid["base"]),
                     executor=executor, workers=workers)
    with tempfile.TemporaryDirectory() as folder:
        store = Store(Path(folder) / "runs.db")
        start = time.perf_counter()
        doc = run_sweep(spec, store=store)
        seconds = time.perf_counter() - start
        if doc["executor"] != executor or doc["cells_finished"] != spec.size():
            raise SystemExit(f"{executor}: ran as {doc['executor']}, {doc['cells_finished']} cells")
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--problem", choices=sorted(GRIDS), default="linreg")
    parser.add_argument("--repeats", type=int, default=3, help="runs per executor; the best counts")
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads here (default: torch's)")
    parser.add_argument("--workers", type=int, default=None, help="process executor workers (default: CPU count)")
    parser.add_argument("--executors", default=None, help="comma list to compare with serial")
    parser.add_argument("--json", action="store_true", help="print one JSON document")
    args = parser.parse_args()

    import torch

    if args.threads:
        torch.set_num_threads(args.threads)
    os.environ.setdefault("MPLBACKEND", "Agg")
    grid = GRIDS[args.problem]
    executors = ["serial"] + (args.executors.split(",") if args.executors else grid["executors"])
    cells = 1
    for values in grid["axes"].values():
        cells *= len(values)

    time_sweep(args.problem, "serial", args.workers)  # warm-up: kernels, data cache
    times: dict[str, list[float]] = {e: [] for e in executors}
    for _ in range(args.repeats):
        for executor in executors:
            times[executor].append(time_sweep(args.problem, executor, args.workers))
            print(f"{executor}: {times[executor][-1]:.3f} s", file=sys.stderr)
    best = {e: min(t) for e, t in times.items()}
    winner = min((e for e in executors if e != "serial"), key=best.get)
    document = {
        "problem": args.problem, "cells": cells, "serial_s": best["serial"], "best_s": best[winner],
        "executor": winner, "speedup": best["serial"] / best[winner],
        "seconds": best, "repeats": args.repeats, "threads": torch.get_num_threads(),
        "cpus": os.cpu_count(), "torch": torch.__version__,
    }
    if args.json:
        print(json.dumps(document, indent=2))
        return
    print(f"{args.problem}: {cells} cells, best of {args.repeats}, {torch.get_num_threads()} torch "
          f"thread(s), {os.cpu_count()} CPUs")
    print(f"{'executor':<12} {'seconds':>9} {'vs serial':>10}")
    for executor in executors:
        print(f"{executor:<12} {best[executor]:>9.3f} {best['serial'] / best[executor]:>9.2f}x")
    print(f"best: {winner}, {document['speedup']:.2f}x faster than serial")


if __name__ == "__main__":
    main()
