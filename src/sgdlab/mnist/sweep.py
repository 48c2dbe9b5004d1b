"""The sweep adapter of the MNIST MLP: one cell = one ``sgdlab mnist`` run with one batch size;
cells that share data, schedule and update rule run as one stacked network (``vectorized.py``)."""

from __future__ import annotations

import functools
from typing import Any

from ..core.store import RunRecord
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
        """Everything a cell needs, data included (batch size against the training set, the
        schedule's length), so that no cell is recorded before every cell is known good."""
        from ..core.errors import ConfigError, Problems
        from ..core.limits import check_steps

        config.validate()
        check_optimizer(config.optimizer, config.lr)
        n = _train_size(config.dataset, config.data_dir, config.limit_train)
        if config.batch_size is not None and config.batch_size > n:
            raise ConfigError(f"--batch-size {config.batch_size} is larger than the training set "
                              f"({n} images); use batch sizes of at most {n}")
        problems = Problems()
        batch_size, steps = config.updates(n)
        check_steps(problems, steps, f"--epochs {config.epochs} at batch size {batch_size}")
        problems.raise_if_any(ConfigError)

    @staticmethod
    def load_data(config):
        from . import datasets

        return datasets.load(config.dataset, config.data_dir)

    @staticmethod
    def compute_cell(config, cell: dict[str, Any], sweep_id: str, data=None) -> RunRecord:
        from .run import run, to_record

        return to_record(run(config, record=False, data=data), sweep_id, cell)

    @staticmethod
    def group_key(config) -> tuple:
        from .vectorized import group_key

        return group_key(config)

    @staticmethod
    def compute_group(configs, cells, sweep_id: str, data=None) -> list[RunRecord]:
        from .vectorized import compute_mlp_group

        return compute_mlp_group(configs, cells, sweep_id, data)

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


@functools.lru_cache(maxsize=8)
def _train_size(dataset: str, data_dir: str | None, limit: int | None) -> int:
    from . import datasets

    data = datasets.load(dataset, data_dir)
    return int(data.x_train[:limit].shape[0])


ADAPTER = MnistAdapter()
