"""Optimizers: hand-written update rules with torch.optim's interface, by name, and batched.

``create(name, params, **hyperparameters)`` builds one: ``sgd``, ``adagrad``, ``rmsprop``,
``adam``, ``adamw`` are ours (``rules.py``); a ``torch-`` prefix gives the torch.optim class itself,
checked the same way, for comparison. ``batched.create`` steps K stacked models at once with one
hyperparameter value per model. ``describe()`` is the table ``sgdlab optimizers`` prints.
"""

from __future__ import annotations

import inspect
from typing import Any, Iterable

import torch

from ..errors import ConfigError
from . import batched, spec
from .rules import RULES, SGD, TORCH_RULES, Adagrad, Adam, AdamW, RMSprop, Rule
from .spec import names

OPTIMIZERS, TORCH_OPTIMIZERS = RULES, TORCH_RULES  # the foundation's names for the two tables

__all__ = ["SGD", "Adagrad", "RMSprop", "Adam", "AdamW", "Rule", "RULES", "TORCH_RULES",
           "batched", "create", "describe", "names"]


def create(name: str, params: Iterable, **hyperparameters: Any) -> torch.optim.Optimizer:
    """Build optimizer ``name`` on ``params``; hyperparameters left as None keep the rule's default.

    Unknown names list the valid ones; a hyperparameter the rule does not take, or a value out
    of range, is a ``ConfigError`` (all problems at once).
    """
    hp = {k: v for k, v in hyperparameters.items() if v is not None}
    base = spec.base_name(name)
    problems = spec.unaccepted(name, hp)
    if not problems:
        problems = spec.check(name, spec.normalized(spec.DEFAULTS[base] | hp))
    if problems:
        raise ConfigError(*problems)
    if name in TORCH_RULES:
        return TORCH_RULES[name](params, **spec.normalized(hp))
    return RULES[base](params, **hp)


def formula(name: str) -> str:
    """The update rule as written in the class docstring (the indented block after ``::``)."""
    lines = inspect.getdoc(RULES[spec.base_name(name)]).splitlines()
    start = next(i for i, line in enumerate(lines) if line.rstrip().endswith("::")) + 1
    block: list[str] = []
    for line in lines[start:]:
        if not line.strip() and block:
            break
        if line.strip():
            block.append(line.strip())
    return "\n".join(block)


def describe() -> list[dict[str, Any]]:
    """One row per rule: name, one-line summary, formula, defaults, and its torch.optim twin."""
    rows = []
    for name in RULES:  # the teaching order: sgd first
        cls = RULES[name]
        rows.append({
            "name": name,
            "summary": inspect.getdoc(cls).splitlines()[0],
            "formula": formula(name),
            "defaults": dict(spec.DEFAULTS[name]),
            "torch": f"{spec.TORCH_PREFIX}{name}",
            "torch_class": f"torch.optim.{TORCH_RULES[spec.TORCH_PREFIX + name].__name__}",
            "batched": f"sgdlab.optim.batched.{batched.BATCHED[name].__name__}",
        })
    return rows
