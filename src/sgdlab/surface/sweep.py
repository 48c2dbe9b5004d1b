"""The sweep adapter of 2-D surfaces: one cell = one trajectory (``sgdlab surface`` with one
learning rate). No vectorized form: a trajectory is a handful of scalar ops, serial is fastest."""

from __future__ import annotations

from typing import Any

from ..core.store import RunRecord
from ..sweep.protocol import check_optimizer, optimizer_spec, summary
from .config import SurfaceConfig


class SurfaceAdapter:
    """One cell = one trajectory on a 2-D function (``sgdlab surface`` with one learning rate)."""

    name = "surface"
    vectorizable = False  # a trajectory is a handful of scalar ops: serial is the fastest

    @staticmethod
    def config(options: dict[str, Any]):
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
    def defaults(base: dict[str, Any]) -> dict[str, Any]:
        """`sgdlab sweep surface` without --surface or --f sweeps the bowl."""
        return {} if base.get("f") is not None else {"surface": "bowl"}

    @staticmethod
    def identical_seeds(base: dict[str, Any]) -> str | None:
        """Why cells that differ only in their seed would be the same run (None: they differ)."""
        return None if base.get("noise") else "would repeat identical surface runs: without --noise nothing is random"

    @staticmethod
    def check(config) -> None:
        from .run import build_surface

        config.validate()
        check_optimizer(config.optimizer, (config.lrs or [1e-2])[0])
        build_surface(config)  # an unknown name or a bad --f is refused before any cell runs

    @staticmethod
    def load_data(config) -> None:
        return None  # the function is in the config: no data to ship

    @staticmethod
    def compute_cell(config, cell: dict[str, Any], sweep_id: str, data=None) -> RunRecord:
        from .run import run, to_record

        return to_record(run(config, record=False), sweep_id, cell)

    @staticmethod
    def summarize(record: RunRecord) -> dict[str, Any]:
        trajectory = record.metrics["runs"][0]
        curve = next(iter(record.curves.values()), [])
        row = summary(record, curve=curve, final_loss=trajectory["final"]["f"], samples_per_step=1,
                      seconds=trajectory.get("seconds", 0.0))
        row["lr"] = trajectory["lr"]
        row["verdict"] = trajectory["verdict"]
        return row


ADAPTER = SurfaceAdapter()
