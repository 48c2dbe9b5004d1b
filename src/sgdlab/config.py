"""Run configurations: one dataclass per kind of run, every field documented, validated up front.

``validate()`` collects every problem and raises one ``ConfigError`` listing them all, so a user
fixes a command line in one go. Defaults sit here, next to their meaning and units.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any

from .errors import ConfigError, Problems


@dataclass
class OptimizerSpec:
    """Which update rule, and its hyperparameters (None: the rule's own default)."""

    name: str = "sgd"  # hand-written rules by name; "torch-<name>" for torch.optim's own class
    momentum: float | None = None  # heavy-ball coefficient, dimensionless, in [0, 1)
    nesterov: bool = False  # Nesterov momentum (needs momentum > 0)
    betas: tuple[float, float] | None = None  # Adam's moment decay rates, each in [0, 1)
    eps: float | None = None  # added to denominators for numerical safety, > 0
    weight_decay: float | None = None  # L2 penalty coefficient (decoupled for AdamW), >= 0

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

    def check(self, problems: Problems) -> None:
        problems.check(bool(self.name), "--optimizer must name an optimizer")
        if self.name:  # a known name, and only hyperparameters that rule takes
            from .optim.spec import unaccepted

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
            problems.check(is_finite(self.eps) and self.eps > 0, f"--eps must be > 0, got {self.eps}")
        if self.weight_decay is not None:
            problems.check(
                is_finite(self.weight_decay) and self.weight_decay >= 0,
                f"--weight-decay must be >= 0, got {self.weight_decay}",
            )


@dataclass
class LinRegConfig:
    """Linear regression y = Xw + b, mean squared error, trained by gradient descent.

    The defaults reproduce tutorial section 3.2 exactly: its 15 points, seed 2019, w ~ N(0, 1),
    b = 0, learning rate 1e-2, 32 full-batch updates, float32.
    """

    csv: str | None = None  # CSV file with a header row; None: the tutorial's 15 points
    x: list[str] | None = None  # feature columns; None: every column but the target
    y: str | None = None  # target column; None: the last column
    standardize: bool = False  # rescale each feature to mean 0, std 1 before training
    lr: float = 1e-2  # learning rate (step size eta), in units of parameter per unit gradient
    steps: int = 32  # number of updates (ignored when epochs is set)
    epochs: int | None = None  # passes over the data; overrides steps
    batch_size: int | None = None  # rows per update; None: the full data set (gradient descent)
    seed: int = 2019  # drives the initial w and the shuffling
    dtype: str = "float32"  # float32 (the tutorial's) or float64
    optimizer: OptimizerSpec = field(default_factory=OptimizerSpec)
    out: str | None = None  # folder for figures; None: <store folder>/<run id>
    plots: bool = True  # draw the figures

    def validate(self) -> None:
        problems = Problems()
        problems.check(is_finite(self.lr) and self.lr > 0, f"--lr must be > 0, got {self.lr}")
        problems.check(self.steps >= 1, f"--steps must be >= 1, got {self.steps}")
        if self.epochs is not None:
            problems.check(self.epochs >= 1, f"--epochs must be >= 1, got {self.epochs}")
        if self.batch_size is not None:
            problems.check(self.batch_size >= 1, f"--batch-size must be >= 1, got {self.batch_size}")
        problems.check(
            self.dtype in ("float32", "float64"), f"--dtype must be float32 or float64, got {self.dtype!r}"
        )
        if self.csv is None:
            problems.check(
                self.x is None and self.y is None, "--x and --y need --csv (the file to read them from)"
            )
        self.optimizer.check(problems)
        problems.raise_if_any(ConfigError)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def is_finite(value: Any) -> bool:
    """True for a number that is neither NaN nor infinite (False for non-numbers)."""
    try:
        return math.isfinite(float(value))
    except (TypeError, ValueError):
        return False


def parse_float_list(text: str, flag: str) -> list[float]:
    """Parse "0.1,0.2" into floats; an empty item or a non-number is a ConfigError naming ``flag``."""
    return _parse_list(text, flag, float, "a number")


def parse_int_list(text: str, flag: str) -> list[int]:
    """Parse "200,100" into whole numbers, with the same errors as ``parse_float_list``."""
    return _parse_list(text, flag, int, "a whole number")


def _parse_list(text: str, flag: str, convert, what: str) -> list:
    problems = Problems()
    values = []
    for item in (t.strip() for t in str(text).split(",")):
        if item == "":
            problems.add(f"{flag}: empty value in {text!r}")
            continue
        try:
            values.append(convert(item))
        except ValueError:
            problems.add(f"{flag}: {item!r} is not {what}")
    problems.raise_if_any(ConfigError)
    return values
