"""Run a sweep: expand the grid, skip what a resumed sweep already has, execute, summarise."""

from __future__ import annotations

import time
from contextlib import closing
from typing import Any, Callable

from ..core.errors import ClusterError, ConfigError
from ..core.store import FINISHED, Store, new_run_id
from .executors import EXECUTORS, Plan
from .grid import SweepSpec, cell_key, expand

# What `--executor auto` picks, measured with benchmarks/sweep.py on a shared 2-core CPU, torch
# 2.13, best of 5 (seconds for the whole sweep, store writes included):
#   linreg, 64 cells (8 lrs x 2 batch sizes x sgd,adam x 2 seeds, 100 steps), best of 3 on a
#     quiet machine: serial 3.16, vectorized 0.25 (12.9x), process 6.85
#   mnist-5k MLP, 8 cells (4 lrs x 2 seeds, batch 100, 1 epoch):
#     serial 0.77, vectorized 0.38 (2.0x; 1.7x-2.0x over runs; 1.25x with 1 torch thread),
#     process 6.39 (two spawned workers pay torch's import, ~3 s each, before any cell)
# The surface problem's cells are a handful of scalar ops each: serial (no vectorized form).
# Each problem's registry entry (``problems.Entry.executor``) holds its choice.


def run_sweep(
    spec: SweepSpec | None = None,
    *,
    store: Store | None = None,
    resume: str | None = None,
    yes: bool = False,
    progress: Callable[[int, int], None] | None = None,
    sweep_id: str | None = None,
) -> dict[str, Any]:
    """Run ``spec`` (or finish sweep ``resume``); returns the sweep document.

    ``sweep_id``: the id to record a new sweep under (a study that records it before the sweep
    starts, so that a killed study names its sweep); by default a new one.

    Executors (``executors.py``) compute; this function, the driver, stores every unit's
    records as they arrive and calls ``progress(cells finished, cells in the grid)`` after each.
    Ctrl-C stops the sweep: finished cells are already in the store, and the document has status
    ``interrupted`` with the command to resume; a Ray cluster that goes away gives status
    ``cluster_lost``, with ``error`` saying how many cells were kept and how to resume.
    """
    store = store or Store()
    if resume is not None:
        if sweep_id is not None and sweep_id != resume:
            raise ConfigError(f"a resumed sweep keeps its id {resume}; got another, {sweep_id}")
        saved = store.sweep(resume)
        if saved is None:
            raise ConfigError(f"no sweep {resume!r} in {store.path}; `sgdlab runs` lists the sweeps' runs")
        if not isinstance(saved["spec"].get("axes"), dict):  # a study (batch sizes, sharpness...)
            raise ConfigError(f"{resume} is a {saved['spec'].get('study') or saved['problem']} study, not a "
                              "grid sweep: `sweep --resume` finishes sweeps made by `sgdlab sweep` only")
        stored_spec = SweepSpec.from_dict(saved["spec"])
        if stored_spec.study:  # the grid of a study: its fit and measurements are the study's
            raise ConfigError(f"{resume} is the grid of the {stored_spec.study} study {stored_spec.study_run} "
                              f"(`sgdlab runs show {stored_spec.study_run}`): `sweep --resume` finishes sweeps "
                              f"made by `sgdlab sweep` only; run `sgdlab {stored_spec.study}` again to redo it")
        if spec is not None:  # a resumed sweep keeps its grid; only how it runs may change
            stored_spec.executor, stored_spec.workers = spec.executor, spec.workers
            stored_spec.address = spec.address
        spec, sweep_id = stored_spec, resume
    elif spec is None:
        raise ConfigError("nothing to run: give a sweep spec or --resume SWEEP_ID")
    else:
        sweep_id = sweep_id or "s" + new_run_id()
    spec.validate(yes=yes)
    if spec.executor == "ray":
        from .ray_executor import require_ray

        require_ray()  # before anything is written: without Ray, say how to install it
        from .ray_executor import check_address

        check_address(spec.address)  # and a cluster that is not there, within seconds
    store.check_writable()
    from .. import problems  # the registry: the runner knows problems only by name

    entry = problems.get(spec.problem)
    adapter = entry.sweep_adapter()
    executor = entry.executor if spec.executor == "auto" else spec.executor
    if executor == "vectorized" and not adapter.vectorizable:
        executor = "serial"
    if executor not in EXECUTORS:
        raise ConfigError(f"problem {spec.problem!r} asks for executor {executor!r}, which sgdlab does "
                          f"not have; --executor takes {', '.join(EXECUTORS)}")
    cells = expand(spec)
    options = [spec.base | cell for cell in cells]
    configs = [adapter.config(o) for o in options]
    problems: list[str] = []
    for config in configs:  # report each distinct problem once, however many cells share it
        try:
            adapter.check(config)
        except ConfigError as exc:
            problems += [p for p in exc.problems if p not in problems]
    if not problems:
        cells = _recorded_cells(adapter, configs, cells, problems)
    if problems:
        raise ConfigError(*problems)
    # only now, with the problem, its executor and every cell's config known, is anything recorded
    store.save_sweep(sweep_id, spec.problem, spec.to_dict())

    done = {cell_key(r.metrics.get("sweep_cell", {})) for r in store.list_runs(sweep_id=sweep_id)
            if r.status in FINISHED}
    todo = [i for i, c in enumerate(cells) if cell_key(c) not in done]

    status, error = "completed", None
    start = time.perf_counter()
    finished_now = 0
    if progress:
        progress(len(cells) - len(todo), len(cells))
    try:
        plan = Plan(spec.problem, adapter, [configs[i] for i in todo], [cells[i] for i in todo],
                    sweep_id, data=adapter.load_data(configs[todo[0]]) if todo else None,
                    workers=spec.workers, address=spec.address)
        # the driver alone writes the store: each unit's records the moment they arrive
        with closing(EXECUTORS[executor](plan)) as units:
            for records in units:
                store.save_many(records)
                finished_now += len(records)
                if progress:
                    progress(len(cells) - len(todo) + finished_now, len(cells))
    except KeyboardInterrupt:
        status = "interrupted"
    except ClusterError as exc:
        status, error = "cluster_lost", exc
    seconds = time.perf_counter() - start

    from .summary import summarize_sweep

    document = summarize_sweep(store, sweep_id, spec, adapter)
    finished = len(document["cells"])
    document.update({
        "status": status if finished == len(cells) or status != "completed" else "incomplete",
        "executor": executor, "cells_total": len(cells), "cells_finished": finished,
        "cells_run_now": finished - len(done), "seconds": seconds,
    })
    if document["status"] != "completed":
        document["resume"] = f"sgdlab sweep {spec.problem} --resume {sweep_id}"
    if error is not None:
        document["error"] = (f"{error}; {finished} of {len(cells)} cells finished and kept in "
                             f"{store.path}; resume with: {document['resume']} (add --address "
                             f"HOST:PORT for another cluster, or --executor serial to finish here)")
    return document


def _recorded_cells(adapter, configs: list, cells: list[dict[str, Any]], problems: list[str]) -> list[dict[str, Any]]:
    """The cells as recorded: a word the problem took on an axis (a model file's batch size auto
    or full) becomes the value it stands for on this data (``adapter.recorded_cell``), so each
    cell names the size it used and a resumed sweep finds it again. Two values that give the same
    cell (auto and 32 on 40 rows) would run one run twice, as two: refused, naming both."""
    recorded = getattr(adapter, "recorded_cell", None)
    if recorded is None:
        return cells
    out, first = [], {}
    for config, given in zip(configs, cells):
        used = recorded(config, given)
        other = first.setdefault(cell_key(used), given)
        if other is not given:
            axes = [a for a in given if other[a] != given[a]]
            flags = "; ".join(f"--{a.replace('_', '-')} {other[a]} and {given[a]}" for a in axes)
            values = ", ".join(f"{a.replace('_', ' ')} {used[a]}" for a in axes)
            line = f"{flags} give the same run here ({values}): give one"
            if line not in problems:
                problems.append(line)
        out.append(used)
    return out
