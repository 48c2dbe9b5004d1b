"""Train one linear regression by gradient descent: tutorial section 3, then beyond it.

``run(config)`` returns the same document that ``sgdlab linreg --json`` prints. With the default
config it reproduces section 3.2 exactly (initial loss 10.2335, gradients -41.1289 and -6.0890,
then "epoch: 0, loss: 0.41421..." ... "epoch: 30, loss: 0.22046...").
"""

from __future__ import annotations

import math
from typing import Any, Callable

from ..core.errors import ConfigError, Problems
from ..core.limits import check_steps
from ..core.loop import divergence_document, settle
from ..core.store import RunRecord, Store, new_run_id
from ..core.tabular import check_representable, initial_parameters, standardize
from ..optim import bounds
from . import data as data_mod, figures
from .config import LinRegConfig
from .model import LinearRegression, closed_form, lambda_max


STANDARDIZE_HINT = " (or --standardize the features, which raises it)"


def load_table(config: LinRegConfig) -> data_mod.Table:
    if config.csv is None:
        return data_mod.tutorial_points()
    return data_mod.read_csv(config.csv, config.x, config.y)


class Prepared:
    """Everything about the data a run needs, computed once (a sweep shares it between cells)."""

    def __init__(self, config: LinRegConfig, table: data_mod.Table | None = None):
        """``table``: the data, already loaded (a sweep loads it once, on its driver)."""
        import torch

        config.validate()
        self.table = table = table if table is not None else load_table(config)
        if config.batch_size is not None and config.batch_size > table.n:
            raise ConfigError(
                f"--batch-size {config.batch_size} is larger than the data set ({table.n} rows)"
            )
        x_np, y_np = table.x, table.y
        check_representable(table, config.dtype)
        self.feature_scale = None
        if config.standardize:
            x_np, self.feature_scale = standardize(x_np)
        self.x_np, self.y_np = x_np, y_np
        self.dtype = getattr(torch, config.dtype)
        self.x = torch.tensor(x_np, dtype=self.dtype)  # a copy: pandas hands out read-only arrays
        self.y = torch.tensor(y_np, dtype=self.dtype)
        self.n, self.d = (int(v) for v in self.x.shape)
        self.optimum = closed_form(x_np, y_np)
        self.lambda_max = lambda_max(x_np)  # each run's bound is its update rule's (``assemble``)
        self.schedule(config)  # a schedule past the limits is refused now, before any work

    def data_info(self, config: LinRegConfig) -> dict[str, Any]:
        t = self.table
        return {"source": t.source, "rows": self.n, "features": t.x_names, "target": t.y_name,
                "standardized": config.standardize, "feature_scale": self.feature_scale}

    def schedule(self, config: LinRegConfig) -> tuple[int, int]:
        """(batch size, number of updates) for ``config`` on this data."""
        batch_size = config.batch_size or self.n
        if config.epochs is not None:
            steps = config.epochs * math.ceil(self.n / batch_size)
            problems = Problems()
            check_steps(problems, steps, f"--epochs {config.epochs} at batch size {batch_size}")
            problems.raise_if_any(ConfigError)
            return batch_size, steps
        return batch_size, config.steps


