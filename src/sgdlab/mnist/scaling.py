"""The MLP as ``sgdlab scaling`` needs it (``distributed.scaling``): model, loss, data, and the
theory beside the study - the noise scale B_simple (``noise_scale.measure``, exact per-example
gradients) and 2 / lambda_max (Lanczos), both at initialisation."""

from __future__ import annotations

from typing import Any

from .config import MnistConfig


def setup(config: MnistConfig) -> dict[str, Any]:
    """A fresh network from ``config.seed`` and the training data (the same on every call)."""
    import torch

    from . import datasets
    from .config import resolve_device
    from .model import build_model, loss_function
    from .run import tensors

    data = datasets.load(config.dataset, config.data_dir)
    device = resolve_device(config.device)
    x, y, _, _ = tensors(config, data, device)
    x = x.to(getattr(torch, config.dtype))
    generator = torch.Generator().manual_seed(config.seed)
    net = build_model(int(x.shape[1]), config.hidden, len(data.classes), generator,
                      config.activation).to(device, x.dtype)
    return {"net": net, "criterion": loss_function(config.loss), "x": x, "y": y,
            "generator": generator, "data": data.describe() | {"train": int(x.shape[0])}}


def theory(config: MnistConfig, parts: dict[str, Any]) -> dict[str, Any]:
    """B_simple (exact, on the first ``sharpness_subset`` images) and 2 / lambda_max at init."""
    import torch

    from ..theory.curvature import Sharpness, lr_bound
    from .curvature import objective, subset
    from .noise_scale import measure

    x, y = subset(parts["x"], parts["y"], config.sharpness_subset)
    lam = Sharpness()(objective(parts["net"], x, y, config.loss))
    noise = measure(parts["net"], x, y, config.loss, small=10, big=100, draws=1,
                    generator=torch.Generator().manual_seed(config.seed + 1))
    return {"b_simple": noise["b_simple_exact"], "lambda_max": lam, "lr_bound": lr_bound(lam),
            "theory_images": int(x.shape[0])}
