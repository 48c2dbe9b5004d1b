"""``LogRegConfig``: one logistic-regression run; its fields are `sgdlab logreg`'s flags."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, ClassVar

from ..core.config import is_finite, type_problems
from ..core.errors import ConfigError, Problems
from ..core.limits import MAX_STEPS, check_count, check_seed
from ..core.paths import check_not_empty
from ..optim.spec import OptimizerSpec

MAX_POINTS = 1_000_000
DTYPES = ("float32", "float64")


@dataclass
class LogRegConfig:
    """Binary logistic regression, p = sigmoid(x.w + b), mean cross-entropy, gradient descent.
    Data: two Gaussian blobs in 2-D (seeded), or a CSV file with a 0/1 label column."""

    problem: ClassVar[str] = "logreg"  # its name in the problem registry (sgdlab.problems)

    csv: str | None = None  # CSV file with a header row and a 0/1 label column; None: two blobs
    x: list[str] | None = None  # feature columns; None: every column but the label
    y: str | None = None  # the 0/1 label column; None: the last column
    standardize: bool = False  # rescale each feature to mean 0, std 1 before training
    points: int = 100  # blobs: points per class
    separation: float = 2.0  # blobs: distance between the two centres, in standard deviations
    data_seed: int = 0  # blobs: drives the points (a sweep's seeds then share one data set)
    lr: float = 0.5  # learning rate (step size)
    steps: int = 100  # number of updates (ignored when epochs is set)
    epochs: int | None = None  # passes over the data; overrides steps
    batch_size: int | None = None  # rows per update; None: all rows (gradient descent)
    seed: int = 0  # drives the initial w and the shuffling
    dtype: str = "float64"  # float64 or float32
    optimizer: OptimizerSpec = field(default_factory=OptimizerSpec)
    out: str | None = None  # folder for figures; None: <store folder>/<run id>
    plots: bool = True  # draw the figures
    checkpoint_every: int | None = None  # also checkpoint every N updates (default: each epoch, with epochs)
    keep_checkpoint: bool = False  # keep the checkpoints after the run completes

    def validate(self) -> None:
        wrong_kinds = type_problems(self)
        if wrong_kinds:
            raise ConfigError(*wrong_kinds)
        problems = Problems()
        check_not_empty(problems, {"--csv": self.csv, "--out": self.out})
        problems.check(is_finite(self.lr) and self.lr > 0, f"--lr must be a finite number > 0, got {self.lr}")
        for flag, value, high in (("--steps", self.steps, MAX_STEPS), ("--epochs", self.epochs, MAX_STEPS),
                                  ("--batch-size", self.batch_size, None), ("--points", self.points, MAX_POINTS),
                                  ("--checkpoint-every", self.checkpoint_every, None)):
            if value is not None:
                check_count(problems, value, flag, high=high)
        problems.check(is_finite(self.separation) and self.separation >= 0, f"--separation must be >= 0, got {self.separation}")
        check_seed(problems, self.seed)
        check_seed(problems, self.data_seed)
        problems.check(self.dtype in DTYPES, f"--dtype must be float32 or float64, got {self.dtype!r}")
        problems.check(self.csv is not None or (self.x is None and self.y is None), "--x and --y need --csv (the file to read them from)")
        self.optimizer.check(problems, self.dtype if self.dtype in DTYPES else None, "")
        problems.raise_if_any(ConfigError)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)
