"""Optimizers: hand-written update rules with torch.optim's interface, by name, and batched.

``create(name, params, **hyperparameters)`` builds one: ``sgd``, ``adagrad``, ``rmsprop``,
``adam``, ``adamw`` are ours (``rules.py``); a ``torch-`` prefix gives the torch.optim class itself,
checked the same way, for comparison. ``batched.create`` steps K stacked models at once with one
hyperparameter value per model. ``describe()`` is the table ``sgdlab optimizers`` prints.
``OptimizerSpec`` (``spec.py``) is the optimizer part of a run's config.

Everything is re-exported lazily: a config can import ``sgdlab.optim.spec`` (no torch) without
paying for torch, which ``rules``, ``batched`` and ``factory`` need.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

# name -> submodule that defines it
_EXPORTS = {
    "create": "factory", "describe": "factory", "formula": "factory",
    "SGD": "rules", "Adagrad": "rules", "RMSprop": "rules", "Adam": "rules", "AdamW": "rules",
    "Rule": "rules", "RULES": "rules", "TORCH_RULES": "rules",
    "names": "spec", "OptimizerSpec": "spec",
}
_SUBMODULES = ("batched", "factory", "rules", "spec")

__all__ = sorted(_EXPORTS) + list(_SUBMODULES)


def __getattr__(name: str) -> Any:
    if name in _SUBMODULES:
        return import_module(f".{name}", __name__)
    if name in _EXPORTS:
        return getattr(import_module(f".{_EXPORTS[name]}", __name__), name)
    raise AttributeError(f"module 'sgdlab.optim' has no attribute {name!r}")
