"""The executors: how a sweep's cells get computed.

Every executor is a generator over a ``Plan`` that yields lists of run records as its units of
work finish (one cell, or one vectorized group). It never touches the run store: the runner,
the sweep's driver, stores each list the moment it arrives, so a sweep stopped at any point
keeps every finished cell, whichever executor computed it.

* ``serial``: one cell after another, in this process.
* ``vectorized``: cells that share a group key (data, schedule, update rule) as one stacked model.
* ``process``: long-lived worker processes with one thread each; the shared data is sent to each
  worker once, when it starts.
* ``ray``: tasks on a Ray cluster (``ray_executor``, imported only when used).
"""

from __future__ import annotations

import os
import signal
import sys
from dataclasses import dataclass
from typing import Any, Iterator

from ..core.store import RunRecord

Records = Iterator[list[RunRecord]]


@dataclass
class Plan:
    """What an executor computes: the cells still to run, their configs and shared data."""

    problem: str
    adapter: Any  # the problem's sweep adapter (``protocol.SweepAdapter``)
    configs: list[Any]
    cells: list[dict[str, Any]]
    sweep_id: str
    data: Any = None  # what every cell shares (``adapter.load_data``), loaded once by the driver
    workers: int | None = None  # process executor: worker processes; ray: CPUs of a local Ray
    address: str | None = None  # ray: the cluster to join (None: $RAY_ADDRESS, else a local Ray)

    def groups(self) -> list[list[int]]:
        """Indices of the cells that can run as one stacked model, in grid order."""
        groups: dict[tuple, list[int]] = {}
        for i, config in enumerate(self.configs):
            groups.setdefault(self.adapter.group_key(config), []).append(i)
        return list(groups.values())


def compute(adapter, configs: list, cells: list[dict], sweep_id: str, data, stacked: bool) -> list[RunRecord]:
    """One unit of work: a stacked group, or one cell computed alone."""
    if stacked:
        return adapter.compute_group(configs, cells, sweep_id, data)
    return [adapter.compute_cell(config, cell, sweep_id, data) for config, cell in zip(configs, cells)]


def serial(plan: Plan) -> Records:
    for config, cell in zip(plan.configs, plan.cells):
        yield compute(plan.adapter, [config], [cell], plan.sweep_id, plan.data, stacked=False)


def vectorized(plan: Plan) -> Records:
    for members in plan.groups():
        yield compute(plan.adapter, [plan.configs[i] for i in members],
                      [plan.cells[i] for i in members], plan.sweep_id, plan.data, stacked=True)


_WORKER_DATA: Any = None  # the sweep's shared data, in a process executor's worker


def _init_worker(data: Any) -> None:
    # One thread per worker: N workers on N cores beat N workers fighting over N x N threads.
    # Workers ignore Ctrl-C; the parent stops handing out cells and lets running ones finish.
    import torch

    global _WORKER_DATA
    torch.set_num_threads(1)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    _WORKER_DATA = data


def _worker_compute(problem: str, config: Any, cell: dict, sweep_id: str) -> list[RunRecord]:
    from .. import problems

    adapter = problems.get(problem).sweep_adapter()
    return compute(adapter, [config], [cell], sweep_id, _WORKER_DATA, stacked=False)


def process(plan: Plan) -> Records:
    import multiprocessing as mp
    from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait

    if not plan.cells:
        return
    workers = min(plan.workers or os.cpu_count() or 1, len(plan.cells))
    # spawn, not fork: forking a process that has already run torch's thread pools can hang
    pool = ProcessPoolExecutor(workers, mp_context=mp.get_context("spawn"), initializer=_init_worker,
                               initargs=(plan.data,))
    pending = {pool.submit(_worker_compute, plan.problem, config, cell, plan.sweep_id)
               for config, cell in zip(plan.configs, plan.cells)}
    try:
        while pending:
            done, pending = wait(pending, return_when=FIRST_COMPLETED)
            for future in done:
                yield future.result()  # re-raises a worker's error here
    except KeyboardInterrupt:
        print("interrupted: finishing the cells already running...", file=sys.stderr)
        raise
    finally:  # Ctrl-C, an error, or done: cells not started are dropped, running ones finish
        pool.shutdown(wait=True, cancel_futures=True)


def ray(plan: Plan) -> Records:
    from . import ray_executor  # Ray is an optional extra: imported only when asked for

    yield from ray_executor.run(plan)


EXECUTORS = {"serial": serial, "vectorized": vectorized, "process": process, "ray": ray}
