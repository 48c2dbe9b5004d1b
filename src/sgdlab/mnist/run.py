"""The tutorial's MNIST MLP (section 4): same mathematics, data prepared once, one loop.

``run(MnistConfig(...))`` returns the document ``sgdlab mnist --json`` prints for one batch size.
The images are transformed once, as the tutorial's ``transform_mnist`` does per sample
((x / 255 - 0.5) / 0.5, flattened), and live as one tensor on the chosen device; each epoch is a
seeded ``randperm`` and index batches through ``loop.run``; the update is the tutorial's
``sgd_update`` (``optim.SGD``) unless ``--optimizer`` says otherwise.

Beside the training, the theory (``curvature.py``, ``sgdlab.theory``): the sharpness lambda_max at
initialisation and the bound 2 / lambda_max, and with ``sharpness_every`` the sharpness along
training; its seconds are not counted as training time.
"""

from __future__ import annotations

import time
from typing import Any, Callable

from ..core.errors import ConfigError
from ..core.store import RunRecord, Store, new_run_id, run_folder
from .config import MnistConfig, resolve_device
from .model import Classifier, build_model, evaluate, prepare


def tensors(config: MnistConfig, data, device):
    """(x, y, x_test, y_test): the limited training and test sets, transformed once, on ``device``
    (standardised with the training set's statistics when ``config.normalize`` says so)."""
    x_train, y_train = data.x_train[: config.limit_train], data.y_train[: config.limit_train]
    x_test, y_test = data.x_test[: config.limit_test], data.y_test[: config.limit_test]
    n = int(x_train.shape[0])
    if config.batch_size is not None and config.batch_size > n:
        raise ConfigError(
            f"--batch-size {config.batch_size} is larger than the training set ({n} images); "
            f"use a batch size of at most {n} (or full)"
        )
    x = prepare(x_train, device, config.normalize)
    xt = prepare(x_test, device, config.normalize, reference=x_train)
    return x, y_train.to(device), xt, y_test.to(device)


