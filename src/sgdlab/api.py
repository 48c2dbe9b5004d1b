"""``train(config)``: one entry point from Python for every kind of run.

It finds the config's problem in the registry (``sgdlab.problems``) and returns the same
document the command line prints with ``--json``.
"""

from __future__ import annotations

import os
from typing import Any

from .core.store import Store


def train(config: Any, *, store: Store | str | None = None, record: bool = True,
          **options: Any) -> dict[str, Any]:
    """Run ``config`` (the config dataclass of any registered problem: ``LinRegConfig``,
    ``MnistConfig``, ...) and return its result document.

    A model of one's own: ``config`` may instead be the path of a model file, or an object or
    module with ``model``, ``data`` and ``loss``; ``options`` are then its config's fields
    (``train(mynet, lr=0.1, epochs=2)``).

    ``store``: a ``Store`` or a path to the SQLite file (default: ``$SGDLAB_STORE`` or
    ``./sgdlab-runs/runs.db``); ``record=False`` keeps the run out of the store.
    """
    import dataclasses

    from . import problems

    own = isinstance(config, (str, os.PathLike)) or all(
        callable(getattr(config, name, None)) for name in ("model", "data", "loss"))
    if own and not dataclasses.is_dataclass(config):
        config = _own_model(config, options)
    elif options:
        raise TypeError(f"train() got options {', '.join(options)} beside a config; set them on the config")
    if not isinstance(store, Store):
        store = Store(store)
    return problems.for_config(config).run_function()(config, store=store, record=record)


def _own_model(source: Any, options: dict[str, Any]) -> Any:
    """The config of a user's model: the registry's model-file problem builds it from the path
    or object (its config class's ``from_source``)."""
    from . import problems

    entry = problems.find(problems.MODEL_FILE)
    if entry is None:
        raise TypeError(f"train() does not know {type(source).__name__} objects")
    return entry.config_class().from_source(source, **options)


def resume(run_id: str, *, store: Store | str | None = None) -> dict[str, Any]:
    """Continue interrupted run ``run_id`` from its last checkpoint and finish it under the same
    id; returns its result document, the one an uninterrupted run would have given."""
    from dataclasses import fields

    from . import problems
    from .core.errors import ConfigError
    from .optim.spec import OptimizerSpec

    if not isinstance(store, Store):
        store = Store(store)
    if not store.exists():
        raise ConfigError(f"no run store at {store.path}; nothing has been recorded there yet")
    record = store.get(run_id, curves=False)
    state = record.state
    if state == "running":
        raise ConfigError(f"run {record.id} is still running (process {record.pid} on this host); "
                          "stop it first")
    if state == "unknown":
        raise ConfigError(f"run {record.id} was started on host {record.host}; whether it still "
                          "runs cannot be checked from here: resume it there")
    if state != "interrupted":
        raise ConfigError(f"run {record.id} is {state}: there is nothing to resume")
    entry = problems.find(record.command)  # a run's command is its problem's name
    if entry is None or not entry.resumable or record.metrics.get("sweep_cell") is not None:
        resumable = " and ".join(e.name for e in problems.entries().values() if e.resumable)
        raise ConfigError(f"run {record.id} ({record.command}) has no checkpoints: only "
                          f"{resumable} runs outside sweeps write them; run it again "
                          "(a sweep continues with `sgdlab sweep --resume SWEEP_ID`)")
    cls = entry.config_class()
    known = {f.name for f in fields(cls)}
    unknown = sorted(set(record.config) - known)
    if unknown:
        raise ConfigError(f"run {record.id} was recorded by another version of sgdlab (its config "
                          f"has {', '.join(unknown)}); resume it with that version")
    options = dict(record.config)
    options["optimizer"] = OptimizerSpec.from_dict(options.get("optimizer") or {})
    config = cls(**options)
    from .core.checkpoint import folder_for, resume_lock

    with resume_lock(folder_for(store.path, record.id), record.id):  # one resume at a time
        if store.get(record.id, curves=False).state != "interrupted":  # another just finished it
            raise ConfigError(f"run {record.id} was resumed by another process meanwhile")
        document = entry.run_function()(config, store=store, run_id=record.id, resume=True,
                                        sweep_id=record.sweep_id)
    document.setdefault("problem", entry.name)  # which printer shows it: `sgdlab resume`
    return document
