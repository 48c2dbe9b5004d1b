"""One epoch of the tutorial's MLP at batch 100 on 60,000 28x28 images, three ways.

(a) the tutorial's path: a Dataset returning PIL images, the per-sample ``transform_mnist``,
    ``DataLoader(shuffle=True)``, the hand-written ``sgd_update``;
(b) sgdlab's path: ``sgdlab.mnist.run.run`` (data transformed once and resident on the device, a seeded
    ``randperm`` per epoch, index batches, ``optim.SGD``); its epoch seconds exclude evaluation;
(c) the matmul floor: the epoch's floating-point operations in the three matmuls per layer
    (forward, weight gradient, input gradient except for the first layer) divided by the peak
    matmul rate measured here, now (best of several square and model-shaped products).

Real MNIST when it is already on disk (``--data-dir``, or sgdlab's download cache with good
checksums; nothing is downloaded), otherwise synthetic images of the same shape. Each path runs
``--repeats`` times; the table gives the median and the best (other processes on a shared
machine only add time), and sgdlab's epoch over the floor both ways, the floor measured in the
same run; the CPU's vector capability (AVX2, AVX-512) is printed beside it.

    python benchmarks/mnist_epoch.py --repeats 5             # table
    python benchmarks/mnist_epoch.py --repeats 5 --no-tutorial --threads 1
    python benchmarks/mnist_epoch.py --json     # {tutorial_s, sgdlab_s, floor_s, speedup, over_floor, ...}
    python benchmarks/mnist_epoch.py --device cuda
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from sgdlab.mnist import datasets, download  # noqa: E402
from sgdlab.mnist import run as mnist_run  # noqa: E402
from sgdlab.mnist.config import MnistConfig, resolve_device  # noqa: E402

N, SIDE, HIDDEN, CLASSES, LR = 60_000, 28, [200], 10, 1e-2


def load_images(data_dir: str | None):
    """Real MNIST when present on disk (never downloaded here), else synthetic of its shape."""
    if data_dir:
        return datasets.load("mnist", data_dir), "MNIST from " + data_dir
    folder = datasets.cache_dir() / "mnist"
    if all((folder / f).exists() and download.md5_of(folder / f) == download.CHECKSUMS["mnist"][f]
           for f in download.FILES):
        return datasets.load("mnist"), f"MNIST (cache {folder})"
    g = torch.Generator().manual_seed(0)
    x = torch.randint(0, 256, (N, SIDE, SIDE), generator=g, dtype=torch.uint8)
    y = torch.randint(0, CLASSES, (N,), generator=g)
    data = datasets.ImageSet("synthetic", "synthetic uint8 images", x, y, x[:1000], y[:1000],
                             datasets.CLASSES["mnist"])
    return data, "synthetic (no MNIST on disk), 60,000 x 28 x 28"


def sync(device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


def tutorial_epoch(images: np.ndarray, labels: np.ndarray, batch_size: int, device) -> float:
    """Section 4 as written (plus ``.to(device)`` for a GPU run); returns the epoch's seconds."""
    from PIL import Image
    from torch import nn
    from torch.utils.data import DataLoader, Dataset

    def transform_mnist(x):
        x = np.array(x, dtype="float32") / 255
        x = (x - 0.5) / 0.5
        x = x.reshape((-1,))
        return torch.from_numpy(x)

    class MNISTLike(Dataset):  # what torchvision's MNIST does: a PIL image per item
        def __len__(self):
            return len(labels)

        def __getitem__(self, i):
            return transform_mnist(Image.fromarray(images[i], mode="L")), int(labels[i])

    def sgd_update(parameters, lr):
        for param in parameters:
            param.data = param.data - lr * param.grad.data

    net = nn.Sequential(nn.Linear(784, 200), nn.ReLU(), nn.Linear(200, 10)).to(device)
    criterion = nn.CrossEntropyLoss()
    train_data = DataLoader(MNISTLike(), batch_size=batch_size, shuffle=True)
    sync(device)
    start = time.perf_counter()
    train_loss = 0.0
    for im, label in train_data:
        im, label = im.to(device), label.to(device)
        out = net(im)
        loss = criterion(out, label)
        net.zero_grad()
        loss.backward()
        sgd_update(net.parameters(), LR)
        train_loss += loss.item()
    sync(device)
    return time.perf_counter() - start


def sgdlab_epoch(data, batch_size: int, device, **speed) -> tuple[float, float]:
    """(epoch seconds, whole call seconds including the one-time transform and evaluation);
    ``speed``: MnistConfig's compile, sync_every, cuda_graph (when this sgdlab has them)."""
    config = MnistConfig(batch_size=batch_size, device=str(device), plots=False, limit_test=1000, **speed)
    start = time.perf_counter()
    result = mnist_run.run(config, record=False, data=data)
    return result["epochs"][0]["seconds"], time.perf_counter() - start


def epoch_flops(n: int, batch_size: int) -> float:
    widths = [SIDE * SIDE, *HIDDEN, CLASSES]
    per_sample = 0
    for i, (a, b) in enumerate(zip(widths, widths[1:])):
        per_sample += 2 * a * b * (3 if i > 0 else 2)  # forward, dW, and dX except layer 1
    return float(n * per_sample)


