"""``LinRegConfig``: one linear-regression run, every field documented, validated up front."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, ClassVar

from ..core.config import is_finite, type_problems
from ..core.errors import ConfigError, Problems
from ..core.paths import check_not_empty
from ..core.limits import FLOAT_MAX, MAX_STEPS, check_count, check_fits, check_seed
from ..optim.spec import OptimizerSpec

DTYPE_HINT = {"float32": " or --dtype float64"}


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
    checkpoint_every: int | None = None  # also checkpoint every N updates (default: each epoch, with epochs)
    keep_checkpoint: bool = False  # keep the checkpoints after the run completes

    def validate(self) -> None:
        wrong_kinds = type_problems(self)  # first: the checks below need numbers to be numbers
        if wrong_kinds:
            raise ConfigError(*wrong_kinds)
        problems = Problems()
        check_not_empty(problems, {"--csv": self.csv, "--out": self.out})
        problems.check(is_finite(self.lr) and self.lr > 0, f"--lr must be a finite number > 0, got {self.lr}")
        if is_finite(self.lr):
            check_fits(problems, "--lr", self.lr, self.dtype, DTYPE_HINT.get(self.dtype, ""))
        check_count(problems, self.steps, "--steps", high=MAX_STEPS,
                    why="every step's loss is kept in memory and in the run store")
        if self.epochs is not None:
            check_count(problems, self.epochs, "--epochs", high=MAX_STEPS,
                        why="every step's loss is kept in memory and in the run store")
        if self.batch_size is not None:
            check_count(problems, self.batch_size, "--batch-size")
        check_seed(problems, self.seed)
        if self.checkpoint_every is not None:
            check_count(problems, self.checkpoint_every, "--checkpoint-every")
        problems.check(
            self.dtype in ("float32", "float64"), f"--dtype must be float32 or float64, got {self.dtype!r}"
        )
        if self.csv is None:
            problems.check(
                self.x is None and self.y is None, "--x and --y need --csv (the file to read them from)"
            )
        self.optimizer.check(problems, self.dtype if self.dtype in FLOAT_MAX else None,
                             DTYPE_HINT.get(self.dtype, ""))
        problems.raise_if_any(ConfigError)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)
