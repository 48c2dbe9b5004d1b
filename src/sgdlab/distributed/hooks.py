"""What a problem's ``run`` calls to become data-parallel (mnist/run.py is the example).

    if hooks.launches(config):                     # --nproc N, not under torchrun: start N
        return hooks.launch("mnist", config, ...)  # workers, return rank 0's document
    place = hooks.join(config)                     # None in a single process
    config, run_id, resume, record = hooks.agree(place, config, store, run_id, resume, record)
    problem = DataParallel(net, criterion, x, y, place, ...)   # this rank's shard of each batch
    optimizer = problem.wrap_optimizer(optimizer)  # local SGD: a periodic parameter average
    payload = place.agree(payload)                 # rank 0's checkpoint on every rank
    result |= problem.describe(seconds, steps)     # nproc, world, allreduce, communication
"""

from __future__ import annotations

import dataclasses

from . import env
from .data_parallel import DataParallel  # noqa: F401  (re-exported for the problems' run)
from .launch import launch  # noqa: F401
from .spec import check_split  # noqa: F401

# the run document's keys this package adds (copied into the store's metrics)
KEYS = ("nproc", "world", "backend", "allreduce", "local_steps", "communications",
        "loss_allreduces", "comm_seconds", "comm_seconds_per_step", "comm_fraction", "shard_seconds")


def launches(config) -> bool:
    """True when this process must start ``config.nproc`` workers (and not train itself)."""
    return getattr(config, "nproc", 1) > 1 and not config.emulate and not env.launched()


def join(config):
    """This process's ``env.Rank`` when it is a worker (``torchrun`` or ``--nproc``), else None."""
    return env.join(config.device) if env.launched() else None


def problem(place, config, net, criterion, x, y):
    """The training loop's problem when the run is data parallel, else None: this rank's
    ``DataParallel``, or with ``config.emulate`` the chunked reference in one process."""
    if place is not None:
        return DataParallel(net, criterion, x, y, place, allreduce=config.allreduce,
                            local_steps=config.local_steps)
    if config.emulate and config.nproc > 1:
        from .reference import Chunked

        return Chunked(net, criterion, x, y, config.nproc, allreduce=config.allreduce)
    return None


def wrap_optimizer(sharded, optimizer):
    """``optimizer``, followed under local SGD by a parameter average every H steps."""
    return optimizer if sharded is None else sharded.wrap_optimizer(optimizer)


def agree(place, config, store, run_id, resume: bool, record: bool):
    """(config, run id, resume?, record?) as this rank must use them; the identity for None.

    Every rank takes rank 0's run id (under ``torchrun --max-restarts`` a restarted attempt
    resumes the run its first attempt began); the run's ``nproc`` is the world size; ranks other
    than 0 record nothing, draw nothing and leave the theory to rank 0.
    """
    from ..core.errors import ConfigError
    from ..core.store import new_run_id

    if place is None:
        return config, run_id, resume, record
    if config.nproc not in (1, place.world):
        raise ConfigError(f"--nproc {config.nproc} but this run has {place.world} processes "
                          f"(WORLD_SIZE); under torchrun leave --nproc out")
    config = dataclasses.replace(config, nproc=place.world)
    if place.writer:
        run_id, restarted = env.restart_marker(store.path, run_id or new_run_id())
        resume = resume or restarted
    run_id, resume = place.agree((run_id, resume))
    if not place.writer:
        config = dataclasses.replace(config, plots=False, bound=False, sharpness_every=None)
    return config, run_id, resume, record and place.writer
