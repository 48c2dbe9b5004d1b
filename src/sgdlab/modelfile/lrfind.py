"""The range test's hook for a model file (``sgdlab lr-find FILE.py``): the network at its
initialisation (seeded as ``sgdlab train`` seeds it), plain SGD on minibatches, and beside it
2 / lambda_max at initialisation on the first ``sharpness_subset`` training rows."""

from __future__ import annotations

from ..core.lr_range import Setup, stepper
from .config import ModelFileConfig


def setup(config: ModelFileConfig) -> Setup:
    import torch

    from .. import optim
    from ..theory.curvature import Sharpness, lr_bound
    from .checks import prepare
    from .problem import FileProblem, mode_note, objective, subset

    config.validate()
    prepared = prepare(config)
    src, net = prepared.source, prepared.net
    bound = None
    if config.bound:
        xs, ys = subset(prepared.x, prepared.y, config.sharpness_subset)
        bound = lr_bound(Sharpness()(objective(net, src.loss, xs, ys)))
        note = mode_note(net, "the bound")
        if note:
            import sys

            print(f"note: {note}", file=sys.stderr)
    problem = FileProblem(net, src.loss, prepared.x, prepared.y)
    optimizer = optim.create("sgd", problem.parameters(), lr=config.lr)
    n = int(prepared.x.shape[0])
    batch_size, _ = config.updates(n)
    record = config.to_dict()
    if src.sha256 is not None:
        record["file_sha256"] = src.sha256
    return Setup(step=stepper(problem, optimizer, batch_size, torch.Generator().manual_seed(config.seed)),
                 bound=bound, config=record, data={"name": src.name, "file": src.path, "train": n},
                 batch_size=batch_size)
