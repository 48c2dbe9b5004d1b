"""How a sweep talks to a problem: the adapter protocol, and helpers every adapter shares.

Each problem package has a ``sweep.py`` with one adapter (registered in ``sgdlab.problems``):
build a config from a cell's options, check it, load the data every cell shares, compute one
cell, summarise a recorded run, and, where the problem has a vectorized form, group cells and
compute a group as one stacked model. Computing never touches the run store: it returns run
records, and the sweep's driver alone stores them (a worker on another machine cannot see the
driver's SQLite file). The sweep machinery knows problems only through this protocol and the
registry.
"""

from __future__ import annotations

import math
from dataclasses import fields
from typing import Any, Protocol

from ..core.store import RunRecord

OPTIMIZER_KEYS = ("momentum", "nesterov", "betas", "eps", "weight_decay")


class SweepAdapter(Protocol):
    """What the sweep runner needs from a problem."""

    name: str
    vectorizable: bool  # True: ``group_key`` and ``compute_group`` exist

    def config(self, options: dict[str, Any]) -> Any:
        """The problem's config for one cell (fixed options + the cell's axes), without plots."""

    def check(self, config: Any) -> None:
        """Raise ConfigError for a cell that cannot run (all cells are checked before any runs)."""

    def load_data(self, config: Any) -> Any:
        """The data every cell of the sweep shares (None if none), loaded once on the driver and
        handed to every ``compute_*`` call: workers elsewhere cannot read the driver's files."""

    def compute_cell(self, config: Any, cell: dict[str, Any], sweep_id: str, data: Any = None) -> RunRecord:
        """Train one cell; return its run record (not stored: the driver stores it)."""

    def summarize(self, record: RunRecord) -> dict[str, Any]:
        """One recorded cell as a summary row (``summary`` below builds it)."""


def optimizer_spec(options: dict[str, Any]):
    from ..optim.spec import OptimizerSpec

    betas = options.get("betas")
    return OptimizerSpec(
        name=options.get("optimizer", "sgd"), momentum=options.get("momentum"),
        nesterov=bool(options.get("nesterov", False)),
        betas=tuple(betas) if betas is not None else None, eps=options.get("eps"),
        weight_decay=options.get("weight_decay"),
    )


def check_optimizer(spec, lr: float) -> None:
    """Build the optimizer once on a dummy parameter: unknown names and bad hyperparameters
    fail before any cell runs, with the optimizer's own message."""
    import torch

    from .. import optim

    optim.create(spec.name, [torch.zeros(1, requires_grad=True)], lr=lr, **spec.hyperparameters())


def config_from(cls, options: dict[str, Any], **fixed: Any):
    """A cell's config from its options; ``fixed`` (what the sweep imposes on every cell, e.g.
    no figures of its own) wins over the same key in the options (a base of {"plots": False}
    from Python raised "multiple values for keyword argument")."""
    names = {f.name for f in fields(cls)} - {"optimizer"} - set(fixed)
    kwargs = {k: v for k, v in options.items() if k in names}
    return cls(**kwargs, optimizer=optimizer_spec(options), **fixed)


def summary(record: RunRecord, *, curve: list[float], final_loss: float, samples_per_step: int,
            seconds: float, accuracy: float | None = None) -> dict[str, Any]:
    """One cell's row: the numbers every table and figure of a sweep is made of."""
    finite = [v for v in curve if isinstance(v, (int, float)) and math.isfinite(v)]
    cell = record.metrics.get("sweep_cell", {})
    row = dict(cell)
    row.update({
        "lr": cell.get("lr", record.config.get("lr")),
        "batch_size": cell.get("batch_size", record.config.get("batch_size")),
        "optimizer": cell.get("optimizer", (record.config.get("optimizer") or {}).get("name")),
        "seed": cell.get("seed", record.config.get("seed")),
        "status": record.status,
        "final_loss": _as_float(final_loss),
        "best_loss": min(finite) if finite else float("nan"),
        "seconds": seconds,
        "run_id": record.id,
        "samples_per_step": samples_per_step,
        "curve": curve,
    })
    if accuracy is not None:
        row["accuracy"] = accuracy
    if record.status == "diverged":
        row["diverged_step"] = (record.metrics.get("divergence") or {}).get("step")
    return row


def _as_float(value: Any) -> float:
    if isinstance(value, str):  # "NaN"/"Infinity" as stored in strict JSON
        return float(value.replace("Infinity", "inf"))
    return float(value)


def stacked_hyperparameters(configs: list) -> dict[str, Any]:
    """Per-model hyperparameters as K-value lists (``optim.batched`` turns them into tensors)."""
    import torch

    hp: dict[str, Any] = {"lr": torch.tensor([float(c.lr) for c in configs], dtype=torch.float64)}
    per_model = [c.optimizer.hyperparameters() for c in configs]
    for key in per_model[0]:
        if key == "nesterov":
            hp[key] = per_model[0][key]
        elif key == "betas":
            hp[key] = tuple(torch.tensor([p[key][j] for p in per_model], dtype=torch.float64)
                            for j in range(2))
        else:
            hp[key] = torch.tensor([float(p[key]) for p in per_model], dtype=torch.float64)
    return hp


class RunAdapter:
    """The adapter of a problem whose run module (``module``, a dotted path) has
    ``run(config, record=False, table=data)``, ``to_record(document, sweep_id, cell)``,
    ``load(config)`` (the data cells share) and ``check(config)`` (data and schedule), and whose
    records keep ``metrics["final"]["loss"]`` (and ``accuracy``) and the curve ``loss``. A
    stacked form adds ``group_key`` and ``compute_group`` and sets ``vectorizable``."""

    name: str
    module: str
    config_class: type
    vectorizable = False

    def _run_module(self):
        from importlib import import_module

        return import_module(self.module)

    def config(self, options: dict[str, Any]):
        return config_from(self.config_class, options, plots=False)

    def check(self, config) -> None:
        check_optimizer(config.optimizer, config.lr)
        self._run_module().check(config)

    def load_data(self, config):
        return self._run_module().load(config)

    def compute_cell(self, config, cell: dict[str, Any], sweep_id: str, data=None) -> RunRecord:
        module = self._run_module()
        return module.to_record(module.run(config, record=False, table=data), sweep_id, cell)

    def summarize(self, record: RunRecord) -> dict[str, Any]:
        final = record.metrics["final"]
        loss = _as_float(final["loss"])
        return summary(record, curve=list(record.curves.get("loss", [])) + [loss], final_loss=loss,
                       samples_per_step=record.config.get("batch_size") or record.metrics["data"]["rows"],
                       seconds=record.metrics["seconds"], accuracy=final.get("accuracy"))
