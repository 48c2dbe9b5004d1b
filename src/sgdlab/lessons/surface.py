"""Demo lessons for tutorial section 2: the learning rate on a bowl, and escaping saddle points."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..core.store import Store

# on bowl (curvatures 1 and 10) the stable bound is 2/10 = 0.2
BOWL_LRS = (0.01, 0.1, 0.199, 0.21)  # too small, good, at the edge, too large


def lesson_learning_rate(folder: Path, store: Store, quick: bool) -> dict[str, Any]:
    from ..surface.config import SurfaceConfig
    from ..surface.run import run

    result = run(SurfaceConfig(name="bowl", lrs=list(BOWL_LRS), steps=200, out=str(folder)), store=store)
    verdicts = ", ".join(f"lr {r['lr']:g}: {r['verdict']}" for r in result["runs"])
    return {
        "name": "learning rate too small, good, too large (tutorial section 2.1.2)",
        "summary": f"bowl, bound 2/lambda_max = {result['lr_bound']:.3g}: {verdicts}; run {result['run_id']}",
        "figures": result["figures"],
        "run_ids": [result["run_id"]],
    }


def lesson_saddles(folder: Path, store: Store, quick: bool) -> dict[str, Any]:
    from ..surface.config import SurfaceConfig
    from ..surface.run import run

    cases = [
        ("saddle", SurfaceConfig(name="saddle", out=str(folder / "saddle"))),
        ("x4-y3, y > 0", SurfaceConfig(name="x4-y3", out=str(folder / "x4-y3"))),
        ("x4-y3, y < 0", SurfaceConfig(name="x4-y3", start=(0.5, -0.05), out=str(folder / "x4-y3-stuck"))),
    ]
    parts, figures, run_ids = [], [], []
    for label, config in cases:
        result = run(config, store=store)
        r = result["runs"][0]
        step = f" at step {r['escape_step']}" if r["escape_step"] is not None else ""
        parts.append(f"{label}: {result['critical_point']['kind'].split(' (')[0]}, {r['verdict']}{step}")
        figures += result["figures"]
        run_ids.append(result["run_id"])
    return {
        "name": "saddle points: x^2 - y^2 and x^4 - y^3 (tutorial section 2.2)",
        "summary": "; ".join(parts),
        "figures": figures,
        "run_ids": run_ids,
    }
