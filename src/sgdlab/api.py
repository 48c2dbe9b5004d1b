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


RESUMABLE = ("linreg", "mnist")  # the problems whose runs write checkpoints


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
    if record.command not in RESUMABLE or record.metrics.get("sweep_cell") is not None:
        raise ConfigError(f"run {record.id} ({record.command}) has no checkpoints: only "
                          f"{' and '.join(RESUMABLE)} runs outside sweeps write them; run it again "
                          "(a sweep continues with `sgdlab sweep --resume SWEEP_ID`)")
    cls = problems.get(record.command).config_class()
    known = {f.name for f in fields(cls)}
    unknown = sorted(set(record.config) - known)
    if unknown:
        raise ConfigError(f"run {record.id} was recorded by another version of sgdlab (its config "
                          f"has {', '.join(unknown)}); resume it with that version")
    options = dict(record.config)
    options["optimizer"] = OptimizerSpec.from_dict(options.get("optimizer") or {})
    config = cls(**options)
    run = problems.get(record.command).run_function()
    from .core.checkpoint import folder_for, resume_lock

    with resume_lock(folder_for(store.path, record.id), record.id):  # one resume at a time
        if store.get(record.id, curves=False).state != "interrupted":  # another just finished it
            raise ConfigError(f"run {record.id} was resumed by another process meanwhile")
        return run(config, store=store, run_id=record.id, resume=True, sweep_id=record.sweep_id)
