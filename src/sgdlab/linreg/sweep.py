"""The sweep adapter of linear regression: one cell = one ``sgdlab linreg`` run; cells that share
data, schedule and update rule run as one stacked model (``vectorized.py``)."""

from __future__ import annotations

import functools
from typing import Any

from ..core.store import RunRecord
from ..sweep.protocol import _as_float, check_optimizer, config_from, summary
from .config import LinRegConfig


class LinRegAdapter:
    name = "linreg"
    vectorizable = True

    @staticmethod
    def config(options: dict[str, Any]):
        return config_from(LinRegConfig, options, plots=False)

    @staticmethod
    def check(config) -> None:
        """Everything a cell needs, data included (batch size against the rows, the schedule's
        length, float32 range), so that no cell is recorded before every cell is known good."""
        config.validate()
        check_optimizer(config.optimizer, config.lr)
        _prepared(config.csv, tuple(config.x or ()) or None, config.y, config.standardize,
                  config.dtype, config.batch_size, config.epochs)

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
        final = _as_float(m["final"]["loss"])  # "NaN"/"Infinity" as stored in strict JSON
        curve = list(record.curves.get("loss", [])) + [final]
        return summary(record, curve=curve, final_loss=final,
                       samples_per_step=record.config.get("batch_size") or m["data"]["rows"],
                       seconds=m["seconds"])


@functools.lru_cache(maxsize=64)
def _prepared(csv, x, y, standardize, dtype, batch_size, epochs) -> None:
    """Data checks for one kind of cell (the CSV is read once per distinct setting)."""
    from .run import Prepared

    Prepared(LinRegConfig(csv=csv, x=list(x) if x else None, y=y, standardize=standardize,
                          dtype=dtype, batch_size=batch_size, epochs=epochs, plots=False))


ADAPTER = LinRegAdapter()