def run(
    config: LinRegConfig | None = None,
    *,
    store: Store | None = None,
    record: bool = True,
    sweep_id: str | None = None,
    sweep_cell: dict[str, Any] | None = None,
    on_progress: Callable[[int, int], None] | None = None,
    on_loss: Callable[[int, float], None] | None = None,
    run_id: str | None = None,
    resume: bool = False,
    table: data_mod.Table | None = None,
) -> dict[str, Any]:
    """Train, draw, record; return the result document (see the module docstring).

    ``sweep_id``/``sweep_cell`` file the run under a sweep (``sgdlab sweep``). A recorded run
    outside a sweep is recorded when it starts and, with ``epochs`` or ``checkpoint_every``,
    checkpointed; ``resume=True`` continues run ``run_id`` from its last checkpoint.
    ``on_progress(step, steps)`` and ``on_loss(step, full-data loss before that update)`` are
    called before each update; either may raise ``core.loop.StopTraining`` to end the run early
    (status ``stopped``, recorded with what it did). ``table``: the data, already loaded,
    instead of reading ``config.csv``.
    """
    import torch

    from .. import optim
    from ..core.scaffold import Scaffold

    config = config or LinRegConfig()
    prep = Prepared(config, table)
    scaffold = Scaffold(config, store=store, record=record, sweep_id=sweep_id, sweep_cell=sweep_cell,
                        run_id=run_id, resume=resume)

    w, b, generator = initial_parameters(config.seed, prep.d, prep.dtype)
    w.requires_grad_(True)
    b.requires_grad_(True)
    problem = LinearRegression(prep.x, prep.y, w, b)

    # the tutorial's first look: loss and gradients at the initial parameters
    init_loss = problem.loss()
    grad_w, grad_b = torch.autograd.grad(init_loss, [w, b])
    init = {
        "w": w.detach().tolist(), "b": float(b.detach()), "loss": float(init_loss.detach()),
        "grad_w": grad_w.tolist(), "grad_b": float(grad_b),
    }
    snapshots = {"init": problem.predict().detach().clone()}

    batch_size, steps = prep.schedule(config)
    optimizer = optim.create(
        config.optimizer.name, problem.parameters(), lr=config.lr,
        **config.optimizer.hyperparameters(),
    )
    full_losses: list[float] = []

    def before_update(step: int, batch_loss) -> None:
        # the loss on all rows before each update (the tutorial's printed number)
        if batch_size >= prep.n:
            full_losses.append(float(batch_loss.detach()))
        else:
            with torch.no_grad():
                full_losses.append(float(problem.loss()))
        if step == 1:
            snapshots["step1"] = problem.predict().detach().clone()
        if on_progress is not None:
            on_progress(step, steps)
        if on_loss is not None:
            on_loss(step, full_losses[-1])

    def restore(extra: dict[str, Any]) -> None:
        if extra["step1"] is not None:
            snapshots["step1"] = extra["step1"]

    loop = scaffold.train(problem, optimizer, generator, batch_size=batch_size, steps=steps,
                          kept={"full_losses": full_losses}, before_update=before_update,
                          every=config.checkpoint_every, per_epoch=config.epochs is not None,
                          state=lambda: {"step1": snapshots.get("step1")}, restore=restore)
    with torch.no_grad():
        final_loss = float(problem.loss())
        snapshots["final"] = problem.predict().detach().clone()
    snapshots.setdefault("step1", snapshots["final"])
    result = assemble(
        config, prep, init=init, full_losses=full_losses,
        batch_losses=loop.step_losses if batch_size < prep.n else None,
        loop=loop, final_w=w.detach().tolist(), final_b=float(b.detach()), final_loss=final_loss,
        run_id=scaffold.run_id,
    )
    return scaffold.finish(result, loop, to_record, lambda folder: figures.draw(
        folder, prep.x_np, prep.y_np, snapshots, full_losses, prep.table))


def assemble(config, prep: Prepared, *, init, full_losses, batch_losses, loop, final_w, final_b,
             final_loss, run_id: str | None = None) -> dict[str, Any]:
    """The result document of one run (shared by ``run`` and the vectorized sweep)."""
    status = settle(loop, final_loss, full_losses[0] if full_losses else None)  # a last update that blew up
    # this run's own update rule's bound: exact, as the Hessian is constant (each sweep cell its own)
    theory = bounds.for_spec(config.optimizer, prep.lambda_max)
    opt_w, opt_b, opt_loss = prep.optimum
    result: dict[str, Any] = {
        "status": status,
        "problem": config.problem,
        "run_id": run_id or new_run_id(),
        "data": prep.data_info(config),
        "init": init,
        "losses": full_losses,
        "batch_losses": batch_losses,
        "steps": loop.steps_done,
        "final": {"w": final_w, "b": final_b, "loss": final_loss},
        "optimum": {"w": opt_w.tolist(), "b": opt_b, "loss": opt_loss},
        "gap_to_optimum": final_loss - opt_loss,
        **theory,  # lambda_max, lr_bound (null for adaptive rules), lr_bound_rule
        "lambda_max_kind": "exact",  # the Hessian is constant
        "seconds": loop.seconds,
        "config": config.to_dict(),
        "figures": [],
    }
    if status == "diverged":
        result["divergence"] = divergence_document(
            loop, config.lr, theory["lr_bound"], "" if config.standardize else STANDARDIZE_HINT,
            theory["lr_bound_rule"], prep.lambda_max, "" if config.standardize else "--standardize")
    return result


def to_record(result: dict[str, Any], sweep_id: str | None = None,
              sweep_cell: dict[str, Any] | None = None) -> RunRecord:
    metrics = {k: result[k] for k in ("init", "final", "optimum", "gap_to_optimum", "lambda_max",
                                      "lr_bound", "lr_bound_rule", "steps", "seconds", "data")}
    if sweep_cell is not None:
        metrics["sweep_cell"] = sweep_cell
    if "divergence" in result:
        metrics["divergence"] = result["divergence"]
    curves = {"loss": result["losses"]}
    if result["batch_losses"] is not None:
        curves["batch_loss"] = result["batch_losses"]
    return RunRecord(
        id=result["run_id"], command="linreg", status=result["status"], sweep_id=sweep_id,
        config=result["config"], metrics=metrics, figures=result["figures"], curves=curves,
        key_metric_name="final_loss", key_metric=result["final"]["loss"],
    )
