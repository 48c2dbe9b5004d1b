"""The gradient noise scale of the MLP (McCandlish et al. 2018): B_simple = tr(Sigma) / |G|^2 at
initialisation and after some training, exact (per-example gradients) and by the two-batch
estimator, both from ``sgdlab.theory.noise``; with batch sizes, the steps-to-target study and its
fit (``batch_study.py``).

B_simple is the batch size where the gradient's noise and its signal weigh the same: below it a
larger batch cuts the steps needed almost in proportion, above it hardly at all.
"""

from __future__ import annotations

import math
from dataclasses import replace
from typing import Any

from ..core.errors import ConfigError, Problems
from ..core.limits import MAX_STEPS, check_count
from ..core.paths import check_outputs
from ..core.store import RunRecord, Store, new_run_id, run_folder
from ..core.study import Recorder
from .config import MnistConfig

DEFAULT_LR = 0.1  # the tutorial's 0.01 barely moves the network in one epoch at batch 100
EXACT_CHUNK = 256  # per-example gradients held at once: 256 x 159,010 floats = 163 MB at 784-200-10
# images per forward/backward when the norms come from activations (no per-example gradient held):
# 4,096 x (784 + 200 + 10) float64 activations and their gradients, about 65 MB
NORMS_CHUNK = 4096


def check(train_steps: int | None, small: int, big: int, draws: int, n: int) -> None:
    from ..theory import noise

    problems = Problems()
    if train_steps is not None:
        check_count(problems, train_steps, "--train-steps", low=0, high=MAX_STEPS)
    noise.check_two_batch(problems, small, big, n, "images")
    check_count(problems, draws, "--draws", high=MAX_STEPS)
    problems.raise_if_any(ConfigError)


def measure(net, x, y, loss: str, *, small: int, big: int, draws: int, generator,
            on_draw=None) -> dict[str, Any]:
    """B_simple, tr(Sigma) and |G|^2 of ``net`` on (x, y), exact and two-batch; their seconds.
    ``on_draw(done, draws)`` after each two-batch draw."""
    import time

    from ..theory import noise
    from .curvature import batch_gradient

    began = time.perf_counter()
    exact = exact_noise(net, x, y, loss)
    exact_seconds = time.perf_counter() - began
    began = time.perf_counter()
    from ..core.threads import one_thread

    with one_thread():  # small draws: 8-34x faster on shared cores (benchmarks/threads.py)
        estimate = noise.two_batch(batch_gradient(net, x, y, loss), int(x.shape[0]), small, big, draws, generator,
                                   on_draw)
    return {
        "b_simple_exact": exact.b_simple, "b_simple_two_batch": estimate.b_simple,
        "trace_sigma": exact.trace_sigma, "grad_norm_sq": exact.grad_norm_sq,
        "two_batch": estimate.to_dict() | {"small": small, "big": big, "draws": draws},
        "seconds": {"exact": exact_seconds, "two_batch": time.perf_counter() - began},
    }


def exact_noise(net, x, y, loss: str):
    """The exact ``theory.noise.NoiseScale`` of ``net`` over all of (x, y): per-example norms from
    the layers' activations for the MLP (``theory.per_example``), vmap otherwise."""
    from ..theory import noise, per_example
    from .model import loss_function

    size = NORMS_CHUNK if per_example.supports(net) else EXACT_CHUNK
    chunks = [(x[i : i + size], y[i : i + size]) for i in range(0, int(x.shape[0]), size)]
    return noise.exact_model(net, loss_function(loss, "none"), chunks)


