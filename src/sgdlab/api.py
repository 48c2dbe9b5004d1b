"""``train(config)``: one entry point from Python for every kind of run.

It dispatches on the config's type and returns the same document the command line prints with
``--json``.
"""

from __future__ import annotations

from typing import Any

from .store import Store


def train(config: Any, *, store: Store | str | None = None, record: bool = True) -> dict[str, Any]:
    """Run ``config`` (a ``LinRegConfig``, ...) and return its result document.

    ``store``: a ``Store`` or a path to the SQLite file (default: ``$SGDLAB_STORE`` or
    ``./sgdlab-runs/runs.db``); ``record=False`` keeps the run out of the store.
    """
    from .config import LinRegConfig

    if not isinstance(store, Store):
        store = Store(store)
    if isinstance(config, LinRegConfig):
        from . import linreg

        return linreg.run(config, store=store, record=record)
    from .surface_config import SurfaceConfig

    if isinstance(config, SurfaceConfig):
        from . import surface_run

        return surface_run.run(config, store=store, record=record)
    from .mlp import MnistConfig

    if isinstance(config, MnistConfig):
        from . import mlp

        return mlp.run(config, store=store, record=record)
    raise TypeError(f"train() does not know configs of type {type(config).__name__}")
