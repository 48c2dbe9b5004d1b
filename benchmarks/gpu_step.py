"""The GPU step's variants side by side: one epoch of the tutorial's MLP (60,000 images, batch 100)
per variant, their seconds (median of ``--repeats``) and their losses against the eager step's.

    eager      --sync-every 1 --no-cuda-graph  (a host read after every update: the old loop)
    no-sync    --sync-every 50 --no-cuda-graph (losses read every 50 updates)
    graph      the default on CUDA: --sync-every 50, the step replayed as one CUDA graph
    compile    --compile (torch.compile, reduce-overhead), with ``--compile``

The issue's target is 40 ms per epoch on an H200-class card with the same losses as the eager
step to float tolerance. Not measured on a GPU yet (no GPU was lent when it was written); on the
CPU it runs too (``--device cpu``), as a check of the script.

    PYTHONPATH=src python3 benchmarks/gpu_step.py --device cuda --json
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

import torch

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "src"))
sys.path.insert(0, str(HERE))

from mnist_epoch import load_images  # noqa: E402
from sgdlab.mnist import run as mnist_run  # noqa: E402
from sgdlab.mnist.config import MnistConfig, resolve_device  # noqa: E402

VARIANTS = {
    "eager": dict(sync_every=1, cuda_graph=False),
    "no-sync": dict(sync_every=50, cuda_graph=False),
    "graph": dict(sync_every=50, cuda_graph=True),
    "compile": dict(sync_every=50, compile=True),
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--compile", action="store_true", help="also the torch.compile variant (slow to build)")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    device = resolve_device(args.device)
    data, source = load_images(None)
    doc = {"device": str(device), "data": source, "torch": torch.__version__,
           "device_name": torch.cuda.get_device_name(device) if device.type == "cuda" else None, "variants": {}}
    losses = {}
    for name, speed in VARIANTS.items():
        if name == "compile" and not args.compile:
            continue
        seconds = []
        for _ in range(args.repeats):
            began = time.perf_counter()
            result = mnist_run.run(MnistConfig(device=str(device), plots=False, bound=False, limit_test=1000,
                                               **speed), record=False, data=data)
            seconds.append(result["epochs"][0]["seconds"])
            print(f"{name}: epoch {seconds[-1]:.4f} s (call {time.perf_counter() - began:.2f} s)", file=sys.stderr)
        losses[name] = result["step_losses"]
        doc["variants"][name] = {"median_s": statistics.median(seconds), "best_s": min(seconds), "all_s": seconds}
    for name, values in losses.items():
        diff = max(abs(a - b) / max(abs(b), 1e-30) for a, b in zip(values, losses["eager"]))
        doc["variants"][name]["max_relative_loss_difference"] = diff
        doc["variants"][name]["speedup_over_eager"] = doc["variants"]["eager"]["median_s"] / doc["variants"][name]["median_s"]
    if args.json:
        print(json.dumps(doc, indent=2))
        return
    print(f"{doc['device']} {doc['device_name'] or ''}, torch {doc['torch']}, {source}")
    for name, v in doc["variants"].items():
        print(f"  {name:<8} epoch {1000 * v['median_s']:8.1f} ms (median), {v['speedup_over_eager']:.2f}x eager; "
              f"losses within {v['max_relative_loss_difference']:.2g} of eager")


if __name__ == "__main__":
    main()