def run(config: MnistConfig, *, train_steps: int | None = None, small: int | None = None,
        big: int | None = None, draws: int | None = None, batch_sizes: list[int] | None = None,
        target: float | None = None, lrs: list[float] | None = None, max_steps: int | None = None,
        max_epochs: int | None = None, store: Store | None = None, record: bool = True,
        data=None, on_progress=None) -> dict[str, Any]:
    """Measure at initialisation, train ``train_steps`` (default one epoch at ``config``'s batch
    size), measure again; with ``batch_sizes``, the steps-to-target study (``batch_study``).
    ``on_progress(part, done, total, unit)`` as each part goes (the CLI's estimate of time left)."""
    import torch

    from .. import optim
    from ..core import loop as training_loop
    from . import batch_study, datasets
    from .config import resolve_device
    from .model import Classifier, build_model
    from .run import tensors
    from ..theory import noise

    config.validate()
    study_args = batch_study.arguments(batch_sizes, target, lrs, max_steps, max_epochs)
    store = store or Store()
    run_id = new_run_id()
    folder = run_folder(store, run_id, config.out)
    # the study's sweep is recorded in any case; only the study draws
    check_outputs(store, folder, record=record or bool(batch_sizes), plots=config.plots and bool(batch_sizes),
                  out=config.out)
    data = data if data is not None else datasets.load(config.dataset, config.data_dir)
    device = resolve_device(config.device)
    x, y, _, _ = tensors(config, data, device)
    n = int(x.shape[0])
    batch_size, epoch_steps = replace(config, epochs=1, max_steps=None).updates(n)
    train_steps = epoch_steps if train_steps is None else train_steps
    small, big = noise.two_batch_sizes(n, small, big)
    draws = noise.TWO_BATCH_DRAWS if draws is None else draws
    check(train_steps, small, big, draws, n)
    if batch_sizes:
        batch_study.check_sizes(batch_sizes, n)

    generator = torch.Generator().manual_seed(config.seed)
    net = build_model(int(x.shape[1]), config.hidden, len(data.classes), generator, config.activation).to(device)
    estimator_rng = torch.Generator().manual_seed(config.seed + 1)  # the two-batch draws' own stream
    sizes = dict(small=small, big=big, draws=draws, generator=estimator_rng)
    # recorded from the start and after each part: a killed study shows `interrupted` with them
    metrics = {"data": data.describe() | {"train": n}, "batch_size": batch_size, "lr": config.lr}
    # the study's sweep id is chosen now and recorded from the start: a killed study names its grid,
    # and the count of cells it had finished (``study_cells``)
    sweep_id = "s" + new_run_id() if batch_sizes else None
    if sweep_id:
        metrics |= {"sweep_id": sweep_id, "target": study_args["target"], "study_settings": study_args}
    recorder = Recorder(store, RunRecord(id=run_id, command="noise-scale", status="running", config=config.to_dict(),
                                         metrics=metrics), enabled=record)
    recorder.begin()
    with recorder.interruptible():
        init = measure(net, x, y, config.loss, **sizes, on_draw=_part(on_progress, "two-batch draws at init", "draw"))
        recorder.update(metrics={"init": init}, force=True)
        problem = Classifier(net, x, y, config.loss)
        optimizer = optim.create(config.optimizer.name, problem.parameters(), lr=config.lr,
                                 **config.optimizer.hyperparameters())
        training = _part(on_progress, "training", "step")
        loop = training_loop.run(problem, optimizer, batch_size=batch_size, steps=train_steps, generator=generator,
                                 before_update=recorder.curve("train_loss", training and (
                                     lambda step, _loss: training(step + 1, train_steps))))
        recorder.update(curves={"train_loss": loop.step_losses}, force=True)
        trained = measure(net, x, y, config.loss, **sizes, on_draw=_part(on_progress, "two-batch draws after training",
                                                                        "draw")) | {"step": loop.steps_done, "status": loop.status}
        b = trained["b_simple_exact"]  # the key metric from here: `sgdlab runs` shows it for a killed study too
        recorder.record.key_metric_name, recorder.record.key_metric = "b_simple_trained", b if math.isfinite(b) else None
        recorder.update(metrics={"trained": trained}, force=True)

    document: dict[str, Any] = {
        "status": "diverged" if loop.status == "diverged" else "completed", "run_id": run_id,
        "data": data.describe() | {"train": n}, "batch_size": batch_size, "lr": config.lr,
        "init": init, "trained": trained, "train_losses": loop.step_losses,
        "config": config.to_dict(), "figures": [],
    }
    if batch_sizes:
        study_cells = _part(on_progress, "study", "cell")

        def cells(done: int, total: int) -> None:  # once per stacked group: a write per group is cheap
            recorder.update(metrics={"study_cells": {"finished": done, "total": total}}, force=True)
            if study_cells:
                study_cells(done, total)

        with recorder.interruptible():
            document.update(batch_study.run_study(config, study_args, store=store, folder=folder, sweep_id=sweep_id,
                                                  study_run=run_id, progress=cells))
    if record:
        store.save(to_record(document))
    return document


def _part(on_progress, part: str, unit: str):
    """``on_progress`` for one part of the run, as ``(done, total)``; None without one."""
    return None if on_progress is None else (lambda done, total: on_progress(part, done, total, unit))


def to_record(doc: dict[str, Any]) -> RunRecord:
    metrics = {k: doc[k] for k in ("data", "batch_size", "lr", "init", "trained") if k in doc}
    for key in ("study", "fit", "sweep_id", "target"):
        if key in doc:
            metrics[key] = doc[key]
    b = doc["trained"]["b_simple_exact"]
    return RunRecord(
        id=doc["run_id"], command="noise-scale", status=doc["status"], config=doc["config"],
        metrics=metrics, figures=doc["figures"], curves={"train_loss": doc["train_losses"]},
        key_metric_name="b_simple_trained", key_metric=b if math.isfinite(b) else None,
    )
