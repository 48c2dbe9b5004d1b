"""The sweep adapter of linear regression: one cell = one ``sgdlab linreg`` run; cells that share
data, schedule and update rule run as one stacked model (``vectorized.py``)."""

from __future__ import annotations

from typing import Any

from ..core.store import RunRecord
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

    @staticmethod
    def load_data(config):
        from .run import load_table

        return load_table(config)

    @staticmethod
    def compute_cell(config, cell: dict[str, Any], sweep_id: str, data=None) -> RunRecord:
        from .run import run, to_record

        return to_record(run(config, record=False, table=data), sweep_id, cell)

    @staticmethod
    def group_key(config) -> tuple:
        from .vectorized import group_key

        return group_key(config)

    @staticmethod
    def compute_group(configs, cells, sweep_id: str, data=None) -> list[RunRecord]:
        from .vectorized import compute_linreg_group

        return compute_linreg_group(configs, cells, sweep_id, data)

    @staticmethod
    def summarize(record: RunRecord) -> dict[str, Any]:
        m = record.metrics
        curve = list(record.curves.get("loss", [])) + [m["final"]["loss"]]
        return summary(record, curve=curve, final_loss=m["final"]["loss"],
                       samples_per_step=record.config.get("batch_size") or m["data"]["rows"],
                       seconds=m["seconds"])


ADAPTER = LinRegAdapter()
