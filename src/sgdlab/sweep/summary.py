"""A sweep's numbers: one row per cell, mean +- std over seeds, steps to a target, the best cell."""

from __future__ import annotations

import math
import statistics
from typing import Any

from ..core.store import Store
from .grid import AXES, SweepSpec

ROW_FIELDS = ("lr", "batch_size", "optimizer", "seed", "status", "final_loss", "best_loss",
              "seconds", "run_id")


def summarize_sweep(store: Store, sweep_id: str, spec: SweepSpec, adapter) -> dict[str, Any]:
    records = store.get_many([r.id for r in store.list_runs(sweep_id=sweep_id)])
    rows = [adapter.summarize(record) for record in records]
    rows.sort(key=lambda r: tuple(_sortable(r.get(a)) for a in AXES if a in spec.axes))
    for row in rows:
        row["steps_to_target"] = steps_to_target(row["curve"], spec.target)
    groups = group_over_seeds(rows, spec)
    best = min(
        (g for g in groups if math.isfinite(g["final_loss_mean"])),
        key=lambda g: g["final_loss_mean"], default=None,
    )
    cells = [{k: v for k, v in row.items() if k not in ("curve", "samples_per_step")} for row in rows]
    return {
        "sweep_id": sweep_id, "problem": spec.problem, "axes": spec.axes, "base": spec.base,
        "target": spec.target, "cells": cells, "groups": groups, "best": best, "_rows": rows,
    }


def steps_to_target(curve: list[float], target: float | None) -> int | None:
    """The first update after which the loss is at or below ``target`` (None: never, or no target)."""
    if target is None:
        return None
    for step, value in enumerate(curve):
        if isinstance(value, float) and math.isfinite(value) and value <= target:
            return step
    return None


def group_over_seeds(rows: list[dict[str, Any]], spec: SweepSpec) -> list[dict[str, Any]]:
    """Cells that differ only in their seed, summarised: mean and std (sample std; 0 for one seed)."""
    axes = [a for a in AXES if a in spec.axes and a != "seed"]
    groups: dict[tuple, list[dict[str, Any]]] = {}
    for row in rows:
        groups.setdefault(tuple(_sortable(row.get(a)) for a in axes), []).append(row)
    out = []
    for members in groups.values():
        finals = [m["final_loss"] for m in members]
        finite = [v for v in finals if math.isfinite(v)]
        diverged = sum(m["status"] == "diverged" for m in members)
        all_finite = len(finite) == len(finals) and not diverged
        group = {a: members[0].get(a) for a in axes}
        group.update({
            "seeds": len(members),
            "diverged": diverged,
            # a group with any diverged seed has no meaningful mean: shown as NaN, never hidden
            "final_loss_mean": statistics.fmean(finals) if all_finite else float("nan"),
            "final_loss_std": statistics.stdev(finals) if all_finite and len(finals) > 1 else 0.0,
            "best_loss_mean": statistics.fmean([m["best_loss"] for m in members]),
            "seconds_mean": statistics.fmean([m["seconds"] for m in members]),
            "run_ids": [m["run_id"] for m in members],
        })
        if any("accuracy" in m for m in members):
            accs = [m.get("accuracy", float("nan")) for m in members]
            group["accuracy_mean"] = statistics.fmean(accs)
            group["accuracy_std"] = statistics.stdev(accs) if len(accs) > 1 else 0.0
        reached = [m["steps_to_target"] for m in members if m["steps_to_target"] is not None]
        group["steps_to_target_mean"] = statistics.fmean(reached) if reached else None
        group["reached_target"] = len(reached)
        out.append(group)
    return out


def _sortable(value: Any) -> Any:
    return (str(type(value)), value if not isinstance(value, list) else tuple(value))
