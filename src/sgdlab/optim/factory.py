"""Build an optimizer by name (``create``) and describe the rules (``describe``, for
``sgdlab optimizers``)."""

from __future__ import annotations

import inspect
from typing import Any, Iterable

import torch

from ..core.errors import ConfigError
from . import batched, spec
from .rules import RULES, TORCH_RULES


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
