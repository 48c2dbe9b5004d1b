"""``LinRegConfig``: one linear-regression run, every field documented, validated up front."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, ClassVar

from ..core.config import is_finite
from ..core.errors import ConfigError, Problems
from ..optim.spec import OptimizerSpec


@dataclass
class LinRegConfig:
    """Linear regression y = Xw + b, mean squared error, trained by gradient descent.

    The defaults reproduce tutorial section 3.2 exactly: its 15 points, seed 2019, w ~ N(0, 1),
    b = 0, learning rate 1e-2, 32 full-batch updates, float32.
    """

    problem: ClassVar[str] = "linreg"  # its name in the problem registry (sgdlab.problems)

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