def peak_matmul_rate(device, batch_size: int) -> float:
    """Best FLOP/s over square products and the model's own (batch x 784 x 200) shapes."""
    shapes = [(1024, 1024, 1024), (2048, 2048, 2048), (batch_size, 784, 200), (784, batch_size, 200)]
    if device.type == "cuda":
        shapes += [(4096, 4096, 4096), (8192, 8192, 8192)]
    best = 0.0
    for m, k, n in shapes:
        a = torch.randn(m, k, device=device)
        b = torch.randn(k, n, device=device)
        reps = max(3, int(2e9 / (2 * m * k * n)))  # about 2 GFLOP per timing
        for _ in range(3):
            a @ b
            sync(device)
            start = time.perf_counter()
            for _ in range(reps):
                a @ b
            sync(device)
            best = max(best, 2 * m * k * n * reps / (time.perf_counter() - start))
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--device", default="cpu", help="cpu, cuda, or auto")
    parser.add_argument("--data-dir", default=None, help="folder with the MNIST IDX files")
    parser.add_argument("--batch-size", type=int, default=100)
    parser.add_argument("--repeats", type=int, default=5, help="runs of each path (median and best)")
    parser.add_argument("--no-tutorial", action="store_true", help="skip the tutorial's path (a)")
    parser.add_argument("--compile", action="store_true", help="sgdlab's path with --compile (torch.compile)")
    parser.add_argument("--sync-every", type=int, default=None, help="sgdlab's --sync-every (default: its own)")
    parser.add_argument("--no-cuda-graph", action="store_true", help="sgdlab's --no-cuda-graph")
    parser.add_argument("--threads", type=int, default=None,
                        help="torch intra-op threads for both paths (default: torch's choice)")
    parser.add_argument("--json", action="store_true", help="print one JSON document")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    # torch.optim.Optimizer's constructor imports torch._dynamo once per process (seconds here);
    # import it now so that neither path pays for it
    importlib.import_module("torch._dynamo")  # a plain `import torch._dynamo` here would make
    # `torch` a local name of main() and break the line above
    load_before = os.getloadavg()[0]
    device = resolve_device(args.device)
    data, source = load_images(args.data_dir)
    data.x_train, data.y_train = data.x_train[:N], data.y_train[:N]
    n = int(data.x_train.shape[0])
    images, labels = data.x_train.numpy(), data.y_train.numpy()
    print(f"data: {source}; device: {device}; torch {torch.__version__}, "
          f"{torch.get_num_threads()} threads", file=sys.stderr)

    speed = {k: v for k, v in (("compile", args.compile), ("sync_every", args.sync_every),
                               ("cuda_graph", not args.no_cuda_graph)) if v is not None}
    sgdlab_s, total_s, tutorial_s = [], [], []
    for r in range(args.repeats):
        epoch, total = sgdlab_epoch(data, args.batch_size, device, **speed)
        sgdlab_s.append(epoch)
        total_s.append(total)
        if not args.no_tutorial:
            tutorial_s.append(tutorial_epoch(images, labels, args.batch_size, device))
        print(f"repeat {r + 1}: tutorial {tutorial_s[-1] if tutorial_s else float('nan'):.3f} s, "
              f"sgdlab {epoch:.3f} s", file=sys.stderr)
    flops = epoch_flops(n, args.batch_size)
    peak = peak_matmul_rate(device, args.batch_size)
    tutorial = min(tutorial_s) if tutorial_s else float("nan")
    median = statistics.median(sgdlab_s)
    doc = {
        "tutorial_s": tutorial, "sgdlab_s": min(sgdlab_s), "sgdlab_median_s": median, "floor_s": flops / peak,
        "speedup": tutorial / min(sgdlab_s), "over_floor": min(sgdlab_s) / (flops / peak),
        "over_floor_median": median / (flops / peak), "speed_options": speed,
        "cpu_capability": torch.backends.cpu.get_cpu_capability(),
        "sgdlab_total_s": min(total_s), "epoch_gflop": flops / 1e9, "peak_gflops": peak / 1e9,
        "images": n, "batch_size": args.batch_size, "device": str(device), "data": source,
        "device_name": torch.cuda.get_device_name(device) if device.type == "cuda" else None,
        "threads": torch.get_num_threads(), "torch": torch.__version__,
        "all_tutorial_s": tutorial_s, "all_sgdlab_s": sgdlab_s,
        "load_average": [load_before, os.getloadavg()[0]],  # other work on the machine, 1-min
    }
    if args.json:
        print(json.dumps(doc, indent=2))
        return
    print(f"one epoch, {n} images, batch {args.batch_size}, {device}, {doc['threads']} threads "
          f"(1-minute load average {load_before:.1f} before, {doc['load_average'][1]:.1f} after):")
    print(f"  (a) tutorial path (PIL + per-sample transform + DataLoader): {doc['tutorial_s']:8.3f} s")
    print(f"  (b) sgdlab path (tensors on device, index batches):          {doc['sgdlab_s']:8.3f} s"
          f"   ({doc['speedup']:.1f}x faster than (a)); median of {args.repeats}: {median:.3f} s")
    print(f"  (c) matmul floor ({doc['epoch_gflop']:.1f} GFLOP at {doc['peak_gflops']:.1f} GFLOP/s, "
          f"{doc['cpu_capability']}): {doc['floor_s']:8.3f} s")
    print(f"  (b) over (c): {doc['over_floor_median']:.2f}x the floor (median), {doc['over_floor']:.2f}x (best)")
    print(f"  sgdlab's whole call, with the one-time transform and a 1,000-image test: "
          f"{doc['sgdlab_total_s']:.3f} s")


if __name__ == "__main__":
    main()
