"""The sweep adapter (cells sharing data, schedule and rule run stacked, ``sweep.stacked``) and lr-find's hook."""

from __future__ import annotations

from ..core.store import RunRecord, new_run_id
from ..sweep.protocol import RunAdapter, stacked_hyperparameters
from .config import LogRegConfig


class LogRegAdapter(RunAdapter):
    name, module, config_class, vectorizable = "logreg", "sgdlab.logreg.run", LogRegConfig, True

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
        from ..sweep import stacked
        from .run import Prepared, assemble, run, to_record

        if configs[0].optimizer.name not in optim.batched.BATCHED:  # torch-*: one number per hyperparameter
            return [to_record(run(c, record=False, table=data), sweep_id, cell) for c, cell in zip(configs, cells)]
        prep = Prepared(configs[0], data)
        theta, generators = stacked.linear_models(configs, prep.d, prep.dtype)  # (K, d + 1)
        optimizer = optim.batched.create(configs[0].optimizer.name, [theta], **stacked_hyperparameters(configs))
        x, y, d = prep.x, prep.y, prep.d

        def batch(index):  # each model's loss and hand-written gradient on its rows (all: None);
            # bmm, not a GEMM: on a busy CPU a threaded dgemm of these tiny shapes took 50-100 ms
            xb, yb = (x.expand(len(configs), -1, -1), y.expand(len(configs), -1)) if index is None else (x[index], y[index])
            z = torch.bmm(xb, theta[:, :d, None]).squeeze(-1) + theta[:, d:]
            r = torch.sigmoid(z) - yb
            grad = torch.cat([torch.bmm(r[:, None, :], xb).squeeze(1), r.sum(1, keepdim=True)], dim=1)
            return (torch.nn.functional.softplus(z) - yb * z).mean(1), grad / xb.shape[1]

        result = stacked.train(theta, optimizer, generators, n=prep.n, batch_size=prep.batch_size,
                               steps=prep.steps, batch=batch, full_loss=lambda: batch(None)[0])
        final, records = batch(None)[0].tolist(), []
        for i, config in enumerate(configs):
            t, loss = result.parameters(theta, i), result.full[i][-1] if i in result.frozen else final[i]
            doc = assemble(config, prep, result.full[i], result.loops[i].step_losses, result.loops[i], loss,
                           t[:d].tolist(), float(t[d])) | {"run_id": new_run_id()}
            records.append(to_record(doc, sweep_id, cells[i]))
        return records


ADAPTER = LogRegAdapter()


def lr_find_setup(config: LogRegConfig):
    """`sgdlab lr-find logreg`: plain SGD from the initialisation, beside its 2 / lambda_max there."""
    from .. import optim
    from ..optim import bounds
    from ..core.lr_range import Setup, stepper
    from .run import Prepared, build

    prep = Prepared(config)
    problem, generator = build(config, prep)
    optimizer = optim.create("sgd", problem.parameters(), lr=config.lr)
    bound = bounds.lr_bound("sgd", {}, prep.lambda_max)["lr_bound"]  # the range test's own rule
    return Setup(step=stepper(problem, optimizer, prep.batch_size, generator), bound=bound,
                 config=config.to_dict(), data=prep.data_info(), batch_size=prep.batch_size)
