"""Train one logistic regression on the shared scaffold; ``run(config)`` returns the document
`sgdlab logreg --json` prints: losses, the final and Newton's optimum, the gap, 2/lambda_max."""

from __future__ import annotations

import math
from typing import Any, Callable

from ..core.errors import ConfigError, Problems
from ..core.limits import check_steps
from ..core.loop import divergence_message, divergence_reason
from ..core.store import RunRecord
from ..core.tabular import check_representable, initial_parameters, standardize
from . import model
from .config import LogRegConfig


class Prepared:
    """The data as tensors, and the theory about it (computed once; a sweep shares it)."""

    def __init__(self, config: LogRegConfig, table=None):
        import torch

        config.validate()
        self.table = table if table is not None else model.load(config)
        check_representable(self.table, config.dtype)
        self.x_np, self.scale = self.table.x, None
        if config.standardize:
            self.x_np, self.scale = standardize(self.x_np)
        self.dtype = getattr(torch, config.dtype)
        self.x, self.y = (torch.tensor(v, dtype=self.dtype) for v in (self.x_np, self.table.y))
        self.n, self.d = (int(v) for v in self.x.shape)
        self.batch_size = config.batch_size or self.n
        problems = Problems()
        problems.check(self.batch_size <= self.n, f"--batch-size {self.batch_size} is larger than the data set ({self.n} rows)")
        self.steps = config.steps if config.epochs is None else config.epochs * math.ceil(self.n / self.batch_size)
        check_steps(problems, self.steps, "the run")
        problems.raise_if_any(ConfigError)
        self.optimum = model.newton(self.x_np, self.table.y)
        w, b, _ = initial_parameters(config.seed, self.d, self.dtype)
        self.lr_bound = model.lr_bound(self.x_np, w.double().numpy(), float(b))  # at initialisation

    def data_info(self) -> dict[str, Any]:
        t = self.table
        return {"source": t.source, "rows": self.n, "features": t.x_names, "label": t.y_name, "feature_scale": self.scale}


def run(config: LogRegConfig | None = None, *, store=None, record: bool = True, sweep_id=None, sweep_cell=None,
        run_id: str | None = None, resume: bool = False, table=None,
        on_loss: Callable[[int, float], None] | None = None) -> dict[str, Any]:
    import torch

    from .. import optim
    from ..core.scaffold import Scaffold

    config = config or LogRegConfig()
    prep = Prepared(config, table)
    scaffold = Scaffold(config, store=store, record=record, sweep_id=sweep_id, sweep_cell=sweep_cell,
                        run_id=run_id, resume=resume)
    w, b, generator = initial_parameters(config.seed, prep.d, prep.dtype)
    problem = model.LogisticRegression(prep.x, prep.y, w.requires_grad_(True), b.requires_grad_(True))
    optimizer = optim.create(config.optimizer.name, problem.parameters(), lr=config.lr,
                             **config.optimizer.hyperparameters())
    full: list[float] = []

    def before_update(step: int, loss) -> None:  # the loss on all rows before each update
        with torch.no_grad():
            full.append(float(loss) if prep.batch_size >= prep.n else float(problem.loss()))
        if on_loss is not None:
            on_loss(step, full[-1])

    loop = scaffold.train(problem, optimizer, generator, batch_size=prep.batch_size, steps=prep.steps,
                          kept={"full_losses": full}, before_update=before_update,
                          every=config.checkpoint_every, per_epoch=config.epochs is not None)
    with torch.no_grad():
        final = [float(problem.loss()), w.tolist(), float(b)]
    result = assemble(config, prep, full, loop.step_losses, loop, *final)
    return scaffold.finish(result, loop, to_record, lambda folder: figures(folder, prep, result))


