"""The sweep adapter of the MNIST MLP: one cell = one ``sgdlab mnist`` run with one batch size;
cells that share data, schedule and update rule run as one stacked network (``vectorized.py``)."""

from __future__ import annotations

from typing import Any

from ..core.store import RunRecord, Store
from ..sweep.protocol import check_optimizer, config_from, summary
from .config import MnistConfig


class MnistAdapter:
    """One cell = one MLP run (``sgdlab mnist`` with one batch size)."""

    name = "mnist"
    vectorizable = True

    @staticmethod
    def config(options: dict[str, Any]):
        # a cell pays for the sharpness (a Lanczos per model) only when its options ask for it
        return config_from(MnistConfig, {"bound": False} | options, plots=False)

    @staticmethod
    def check(config) -> None:
        config.validate()
        check_optimizer(config.optimizer, config.lr)

    def run_cell(self, options, store: Store, sweep_id: str, cell: dict[str, Any]) -> str:
        from .run import run

        return run(self.config(options), store=store, sweep_id=sweep_id, sweep_cell=cell)["run_id"]

    @staticmethod
    def group_key(config) -> tuple:
        from .vectorized import group_key

        return group_key(config)

    @staticmethod
    def run_group(configs, cells, store: Store, sweep_id: str) -> list[str]:
        from .vectorized import run_mlp_group

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


ADAPTER = MnistAdapter()
