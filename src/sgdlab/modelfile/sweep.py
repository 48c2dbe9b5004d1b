"""The sweep adapter of a model file: one cell = one ``sgdlab train FILE.py`` run; cells that
share the file, schedule and update rule run as one stacked model (``stacked.py``).

The file is imported and ``data()`` called once, on the sweep's driver (``load_data``): every
cell, on any executor, gets those tensors. Workers of the process and Ray executors import the
file themselves for ``model()`` and ``loss``: it must be readable there at the same path.
"""

from __future__ import annotations

from typing import Any

from ..core.store import RunRecord
from ..sweep.protocol import check_optimizer, config_from, summary
from .config import AUTO, ModelFileConfig


class ModelFileAdapter:
    name = "modelfile"
    vectorizable = True
    # `train FILE.py`'s batch-size words: auto (min(32, rows)) and full (the whole training set);
    # each cell records the size it used (``recorded_cell``)
    axis_words = {"batch_size": (AUTO, "full")}

    @staticmethod
    def config(options: dict[str, Any]):
        # a cell pays for the sharpness (a Lanczos per model) only when its options ask for it
        return config_from(ModelFileConfig, {"bound": False} | options, plots=False)

    @staticmethod
    def check(config) -> None:
        """The file, its data and model (one forward pass), the batch size and the schedule:
        no cell is recorded before every cell is known good."""
        from ..core.errors import ConfigError, Problems
        from ..core.limits import check_steps
        from .checks import prepare

        config.validate()
        check_optimizer(config.optimizer, config.lr)
        prepared = prepare(config, _data(config))
        n = int(prepared.x.shape[0])
        problems = Problems()
        batch_size, steps = config.updates(n)
        check_steps(problems, steps, f"--epochs {config.epochs} at batch size {batch_size}")
        problems.raise_if_any(ConfigError)

    @staticmethod
    def recorded_cell(config, cell: dict[str, Any]) -> dict[str, Any]:
        """The cell with a batch-size word (auto, full) replaced by the size it uses on the data."""
        if not isinstance(cell.get("batch_size"), str):
            return cell
        return cell | {"batch_size": config.updates(int(_data(config)["train"][0].shape[0]))[0]}

    @staticmethod
    def load_data(config):
        return _data(config)

    @staticmethod
    def compute_cell(config, cell: dict[str, Any], sweep_id: str, data=None) -> RunRecord:
        from .run import run, to_record

        return to_record(run(config, record=False, data=data), sweep_id, cell)

    @staticmethod
    def group_key(config) -> tuple:
        from .stacked import group_key

        return group_key(config)

    @staticmethod
    def compute_group(configs, cells, sweep_id: str, data=None) -> list[RunRecord]:
        from .stacked import compute_group

        return compute_group(configs, cells, sweep_id, data if data is not None else _data(configs[0]))

    @staticmethod
    def summarize(record: RunRecord) -> dict[str, Any]:
        m = record.metrics
        final = m.get("final_loss")
        return summary(record, curve=list(record.curves.get("step_loss", [])),
                       final_loss=float("nan") if final is None else final,
                       samples_per_step=m["batch_size"], seconds=m["seconds"],
                       accuracy=m.get("test_accuracy"))


_CACHE: dict[tuple, Any] = {}


def _data(config):
    """The file's checked data, loaded once per file text (every cell's check asks for it)."""
    from .checks import load_data
    from .source import load, sha256_of

    key = (config.file, sha256_of(config.file) if config.file else id(config.source))
    if key not in _CACHE:
        _CACHE.clear()  # one file per sweep: keep only the latest
        _CACHE[key] = load_data(load(config.file if config.file is not None else config.source))
    return _CACHE[key]


ADAPTER = ModelFileAdapter()
