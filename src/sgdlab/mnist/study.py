"""The batch-size study: one MLP run per batch size, one set of figures (tutorial section 4.3)."""

from __future__ import annotations

from typing import Any, Callable

from ..core.errors import ConfigError, Problems
from ..core.paths import check_outputs
from ..core.store import Store, new_run_id, run_folder
from .config import MnistConfig
from .run import run


def run_study(
    config: MnistConfig,
    batch_sizes: list[int | None],
    *,
    store: Store | None = None,
    record: bool = True,
    data=None,
    on_progress: Callable[[int, int, int], None] | None = None,
) -> dict[str, Any]:
    """One run per batch size (otherwise ``config``), then the three figures with one curve each.
    A batch size of None is the whole training set (full-batch gradient descent).

    The runs share a study id (a sweep in the store: ``sgdlab runs --sweep ID``); the figures go
    to ``config.out`` or ``<store folder>/<study id>``. ``on_progress(batch_size, step, steps)``.
    """
    from dataclasses import replace

    from . import datasets
    from . import figures as mnist_figures

    problems = Problems()
    try:
        config.validate()
    except ConfigError as exc:
        problems.items.extend(exc.problems)
    for b in batch_sizes:
        message = f"--batch-size must be >= 1 or full, got {b}"
        problems.check(b is None or b >= 1 or message in problems.items, message)
    problems.raise_if_any(ConfigError)
    store = store or Store()
    study_id = new_run_id()
    check_outputs(store, run_folder(store, study_id, config.out), record=record, plots=config.plots,
                  out=config.out)
    data = data if data is not None else datasets.load(config.dataset, config.data_dir)
    n = int(data.x_train[: config.limit_train].shape[0])
    too_big = [b for b in batch_sizes if b is not None and b > n]
    if too_big:
        raise ConfigError(
            f"--batch-size {','.join(map(str, too_big))} is larger than the training set "
            f"({n} images); use batch sizes of at most {n} (or full)"
        )
    from ..theory import tracked

    problems = Problems()  # every batch size's run checked before the first one starts
    for b in batch_sizes:
        tracked.check_every(problems, config, replace(config, batch_size=b).updates(n)[1],
                            f" at batch size {b or 'full'}")
    problems.raise_if_any(ConfigError)
    if record:
        store.save_sweep(study_id, "mnist", {"batch_sizes": batch_sizes, "config": config.to_dict()})
    runs = []
    for b in batch_sizes:
        progress = None if on_progress is None else (lambda s, t, b=b: on_progress(b, s, t))
        runs.append(run(replace(config, batch_size=b, plots=False), store=store, record=record,
                        sweep_id=study_id, data=data, on_progress=progress))
        if runs[-1]["status"] == "interrupted":
            break  # Ctrl-C stops the study; what ran so far is recorded and drawn
    figures = []
    if config.plots:
        figures = mnist_figures.draw_runs(runs, run_folder(store, study_id, config.out))
        tracked_runs = [r for r in runs if r.get("sharpness")]  # --sharpness-every: drawn as one run's is
        if tracked_runs:
            figures.append(tracked.draw_many(tracked_runs, [f"batch size {r['batch_size']}" for r in tracked_runs],
                                             run_folder(store, study_id, config.out) / "sharpness.png"))
    statuses = [r["status"] for r in runs]
    status = next((s for s in ("diverged", "interrupted") if s in statuses), "completed")
    return {"status": status, "study_id": study_id, "batch_sizes": batch_sizes, "runs": runs,
            "figures": figures}
