"""The data-parallel flags of a run's config and their checks (no torch import)."""

from __future__ import annotations

ALLREDUCE = ("ddp", "manual", "local-sgd")  # local-sgd: parameters averaged every H updates
DTYPES = ("float32", "float64")
MAX_NPROC = 256  # more local processes than this is a typo, not a plan


def check_parallel(problems, config) -> None:
    """Check ``nproc``, ``allreduce``, ``local_steps`` and ``dtype`` of ``config`` (any problem's
    config dataclass with those fields) into ``problems``."""
    from ..core.limits import check_count

    problems.check(config.dtype in DTYPES,
                   f"--dtype must be one of {', '.join(DTYPES)}, got {config.dtype!r}")
    problems.check(config.allreduce in ALLREDUCE,
                   f"--allreduce must be one of {', '.join(ALLREDUCE)}, got {config.allreduce!r}")
    check_count(problems, config.nproc, "--nproc", high=MAX_NPROC)
    check_count(problems, config.local_steps, "--local-steps")
    nproc = config.nproc
    if not isinstance(nproc, int) or nproc < 1:
        return
    batch = config.batch_size
    if isinstance(batch, int) and batch >= 1 and batch % nproc:
        problems.add(f"--batch-size {batch} is the global batch and {nproc} processes cannot split "
                     f"it evenly; give a multiple of {nproc}")
    if config.emulate and (config.local_steps != 1 or config.allreduce == "local-sgd"):
        problems.add("--emulate computes the shards of one model in turn: it has no local models "
                     "for --local-steps to average")
    if config.local_steps != 1 and config.allreduce == "manual":
        problems.add("--local-steps averages parameters, not gradients: it does not combine with "
                     "--allreduce manual")


def check_split(n: int, batch: int, config, *, rows: str = "images", fix: str | None = None) -> None:
    """Every batch of an epoch (the last one may be smaller) must split evenly over the
    ``config.nproc`` processes (under torchrun, the world size it was given). ``rows``: what the
    training set holds; ``fix``: how to mend an uneven last batch (default: ``--limit-train``)."""
    from ..core.errors import ConfigError

    world = config.nproc
    if world == 1:
        return
    last = n % batch
    if batch % world:
        raise ConfigError(f"the batch of {batch} {rows} cannot be split evenly over {world} "
                          f"processes; give a --batch-size that is a multiple of {world}")
    if last and last % world:
        fix = fix or f"use --limit-train {n - last} or another --batch-size"
        raise ConfigError(f"the last batch of each epoch has {last} {rows} ({n} training {rows} in "
                          f"batches of {batch}), which {world} processes cannot split evenly; {fix}")
