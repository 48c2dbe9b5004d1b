"""Where an MLP step's time goes: torch.profiler over sgdlab's training loop, time per op.

The tutorial's MLP (784-200-10, batch 100) on 60,000 images (real MNIST when on disk, else
synthetic of its shape), through ``core.loop.run`` as ``sgdlab mnist`` drives it (the hand-written
forward and backward, ``optim.SGD``). Prints the profiler's table (self CPU time per op) and the
share that is matrix products (``addmm``/``mm``) against everything else; ``--steps`` bounds the
work (the first ``--warmup`` steps are not profiled).

    PYTHONPATH=src python3 benchmarks/mnist_profile.py --steps 300
    PYTHONPATH=src python3 benchmarks/mnist_profile.py --threads 1 --json
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import torch

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "src"))
sys.path.insert(0, str(HERE))

from mnist_epoch import load_images  # noqa: E402
from sgdlab import optim  # noqa: E402
from sgdlab.core import loop  # noqa: E402
from sgdlab.mnist.model import Classifier, build_model, prepare  # noqa: E402

MATMULS = {"aten::addmm", "aten::mm", "aten::bmm", "aten::matmul"}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--warmup", type=int, default=30)
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--rows", type=int, default=20, help="rows of the table")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    from torch.profiler import ProfilerActivity, profile

    data, source = load_images(None)
    x, y = prepare(data.x_train, "cpu"), data.y_train
    generator = torch.Generator().manual_seed(0)
    net = build_model(784, [200], 10, generator)
    problem = Classifier(net, x, y)
    sgd = optim.create("sgd", problem.parameters(), lr=1e-2)
    loop.run(problem, sgd, batch_size=100, steps=args.warmup, generator=generator)
    with profile(activities=[ProfilerActivity.CPU]) as prof:
        loop.run(problem, sgd, batch_size=100, steps=args.steps, generator=generator)
    events = prof.key_averages()
    total = sum(e.self_cpu_time_total for e in events)
    matmul = sum(e.self_cpu_time_total for e in events if e.key in MATMULS)
    rows = sorted(events, key=lambda e: -e.self_cpu_time_total)[: args.rows]
    doc = {"data": source, "steps": args.steps, "threads": torch.get_num_threads(),
           "us_per_step": total / args.steps, "matmul_share": matmul / total,
           "ops": [{"op": e.key, "calls_per_step": e.count / args.steps,
                    "us_per_step": e.self_cpu_time_total / args.steps,
                    "share": e.self_cpu_time_total / total} for e in rows]}
    if args.json:
        print(json.dumps(doc, indent=2))
        return
    print(f"{args.steps} steps, batch 100, 784-200-10, {doc['threads']} threads ({source}): "
          f"{doc['us_per_step']:.0f} us of ops per step, {100 * doc['matmul_share']:.0f}% in matrix products")
    print(f"{'op':<36}{'calls/step':>11}{'us/step':>10}{'share':>8}")
    for r in doc["ops"]:
        print(f"{r['op']:<36}{r['calls_per_step']:>11.2f}{r['us_per_step']:>10.1f}{100 * r['share']:>7.1f}%")


if __name__ == "__main__":
    main()
