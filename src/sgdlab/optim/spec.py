"""Which hyperparameters each update rule takes, their defaults, and what values make sense;
and ``OptimizerSpec``, the optimizer part of every problem's config.

This module does not import torch at its top, so a config can check an optimizer name and its
hyperparameters before anything heavy is loaded. Defaults are torch.optim's own, so that
``sgd`` and ``torch-sgd`` built with the same arguments are the same optimizer.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Callable

from ..core.config import is_finite

# name -> every hyperparameter it takes, with torch.optim's default
DEFAULTS: dict[str, dict[str, Any]] = {
    "sgd": {"lr": 1e-3, "momentum": 0.0, "dampening": 0.0, "weight_decay": 0.0, "nesterov": False},
    "adagrad": {"lr": 1e-2, "lr_decay": 0.0, "weight_decay": 0.0, "initial_accumulator_value": 0.0,
                "eps": 1e-10},
    "rmsprop": {"lr": 1e-2, "alpha": 0.99, "eps": 1e-8, "weight_decay": 0.0, "momentum": 0.0,
                "centered": False},
    "adam": {"lr": 1e-3, "betas": (0.9, 0.999), "eps": 1e-8, "weight_decay": 0.0, "amsgrad": False},
    "adamw": {"lr": 1e-3, "betas": (0.9, 0.999), "eps": 1e-8, "weight_decay": 1e-2, "amsgrad": False},
}
TORCH_PREFIX = "torch-"
FLAGS = {"nesterov", "centered", "amsgrad"}  # on/off switches: a plain bool, never per model

# hyperparameter -> (test on a value, what the test asks for in words)
RANGES: dict[str, tuple[Callable[[Any], Any], str]] = {
    "lr": (lambda v: v > 0, "> 0"),
    "momentum": (lambda v: v >= 0, ">= 0"),
    "dampening": (lambda v: (v >= 0) & (v <= 1), "in [0, 1]"),
    "weight_decay": (lambda v: v >= 0, ">= 0"),
    "eps": (lambda v: v > 0, "> 0"),
    "alpha": (lambda v: (v >= 0) & (v < 1), "in [0, 1)"),
    "lr_decay": (lambda v: v >= 0, ">= 0"),
    "initial_accumulator_value": (lambda v: v >= 0, ">= 0"),
    "beta": (lambda v: (v >= 0) & (v < 1), "in [0, 1)"),
}


def names() -> list[str]:
    """Every name ``create`` knows: the hand-written rules, then torch.optim's own classes."""
    return sorted(DEFAULTS) + [TORCH_PREFIX + n for n in sorted(DEFAULTS)]


def base_name(name: str) -> str:
    """``torch-adam`` -> ``adam``; an unknown name is a ConfigError listing the valid ones."""
    from ..core.errors import ConfigError

    base = name[len(TORCH_PREFIX):] if isinstance(name, str) and name.startswith(TORCH_PREFIX) else name
    if base not in DEFAULTS:
        raise ConfigError(f"unknown optimizer {name!r}; choose one of: {', '.join(names())}")
    return base


def unaccepted(name: str, hyperparameters: dict[str, Any]) -> list[str]:
    """Problems with the name or with hyperparameters the rule does not take (values unchecked)."""
    from ..core.errors import ConfigError

    try:
        base = base_name(name)
    except ConfigError as exc:
        return exc.problems
    extra = [k for k in hyperparameters if k not in DEFAULTS[base]]
    if not extra:
        return []
    return [f"optimizer {name} does not take {', '.join(extra)}; it takes "
            f"{', '.join(DEFAULTS[base])} (see `sgdlab optimizers`)"]


def check(name: str, hp: dict[str, Any], *, batched: bool = False) -> list[str]:
    """Every problem with the values in ``hp`` (a full set: defaults already merged in).

    ``batched``: a number may also be a 1-D tensor with one value per model.
    """
    problems: list[str] = []
    for key, value in hp.items():
        if key == "params":
            continue
        if key in FLAGS:
            if not isinstance(value, bool):
                problems.append(f"{name}: {key} must be True or False, got {value!r}")
        elif key == "betas":
            if not isinstance(value, (tuple, list)) or len(value) != 2:
                problems.append(f"{name}: betas must be two numbers in [0, 1), got {value!r}")
                continue
            for i, beta in enumerate(value):
                problems += _check_number(name, f"betas[{i}]", beta, RANGES["beta"], batched)
        elif key in RANGES:
            problems += _check_number(name, key, value, RANGES[key], batched)
    if hp.get("nesterov"):
        momentum, dampening = hp.get("momentum", 0.0), hp.get("dampening", 0.0)
        if not (_all(lambda v: v > 0, momentum) and _all(lambda v: v == 0, dampening)):
            problems.append(f"{name}: nesterov needs momentum > 0 and dampening = 0 "
                            f"(got momentum {_show(momentum)}, dampening {_show(dampening)})")
    return problems


