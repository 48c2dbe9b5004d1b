"""Does drawing the two-batch estimator's batches WITHOUT replacement bias B_simple, and by how much?

A simulation on the tutorial's MLP (mnist-5k, 4,000 training images, seed 0), at initialisation
and after one epoch at batch 100, lr 0.1 (what `sgdlab noise-scale` measures): the exact B_simple
(per-example norms), then ``--draws`` big batches of 1,000 images, each split into 10 small ones
of 100, drawn with replacement (``torch.randint``) and without (a ``randperm``'s first 1,000),
through McCandlish's two-batch formulas; beside the shift ``theory/noise.py`` predicts without
replacement: tr(Sigma) n / (n - 1) and |G|^2 - tr(Sigma) / (n - 1).

Each batch gradient's squared norm comes from ``theory.per_example.squared_norms`` with a batch as
one "example" of 100 (or 1,000) rows: the Gram form gives |G_B|^2 of many batches in one pass.

    PYTHONPATH=src python3 benchmarks/noise_replacement.py --draws 2000
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from sgdlab import optim  # noqa: E402
from sgdlab.core import loop  # noqa: E402
from sgdlab.mnist import datasets, run as mnist_run  # noqa: E402
from sgdlab.mnist.config import MnistConfig  # noqa: E402
from sgdlab.mnist.model import Classifier, build_model, loss_function  # noqa: E402
from sgdlab.mnist.noise_scale import exact_noise  # noqa: E402
from sgdlab.theory import noise, per_example  # noqa: E402

SMALL, BIG, GROUP = 100, 1000, 20  # batch sizes; big batches per pass


def batch_norms(net, x, y, index: torch.Tensor, size: int) -> torch.Tensor:
    """|G_B|^2 of each row of ``index`` split into batches of ``size`` (float32: a bias of a few
    percent is the question, float32's 1e-6 does not matter)."""
    rows = index.reshape(-1, size)
    criterion = loss_function("cross-entropy", "none")

    def mean_loss(out, labels):  # one "example" = one batch: its mean loss
        return criterion(out.reshape(-1, out.shape[-1]), labels.reshape(-1)).reshape(labels.shape).mean(1)

    out = []
    for part in rows.split(max(1, GROUP * BIG // size)):
        norms, _ = per_example.squared_norms(net, mean_loss, x[part], y[part])
        out.append(norms)
    return torch.cat(out)


def simulate(net, x, y, draws: int, replace: bool, generator) -> dict:
    n = int(x.shape[0])
    if replace:
        index = torch.randint(0, n, (draws, BIG), generator=generator)
    else:
        index = torch.stack([torch.randperm(n, generator=generator)[:BIG] for _ in range(draws)])
    small = batch_norms(net, x, y, index, SMALL).reshape(draws, -1).mean(1)
    big = batch_norms(net, x, y, index, BIG)
    grad_sq, trace = noise.from_norms(SMALL, BIG, float(small.mean()), float(big.mean()))
    # the spread of the estimate over draws: B_simple of each half of the draws
    halves = [noise.from_norms(SMALL, BIG, float(s.mean()), float(b.mean()))
              for s, b in zip(small.chunk(2), big.chunk(2))]
    return {"b_simple": trace / grad_sq, "trace_sigma": trace, "grad_norm_sq": grad_sq,
            "halves": [t / g for g, t in halves]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--draws", type=int, default=2000, help="big batches per scheme and state")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    config = MnistConfig(lr=0.1)
    x, y, _, _ = mnist_run.tensors(config, datasets.load("mnist-5k"), torch.device("cpu"))
    n = int(x.shape[0])
    seeded = torch.Generator().manual_seed(0)  # as `sgdlab noise-scale`: init, then the shuffles
    net = build_model(784, [200], 10, seeded)
    generator = torch.Generator().manual_seed(1)
    doc = {"draws": args.draws, "n": n, "states": {}}
    for state in ("init", "trained"):
        if state == "trained":  # one epoch at batch 100, lr 0.1, as `sgdlab noise-scale` trains
            problem = Classifier(net, x, y)
            sgd = optim.create("sgd", problem.parameters(), lr=0.1)
            loop.run(problem, sgd, batch_size=100, steps=n // 100, generator=seeded)
        exact = exact_noise(net, x, y, "cross-entropy")
        predicted = exact.trace_sigma * n / (n - 1) / (exact.grad_norm_sq - exact.trace_sigma / (n - 1))
        doc["states"][state] = {
            "exact": exact.b_simple, "predicted_without": predicted,
            "with": simulate(net, x, y, args.draws, True, generator),
            "without": simulate(net, x, y, args.draws, False, generator),
        }
    if args.json:
        print(json.dumps(doc, indent=2))
        return
    for state, s in doc["states"].items():
        def show(r):
            return (f"{r['b_simple']:.1f} ({100 * (r['b_simple'] / s['exact'] - 1):+.1f}%; halves "
                    + ", ".join(f"{h:.1f}" for h in r["halves"]) + ")")
        print(f"{state}: exact B_simple {s['exact']:.2f}; two-batch 100/1000 over {args.draws} draws: "
              f"with replacement {show(s['with'])}, without {show(s['without'])}; predicted without: "
              f"{s['predicted_without']:.2f} ({100 * (s['predicted_without'] / s['exact'] - 1):+.1f}%)")


if __name__ == "__main__":
    main()
