"""What a model file needs before it trains data-parallel (``--nproc N``, ``--emulate``).

Data parallelism is exact here: N ranks (or the chunked reference) take the global batch's N
contiguous shards, and the averaged gradient equals the global batch's up to the order of the
additions. That holds only when each row's loss depends on that row and the weights alone, so
two kinds of model are refused, each in one line naming its layers:

- a layer that normalises over the batch in training (BatchNorm, InstanceNorm with running
  statistics): a shard's statistics are not the global batch's;
- a model whose training-mode forward draws random numbers (Dropout, ``F.dropout``, any noise):
  a rank draws its masks from the start of the seeded stream, one process draws them for the
  whole batch, so no rank's mask can match. It is found by running the forward pass once in
  training mode on a copy, in a forked random state, and seeing whether the stream moved.
"""

from __future__ import annotations

from ..core.errors import ConfigError

PROBE_ROWS = 8  # rows of the training set the random-draw probe runs the model on


def check_source(config) -> None:
    """Before launching workers: they load the model from a file; an object from Python has none."""
    if config.nproc > 1 and not config.emulate and config.file is None:
        raise ConfigError(f"--nproc {config.nproc} starts {config.nproc} processes that each load "
                          "the model file: give a path to a .py file, not an object (or emulate=True)")


def check_exact(config, net, x, where: str) -> None:
    """Refuse, in one line, a model whose data-parallel run cannot equal the single process."""
    import copy

    import torch
    from torch import nn

    if config.nproc == 1:
        return
    batch_wise = [f"{type(m).__name__} {name!r}" for name, m in net.named_modules()
                  if isinstance(m, nn.modules.batchnorm._BatchNorm)
                  or (isinstance(m, nn.modules.instancenorm._InstanceNorm) and m.track_running_stats)]
    if batch_wise:
        raise ConfigError(f"{where}: --nproc {config.nproc} cannot train {', '.join(batch_wise)} "
                          "exactly: each process would normalise with its shard's batch statistics, "
                          "not the global batch's; remove it or train with --nproc 1")
    probe = copy.deepcopy(net).train()
    cuda = [x.device] if x.device.type == "cuda" else []  # Dropout on CUDA draws from its stream

    def states():
        return [torch.get_rng_state()] + [torch.cuda.get_rng_state(d) for d in cuda]

    with torch.random.fork_rng(devices=cuda):
        before = states()
        output = probe(x[:PROBE_ROWS])
        drew = any(not torch.equal(a, b) for a, b in zip(before, states()))
    if drew:
        random = [f"{type(m).__name__} {name!r}" for name, m in net.named_modules()
                  if isinstance(m, (nn.modules.dropout._DropoutNd, nn.AlphaDropout,
                                    nn.FeatureAlphaDropout))]
        what = ", ".join(random) if random else "its forward pass"
        raise ConfigError(f"{where}: --nproc {config.nproc} cannot train {what} exactly: it draws "
                          "random numbers in training, and a process's masks for its shard cannot "
                          "match one process's masks for the whole batch; train with --nproc 1")
    _check_reached(config, probe, output, where)


def _check_reached(config, probe, output, where: str) -> None:
    """Refuse a trainable parameter the output never depends on: one process leaves its
    gradient None (the optimizer skips it), while DDP waits for it for ever ('Expected to have
    finished reduction') and the summed shards have no gradient to add."""
    import torch

    if not (isinstance(output, torch.Tensor) and output.requires_grad):
        return  # a structured output: the loss decides what is used, which the probe cannot see
    named = [(name, p) for name, p in probe.named_parameters() if p.requires_grad]
    grads = torch.autograd.grad(output.float().sum(), [p for _, p in named], allow_unused=True)
    unused = [name for (name, _), g in zip(named, grads) if g is None]
    if unused:
        shown = ", ".join(repr(n) for n in unused[:4]) + (f" and {len(unused) - 4} more" if len(unused) > 4 else "")
        raise ConfigError(f"{where}: --nproc {config.nproc} cannot train {shown}: the model's output "
                          "never depends on them, so they get no gradient to average; freeze them "
                          "(requires_grad_(False)), remove them, or train with --nproc 1")
