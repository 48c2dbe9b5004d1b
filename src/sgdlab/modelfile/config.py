"""``ModelFileConfig``: one run of a user's model file, every field documented, validated up front."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any, ClassVar

from ..core.config import is_finite, type_problems
from ..core.errors import ConfigError, Problems
from ..core.limits import MAX_STEPS, check_count, check_fits, check_seed
from ..core.paths import check_not_empty
from ..optim.spec import OptimizerSpec

# The bound 2 / lambda_max is measured on the first 1,000 training examples by default, as
# `sgdlab mnist` does: one Lanczos estimate is then ~17 Hessian-vector products on 1,000 rows.
SHARPNESS_SUBSET = 1000
# The batch size when none is given: 32 examples, or all the rows of a smaller training set (a
# 20-row file was refused for a --batch-size 32 the user never gave). "auto" in the config until
# the data is known; the run records the size it used (``resolved``).
DEFAULT_BATCH = 32
AUTO = "auto"


@dataclass
class ModelFileConfig:
    """A user's model (``data()``, ``model()``, ``loss(output, target)`` in one .py file) trained
    with sgdlab's loop; beside it the sharpness at initialisation and the bound 2 / lambda_max."""

    problem: ClassVar[str] = "modelfile"  # its name in the problem registry (sgdlab.problems)

    file: str | None = None  # the model file (.py); None: ``source`` from Python
    lr: float = 0.1  # learning rate (step size)
    batch_size: int | str | None = AUTO  # examples per update, full (None) or auto: 32, or all rows if fewer
    #   (DEFAULT_BATCH); a given size larger than the data is refused
    epochs: int = 1  # passes over the training set
    steps: int | None = None  # updates to make instead of whole epochs (None: epochs decide)
    seed: int = 0  # seeds torch before model() (the weights) and the shuffling
    device: str = "auto"  # auto (CUDA when present) | cpu | cuda | cuda:N
    optimizer: OptimizerSpec = field(default_factory=OptimizerSpec)
    bound: bool = True  # measure the sharpness at initialisation and report 2 / lambda_max
    sharpness_every: int | None = None  # also measure it every K updates (None: never)
    sharpness_subset: int | None = SHARPNESS_SUBSET  # on the first N training examples (None: all)
    checkpoint_every: int | None = None  # also checkpoint every N updates (always: each epoch)
    keep_checkpoint: bool = False  # keep the checkpoints after the run completes
    out: str | None = None  # folder for figures; None: <store folder>/<run id>
    plots: bool = True  # draw the loss curve
    file_sha256: str | None = None  # the file's text when the run started (resume compares)
    # data parallelism (sgdlab.distributed), the same fields as `sgdlab mnist`'s
    dtype: str = "float32"  # the weights and the floating-point data: float32 | float64
    nproc: int = 1  # data-parallel processes; batch_size stays the global batch
    allreduce: str = "ddp"  # ddp | manual | local-sgd
    local_steps: int = 1  # local SGD: updates between parameter averages
    emulate: bool = False  # one process computes the nproc shards in turn (the reference)
    source: Any = field(default=None, repr=False, compare=False)  # from Python: an object or
    #   module with model, data, loss (used instead of ``file``; never recorded)

    def __post_init__(self) -> None:
        # the words as the command line takes them, from Python too: batch_size="full" is the
        # whole set (None), "AUTO" is auto; the refusal named full and auto but refused "full"
        if isinstance(self.batch_size, str) and self.batch_size.strip().lower() in ("full", AUTO):
            self.batch_size = None if self.batch_size.strip().lower() == "full" else AUTO

    def validate(self) -> None:
        wrong_kinds = type_problems(self)
        if wrong_kinds:
            raise ConfigError(*wrong_kinds)
        problems = Problems()
        check_not_empty(problems, {"--out": self.out})
        problems.check(self.file is not None or self.source is not None,
                       "no model file: give the path of a .py file (or, from Python, source=)")
        problems.check(is_finite(self.lr) and self.lr > 0, f"--lr must be a finite number > 0, got {self.lr}")
        if is_finite(self.lr):
            check_fits(problems, "--lr", self.lr, "float32")
        if isinstance(self.batch_size, str):
            problems.check(self.batch_size == AUTO, f"--batch-size must be a whole number >= 1, full "
                           f"or {AUTO}, got {self.batch_size!r}")
        elif self.batch_size is not None:
            check_count(problems, self.batch_size, "--batch-size")
        check_count(problems, self.epochs, "--epochs", high=MAX_STEPS,
                    why="every step's loss is kept in memory and in the run store")
        check_seed(problems, self.seed)
        for flag, value in (("--steps", self.steps), ("--checkpoint-every", self.checkpoint_every),
                            ("--sharpness-every", self.sharpness_every),
                            ("--sharpness-subset", self.sharpness_subset)):
            if value is not None:
                check_count(problems, value, flag, high=MAX_STEPS if flag == "--steps" else None)
        problems.check(
            self.device in ("auto", "cpu", "cuda", "mps") or self.device.startswith("cuda:"),
            f"--device must be auto, cpu, cuda, cuda:N or mps, got {self.device!r}",
        )
        # the weights' own dtype (--dtype float64 holds an --eps float32 rounds to 0)
        self.optimizer.check(problems, self.dtype if self.dtype in ("float32", "float64") else "float32")
        from ..distributed.spec import check_parallel

        check_parallel(problems, self)
        problems.raise_if_any(ConfigError)

    @classmethod
    def from_source(cls, source: Any, **options: Any) -> "ModelFileConfig":
        """A path (str, Path) or an object/module with model, data, loss, and the options."""
        import os

        if isinstance(source, (str, os.PathLike)):
            return cls(file=str(source), **options)
        return cls(source=source, **options)

    def to_dict(self) -> dict[str, Any]:
        """The recorded config: every field but ``source`` (an object in memory)."""
        out = {f.name: getattr(self, f.name) for f in dataclasses.fields(self) if f.name != "source"}
        out["optimizer"] = dataclasses.asdict(self.optimizer)
        if self.file is None and self.source is not None:
            out["file"] = getattr(self.source, "__file__", None)
        return out

    def resolved(self, n: int) -> "ModelFileConfig":
        """The config with the batch size it uses on ``n`` training examples in place of "auto"
        (what a run records and resumes with)."""
        if self.batch_size != AUTO:
            return self
        return dataclasses.replace(self, batch_size=self.updates(n)[0])

    def updates(self, n: int) -> tuple[int, int]:
        """(batch size, number of updates) on ``n`` training examples."""
        import math

        batch = n if self.batch_size is None else min(DEFAULT_BATCH if self.batch_size == AUTO
                                                      else self.batch_size, n)
        if self.steps is not None:
            return batch, self.steps
        return batch, self.epochs * math.ceil(n / batch)
