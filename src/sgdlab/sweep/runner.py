"""Run a sweep: expand the grid, skip what a resumed sweep already has, execute, summarise."""

from __future__ import annotations

import os
import signal
import sys
import time
from typing import Any, Callable

from ..core.errors import ConfigError
from ..core.store import FINISHED, Store, new_run_id
from .grid import SweepSpec, cell_key, expand

# What `--executor auto` picks, measured with benchmarks/sweep.py on a shared 2-core CPU, torch
# 2.13, best of 5 (seconds for the whole sweep, store writes included):
#   linreg, 64 cells (8 lrs x 2 batch sizes x sgd,adam x 2 seeds, 100 steps), best of 3 on a
#     quiet machine: serial 3.16, vectorized 0.25 (12.9x), process 6.85
#   mnist-5k MLP, 8 cells (4 lrs x 2 seeds, batch 100, 1 epoch):
#     serial 0.77, vectorized 0.38 (2.0x; 1.7x-2.0x over runs; 1.25x with 1 torch thread),
#     process 6.39 (two spawned workers pay torch's import, ~3 s each, before any cell)
# The surface problem's cells are a handful of scalar ops each: serial (no vectorized form).
AUTO_EXECUTOR = {"linreg": "vectorized", "mnist": "vectorized", "surface": "serial"}


def run_sweep(
    spec: SweepSpec | None = None,
    *,
    store: Store | None = None,
    resume: str | None = None,
    yes: bool = False,
    progress: Callable[[int, int], None] | None = None,
) -> dict[str, Any]:
    """Run ``spec`` (or finish sweep ``resume``); returns the sweep document.

    Ctrl-C stops between cells: finished cells are already in the store, and the document has
    status ``interrupted`` with the command to resume.
    """
    store = store or Store()
    if resume is not None:
        saved = store.sweep(resume)
        if saved is None:
            raise ConfigError(f"no sweep {resume!r} in {store.path}; `sgdlab runs` lists the sweeps' runs")
        stored_spec = SweepSpec.from_dict(saved["spec"])
        if spec is not None:  # a resumed sweep keeps its grid; only how it runs may change
            stored_spec.executor, stored_spec.workers = spec.executor, spec.workers
        spec, sweep_id = stored_spec, resume
    elif spec is None:
        raise ConfigError("nothing to run: give a sweep spec or --resume SWEEP_ID")
    else:
        sweep_id = "s" + new_run_id()
    spec.validate(yes=yes)
    store.check_writable()
    from .. import problems  # the registry: the runner knows problems only by name

    adapter = problems.get(spec.problem).sweep_adapter()
    cells = expand(spec)
    options = [spec.base | cell for cell in cells]
    configs = [adapter.config(o) for o in options]
    problems: list[str] = []
    for config in configs:  # report each distinct problem once, however many cells share it
        try:
            adapter.check(config)
        except ConfigError as exc:
            problems += [p for p in exc.problems if p not in problems]
    if problems:
        raise ConfigError(*problems)
    store.save_sweep(sweep_id, spec.problem, spec.to_dict())

    done = {cell_key(r.metrics.get("sweep_cell", {})) for r in store.list_runs(sweep_id=sweep_id)
            if r.status in FINISHED}
    todo = [i for i, c in enumerate(cells) if cell_key(c) not in done]
    executor = spec.executor
    if executor == "auto":
        executor = AUTO_EXECUTOR[spec.problem]
    if executor == "vectorized" and not adapter.vectorizable:
        executor = "serial"

    status = "completed"
    start = time.perf_counter()
    try:
        run = {"serial": _serial, "process": _process, "vectorized": _vectorized}[executor]
        run(adapter, spec, [options[i] for i in todo], [configs[i] for i in todo],
            [cells[i] for i in todo], store, sweep_id, progress)
    except KeyboardInterrupt:
        status = "interrupted"
    seconds = time.perf_counter() - start

    from .summary import summarize_sweep

    document = summarize_sweep(store, sweep_id, spec, adapter)
    finished = len(document["cells"])
    document.update({
        "status": status if finished == len(cells) or status == "interrupted" else "incomplete",
        "executor": executor, "cells_total": len(cells), "cells_finished": finished,
        "cells_run_now": finished - len(done), "seconds": seconds,
    })
    if document["status"] != "completed":
        document["resume"] = f"sgdlab sweep {spec.problem} --resume {sweep_id}"
    return document


def _serial(adapter, spec, options, configs, cells, store, sweep_id, progress) -> None:
    for i, (opts, cell) in enumerate(zip(options, cells)):
        adapter.run_cell(opts, store, sweep_id, cell)
        if progress:
            progress(i + 1, len(cells))


def _vectorized(adapter, spec, options, configs, cells, store, sweep_id, progress) -> None:
    groups: dict[tuple, list[int]] = {}
    for i, config in enumerate(configs):
        groups.setdefault(adapter.group_key(config), []).append(i)
    finished = 0
    for members in groups.values():
        adapter.run_group([configs[i] for i in members], [cells[i] for i in members], store, sweep_id)
        finished += len(members)
        if progress:
            progress(finished, len(cells))


def _init_worker() -> None:
    # One thread per worker: N workers on N cores beat N workers fighting over N x N threads.
    # Workers ignore Ctrl-C; the parent stops handing out cells and lets running ones finish.
    import torch

    torch.set_num_threads(1)
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def _worker_run(problem: str, opts: dict, store_path: str, sweep_id: str, cell: dict) -> str:
    from .. import problems

    return problems.get(problem).sweep_adapter().run_cell(opts, Store(store_path), sweep_id, cell)


def _process(adapter, spec, options, configs, cells, store, sweep_id, progress) -> None:
    import multiprocessing as mp
    from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait

    if not cells:
        return
    workers = min(spec.workers or os.cpu_count() or 1, len(cells))
    # spawn, not fork: forking a process that has already run torch's thread pools can hang
    pool = ProcessPoolExecutor(workers, mp_context=mp.get_context("spawn"), initializer=_init_worker)
    pending = {pool.submit(_worker_run, spec.problem, o, str(store.path), sweep_id, c)
               for o, c in zip(options, cells)}
    finished = 0
    try:
        while pending:
            done, pending = wait(pending, return_when=FIRST_COMPLETED)
            for future in done:
                future.result()  # re-raise a worker's error here
                finished += 1
                if progress:
                    progress(finished, len(cells))
    except KeyboardInterrupt:
        print("interrupted: finishing the cells already running...", file=sys.stderr)
        pool.shutdown(wait=True, cancel_futures=True)
        raise
    pool.shutdown(wait=True)
