"""Demo lesson for tutorial section 3: linear regression by hand-written gradient descent."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..core.store import Store


def lesson_linreg(folder: Path, store: Store, quick: bool) -> dict[str, Any]:
    from ..linreg.config import LinRegConfig
    from ..linreg.run import run

    result = run(LinRegConfig(out=str(folder)), store=store)
    losses = result["losses"]
    return {
        "name": "linear regression (tutorial section 3)",
        "summary": (
            f"loss {losses[0]:.4f} -> {result['final']['loss']:.5f} in {result['steps']} steps "
            f"(closed-form optimum {result['optimum']['loss']:.5f}); run {result['run_id']}"
        ),
        "figures": result["figures"],
        "run_ids": [result["run_id"]],
    }
