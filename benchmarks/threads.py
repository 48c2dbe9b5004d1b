"""Small-op paths with one intra-op thread against torch's default, quiet and under load.

Under load (other processes keeping the cores busy) torch's default intra-op threads wait for
each other at every small op: issue 19 saw the two-batch noise estimate take 17-35 s instead of
0.68 s with one thread, and one Hessian-vector product 0.56 s instead of 0.03 s. This script
times, in one run and side by side:

  lanczos    one sharpness estimate (Lanczos on Hessian-vector products), the tutorial's MLP on
             1,000 mnist-5k images (as `sgdlab mnist` does at initialisation)
  two-batch  the two-batch noise estimate (batches 100 and 1000, 30 draws) on 4,000 images
  tiny-loop  300 steps of the tutorial's linear regression (15 points, per-step tiny tensors)

each with torch.set_num_threads(1) and with the default, first quiet, then beside a bounded
background load: ``--load`` busy-loop processes (default: one per core), started here and
stopped here, never longer than the measurement.

    PYTHONPATH=src python3 benchmarks/threads.py                # quiet and loaded
    PYTHONPATH=src python3 benchmarks/threads.py --repeats 3 --load 4 --json

Timings are the median of ``--repeats``; the ratio default/one > 1 means one thread is faster.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import statistics
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "src"))

from sgdlab.mnist import datasets  # noqa: E402
from sgdlab.mnist.config import MnistConfig  # noqa: E402
from sgdlab.mnist.curvature import batch_gradient, objective  # noqa: E402
from sgdlab.mnist.model import build_model  # noqa: E402
from sgdlab.mnist.run import tensors  # noqa: E402
from sgdlab.theory import curvature, noise  # noqa: E402


def _spin(seconds: float) -> None:
    end = time.monotonic() + seconds
    x = 0
    while time.monotonic() < end:  # bounded: ends by itself even if the parent dies
        x += 1


def paths():
    data = datasets.load("mnist-5k")
    x, y, _, _ = tensors(MnistConfig(limit_train=4000), data, torch.device("cpu"))
    net = build_model(784, [200], 10, torch.Generator().manual_seed(0))
    sub = objective(net, x[:1000], y[:1000], "cross-entropy")
    grad = batch_gradient(net, x, y, "cross-entropy")

    def lanczos():
        curvature.top_eigenvalues(sub, 1)

    def two_batch():
        noise.two_batch(grad, int(x.shape[0]), 100, 1000, 30, torch.Generator().manual_seed(1))

    def tiny_loop():
        from sgdlab import LinRegConfig, train

        train(LinRegConfig(steps=300, plots=False), record=False)

    return {"lanczos": lanczos, "two-batch": two_batch, "tiny-loop": tiny_loop}


def timed(work, threads: int, repeats: int) -> float:
    torch.set_num_threads(threads)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        work()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def measure(works, default: int, repeats: int) -> dict:
    out = {}
    for name, work in works.items():
        work()  # warm: imports, allocator, first-call costs
        one, many = timed(work, 1, repeats), timed(work, default, repeats)
        out[name] = {"one_s": one, "default_s": many, "default_over_one": many / one}
    torch.set_num_threads(default)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--load", type=int, default=os.cpu_count() or 2, help="busy processes beside the loaded run")
    parser.add_argument("--load-seconds", type=float, default=600.0, help="upper bound on the load's life")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    default = torch.get_num_threads()
    works = paths()
    result = {"default_threads": default, "cpus": os.cpu_count(), "load_processes": args.load,
              "loadavg_before": os.getloadavg()[0]}
    result["quiet"] = measure(works, default, args.repeats)
    spinners = [multiprocessing.Process(target=_spin, args=(args.load_seconds,), daemon=True) for _ in range(args.load)]
    for p in spinners:
        p.start()
    try:
        result["loaded"] = measure(works, default, args.repeats)
    finally:
        for p in spinners:
            p.terminate()
        for p in spinners:
            p.join(10)
    result["loadavg_after"] = os.getloadavg()[0]
    if args.json:
        print(json.dumps(result, indent=2))
        return
    print(f"default threads {default}, {result['cpus']} CPUs; 1-min load average {result['loadavg_before']:.1f} "
          f"before, {result['loadavg_after']:.1f} after")
    print(f"{'path':<10} {'':>7} {'1 thread':>10} {'default':>10} {'default/1':>10}")
    for when in ("quiet", "loaded"):
        for name, r in result[when].items():
            print(f"{name:<10} {when:>7} {r['one_s']:>9.3f}s {r['default_s']:>9.3f}s {r['default_over_one']:>10.2f}")


if __name__ == "__main__":
    main()