def _check_number(name, key, value, rule, batched) -> list[str]:
    test, words = rule
    if _is_tensor(value):
        if not batched or value.dim() != 1 or not value.is_floating_point():
            return [f"{name}: {key} must be a number" + (" or a 1-D float tensor of one value per "
                    "model" if batched else "") + f", got a tensor of shape {tuple(value.shape)}"]
        bad = ~(value.isfinite() & test(value))
        if bool(bad.any()):
            i = int(bad.nonzero()[0, 0])
            return [f"{name}: {key} must be {words} for every model, got {float(value[i])} for model {i}"]
        return []
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return [f"{name}: {key} must be a number, got {value!r}"]
    if not (math.isfinite(value) and test(value)):
        return [f"{name}: {key} must be {words}, got {value}"]
    return []


def _is_tensor(value) -> bool:
    return type(value).__module__.startswith("torch") and hasattr(value, "dim")


def _all(test, value) -> bool:
    return bool(test(value).all()) if _is_tensor(value) else bool(test(value))


def _show(value) -> str:
    return str(value.tolist()) if _is_tensor(value) else str(value)


def normalized(hp: dict[str, Any]) -> dict[str, Any]:
    """Numbers as floats and betas as a tuple of floats (torch.optim.Adam insists on that)."""
    out = dict(hp)
    for key, value in hp.items():
        if key == "betas" and isinstance(value, (tuple, list)):
            out[key] = tuple(v if _is_tensor(v) else float(v) for v in value)
        elif key in RANGES and isinstance(value, int) and not isinstance(value, bool):
            out[key] = float(value)
    return out


@dataclass
class OptimizerSpec:
    """Which update rule, and its hyperparameters (None: the rule's own default)."""

    name: str = "sgd"  # hand-written rules by name; "torch-<name>" for torch.optim's own class
    momentum: float | None = None  # heavy-ball coefficient, dimensionless, in [0, 1)
    nesterov: bool = False  # Nesterov momentum (needs momentum > 0)
    betas: tuple[float, float] | None = None  # Adam's moment decay rates, each in [0, 1)
    eps: float | None = None  # added to denominators for numerical safety, > 0
    weight_decay: float | None = None  # L2 penalty coefficient (decoupled for AdamW), >= 0

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "OptimizerSpec":
        """The inverse of ``dataclasses.asdict`` (a stored run's config), betas as a tuple."""
        data = dict(data)
        if data.get("betas") is not None:
            data["betas"] = tuple(data["betas"])
        return cls(**data)

    def hyperparameters(self) -> dict[str, Any]:
        """Only what the user set, so each rule keeps its own defaults."""
        hp: dict[str, Any] = {
            "momentum": self.momentum,
            "betas": tuple(self.betas) if self.betas is not None else None,
            "eps": self.eps,
            "weight_decay": self.weight_decay,
        }
        if self.nesterov:
            hp["nesterov"] = True
        return {k: v for k, v in hp.items() if v is not None}

    def check(self, problems: Problems, dtype: str | None = None, hint: str = "") -> None:
        """Add every problem with these settings to ``problems``; ``dtype``: the parameters'
        (a hyperparameter too large for it would overflow inside the update)."""
        from ..core.limits import check_fits

        problems.check(bool(self.name), "--optimizer must name an optimizer")
        if dtype is not None:
            for flag, value in (("--momentum", self.momentum), ("--eps", self.eps),
                                ("--weight-decay", self.weight_decay)):
                if value is not None and is_finite(value):
                    check_fits(problems, flag, value, dtype, hint)
        if self.name:  # a known name, and only hyperparameters that rule takes
            for message in unaccepted(self.name, self.hyperparameters()):
                problems.add(message)
        if self.momentum is not None:
            problems.check(
                is_finite(self.momentum) and self.momentum >= 0,
                f"--momentum must be >= 0, got {self.momentum}",
            )
        if self.nesterov:
            problems.check(
                self.momentum is not None and self.momentum > 0,
                "--nesterov needs --momentum > 0",
            )
        if self.betas is not None:
            problems.check(
                len(self.betas) == 2 and all(is_finite(b) and 0 <= b < 1 for b in self.betas),
                f"--betas must be two numbers in [0, 1), got {','.join(map(str, self.betas))}",
            )
        if self.eps is not None:
            problems.check(is_finite(self.eps) and self.eps > 0, f"--eps must be a finite number > 0, got {self.eps}")
        if self.weight_decay is not None:
            problems.check(
                is_finite(self.weight_decay) and self.weight_decay >= 0,
                f"--weight-decay must be >= 0, got {self.weight_decay}",
            )
