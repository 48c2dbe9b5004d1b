"""The theory commands on a model file: ``sgdlab sharpness FILE.py`` (the edge of stability)
and ``sgdlab noise-scale FILE.py`` (B_simple, exact and two-batch), with the documents
``sgdlab sharpness`` and ``sgdlab noise-scale`` give for the MLP.

Both measure the network in eval mode where it has BatchNorm or Dropout (``problem.mode_note``
says so in the document's ``notes``, naming the layers); the exact noise scale takes every
per-example gradient through ``torch.func.vmap(grad(...))`` (``theory.noise.exact``).
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any, Callable

from ..core.paths import check_outputs
from ..core.store import RunRecord, Store, new_run_id, run_folder
from .config import ModelFileConfig

EXACT_CHUNK = 256  # per-example gradients held at once (memory grows with it, not with the data)
TWO_BATCH_DRAWS = 30  # as the MLP's (theory.noise.TWO_BATCH_DRAWS, not imported: it brings torch)


def run_sharpness(config: ModelFileConfig, lrs: list[float], *, steps: int = 300, every: int = 20,
                  store: Store | None = None, record: bool = True, data=None,
                  on_progress: Callable[[float, int, int], None] | None = None) -> dict[str, Any]:
    """Full-batch updates per learning rate with the config's optimizer, the sharpness every
    ``every`` steps on the whole training set against the rule's own threshold (2 / lr for plain
    gradient descent; lambda_1(P^-1 H) against its edge under Adam/RMSprop); the verdict in words.
    Recorded as it goes, like the MLP's study: the study's row and each lr's run are written
    when they start, so a killed study shows what it had measured."""
    from ..core.study import Recorder
    from ..theory.edge import analyse_tracked, check, recording, refuse_untracked
    from .run import run

    check(lrs, steps, every)
    refuse_untracked(config.optimizer, lrs)
    base = dataclasses.replace(config, batch_size=None, epochs=steps, steps=steps, sharpness_every=every,
                               sharpness_subset=None, bound=True, plots=False)
    base.validate()
    store = store or Store()
    study_id = new_run_id()
    check_outputs(store, run_folder(store, study_id, config.out), record=record, plots=config.plots,
                  out=config.out)
    if record:  # recorded at start: a killed study shows its finished lrs and the one it was on
        recorded = base.to_dict()
        if base.file:  # as each run records it: from any folder, `runs` and `report` find the file
            from pathlib import Path

            recorded["file"] = str(Path(base.file).resolve())
        store.save_sweep(study_id, ModelFileConfig.problem, {"study": "sharpness", "lrs": lrs, "steps": steps,
                                                             "every": every, "config": recorded})
    runs, records, notes, last = [], [], [], None
    for lr in lrs:
        progress = None if on_progress is None else (lambda s, t, lr=lr: on_progress(lr, s, t))
        run_id = new_run_id()
        recorder = Recorder(store, RunRecord(id=run_id, command="sharpness", status="running", sweep_id=study_id,
                                             config=dataclasses.replace(base, lr=lr).to_dict(),
                                             metrics={"lr": lr}), enabled=record)
        on_loss, on_sharpness = recording(recorder)  # the row keeps both curves as they grow
        recorder.begin()
        with recorder.interruptible():
            last = run(dataclasses.replace(base, lr=lr), store=store, record=False, data=data,
                       on_progress=progress, on_loss=on_loss, on_sharpness=on_sharpness, run_id=run_id)
        notes = last.get("notes", [])
        entry = analyse_tracked(lr, last)
        entry.update({"sharpness": last["sharpness"], "losses": last["step_losses"],
                      "status": last["status"], "seconds": last["seconds"], "run_id": last["run_id"],
                      "test_accuracy": last["test_accuracy"], "cost": last["sharpness_cost"]})
        runs.append(entry)
        records.append(_sharpness_record(entry, last, study_id))
        if record:
            store.save(records[-1])
    figures: list[str] = []
    if config.plots:
        figures = draw(runs, run_folder(store, study_id, config.out))
        for r in records:
            r.figures = figures
    if record and figures:
        store.save_many(records)  # again, with the figures
    statuses = {r["status"] for r in runs}
    return {"status": "diverged" if "diverged" in statuses else "completed", "study_id": study_id,
            "problem": ModelFileConfig.problem, "model": last["model"], "steps": steps, "every": every,
            "data": last["data"], "config": last["config"], "runs": runs, "notes": notes,
            "figures": figures}


def draw(runs: list[dict[str, Any]], folder) -> list[str]:
    """Cohen et al.'s figure 1: the training loss, and the sharpness with each lr's threshold."""
    from ..theory.edge import draw_study

    adaptive = bool(runs) and runs[0].get("kind") == "preconditioned"
    return draw_study(runs, folder, "adaptive updates" if adaptive else "gradient descent")


def check_noise(train_steps: int, small: int, big: int, draws: int, n: int) -> None:
    from ..core.errors import ConfigError, Problems
    from ..core.limits import MAX_STEPS, check_count

    from ..theory import noise

    problems = Problems()
    check_count(problems, train_steps, "--train-steps", low=0, high=MAX_STEPS)
    noise.check_two_batch(problems, small, big, n, "rows")
    check_count(problems, draws, "--draws", high=MAX_STEPS)
    problems.raise_if_any(ConfigError)


def _sharpness_record(entry: dict[str, Any], result: dict[str, Any], study_id: str) -> RunRecord:
    keys = ("lr", "bound", "kind", "threshold_rule", "hit_step", "ratio_median", "ratio_spread",
            "loss_rises_after_hit", "verdict", "sharpness_init", "sharpness_final", "seconds")
    metrics = {k: entry[k] for k in keys} | {"problem": result["problem"], "model": result["model"],
                                            "data": result["data"], "steps": result["steps"],
                                            "device": result["device"]}
    return RunRecord(
        id=result["run_id"], command="sharpness", status=result["status"], sweep_id=study_id,
        config=result["config"], metrics=metrics,
        curves={"loss": result["step_losses"], "sharpness_step": [p["step"] for p in entry["sharpness"]],
                "sharpness": [p["value"] for p in entry["sharpness"]]},
        key_metric_name="ratio_median", key_metric=entry["ratio_median"],
    )


def measure(net, loss_fn, x, y, *, small: int, big: int, draws: int, generator,
            on_draw: Callable[[int, int], None] | None = None) -> dict[str, Any]:
    """B_simple, tr(Sigma) and |G|^2 on (x, y): exact (vmap per-example) and two-batch;
    ``on_draw(done, draws)`` after each two-batch draw."""
    import time

    from ..theory import noise
    from .problem import batch_gradient, per_example_loss

    began = time.perf_counter()
    params = [p for p in net.parameters() if p.requires_grad]
    chunks = [(x[i : i + EXACT_CHUNK], y[i : i + EXACT_CHUNK]) for i in range(0, int(x.shape[0]), EXACT_CHUNK)]
    exact = noise.exact(per_example_loss(net, loss_fn), params, chunks)
    exact_seconds = time.perf_counter() - began
    began = time.perf_counter()
    estimate = noise.two_batch(batch_gradient(net, loss_fn, x, y), int(x.shape[0]), small, big, draws, generator,
                               on_draw=on_draw)
    return {
        "b_simple_exact": exact.b_simple, "b_simple_two_batch": estimate.b_simple,
        "trace_sigma": exact.trace_sigma, "grad_norm_sq": exact.grad_norm_sq,
        "two_batch": estimate.to_dict() | {"small": small, "big": big, "draws": draws},
        "seconds": {"exact": exact_seconds, "two_batch": time.perf_counter() - began},
    }


def run_noise(config: ModelFileConfig, *, train_steps: int | None = None, small: int | None = None,
              big: int | None = None, draws: int = TWO_BATCH_DRAWS, store: Store | None = None,
              record: bool = True, default_batch: int | None = None,
              on_progress: Callable[[str, int, int, str], None] | None = None) -> dict[str, Any]:
    """B_simple at initialisation, after ``train_steps`` updates (default one epoch at the
    config's batch size), and the training between; the ``noise-scale`` document.
    ``default_batch``: the batch size when the config has none (the CLI's 100), or all the rows
    when there are fewer (a 20-row file was refused for a --batch-size it never gave)."""
    import torch

    from .. import optim
    from ..core import loop as training_loop
    from ..core.study import Recorder
    from .checks import prepare
    from .problem import FileProblem, mode_note

    config.validate()
    store = store or Store()
    run_id = new_run_id()
    check_outputs(store, run_folder(store, run_id, config.out), record=record, plots=False, out=config.out)
    prepared = prepare(config)
    src, net, x, y = prepared.source, prepared.net, prepared.x, prepared.y
    n = int(x.shape[0])
    if default_batch is not None and config.batch_size is None:
        config = dataclasses.replace(config, batch_size=min(default_batch, n))
    batch_size, epoch_steps = dataclasses.replace(config, epochs=1, steps=None).updates(n)
    train_steps = epoch_steps if train_steps is None else train_steps
    from ..theory import noise

    small, big = noise.two_batch_sizes(n, small, big)
    check_noise(train_steps, small, big, draws, n)
    generator = torch.Generator().manual_seed(config.seed)
    sizes = dict(small=small, big=big, draws=draws,
                 generator=torch.Generator().manual_seed(config.seed + 1))  # the draws' own stream
    recorded = config.to_dict() | {"file_sha256": src.sha256}
    note = mode_note(net, "the noise scale")
    # recorded from the start and after each part, as the MLP's study: a killed study shows
    # `interrupted` with what it had measured
    metrics = {"problem": ModelFileConfig.problem, "model": src.describe(), "data": {"name": src.name, "train": n},
               "batch_size": batch_size, "lr": config.lr, "notes": [note] if note else []}
    recorder = Recorder(store, RunRecord(id=run_id, command="noise-scale", status="running", config=recorded,
                                         metrics=metrics), enabled=record)

    def part(name: str, unit: str):  # ``on_progress`` for one part, as (done, total), as the MLP's
        return None if on_progress is None else (lambda done, total: on_progress(name, done, total, unit))

    recorder.begin()
    with recorder.interruptible():
        init = measure(net, src.loss, x, y, **sizes, on_draw=part("two-batch draws at init", "draw"))
        recorder.update(metrics={"init": init}, force=True)
        problem = FileProblem(net, src.loss, x, y)
        optimizer = optim.create(config.optimizer.name, problem.parameters(), lr=config.lr,
                                 **config.optimizer.hyperparameters())
        training = part("training", "step")
        loop = training_loop.run(problem, optimizer, batch_size=batch_size, steps=train_steps, generator=generator,
                                 before_update=recorder.curve("train_loss", training and (  # kept as it goes
                                     lambda step, _loss: training(step + 1, train_steps))))
        recorder.update(curves={"train_loss": loop.step_losses}, force=True)
        trained = measure(net, src.loss, x, y, **sizes, on_draw=part("two-batch draws after training", "draw")) | {
            "step": loop.steps_done, "status": loop.status}
    document: dict[str, Any] = {
        "status": "diverged" if loop.status == "diverged" else "completed", "run_id": run_id,
        "problem": ModelFileConfig.problem, "model": src.describe(),
        "data": {"name": src.name, "train": n}, "batch_size": batch_size, "lr": config.lr,
        "init": init, "trained": trained, "train_losses": loop.step_losses,
        "notes": [note] if note else [], "config": recorded, "figures": [],
    }
    if record:
        b = trained["b_simple_exact"]
        store.save(RunRecord(id=run_id, command="noise-scale", status=document["status"], config=recorded,
                             metrics=metrics | {"init": init, "trained": trained}, figures=[],
                             curves={"train_loss": loop.step_losses},
                             key_metric_name="b_simple_trained", key_metric=b if math.isfinite(b) else None))
    return document
