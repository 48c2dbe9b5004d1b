"""How a sweep talks to each problem: build a config from options, run one cell, summarise a
recorded run. Each adapter is small; the vectorized forms live in ``vectorized.py`` (linear
regression) and ``vectorized_mlp.py`` (the MNIST MLP)."""

from __future__ import annotations

import math
from dataclasses import fields
from typing import Any

from ..store import RunRecord, Store

OPTIMIZER_KEYS = ("momentum", "nesterov", "betas", "eps", "weight_decay")


def optimizer_spec(options: dict[str, Any]):
    from ..config import OptimizerSpec

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


def _config_from(cls, options: dict[str, Any], **fixed: Any):
    names = {f.name for f in fields(cls)} - {"optimizer"}
    kwargs = {k: v for k, v in options.items() if k in names}
    return cls(**kwargs, optimizer=optimizer_spec(options), **fixed)


class LinRegAdapter:
    name = "linreg"
    vectorizable = True

    @staticmethod
    def config(options: dict[str, Any]):
        from ..config import LinRegConfig

        return _config_from(LinRegConfig, options, plots=False)

    @staticmethod
    def check(config) -> None:
        config.validate()
        check_optimizer(config.optimizer, config.lr)

    def run_cell(self, options, store: Store, sweep_id: str, cell: dict[str, Any]) -> str:
        from .. import linreg

        result = linreg.run(self.config(options), store=store, sweep_id=sweep_id, sweep_cell=cell)
        return result["run_id"]

    @staticmethod
    def group_key(config) -> tuple:
        from .vectorized import group_key

        return group_key(config)

    @staticmethod
    def run_group(configs, cells, store: Store, sweep_id: str) -> list[str]:
        from .vectorized import run_linreg_group

        return run_linreg_group(configs, cells, store, sweep_id)

    @staticmethod
    def summarize(record: RunRecord) -> dict[str, Any]:
        m = record.metrics
        curve = list(record.curves.get("loss", [])) + [m["final"]["loss"]]
        return summary(record, curve=curve, final_loss=m["final"]["loss"],
                       samples_per_step=record.config.get("batch_size") or m["data"]["rows"],
                       seconds=m["seconds"])


class SurfaceAdapter:
    """One cell = one trajectory on a 2-D function (``sgdlab surface`` with one learning rate)."""

    name = "surface"
    vectorizable = False  # a trajectory is a handful of scalar ops: serial is the fastest

    @staticmethod
    def config(options: dict[str, Any]):
        from ..surface_config import SurfaceConfig

        lr = options.get("lr")
        return SurfaceConfig(
            name=options.get("surface") if options.get("f") is None else None,
            expr=options.get("f"), start=options.get("start"),
            curvature=tuple(options.get("curvature", (1.0, 10.0))),
            lrs=[lr] if lr is not None else None, steps=options.get("steps"),
            optimizer=optimizer_spec(options), noise=options.get("noise", 0.0),
            seed=options.get("seed", 0), plots=False,
        )

    @staticmethod
    def check(config) -> None:
        config.validate()
        check_optimizer(config.optimizer, (config.lrs or [1e-2])[0])

    def run_cell(self, options, store: Store, sweep_id: str, cell: dict[str, Any]) -> str:
        from .. import surface_run

        config = self.config(options)
        return surface_run.run(config, store=store, sweep_id=sweep_id, sweep_cell=cell)["run_id"]

    @staticmethod
    def summarize(record: RunRecord) -> dict[str, Any]:
        trajectory = record.metrics["runs"][0]
        curve = next(iter(record.curves.values()), [])
        row = summary(record, curve=curve, final_loss=trajectory["final"]["f"], samples_per_step=1,
                      seconds=trajectory.get("seconds", 0.0))
        row["lr"] = trajectory["lr"]
        row["verdict"] = trajectory["verdict"]
        return row


class MnistAdapter:
    """One cell = one MLP run (``sgdlab mnist`` with one batch size)."""

    name = "mnist"
    vectorizable = True

    @staticmethod
    def config(options: dict[str, Any]):
        from ..mlp import MnistConfig

        return _config_from(MnistConfig, options, plots=False)

    @staticmethod
    def check(config) -> None:
        config.validate()
        check_optimizer(config.optimizer, config.lr)

    def run_cell(self, options, store: Store, sweep_id: str, cell: dict[str, Any]) -> str:
        from .. import mlp

        return mlp.run(self.config(options), store=store, sweep_id=sweep_id, sweep_cell=cell)["run_id"]

    @staticmethod
    def group_key(config) -> tuple:
        from .vectorized_mlp import group_key

        return group_key(config)

    @staticmethod
    def run_group(configs, cells, store: Store, sweep_id: str) -> list[str]:
        from .vectorized_mlp import run_mlp_group

        return run_mlp_group(configs, cells, store, sweep_id)

    @staticmethod
    def summarize(record: RunRecord) -> dict[str, Any]:
        m = record.metrics
        epochs = m.get("epochs") or []
        # final loss: the last epoch's mean training loss (the tutorial's printed "Train Loss")
        final = epochs[-1]["train_loss"] if epochs else float("nan")
        if record.status == "diverged":
            final = float("nan")
        return summary(record, curve=list(record.curves.get("step_loss", [])), final_loss=final,
                       samples_per_step=m["batch_size"], seconds=m["seconds"],
                       accuracy=m.get("test_accuracy"))


ADAPTERS: dict[str, Any] = {"linreg": LinRegAdapter(), "surface": SurfaceAdapter(),
                            "mnist": MnistAdapter()}


def adapter(problem: str):
    return ADAPTERS[problem]


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
