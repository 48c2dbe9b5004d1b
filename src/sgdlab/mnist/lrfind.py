"""The range test's hook for the MLP (``sgdlab lr-find mnist``): the network at its
initialisation, the tutorial's SGD on minibatches, and beside it 2 / lambda_max at initialisation
(Lanczos on the first ``sharpness_subset`` training images, as ``sgdlab mnist`` reports it)."""

from __future__ import annotations

from ..core.lr_range import Setup, stepper
from .config import MnistConfig


def setup(config: MnistConfig) -> Setup:
    import torch

    from .. import optim
    from ..theory.curvature import Sharpness, lr_bound
    from . import datasets
    from .config import resolve_device
    from .curvature import objective, subset
    from .model import Classifier, build_model
    from .run import tensors

    config.validate()
    device = resolve_device(config.device)
    data = datasets.load(config.dataset, config.data_dir)
    x, y, _, _ = tensors(config, data, device)
    generator = torch.Generator().manual_seed(config.seed)
    net = build_model(int(x.shape[1]), config.hidden, len(data.classes), generator, config.activation).to(device)
    bound = None
    if config.bound:
        from ..core.threads import one_thread

        with one_thread():  # Lanczos: small ops (benchmarks/threads.py)
            bound = lr_bound(Sharpness()(objective(net, *subset(x, y, config.sharpness_subset), config.loss)))
    problem = Classifier(net, x, y, config.loss)
    optimizer = optim.create("sgd", problem.parameters(), lr=config.lr)
    batch_size, _ = config.updates(int(x.shape[0]))
    return Setup(step=stepper(problem, optimizer, batch_size, generator), bound=bound,
                 config=config.to_dict(), data=data.describe() | {"train": int(x.shape[0])},
                 batch_size=batch_size)
