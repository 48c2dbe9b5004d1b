"""Batched optimizer vs K separate runs: K linear regressions trained with Adam, one lr each.

    python benchmarks/optim_batched.py [--k 64] [--steps 200] [--device cpu] [--threads 1]

Prints seconds for (a) K separate runs with sgdlab's Adam, (b) K separate runs with
torch.optim.Adam, (c) one batched run (one vectorized loss, optim.batched) and the speed-up of (c)
over (a); checks that (c) and (a) end at the same weights; then the optimizer step alone
(gradients fixed): K separate ``step()`` calls against one batched ``step()``.
"""

from __future__ import annotations

import argparse
import time

import torch

from sgdlab import optim


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--k", type=int, default=64)
    parser.add_argument("--steps", type=int, default=200)
    parser.add_argument("--n", type=int, default=256)
    parser.add_argument("--d", type=int, default=16)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--threads", type=int, default=1, help="CPU threads (1: steady on a shared machine)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    dev, k = torch.device(args.device), args.k
    g = torch.Generator().manual_seed(0)
    x = torch.randn(k, args.n, args.d, generator=g).to(dev)
    y = (x @ torch.randn(args.d, generator=g).to(dev)) + 0.1 * torch.randn(k, args.n, generator=g).to(dev)
    lrs = torch.logspace(-3, -1, k)

    def separate(make):
        finals = []
        start = time.perf_counter()
        for i in range(k):
            w = torch.zeros(args.d, device=dev, requires_grad=True)
            opt = make([w], float(lrs[i]))
            for _ in range(args.steps):
                opt.zero_grad()
                ((x[i] @ w - y[i]) ** 2).mean().backward()
                opt.step()
            finals.append(w.detach())
        if dev.type == "cuda":
            torch.cuda.synchronize()
        return time.perf_counter() - start, torch.stack(finals)

    def batched():
        start = time.perf_counter()
        w = torch.zeros(k, args.d, device=dev, requires_grad=True)
        opt = optim.batched.create("adam", [w], lr=lrs)
        for _ in range(args.steps):
            opt.zero_grad()
            (((x * w.unsqueeze(1)).sum(-1) - y) ** 2).mean(-1).sum().backward()  # K models at once
            opt.step()
        if dev.type == "cuda":
            torch.cuda.synchronize()
        return time.perf_counter() - start, w.detach()

    batched()  # warm up (first optimizer construction imports torch._dynamo)
    t_ours, w_ours = separate(lambda p, lr: optim.create("adam", p, lr=lr))
    t_torch, w_torch = separate(lambda p, lr: torch.optim.Adam(p, lr=lr))
    t_batched, w_batched = batched()
    print(f"K={k} models, {args.steps} steps, n={args.n}, d={args.d}, device {dev}, "
          f"{torch.get_num_threads()} thread(s), torch {torch.__version__}")
    print(f"  {k} separate runs, sgdlab adam:      {t_ours:8.3f} s")
    print(f"  {k} separate runs, torch.optim.Adam: {t_torch:8.3f} s")
    print(f"  one batched run, optim.batched:     {t_batched:8.3f} s   ({t_ours / t_batched:.1f}x faster than separate)")
    diff = (w_batched - w_ours).abs().max().item()
    print(f"  max |w_batched - w_separate| = {diff:.2e} (float32; the two losses round differently)")

    # the optimizer step alone, gradients fixed
    params = [torch.zeros(args.d, device=dev, requires_grad=True) for _ in range(k)]
    for p in params:
        p.grad = torch.randn(args.d, generator=g).to(dev)
    singles = [optim.create("adam", [p], lr=float(lr)) for p, lr in zip(params, lrs)]
    stacked = torch.zeros(k, args.d, device=dev, requires_grad=True)
    stacked.grad = torch.stack([p.grad for p in params])
    together = optim.batched.create("adam", [stacked], lr=lrs)
    start = time.perf_counter()
    for _ in range(args.steps):
        for opt in singles:
            opt.step()
    t_single = time.perf_counter() - start
    start = time.perf_counter()
    for _ in range(args.steps):
        together.step()
    if dev.type == "cuda":
        torch.cuda.synchronize()
    t_together = time.perf_counter() - start
    print(f"  optimizer step only: {k} x step() {t_single / args.steps * 1e3:.2f} ms, one batched step() "
          f"{t_together / args.steps * 1e3:.3f} ms ({t_single / t_together:.0f}x)")


if __name__ == "__main__":
    main()