def assemble(config, prep: Prepared, full, batch_losses, loop, final_loss, w, b) -> dict[str, Any]:
    """The result document (shared by ``run`` and the stacked sweep)."""
    status = loop.status
    reason = divergence_reason(final_loss, full[0]) if status == "completed" and full else None
    if reason is not None:  # the very last update blew it up
        status, loop.diverged_step, loop.divergence_reason = "diverged", loop.steps_done + 1, reason
    accuracy = float((((prep.x_np @ w + b) > 0) == (prep.table.y > 0.5)).mean())
    opt = prep.optimum
    doc = {"status": status, "problem": config.problem, "run_id": None, "data": prep.data_info(),
           "losses": full, "batch_losses": batch_losses if prep.batch_size < prep.n else None,
           "steps": loop.steps_done, "final": {"w": w, "b": b, "loss": final_loss, "accuracy": accuracy},
           "optimum": None if opt is None else {"w": opt[0].tolist(), "b": opt[1], "loss": opt[2]},
           "gap_to_optimum": None if opt is None else final_loss - opt[2], "lr_bound": prep.lr_bound,
           "seconds": loop.seconds, "config": config.to_dict(), "figures": []}
    if status == "diverged":
        doc["divergence"] = {"step": loop.diverged_step, "last_finite_loss": loop.last_finite_loss, "lr": config.lr,
                             "message": divergence_message(loop.diverged_step, loop.divergence_reason,
                                                           loop.last_finite_loss, config.lr, prep.lr_bound)}
    return doc


def to_record(doc: dict[str, Any], sweep_id=None, sweep_cell=None) -> RunRecord:
    metrics = {k: doc[k] for k in ("final", "optimum", "gap_to_optimum", "lr_bound", "steps", "seconds", "data")}
    metrics.update({"sweep_cell": sweep_cell} if sweep_cell is not None else {})
    metrics.update({"divergence": doc["divergence"]} if "divergence" in doc else {})
    curves = {"loss": doc["losses"]} | ({"batch_loss": doc["batch_losses"]} if doc["batch_losses"] else {})
    return RunRecord(id=doc["run_id"], command=doc["problem"], status=doc["status"], sweep_id=sweep_id,
                     config=doc["config"], metrics=metrics, figures=doc["figures"], curves=curves,
                     key_metric_name="final_loss", key_metric=doc["final"]["loss"])


def figures(folder, prep: Prepared, doc: dict[str, Any]) -> list[str]:
    """The decision line w.x + b = 0 over the points (2 features), and the loss."""
    from ..core import plots

    plt = plots._pyplot()
    fig, ax = plt.subplots(figsize=(5.5, 4))
    x, y, (w, b) = prep.x_np, prep.table.y, (doc["final"]["w"], doc["final"]["b"])
    for label, colour in ((0, "tab:blue"), (1, "tab:red")):
        ax.plot(x[y == label, 0], x[y == label, -1], "o", color=colour, ms=3, label=f"label {label}")
    if prep.d == 2 and w[1] != 0:
        xs, ylim = [float(x[:, 0].min()), float(x[:, 0].max())], ax.get_ylim()
        ax.plot(xs, [-(w[0] * v + b) / w[1] for v in xs], "k-", label="decision line (p = 0.5)")
        ax.set_ylim(ylim)
    ax.set_title(f"Logistic regression: accuracy {doc['final']['accuracy']:.3f}")
    ax.legend()
    losses = doc["losses"]
    return [plots.save(fig, folder / "decision.png"), plots.curves(
        {"full-batch loss": (list(range(len(losses))), losses)}, folder / "loss.png",
        xlabel="update step", ylabel="cross-entropy", title="Loss during training")]


def print_logreg(r: dict[str, Any]) -> None:
    print(f"data: {r['data']['source']} ({r['data']['rows']} rows)")
    f, opt = r["final"], r["optimum"]
    print(f"final: w = {[round(v, 4) for v in f['w']]}, b = {f['b']:.4f}, loss = {f['loss']:.6g}, "
          f"accuracy {f['accuracy']:.3f} after {r['steps']} updates")
    if opt is None:
        print("optimum: none (the classes are separable: the loss falls towards 0 without end)")
    else:
        print(f"optimum (Newton): loss = {opt['loss']:.6g}; gap {r['gap_to_optimum']:.4g}")
    print(f"largest stable learning rate at initialisation (full batch, 2 / lambda_max): {r['lr_bound']:.6g}")
    print(f"status: {r['status']}")
    for path in r["figures"]:
        print(f"figure: {path}")
    print(f"run id: {r['run_id']}")
