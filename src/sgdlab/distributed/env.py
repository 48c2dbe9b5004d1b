"""Is this process one rank of a data-parallel run, and joining its process group.

A worker is recognised by the variables ``torchrun`` sets (``RANK``, ``WORLD_SIZE``,
``LOCAL_RANK``, ``MASTER_ADDR``, ``MASTER_PORT``); ``launch.py`` sets the same ones for
``--nproc N``, so one code path serves both. Under ``torchrun`` sgdlab never starts processes.

Never hang: the group has a timeout (``SGDLAB_DIST_TIMEOUT`` seconds, default ``TIMEOUT_S``), so
a collective whose peer died or froze raises instead of waiting for ever; a peer that was killed
usually closes its sockets and the collective fails at once.
"""

from __future__ import annotations

import os
import socket
from dataclasses import dataclass
from typing import Any

TIMEOUT_S = 30.0  # the slowest thing one rank does while the others wait: rank 0's sharpness
#                  at initialisation and its checkpoints, well under a second at MNIST sizes
TIMEOUT_ENV = "SGDLAB_DIST_TIMEOUT"


def launched() -> bool:
    """True in a process started by ``torchrun`` or by ``launch.py`` (one rank of a run)."""
    return "RANK" in os.environ and "WORLD_SIZE" in os.environ


def rank() -> int:
    return int(os.environ.get("RANK", "0"))


def quiet() -> bool:
    """True on a rank other than 0: it prints no result (rank 0 speaks for the run)."""
    return launched() and rank() != 0


def timeout_s() -> float:
    try:
        return max(1.0, float(os.environ.get(TIMEOUT_ENV, TIMEOUT_S)))
    except ValueError:
        return TIMEOUT_S


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port free on ``host`` now (the OS picks it; bound to loopback only)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


@dataclass
class Rank:
    """This process's place in the run: rank, world size, local rank, device, the group."""

    rank: int
    world: int
    local_rank: int
    device: Any
    backend: str

    @property
    def writer(self) -> bool:
        """Rank 0 alone writes the run store, the checkpoints and the figures."""
        return self.rank == 0

    def agree(self, value):
        """Rank 0's ``value`` on every rank (any picklable object: a run id, a checkpoint)."""
        import torch.distributed as dist

        box = [value if self.writer else None]
        dist.broadcast_object_list(box, src=0, device=self.device if self.backend == "nccl" else None)
        return box[0]


def join(device_name: str) -> Rank:
    """Join the run's process group (once per process) and return this process's place in it.

    ``device_name`` is the config's device: on CUDA each rank takes ``cuda:LOCAL_RANK`` and the
    group speaks nccl; on the CPU, gloo.
    """
    from datetime import timedelta

    import torch
    import torch.distributed as dist

    from ..core.errors import ConfigError

    world, me = int(os.environ["WORLD_SIZE"]), int(os.environ["RANK"])
    local = int(os.environ.get("LOCAL_RANK", me))
    cuda = device_name.startswith("cuda") or (device_name == "auto" and torch.cuda.is_available())
    if cuda and not torch.cuda.is_available():
        raise ConfigError(f"--device {device_name}: CUDA is not available on rank {me}")
    if device_name == "mps":
        raise ConfigError("--device mps: torch.distributed has no MPS backend; use --device cpu")
    if cuda:
        torch.cuda.set_device(local)
        device, backend = torch.device("cuda", local), "nccl"
    else:
        device, backend = torch.device("cpu"), "gloo"
    if not dist.is_initialized():
        import atexit

        timeout = timedelta(seconds=timeout_s())
        # torch's own env:// rendezvous, then a key prefix per torchrun attempt: a restarted
        # attempt (--max-restarts) otherwise read the killed attempt's gloo addresses from the
        # agent's store and timed out connecting to a rank that no longer exists
        store, rank, size = next(dist.rendezvous("env://", timeout=timeout))
        attempt = os.environ.get("TORCHELASTIC_RESTART_COUNT", "0") or "0"
        store = dist.PrefixStore(f"sgdlab/attempt_{attempt}", store)
        dist.init_process_group(backend, store=store, rank=rank, world_size=size, timeout=timeout)
        atexit.register(leave)  # under torchrun nothing else leaves the group
    if dist.get_world_size() != world:
        raise ConfigError(f"the process group has {dist.get_world_size()} ranks, WORLD_SIZE says {world}")
    return Rank(me, world, local, device, backend)


def finish_together() -> None:
    """Wait, once this rank's run has ended well, until every rank's has, before any leaves.

    A rank that destroyed its group while a peer was still in its last collective aborted at exit
    now and then (SIGABRT, about 1 run in 11 of a 2-rank Adam run on a model with frozen layers,
    after ``leave``'s collection had made it rare). A peer that failed instead has closed its
    connections, which ends this wait at once with an error: ignored, that peer's error is the news.
    """
    try:
        import torch.distributed as dist

        if dist.is_initialized():
            dist.barrier()
    except Exception:
        pass


def leave() -> None:
    """Leave the process group, if joined; never raises (leaving a broken group must not hide why
    it broke). First a garbage collection: DDP's communication hook holds its state in a reference
    cycle, and a DDP reducer still alive when the group is destroyed made a rank that left before
    its peers abort at exit (std::terminate, SIGABRT): 5 of 24 tries of 2 gloo ranks with rank 0
    the slower, 0 of 50 with the collection first."""
    try:
        import gc

        import torch.distributed as dist

        if dist.is_initialized():
            gc.collect()
            dist.destroy_process_group()
    except Exception:
        pass


def restart_marker(store_path, run_id: str | None) -> tuple[str | None, bool]:
    """Under ``torchrun --max-restarts``: (run id, resume?) for this attempt, on rank 0.

    The first attempt writes its run id in a small file keyed by this host, the torchrun agent
    (our parent process, the same across restarts) and the rendezvous id; a restarted attempt
    (``TORCHELASTIC_RESTART_COUNT`` > 0) reads it back and resumes that run from its last
    checkpoint instead of starting a new one.
    """
    from pathlib import Path

    from ..core.files import write_text

    restarts = int(os.environ.get("TORCHELASTIC_RESTART_COUNT", "0") or 0)
    agent = os.environ.get("TORCHELASTIC_RUN_ID")
    if agent is None:  # not under torchrun: our own launcher passes the id itself
        return run_id, False
    key = f"{socket.gethostname()}-{os.getppid()}-{agent}".replace(os.sep, "_")
    marker = Path(store_path).parent / "distributed" / f"{key}.run"
    if restarts > 0 and marker.is_file():
        return marker.read_text().strip(), True
    if run_id is not None:
        write_text(marker, run_id)
    return run_id, False
