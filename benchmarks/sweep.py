"""The same sweep grid, serial against the other executors (Ray included), in one run.

    python benchmarks/sweep.py --problem linreg          # 64 cells: 8 lrs x 2 batch sizes x sgd,adam x 2 seeds
    python benchmarks/sweep.py --problem mnist           # mnist-5k MLP, 8 cells: 4 lrs x 2 seeds, batch 100, 1 epoch
    python benchmarks/sweep.py --problem mnist64 --device cuda --executors ray   # 64 MLP cells, GPU
    python benchmarks/sweep.py --problem mnist --cluster loopback --cells-per-task 1,2,4,8
    python benchmarks/sweep.py --overhead --crossover --cluster loopback   # Ray's cost per task
    python benchmarks/sweep.py --problem mnist --json    # {problem, cells, serial_s, best_s, executor, speedup, ...}
    python benchmarks/sweep.py --file examples/tanh_mlp.py   # a model file: 16 cells, 4 lrs x 4 seeds,
                                                           # batch 100, 1 epoch (stacked with torch.func)

Each executor runs the whole sweep (``sweep.run_sweep``: every cell trained, recorded and
summarised) against a throwaway store in a temporary folder, so its store writes are timed too;
figures are not drawn. Executors take turns, ``--repeats`` times, and the best time of each counts
(a shared machine only ever adds time). A warm-up sweep first loads torch's kernels and the data
set cache, which no executor should pay for. ``--threads``: torch's CPU threads in this process
(the serial and vectorized executors); the process executor's workers and Ray's use one each.

Ray (when importable; the other executors run without it): ``--cluster local`` (default) starts
one Ray on this machine, ``--cluster loopback`` a real two-node cluster on 127.0.0.2/127.0.0.3
(one CPU each, as the tests do), ``--address`` joins one. Ray is connected once, before the
timings, and its workers are warmed by the warm-up sweep: the "ray start" line reports what a
single ``sgdlab sweep --executor ray`` pays on top (connecting, workers importing torch).
``--overhead``: the cost of one task (a round trip alone, and per task in a stream of them).
``--crossover``: surface cells (one cell per task, nothing stacked) of growing length, serial
against Ray: the cell length from which Ray is 1.5x faster.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
# Ray's workers are other processes: they find sgdlab through PYTHONPATH when it is not installed
os.environ["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT / "src"), os.environ.get("PYTHONPATH")) if p)

MNIST = {"dataset": "mnist-5k", "epochs": 1}
GRIDS = {
    "linreg": {
        "axes": {"optimizer": ["sgd", "adam"], "batch_size": [5, 15],
                 "lr": [0.001, 0.002, 0.004, 0.008, 0.016, 0.032, 0.064, 0.128], "seed": [2019, 2020]},
        "base": {"steps": 100},
        "executors": ["vectorized", "process"],
    },
    "mnist": {
        "axes": {"optimizer": ["sgd"], "batch_size": [100], "lr": [0.01, 0.03, 0.1, 0.3], "seed": [0, 1]},
        "base": MNIST, "executors": ["vectorized", "process"],
    },
    "mnist64": {  # the GPU question: 64 cells (8 lrs x 8 seeds) through Ray against serial
        "axes": {"optimizer": ["sgd"], "batch_size": [100],
                 "lr": [0.005, 0.01, 0.02, 0.03, 0.05, 0.1, 0.2, 0.3], "seed": list(range(8))},
        "base": MNIST, "executors": ["vectorized"],
    },
}
CROSSOVER_STEPS = [30, 100, 300, 1000, 3000]  # surface cells: ~0.35 ms per step on a 2-core CPU


def sweep_seconds(problem: str, axes: dict, base: dict, executor: str, workers: int | None) -> float:
    from sgdlab.core.store import Store
    from sgdlab.sweep import SweepSpec, run_sweep

    spec = SweepSpec(problem, {k: list(v) for k, v in axes.items()}, base=dict(base),
                     executor=executor, workers=workers)
    with tempfile.TemporaryDirectory() as folder:
        start = time.perf_counter()
        doc = run_sweep(spec, store=Store(Path(folder) / "runs.db"))
        seconds = time.perf_counter() - start
    if doc["executor"] != executor or doc["cells_finished"] != spec.size():
        raise SystemExit(f"{executor}: ran as {doc['executor']}, {doc['cells_finished']} cells")
    return seconds


def start_ray(args):
    """Connect to Ray once (local, a loopback two-node cluster, or --address); None without Ray."""
    import importlib.util

    if importlib.util.find_spec("ray") is None:  # not imported here: a local Ray reads env first
        print("ray is not installed: its rows are left out (pip install 'sgdlab[ray]')", file=sys.stderr)
        return None, None
    from sgdlab.sweep import ray_executor

    cluster = None
    address = args.address
    if args.cluster == "loopback" and address is None:
        sys.path.insert(0, str(ROOT / "tests"))
        from ray_cluster import ENV, LoopbackCluster  # the tests' cluster, on 127.0.0.0/8 only

        os.environ.update(ENV)
        cluster = LoopbackCluster(["127.0.0.2", "127.0.0.3"]).start()
        address = cluster.address
    began = time.perf_counter()
    ray_executor.connect(address, None)
    return cluster, time.perf_counter() - began


def task_overhead(n: int = 200) -> dict:
    """Seconds per empty task: one at a time (a round trip), and streamed (n submitted at once)."""
    import ray

    @ray.remote(num_cpus=1)
    def nothing(x):
        return x

    ray.get([nothing.remote(i) for i in range(20)])  # every worker started
    best_round_trip = best_stream = float("inf")
    for _ in range(3):
        began = time.perf_counter()
        for i in range(50):
            ray.get(nothing.remote(i))
        best_round_trip = min(best_round_trip, (time.perf_counter() - began) / 50)
        began = time.perf_counter()
        ray.get([nothing.remote(i) for i in range(n)])
        best_stream = min(best_stream, (time.perf_counter() - began) / n)
    return {"round_trip_s": best_round_trip, "streamed_s": best_stream}


def crossover(workers: int | None, repeats: int) -> list[dict]:
    """Serial against Ray on 8 surface cells of growing length (one cell per task)."""
    axes = {"lr": [0.001 * (i + 1) for i in range(8)], "seed": [0]}
    rows = []
    for steps in CROSSOVER_STEPS:
        base = {"surface": "bowl", "steps": steps}
        times = {"serial": [], "ray": []}
        for _ in range(repeats):  # taking turns, so that a change of load hits both
            for executor in times:
                times[executor].append(sweep_seconds("surface", axes, base, executor, workers))
        serial, on_ray = min(times["serial"]), min(times["ray"])
        rows.append({"steps": steps, "cell_s": serial / 8, "serial_s": serial, "ray_s": on_ray,
                     "speedup": serial / on_ray})
        print(f"crossover: {steps} steps, cell {serial / 8:.3f} s: serial {serial:.2f} s, "
              f"ray {on_ray:.2f} s ({serial / on_ray:.2f}x)", file=sys.stderr)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--problem", choices=sorted(GRIDS), default="linreg")
    parser.add_argument("--repeats", type=int, default=3, help="runs per executor; the best counts")
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads here (default: torch's)")
    parser.add_argument("--workers", type=int, default=None, help="process executor workers (default: CPU count)")
    parser.add_argument("--executors", default=None, help="comma list to compare with serial")
    parser.add_argument("--device", default="cpu", help="mnist grids: cpu or cuda (Ray: one GPU per task)")
    parser.add_argument("--cluster", choices=["local", "loopback"], default="local", help="where Ray runs")
    parser.add_argument("--address", default=None, help="join this Ray cluster instead")
    parser.add_argument("--cells-per-task", default=None, help="ray: comma list of slice sizes to compare")
    parser.add_argument("--overhead", action="store_true", help="measure Ray's cost per task")
    parser.add_argument("--crossover", action="store_true", help="surface cells of growing length, serial vs ray")
    parser.add_argument("--json", action="store_true", help="print one JSON document")
    parser.add_argument("--file", default=None, help="a model file (.py): its 16-cell grid instead of --problem")
    args = parser.parse_args()
    if args.file:  # a user's model: the problem a .py path resolves to
        args.problem = "modelfile"
        GRIDS["modelfile"] = {
            "axes": {"optimizer": ["sgd"], "batch_size": [100], "lr": [0.01, 0.02, 0.03, 0.05],
                     "seed": [0, 1, 2, 3]},
            "base": {"file": str(Path(args.file).resolve()), "epochs": 1},
            "executors": ["vectorized"], "problem": "modelfile",
        }

    import torch

    if args.threads:
        torch.set_num_threads(args.threads)
    os.environ.setdefault("MPLBACKEND", "Agg")
    grid = GRIDS[args.problem]
    base = dict(grid["base"]) | ({"device": args.device} if {"dataset", "file"} & set(grid["base"]) else {})
    cluster, ray_start = start_ray(args)
    try:
        executors = ["serial"] + (args.executors.split(",") if args.executors else
                                  grid["executors"] + (["ray"] if ray_start is not None else []))
        executors = [e for e in executors if e != "ray" or ray_start is not None]
        document = compare(args, grid, base, executors, ray_start)
        if ray_start is not None and args.overhead:
            document["task_overhead"] = task_overhead()
        if ray_start is not None and args.crossover:
            document["crossover"] = crossover(args.workers, args.repeats)
    finally:
        if ray_start is not None:
            import ray

            ray.shutdown()
        if cluster is not None:
            cluster.stop()
    document.update({"repeats": args.repeats, "threads": torch.get_num_threads(), "cpus": os.cpu_count(),
                     "torch": torch.__version__, "device": args.device, "file": args.file, "ray_cluster": None if ray_start is None else args.address or args.cluster})
    if args.json:
        print(json.dumps(document, indent=2))
    else:
        report(document)


def compare(args, grid: dict, base: dict, executors: list[str], ray_start: float | None) -> dict:
    from sgdlab.sweep import ray_executor

    axes = grid["axes"]
    problem = grid.get("problem") or ("mnist" if args.problem.startswith("mnist") else args.problem)
    cells = 1
    for values in axes.values():
        cells *= len(values)
    sizes = [int(v) for v in args.cells_per_task.split(",")] if args.cells_per_task else [None]
    runs = [(e, None) for e in executors if e != "ray"] + [("ray", s) for s in sizes if "ray" in executors]
    name = {(e, s): e if s is None else f"ray/{s}" for e, s in runs}

    def timed(executor, size):
        ray_executor.CELLS_PER_TASK = size
        return sweep_seconds(problem, axes, base, executor, args.workers)

    cold = timed("ray", None) if "ray" in executors else None  # warms the workers too
    timed("serial", None)  # warm-up: kernels, data cache
    times: dict[str, list[float]] = {name[r]: [] for r in runs}
    for _ in range(args.repeats):
        for executor, size in runs:
            times[name[executor, size]].append(timed(executor, size))
            print(f"{name[executor, size]}: {times[name[executor, size]][-1]:.3f} s", file=sys.stderr)
    best = {e: min(t) for e, t in times.items()}
    winner = min((e for e in best if e != "serial"), key=best.get, default="serial")
    return {"problem": args.problem, "cells": cells, "serial_s": best["serial"], "best_s": best[winner],
            "executor": winner, "speedup": best["serial"] / best[winner], "seconds": best,
            "ray_start_s": None if cold is None else
            ray_start + cold - min(t for e, t in best.items() if e.startswith("ray"))}


def report(doc: dict) -> None:
    print(f"{doc.get('file') or doc['problem']}: {doc['cells']} cells on {doc['device']}, best of {doc['repeats']}, "
          f"{doc['threads']} torch thread(s), {doc['cpus']} CPUs, Ray: {doc['ray_cluster']}")
    print(f"{'executor':<12} {'seconds':>9} {'vs serial':>10}")
    for executor, seconds in doc["seconds"].items():
        print(f"{executor:<12} {seconds:>9.3f} {doc['serial_s'] / seconds:>9.2f}x")
    print(f"best: {doc['executor']}, {doc['speedup']:.2f}x faster than serial")
    if doc.get("ray_start_s") is not None:
        print(f"ray start (connect + workers importing torch, paid once per sweep command): "
              f"{doc['ray_start_s']:.2f} s")
    if "task_overhead" in doc:
        o = doc["task_overhead"]
        print(f"ray task overhead: {1e3 * o['round_trip_s']:.2f} ms per task alone (round trip), "
              f"{1e3 * o['streamed_s']:.2f} ms per task streamed")
    if "crossover" in doc:
        print(f"{'cell steps':>10} {'cell s':>8} {'serial s':>9} {'ray s':>7} {'ray vs serial':>14}")
        for r in doc["crossover"]:
            print(f"{r['steps']:>10} {r['cell_s']:>8.3f} {r['serial_s']:>9.2f} {r['ray_s']:>7.2f} "
                  f"{r['speedup']:>13.2f}x")
        reached = next((r for r in doc["crossover"] if r["speedup"] >= 1.5), None)
        print("ray reaches 1.5x serial at cells of " +
              (f"{reached['cell_s']:.3f} s ({reached['steps']} steps)" if reached else "none measured"))


if __name__ == "__main__":
    main()
