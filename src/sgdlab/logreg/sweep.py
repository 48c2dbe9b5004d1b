"""The sweep adapter (cells that share data, schedule and update rule run as one stacked model on
``sweep.stacked``, with the hand-written gradient per model) and the lr-find hook."""

from __future__ import annotations

from typing import Any

from ..core.store import RunRecord, new_run_id
from ..sweep.protocol import _as_float, check_optimizer, config_from, stacked_hyperparameters, summary
from .config import LogRegConfig


class LogRegAdapter:
    name = "logreg"
    vectorizable = True

    @staticmethod
    def config(options: dict[str, Any]):
        return config_from(LogRegConfig, options, plots=False)

    @staticmethod
    def check(config) -> None:
        from .run import Prepared

        check_optimizer(config.optimizer, config.lr)
        Prepared(config)  # the data and the schedule, before any cell is recorded

    @staticmethod
    def load_data(config):
        from .model import load

        return load(config)

    @staticmethod
    def compute_cell(config, cell: dict[str, Any], sweep_id: str, data=None) -> RunRecord:
        from .run import run, to_record

        return to_record(run(config, record=False, table=data), sweep_id, cell)

    @staticmethod
    def group_key(config) -> tuple:
        spec = config.optimizer
        return (config.csv, tuple(config.x or ()), config.y, config.standardize, config.points, config.separation,
                config.data_seed, config.dtype, config.batch_size, config.steps, config.epochs, spec.name,
                spec.nesterov, tuple(sorted(spec.hyperparameters())))

    @staticmethod
    def compute_group(configs, cells, sweep_id: str, data=None) -> list[RunRecord]:
        import torch

        from .. import optim
        from ..core.tabular import initial_parameters
        from ..sweep import stacked
        from .run import Prepared, assemble, run, to_record

        if configs[0].optimizer.name not in optim.batched.BATCHED:  # torch-*: one number per hyperparameter
            return [to_record(run(c, record=False, table=data), sweep_id, cell) for c, cell in zip(configs, cells)]
        prep = Prepared(configs[0], data)
        inits = [initial_parameters(c.seed, prep.d, prep.dtype) for c in configs]
        theta = torch.stack([torch.cat([w, b]) for w, b, _ in inits])  # (K, d + 1): w and b of each model
        optimizer = optim.batched.create(configs[0].optimizer.name, [theta], **stacked_hyperparameters(configs))
        x, y, d = prep.x, prep.y, prep.d

        def batch(index):  # each model's loss and hand-written gradient on its rows
            xb, yb = (x.expand(len(configs), -1, -1), y.expand(len(configs), -1)) if index is None else (x[index], y[index])
            z = torch.bmm(xb, theta[:, :d, None]).squeeze(-1) + theta[:, d:]
            r = torch.sigmoid(z) - yb
            grad = torch.cat([torch.bmm(r[:, None, :], xb).squeeze(1), r.sum(1, keepdim=True)], dim=1)
            return (torch.nn.functional.softplus(z) - yb * z).mean(1), grad / xb.shape[1]

        def full_loss():
            z = x @ theta[:, :d].T + theta[:, d]
            return (torch.nn.functional.softplus(z) - y[:, None] * z).mean(0)

        result = stacked.train(theta, optimizer, [g for *_, g in inits], n=prep.n, batch_size=prep.batch_size,
                               steps=prep.steps, batch=batch, full_loss=full_loss)
        final = full_loss().tolist()
        records = []
        for i, config in enumerate(configs):
            t = result.parameters(theta, i)
            loss = result.full[i][-1] if i in result.frozen else final[i]
            doc = assemble(config, prep, result.full[i], result.loops[i].step_losses, result.loops[i], loss,
                           t[:d].tolist(), float(t[d]))
            doc["run_id"] = new_run_id()
            records.append(to_record(doc, sweep_id, cells[i]))
        return records

    @staticmethod
    def summarize(record: RunRecord) -> dict[str, Any]:
        m = record.metrics
        final = _as_float(m["final"]["loss"])
        row = summary(record, curve=list(record.curves.get("loss", [])) + [final], final_loss=final,
                      samples_per_step=record.config.get("batch_size") or m["data"]["rows"],
                      seconds=m["seconds"], accuracy=m["final"]["accuracy"])
        return row


ADAPTER = LogRegAdapter()


def lr_find_setup(config: LogRegConfig):
    """`sgdlab lr-find logreg`: plain SGD from the initialisation, beside 2 / lambda_max there."""
    from .. import optim
    from ..core.lr_range import Setup, stepper
    from ..core.tabular import initial_parameters
    from .model import LogisticRegression
    from .run import Prepared

    prep = Prepared(config)
    w, b, generator = initial_parameters(config.seed, prep.d, prep.dtype)
    problem = LogisticRegression(prep.x, prep.y, w.requires_grad_(True), b.requires_grad_(True))
    optimizer = optim.create("sgd", problem.parameters(), lr=config.lr)
    return Setup(step=stepper(problem, optimizer, prep.batch_size, generator), bound=prep.lr_bound,
                 config=config.to_dict(), data=prep.data_info(), batch_size=prep.batch_size)