class Curvature:
    """The sharpness of ``net``'s training loss on the fixed subset, warm-started along training."""

    def __init__(self, config: MnistConfig, net, x, y):
        from ..theory.curvature import Sharpness
        from .curvature import objective, subset

        xs, ys = subset(x, y, config.sharpness_subset)
        self.images = int(xs.shape[0])
        self.objective = objective(net, xs, ys, config.loss)
        self.tracker = Sharpness()
        self.curve: list[dict[str, Any]] = []
        self.seconds = 0.0

    def measure(self, step: int) -> float:
        began = time.perf_counter()
        value = self.tracker(self.objective)
        self.seconds += time.perf_counter() - began
        self.curve.append({"step": step, "value": value})
        return value

    def cost(self) -> dict[str, Any]:
        """What the estimates cost: Hessian-vector products and seconds, in all."""
        return {"estimates": self.tracker.estimates, "hessian_vector_products": self.tracker.matvecs,
                "seconds": self.seconds, "images": self.images}


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
    instead of loading ``config.dataset``. Figures: ``figures.draw_runs``; several batch sizes: ``study.run_study``."""
    import torch

    from .. import optim
    from ..core import loop as training_loop
    from . import datasets

    config = config or MnistConfig()
    config.validate()
    device = resolve_device(config.device)
    store = store or Store()
    if record:
        store.check_writable()
    data = data if data is not None else datasets.load(config.dataset, config.data_dir)
    x, y, xt, yt = tensors(config, data, device)
    n = int(x.shape[0])
    batch_size, steps = config.updates(n)

    # model and optimizer: initial weights from the run's seed, then the same generator shuffles
    generator = torch.Generator().manual_seed(config.seed)
    net = build_model(x.shape[1], config.hidden, len(data.classes), generator,
                      config.activation).to(device)
    problem = Classifier(net, x, y, config.loss)
    optimizer = optim.create(
        config.optimizer.name, problem.parameters(), lr=config.lr,
        **config.optimizer.hyperparameters(),
    )
    # theory: the sharpness at initialisation (the bound 2 / lambda_max), along training on request
    curvature = Curvature(config, net, x, y) if config.bound or config.sharpness_every else None
    if curvature is not None:
        curvature.measure(0)

    step_times: list[float] = []  # training seconds (evaluation excluded) at each step's loss
    clock = {"start": time.perf_counter(), "eval": 0.0, "epoch_theory": 0.0}
    epochs: list[dict[str, Any]] = []
    batch_losses: list[float] = []  # this epoch's batch losses (the tutorial's train_loss sum)

    def sharpness_at(step: int) -> None:  # theory's seconds are not training time
        began = time.perf_counter()
        curvature.measure(step)
        clock["eval"] += time.perf_counter() - began
        clock["epoch_theory"] += time.perf_counter() - began

    def before_update(step: int, loss) -> None:
        step_times.append(time.perf_counter() - clock["start"] - clock["eval"])
        batch_losses.append(float(loss.detach()))
        if config.sharpness_every and step > 0 and step % config.sharpness_every == 0:
            sharpness_at(step)
        if on_progress is not None:
            on_progress(step + 1, steps)

    def after_epoch(epoch: int, seconds: float) -> None:
        seconds, clock["epoch_theory"] = seconds - clock["epoch_theory"], 0.0
        began = time.perf_counter()
        test_loss, accuracy = evaluate(net, xt, yt, config.loss)
        epochs.append({
            "epoch": epoch, "train_loss": sum(batch_losses) / len(batch_losses),
            "test_loss": test_loss, "test_accuracy": accuracy, "seconds": seconds,
            "samples_per_second": n / seconds if seconds > 0 else None,
        })
        batch_losses.clear()
        clock["eval"] += time.perf_counter() - began

    loop = training_loop.run(
        problem, optimizer, batch_size=batch_size, steps=steps, generator=generator,
        before_update=before_update, after_epoch=after_epoch,
    )
    every = config.sharpness_every
    if every and loop.status == "completed" and loop.steps_done % every == 0:
        sharpness_at(loop.steps_done)  # after the last update
    return finish(config, data, loop, epochs, step_times, n, int(xt.shape[0]), device,
                  store=store, record=record, sweep_id=sweep_id, sweep_cell=sweep_cell,
                  curvature=curvature)


def finish(config, data, loop, epochs, step_times, n, n_test, device, *, store, record, sweep_id,
           sweep_cell=None, curvature: Curvature | None = None):
    """Assemble the result document, draw the figures, record the run."""
    from . import figures

    result = assemble(config, data, loop, epochs, step_times, n, n_test, device)
    if curvature is not None:
        add_curvature(result, config, curvature)
    if config.plots:
        folder = run_folder(store, result["run_id"], config.out)
        result["figures"] = figures.draw_runs([result], folder)
        if "sharpness" in result:
            result["figures"].append(figures.draw_sharpness(
                {f"lr {config.lr:g}": (result["sharpness"], config.lr)}, folder / "sharpness.png"))
    if record:
        store.save(to_record(result, sweep_id, sweep_cell))
    return result


def assemble(config, data, loop, epochs, step_times, n, n_test, device) -> dict[str, Any]:
    """One run's result document (shared by ``run`` and the vectorized sweep); no figures yet."""
    final = epochs[-1] if epochs else None
    result: dict[str, Any] = {
        "status": loop.status,
        "run_id": new_run_id(),
        "batch_size": config.updates(n)[0],
        "data": data.describe() | {"train": n, "test": n_test},
        "device": str(device),
        "epochs": epochs,
        "step_losses": loop.step_losses,
        "step_times": step_times[: len(loop.step_losses)],
        "steps": loop.steps_done,
        "seconds": sum(e["seconds"] for e in epochs) if epochs else loop.seconds,
        "test_accuracy": final["test_accuracy"] if final else None,
        "lr_bound": None,  # 2 / lambda_max at initialisation (None: not measured, or no curvature)
        "sharpness_init": None,
        "sharpness_images": None,  # the images it was measured on (the first N of the training set)
        "config": config.to_dict(),
        "figures": [],
    }
    if loop.status == "diverged":
        last = "none" if loop.last_finite_loss is None else f"{loop.last_finite_loss:.6g}"
        result["divergence"] = {
            "step": loop.diverged_step, "last_finite_loss": loop.last_finite_loss, "lr": config.lr,
            "reason": loop.divergence_reason,
            "message": (f"batch size {result['batch_size']}: diverged at step {loop.diverged_step}: "
                        f"{loop.divergence_reason} (last finite loss {last}) with learning "
                        f"rate {config.lr:g}; try a smaller --lr"),
        }
    return result


def add_curvature(result: dict[str, Any], config: MnistConfig, curvature: Curvature) -> None:
    """The theory beside the run: lambda_max at initialisation, 2 / lambda_max, the curve."""
    from ..theory.curvature import lr_bound

    first = curvature.curve[0]["value"]
    result["sharpness_init"] = first
    result["lr_bound"] = lr_bound(first)
    result["sharpness_images"] = curvature.images
    result["sharpness_cost"] = curvature.cost()
    if config.sharpness_every:
        result["sharpness"] = curvature.curve


def to_record(result: dict[str, Any], sweep_id: str | None = None,
              sweep_cell: dict[str, Any] | None = None) -> RunRecord:
    metrics = {k: result[k] for k in ("batch_size", "data", "device", "epochs", "steps", "seconds",
                                      "test_accuracy", "lr_bound", "sharpness_init")}
    if "divergence" in result:
        metrics["divergence"] = result["divergence"]
    if sweep_cell is not None:
        metrics["sweep_cell"] = sweep_cell
    curves = {"step_loss": result["step_losses"], "step_time": result["step_times"]}
    if "sharpness" in result:
        curves["sharpness_step"] = [point["step"] for point in result["sharpness"]]
        curves["sharpness"] = [point["value"] for point in result["sharpness"]]
    return RunRecord(
        id=result["run_id"], command="mnist", status=result["status"], sweep_id=sweep_id,
        config=result["config"], metrics=metrics, figures=result["figures"], curves=curves,
        key_metric_name="test_accuracy", key_metric=result["test_accuracy"],
    )
