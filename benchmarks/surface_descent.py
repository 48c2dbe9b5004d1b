"""The playground's descent, before and after: autograd + torch.optim per step against the
symbolic gradient on Python floats with every optimizer stepped together.

    PYTHONPATH=src python benchmarks/surface_descent.py [--steps 200] [--repeat 5]

For bowl and rosenbrock, 4 optimizers (sgd, heavy-ball 0.9, nesterov 0.9, adam) x ``--steps``
steps from the surface's start at its default lr, it prints per trajectory (milliseconds, best of
``--repeat``):

* before: what `sgdlab surface` did until issue 20, one trajectory after another: autograd for the
  gradient at every step, ``optim.create`` (torch tensors) for the update, autograd Hessians at
  the start (``torch.autograd.functional.hessian``), each optimizer its own ``run``;
* after: ``sgdlab.surface.run.compute`` with the 4 optimizers in one call (what the playground's
  ``POST /api/descent`` runs), theory and verdicts included;
* handler: the server's side of ``POST /api/descent`` (validation, theory, 4 trajectories,
  verdicts, JSON body), the route function called directly;
* request: the same through FastAPI's TestClient (adds the client, the thread hop, parsing);
* and checks that before and after end at the same point (relative 1e-9).
"""

from __future__ import annotations

import argparse
import math
import os
import time

import torch

from sgdlab import optim
from sgdlab.optim.spec import OptimizerSpec
from sgdlab.surface import functions
from sgdlab.surface.config import SurfaceConfig
from sgdlab.surface.run import compute

SPECS = [OptimizerSpec(), OptimizerSpec(momentum=0.9), OptimizerSpec(momentum=0.9, nesterov=True),
         OptimizerSpec(name="adam")]


def before(surface, lr: float, steps: int, spec: OptimizerSpec):
    """The pre-issue-20 loop: autograd gradient and a torch optimizer at every step; theory by
    autograd Hessians (the start and three probes, as ``is_quadratic`` did)."""
    start = torch.tensor(surface.start, dtype=torch.float64)
    for offset in ((0, 0), (1, 0), (0, 1), (-0.7, 1.3)):
        torch.autograd.functional.hessian(surface.at, start + torch.tensor(offset, dtype=torch.float64))
    p = start.clone().requires_grad_(True)
    opt = optim.create(spec.name, [p], lr=lr, **spec.hyperparameters())
    path, values = [], []
    for k in range(steps + 1):
        value = surface.at(p)
        path.append(p.detach().tolist())
        values.append(float(value.detach()))
        if k == steps:
            break
        opt.zero_grad(set_to_none=True)
        (p.grad,) = torch.autograd.grad(value, p)
        opt.step()
    p2 = torch.tensor(path[-1], dtype=torch.float64).requires_grad_(True)
    torch.autograd.grad(surface.at(p2), p2)  # the final |grad f| of the verdict
    return path


def best(fn, repeat: int) -> tuple[float, object]:
    times, out = [], None
    for _ in range(repeat):
        began = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - began)
    return min(times), out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--steps", type=int, default=200)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    torch.set_num_threads(1)
    from fastapi.testclient import TestClient

    from sgdlab.serve import playground
    from sgdlab.serve.app import create_app

    client = TestClient(create_app("/tmp/sgdlab-bench-surface.db"))
    k = len(SPECS)
    print(f"{k} optimizers x {args.steps} steps; ms per trajectory (best of {args.repeat}); "
          "request = whole POST /api/descent")
    print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")
    print(f"{'surface':<11} {'before':>9} {'after':>9} {'speed-up':>9} {'handler ms':>11} {'request ms':>11} "
          f"{'same end':>9}")
    for name in ("bowl", "rosenbrock"):
        surface = functions.get(name)
        lr = surface.lr
        old_time, old_paths = best(lambda: [before(surface, lr, args.steps, s) for s in SPECS], args.repeat)
        config = SurfaceConfig(name=name, steps=args.steps, plots=False)
        config.validate()
        new_time, doc = best(lambda: compute(config, surface, settings=[(lr, s) for s in SPECS]), args.repeat)
        body = {"surface": name, "steps": args.steps, "optimizers": [
            {"name": "sgd"}, {"name": "sgd", "momentum": 0.9}, {"name": "sgd", "momentum": 0.9, "nesterov": True},
            {"name": "adam"}]}
        request_time, response = best(lambda: client.post("/api/descent", json=body), args.repeat)
        model = playground.DescentIn(**body)
        handler_time, _ = best(lambda: playground.descent(model), args.repeat)
        if response.status_code != 200:
            raise SystemExit(response.text)
        same = all(math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-12)
                   for old, r in zip(old_paths, doc["runs"]) for a, b in zip(old[-1], r["path"][-1]))
        print(f"{name:<11} {1e3 * old_time / k:9.3f} {1e3 * new_time / k:9.3f} {old_time / new_time:8.1f}x "
              f"{1e3 * handler_time:11.2f} {1e3 * request_time:11.2f} {str(same):>9}")


if __name__ == "__main__":
    main()
