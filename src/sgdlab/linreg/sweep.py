"""The sweep adapter of linear regression: one cell = one ``sgdlab linreg`` run; cells that share
data, schedule and update rule run as one stacked model (``vectorized.py``)."""

from __future__ import annotations

from typing import Any

from ..core.store import RunRecord, Store
from ..sweep.protocol import check_optimizer, config_from, summary
from .config import LinRegConfig


class LinRegAdapter:
    name = "linreg"
    vectorizable = True

    @staticmethod
    def config(options: dict[str, Any]):
        return config_from(LinRegConfig, options, plots=False)

    @staticmethod
    def check(config) -> None:
        config.validate()
        check_optimizer(config.optimizer, config.lr)

    def run_cell(self, options, store: Store, sweep_id: str, cell: dict[str, Any]) -> str:
        from .run import run

        result = run(self.config(options), store=store, sweep_id=sweep_id, sweep_cell=cell)
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


ADAPTER = LinRegAdapter()
