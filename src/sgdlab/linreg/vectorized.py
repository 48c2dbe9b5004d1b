"""The vectorized executor: K cells of one problem trained as one stacked model.

Cells that share the data, batch size, number of updates and update rule become one run with a
leading model dimension K; every per-cell hyperparameter (learning rate, momentum, betas, ...)
is a tensor of K values fed to ``optim.batched``. Each model keeps its own seed: its own initial
weights and its own shuffling, exactly as the serial run draws them, so the results equal the
serial executor's up to floating-point rounding (tests: 1e-10 relative in float64).

Why by hand: torch.func.vmap could stack the forward pass, but linear regression is one batched
matmul; the loop itself (per-model batch orders, the divergence guard) is ``sweep.stacked``. The gradients are the tutorial's own formulas
(section 3.1.3, tested equal to autograd in tests/test_linreg.py) rather than autograd: on tensors
this small, building and walking the graph cost more than the arithmetic.
"""

from __future__ import annotations

from typing import Any

from ..core.store import RunRecord
from ..sweep import stacked
from ..sweep.protocol import stacked_hyperparameters


def group_key(config) -> tuple:
    """Cells with equal keys can share one stacked run."""
    spec = config.optimizer
    return (config.csv, tuple(config.x or ()), config.y, config.standardize, config.dtype,
            config.batch_size, config.steps, config.epochs, spec.name, spec.nesterov,
            tuple(sorted(spec.hyperparameters())))


def compute_linreg_group(configs: list, cells: list[dict[str, Any]], sweep_id: str,
                         table=None) -> list[RunRecord]:
    """Train ``configs`` (equal ``group_key``) as one stacked model; one run record per cell
    (the sweep's driver stores them). ``table``: the data, already loaded."""
    import torch

    from .. import optim
    from . import run as linreg
    from ..core.tabular import initial_parameters

    first = configs[0]
    if first.optimizer.name not in optim.batched.BATCHED:  # torch-* rules: one number per hyperparameter
        return [linreg.to_record(linreg.run(c, record=False, table=table), sweep_id, cell)
                for c, cell in zip(configs, cells)]
    prep = linreg.Prepared(first, table)
    k, n, d = len(configs), prep.n, prep.d
    batch_size, steps = prep.schedule(first)
    full_batch = batch_size >= n

    # each model's own initial weights and generator, drawn exactly as a serial run draws them
    inits = [initial_parameters(c.seed, d, prep.dtype) for c in configs]
    # w and b live in one (K, d + 1) tensor: one optimizer update per step instead of two (the
    # rules are elementwise, so the numbers are the same); w and b are views of it
    theta = torch.stack([torch.cat([i[0], i[1]]) for i in inits])
    w, b = theta[:, :d], theta[:, d:]  # (K, d), (K, 1)
    generators = [i[2] for i in inits]
    optimizer = optim.batched.create(first.optimizer.name, [theta], **stacked_hyperparameters(configs))
    x, y = prep.x, prep.y

    def full_residuals():
        return x @ w.T + b.T - y[:, None]  # (n, K)

    def full_step():
        """Per-model loss and the analytic gradient (section 3.1.3) on all rows."""
        r = full_residuals()
        grad = torch.cat([r.T @ x, r.sum(0)[:, None]], dim=1).mul_(2.0 / n)
        return (r ** 2).mean(0), grad

    def batch_step(index):
        """The same on each model's own rows ``index`` (K, B)."""
        xb = x[index]  # (K, B, d)
        r = torch.bmm(xb, w.unsqueeze(-1)).squeeze(-1) + b - y[index]  # (K, B)
        grad = torch.cat([torch.bmm(r.unsqueeze(1), xb).squeeze(1), r.sum(1, keepdim=True)], dim=1)
        return (r ** 2).mean(1), grad.mul_(2.0 / index.shape[1])

    # the first look, per model: loss and gradients at the initial parameters
    loss0, grad0 = full_step()
    inits_doc = [
        {"w": w[i].tolist(), "b": float(b[i]), "loss": float(loss0[i]),
         "grad_w": grad0[i, :d].tolist(), "grad_b": float(grad0[i, d])}
        for i in range(k)
    ]

    run = stacked.train(theta, optimizer, generators, n=n, batch_size=batch_size, steps=steps,
                        batch=lambda index: full_step() if index is None else batch_step(index),
                        full_loss=lambda: (full_residuals() ** 2).mean(0))
    final = (full_residuals() ** 2).mean(0).tolist()
    records = []
    for i, config in enumerate(configs):
        t = run.parameters(theta, i)
        final_loss = run.full[i][-1] if i in run.frozen else final[i]
        result = linreg.assemble(
            config, prep, init=inits_doc[i], full_losses=run.full[i],
            batch_losses=run.loops[i].step_losses if not full_batch else None, loop=run.loops[i],
            final_w=t[:d].tolist(), final_b=float(t[d]), final_loss=final_loss,
        )
        records.append(linreg.to_record(result, sweep_id, cells[i]))
    return records
