"""Train one logistic regression on the shared scaffold; ``run(config)`` returns the document
`sgdlab logreg --json` prints: losses, the final and Newton's optimum, the gap, lambda_max of the
Hessian at the start and the update rule's own bound from it (``optim.bounds``)."""

from __future__ import annotations

from typing import Any, Callable

from ..core.loop import divergence_document, settle
from ..core.scaffold import Scaffold, record_of
from ..core.store import RunRecord
from ..core.tabular import TabularData, initial_parameters
from ..optim import bounds
from . import model
from .config import LogRegConfig


class Prepared(TabularData):
    """The data as tensors, Newton's optimum and lambda_max at initialisation (computed once)."""

    def __init__(self, config: LogRegConfig, table=None):
        config.validate()
        super().__init__(table if table is not None else model.load(config), config)
        self.optimum = model.newton(self.x_np, self.table.y)
        w, b, _ = initial_parameters(config.seed, self.d, self.dtype)
        self.lambda_max = model.lambda_max(self.x_np, w.double().numpy(), float(b))


load, check = model.load, Prepared  # what the sweep adapter calls (``sweep.protocol.RunAdapter``)


def build(config: LogRegConfig, prep: Prepared):
    """The model at its initialisation (w ~ N(0, 1) from the seed, b = 0), and its generator."""
    w, b, generator = initial_parameters(config.seed, prep.d, prep.dtype)
    return model.LogisticRegression(prep.x, prep.y, w.requires_grad_(True), b.requires_grad_(True)), generator


def run(config: LogRegConfig | None = None, *, store=None, record: bool = True, sweep_id=None, sweep_cell=None,
        run_id: str | None = None, resume: bool = False, table=None,
        on_loss: Callable[[int, float], None] | None = None) -> dict[str, Any]:
    import torch

    from .. import optim

    config = config or LogRegConfig()
    prep = Prepared(config, table)
    scaffold = Scaffold(config, store=store, record=record, sweep_id=sweep_id, sweep_cell=sweep_cell,
                        run_id=run_id, resume=resume)
    problem, generator = build(config, prep)
    w, b = problem.parameters()
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
    status = settle(loop, final_loss, full[0] if full else None)
    accuracy = float((((prep.x_np @ w + b) > 0) == (prep.table.y > 0.5)).mean())
    opt, theory = prep.optimum, bounds.for_spec(config.optimizer, prep.lambda_max)  # this cell's own rule
    doc = {"status": status, "problem": config.problem, "run_id": None, "data": prep.data_info(),
           "losses": full, "batch_losses": batch_losses if prep.batch_size < prep.n else None,
           "steps": loop.steps_done, "final": {"w": w, "b": b, "loss": final_loss, "accuracy": accuracy},
           "optimum": None if opt is None else {"w": opt[0].tolist(), "b": opt[1], "loss": opt[2]},
           "gap_to_optimum": None if opt is None else final_loss - opt[2],
           **theory, "lambda_max_kind": "local",  # the Hessian at the start: the loss is not quadratic
           "seconds": loop.seconds, "config": config.to_dict(), "figures": []}
    doc |= {"divergence": divergence_document(
        loop, config.lr, theory["lr_bound"], rule=theory["lr_bound_rule"], lambda_max=prep.lambda_max,
        rescale="" if config.standardize else "--standardize")} if status == "diverged" else {}
    return doc


def to_record(doc: dict[str, Any], sweep_id=None, sweep_cell=None) -> RunRecord:
    return record_of(doc, sweep_id, sweep_cell, ("final", "optimum", "gap_to_optimum", "lambda_max", "lr_bound",
                                                 "lr_bound_rule", "steps", "seconds", "data"))


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
