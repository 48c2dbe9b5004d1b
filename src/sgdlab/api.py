"""``train(config)``: one entry point from Python for every kind of run.

It finds the config's problem in the registry (``sgdlab.problems``) and returns the same
document the command line prints with ``--json``.
"""

from __future__ import annotations

from typing import Any

from .core.store import Store


def train(config: Any, *, store: Store | str | None = None, record: bool = True) -> dict[str, Any]:
    """Run ``config`` (a ``LinRegConfig``, ``MnistConfig``, ``SurfaceConfig``) and return its
    result document.

    ``store``: a ``Store`` or a path to the SQLite file (default: ``$SGDLAB_STORE`` or
    ``./sgdlab-runs/runs.db``); ``record=False`` keeps the run out of the store.
    """
    from . import problems

    if not isinstance(store, Store):
        store = Store(store)
    return problems.for_config(config).run_function()(config, store=store, record=record)
