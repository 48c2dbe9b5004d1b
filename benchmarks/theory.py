"""What the theory costs, side by side, in one run.

(1) One sharpness estimate (Lanczos on Hessian-vector products) in units of one full-batch
    gradient on the same images: cold (a random start) and warm (started from the previous top
    eigenvector, as along training), for the tutorial's MLP on the 1,000-image subset that
    `sgdlab mnist` uses and for the edge-of-stability MLP on all 4,000 training images.
(2) The gradient noise scale: exact from per-example norms (activations x output gradients),
    exact the previous way (every per-example gradient, vmap, float32) and the two-batch
    estimator (100 and 1000, 30 draws): their seconds and how far apart their B_simple are.
(3) Wall time of the default `sgdlab sharpness` and `sgdlab noise-scale` (in-process, throwaway
    store, no figures); ``--study`` adds `sgdlab noise-scale --batch-sizes 10,30,100,300,1000,4000`.
(4) ``--full-mnist``: the edge-of-stability study on 60,000 images of MNIST's shape: the real
    files when on disk (``--data-dir`` or sgdlab's cache), else SYNTHETIC random images (labelled
    so in the output); meant for a GPU.

    PYTHONPATH=src python3 benchmarks/theory.py                 # (1)-(3) on the CPU
    PYTHONPATH=src python3 benchmarks/theory.py --device cuda --full-mnist --study --json
    PYTHONPATH=src python3 benchmarks/theory.py --parts cost,noise --repeats 5

Timings are the best of ``--repeats`` (a shared machine only ever adds time); the 1-minute load
average before and after is printed, since other work on the machine slows everything here.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

import torch

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "src"))
sys.path.insert(0, str(HERE))

from mnist_epoch import load_images, sync  # noqa: E402  (the real-or-synthetic 60k loader)
from sgdlab.core.store import Store  # noqa: E402
from sgdlab.mnist import datasets  # noqa: E402
from sgdlab.mnist import run as mnist_run  # noqa: E402
from sgdlab.mnist.config import MnistConfig, resolve_device  # noqa: E402
from sgdlab.mnist.curvature import objective, subset  # noqa: E402
from sgdlab.mnist.model import Classifier, build_model  # noqa: E402
from sgdlab.theory import curvature  # noqa: E402

TUTORIAL = dict()
EOS = dict(hidden=[200, 200], activation="tanh", loss="mse", normalize="standardize")


def best_of(repeats: int, work, device) -> float:
    times = []
    for _ in range(repeats):
        sync(device)
        start = time.perf_counter()
        work()
        sync(device)
        times.append(time.perf_counter() - start)
    return min(times)


def estimate_cost(name: str, settings: dict, images: int | None, data, device, repeats: int) -> dict:
    """Seconds of one full-batch gradient and of one Lanczos estimate (cold, warm) on the same images."""
    config = MnistConfig(**settings, device=str(device))
    x, y, _, _ = mnist_run.tensors(config, data, device)
    x, y = subset(x, y, images)

    def fresh():  # the network at initialisation, its full-batch gradient step, its objective
        net = build_model(784, config.hidden, 10, torch.Generator().manual_seed(0), config.activation).to(device)
        problem = Classifier(net, x, y, config.loss)
        step = getattr(problem, "loss_and_grad", None) or (lambda _: problem.loss(None).backward())
        return net, step, objective(net, x, y, config.loss)

    net, step, goal = fresh()
    probe = torch.randn(goal.dim, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    gradient, product = [], []
    for _ in range(max(repeats, 3) * 3):  # interleaved, so that load spikes hit both alike
        gradient.append(best_of(1, lambda: step(None), device))
        product.append(best_of(1, lambda: curvature.hvp(goal, probe), device))
    gradient_s, hvp_s = min(gradient), min(product)
    cold, warm, products, sharpness = [], [], {}, float("nan")
    for _ in range(repeats):
        net, step, goal = fresh()
        sync(device)
        start = time.perf_counter()
        first = curvature.top_eigenvalues(goal, 1)
        sync(device)
        cold.append(time.perf_counter() - start)
        with torch.no_grad():  # a few gradient steps on, as between two measurements in training
            for _ in range(5):
                step(None)
                for p in net.parameters():
                    p -= 0.05 * p.grad
        start = time.perf_counter()
        second = curvature.top_eigenvalues(goal, 1, v0=first.vectors[:, 0])
        sync(device)
        warm.append(time.perf_counter() - start)
        products = {"cold": first.matvecs, "warm": second.matvecs}
        sharpness = first.values[0]
    return {"name": name, "images": int(x.shape[0]), "parameters": goal.dim, "gradient_s": gradient_s,
            "hvp_s": hvp_s, "hvp_in_gradients": hvp_s / gradient_s,
            "cold_s": min(cold), "warm_s": min(warm), "products": products,
            "cold_in_gradients": min(cold) / gradient_s, "warm_in_gradients": min(warm) / gradient_s,
            # the same from the counts, robust to load spikes that lengthen the long timings
            "cold_in_gradients_by_products": products["cold"] * hvp_s / gradient_s,
            "warm_in_gradients_by_products": products["warm"] * hvp_s / gradient_s,
            "sharpness": sharpness}


def noise_cost(data, device, repeats: int) -> dict:
    """The exact noise scale before (vmap over 256-image chunks, float32: the previous code) and
    now (per-example norms from activations, float64), and the two-batch estimator, interleaved."""
    from sgdlab.mnist.curvature import per_example_loss
    from sgdlab.mnist.noise_scale import EXACT_CHUNK, exact_noise, measure
    from sgdlab.theory import noise

    config = MnistConfig(device=str(device))
    x, y, _, _ = mnist_run.tensors(config, data, device)
    net = build_model(784, [200], 10, torch.Generator().manual_seed(0)).to(device)
    chunks = [(x[i : i + EXACT_CHUNK], y[i : i + EXACT_CHUNK]) for i in range(0, int(x.shape[0]), EXACT_CHUNK)]
    results, vmap, vmap_s, norms_s = [], [], [], []

    def before():
        vmap.append(noise.exact(per_example_loss(net, "cross-entropy"), list(net.parameters()), chunks))

    for r in range(repeats):
        results.append(measure(net, x, y, "cross-entropy", small=100, big=1000, draws=30,
                               generator=torch.Generator().manual_seed(r)))
        vmap_s.append(best_of(1, before, device))
        norms_s.append(best_of(1, lambda: exact_noise(net, x, y, "cross-entropy"), device))
    exact_s = min(norms_s)
    two_s = min(m["seconds"]["two_batch"] for m in results)
    errors = [m["b_simple_two_batch"] / m["b_simple_exact"] - 1 for m in results]
    return {"images": int(x.shape[0]), "exact_s": exact_s, "exact_vmap_s": min(vmap_s), "two_batch_s": two_s,
            "norms_speedup": min(vmap_s) / exact_s, "exact_over_two_batch": exact_s / two_s,
            "b_simple_exact": results[0]["b_simple_exact"], "b_simple_vmap": vmap[0].b_simple,
            "two_batch_relative_errors": errors}


def command_times(data, device, study: bool) -> dict:
    from sgdlab.mnist import noise_scale, sharpness

    out = {}
    with tempfile.TemporaryDirectory() as folder:
        store = Store(Path(folder) / "runs.db")
        start = time.perf_counter()
        doc = sharpness.run_study(MnistConfig(**sharpness.STUDY_DEFAULTS, device=str(device), plots=False),
                                  sharpness.DEFAULT_LRS, store=store, data=data)
        out["sharpness_s"] = time.perf_counter() - start
        out["sharpness_runs"] = [{k: r[k] for k in ("lr", "hit_step", "ratio_median", "seconds", "cost")}
                                 for r in doc["runs"]]
        start = time.perf_counter()
        doc = noise_scale.run(MnistConfig(lr=noise_scale.DEFAULT_LR, device=str(device), plots=False),
                              store=store, data=data)
        out["noise_scale_s"] = time.perf_counter() - start
        out["noise_scale"] = {k: doc[k]["b_simple_exact"] for k in ("init", "trained")}
        if study:
            start = time.perf_counter()
            doc = noise_scale.run(MnistConfig(lr=noise_scale.DEFAULT_LR, device=str(device), plots=False),
                                  batch_sizes=[10, 30, 100, 300, 1000, 4000], store=store, data=data)
            out["noise_scale_study_s"] = time.perf_counter() - start
            out["noise_scale_study"] = {"study": doc["study"], "fit": doc["fit"]}
    return out


def full_mnist(device, data_dir: str | None, steps: int, every: int) -> dict:
    from sgdlab.mnist import sharpness

    data, source = load_images(data_dir)
    with tempfile.TemporaryDirectory() as folder:
        start = time.perf_counter()
        doc = sharpness.run_study(MnistConfig(**sharpness.STUDY_DEFAULTS, device=str(device), plots=False),
                                  sharpness.DEFAULT_LRS, steps=steps, every=every,
                                  store=Store(Path(folder) / "runs.db"), data=data)
        seconds = time.perf_counter() - start
    return {"data": source, "synthetic": source.startswith("synthetic"), "images": int(data.x_train.shape[0]),
            "seconds": seconds, "steps": steps, "every": every,
            "runs": [{k: r[k] for k in ("lr", "hit_step", "ratio_median", "verdict", "seconds", "cost")}
                     for r in doc["runs"]]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--device", default="cpu", help="cpu, cuda, or auto")
    parser.add_argument("--parts", default="cost,noise,commands", help="comma list of cost, noise, commands")
    parser.add_argument("--repeats", type=int, default=3, help="timings per measurement; the best counts")
    parser.add_argument("--study", action="store_true", help="also time the noise-scale batch-size study")
    parser.add_argument("--full-mnist", action="store_true", help="the edge-of-stability study on 60,000 images")
    parser.add_argument("--data-dir", default=None, help="folder with the MNIST IDX files (--full-mnist)")
    parser.add_argument("--steps", type=int, default=300, help="--full-mnist: steps per learning rate")
    parser.add_argument("--every", type=int, default=20, help="--full-mnist: sharpness every K steps")
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's)")
    parser.add_argument("--json", action="store_true", help="print one JSON document")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    device = resolve_device(args.device)
    parts = set(args.parts.split(","))
    load_before = os.getloadavg()[0]
    data = datasets.load("mnist-5k")
    doc: dict = {"device": str(device), "torch": torch.__version__, "threads": torch.get_num_threads(),
                 "device_name": torch.cuda.get_device_name(device) if device.type == "cuda" else None}
    if "cost" in parts:
        doc["sharpness_cost"] = [
            estimate_cost("tutorial MLP 784-200-10, first 1,000 images (sgdlab mnist)", TUTORIAL, 1000, data, device, args.repeats),
            estimate_cost("edge-of-stability MLP 784-200-200-10 tanh mse, 4,000 images", EOS, None, data, device, args.repeats),
        ]
    if "noise" in parts:
        doc["noise_scale_cost"] = noise_cost(data, device, args.repeats)
    if "commands" in parts:
        doc["commands"] = command_times(data, device, args.study)
    if args.full_mnist:
        doc["full_mnist_edge_of_stability"] = full_mnist(device, args.data_dir, args.steps, args.every)
    doc["load_average"] = [load_before, os.getloadavg()[0]]
    if args.json:
        print(json.dumps(doc, indent=2))
        return
    report(doc)


def report(doc: dict) -> None:
    print(f"device {doc['device']} {doc['device_name'] or ''}, torch {doc['torch']}, {doc['threads']} threads; "
          f"1-minute load average {doc['load_average'][0]:.1f} before, {doc['load_average'][1]:.1f} after")
    for c in doc.get("sharpness_cost", []):
        print(f"sharpness, {c['name']} ({c['parameters']:,} parameters): lambda_max {c['sharpness']:.4g}\n"
              f"  one full-batch gradient {1000 * c['gradient_s']:.1f} ms, one HVP {1000 * c['hvp_s']:.1f} ms "
              f"= {c['hvp_in_gradients']:.2f} gradients\n"
              f"  one estimate, cold: {c['products']['cold']} HVPs = {c['cold_in_gradients_by_products']:.0f} "
              f"gradients (timed {c['cold_s']:.2f} s = {c['cold_in_gradients']:.0f}); warm-started: "
              f"{c['products']['warm']} HVPs = {c['warm_in_gradients_by_products']:.0f} gradients "
              f"(timed {c['warm_s']:.2f} s = {c['warm_in_gradients']:.0f})")
    if "noise_scale_cost" in doc:
        n = doc["noise_scale_cost"]
        errors = ", ".join(f"{100 * e:+.1f}%" for e in n["two_batch_relative_errors"])
        print(f"noise scale, tutorial MLP at init, {n['images']} images: exact by per-example norms "
              f"{n['exact_s']:.3f} s against vmap (before) {n['exact_vmap_s']:.2f} s: {n['norms_speedup']:.0f}x "
              f"faster (B_simple {n['b_simple_exact']:.4f} vs {n['b_simple_vmap']:.4f}); two-batch (100/1000, "
              f"30 draws) {n['two_batch_s']:.2f} s: exact is {n['exact_over_two_batch']:.2f}x the estimator; "
              f"estimator off by {errors}")
    if "commands" in doc:
        c = doc["commands"]
        print(f"sgdlab sharpness (defaults): {c['sharpness_s']:.0f} s; "
              + "; ".join(f"lr {r['lr']:g}: hit {r['hit_step']}, median ratio {r['ratio_median']}"
                          for r in c["sharpness_runs"]))
        print(f"sgdlab noise-scale (defaults): {c['noise_scale_s']:.1f} s; B_simple {c['noise_scale']}")
        if "noise_scale_study_s" in c:
            print(f"sgdlab noise-scale --batch-sizes 10,30,100,300,1000,4000: {c['noise_scale_study_s']:.0f} s; "
                  f"fit {c['noise_scale_study']['fit']}")
    if "full_mnist_edge_of_stability" in doc:
        f = doc["full_mnist_edge_of_stability"]
        label = "SYNTHETIC images" if f["synthetic"] else "real MNIST"
        print(f"edge of stability on {f['images']:,} {label} ({f['data']}): {f['seconds']:.0f} s")
        for r in f["runs"]:
            print(f"  lr {r['lr']:g}: {r['verdict']}")


if __name__ == "__main__":
    main()
