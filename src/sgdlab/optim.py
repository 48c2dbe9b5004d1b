"""Hand-written update rules with torch.optim's interface.

Each optimizer subclasses ``torch.optim.Optimizer`` so that ``zero_grad``, ``state_dict``,
``load_state_dict`` and parameter groups behave exactly like PyTorch's; only ``step`` is ours,
and it reads like the formula in the docstring. ``create(name, params, **hp)`` builds one by
name; a ``torch-`` prefix gives the torch.optim class itself, for comparison.
"""

from __future__ import annotations

from typing import Any, Iterable

import torch

from .errors import ConfigError


class SGD(torch.optim.Optimizer):
    """The tutorial's ``sgd_update``: ``w <- w - lr * dJ/dw`` for every parameter.

    This is exactly section 4.2.3's ``param.data = param.data - lr * param.grad.data``.
    """

    def __init__(self, params: Iterable, lr: float = 1e-2):
        if not lr > 0:
            raise ConfigError(f"learning rate must be > 0, got {lr}")
        super().__init__(params, dict(lr=lr))

    @torch.no_grad()
    def step(self, closure=None):  # noqa: D102 - see the class docstring
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is None:
                    continue
                # w <- w - lr * g; add_ with alpha is the same kernel torch.optim.SGD uses, so the
                # two agree bit for bit.
                p.add_(p.grad, alpha=-group["lr"])
        return loss


OPTIMIZERS: dict[str, type[torch.optim.Optimizer]] = {"sgd": SGD}
TORCH_OPTIMIZERS: dict[str, Any] = {"torch-sgd": torch.optim.SGD}


def names() -> list[str]:
    return sorted(OPTIMIZERS) + sorted(TORCH_OPTIMIZERS)


def create(name: str, params: Iterable, **hyperparameters: Any) -> torch.optim.Optimizer:
    """Build an optimizer by name; unknown names list the valid ones."""
    hp = {k: v for k, v in hyperparameters.items() if v is not None}
    if name in OPTIMIZERS:
        return OPTIMIZERS[name](params, **hp)
    if name in TORCH_OPTIMIZERS:
        return TORCH_OPTIMIZERS[name](params, **hp)
    raise ConfigError(f"unknown optimizer {name!r}; choose one of: {', '.join(names())}")
