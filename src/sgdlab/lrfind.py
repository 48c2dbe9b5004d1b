"""``sgdlab lr-find``: the learning-rate range test of any problem that registers a hook
(``problems.Entry.lr_find``), with the theory's bound 2 / lambda_max at initialisation beside it.

The test itself is ``core.lr_range``; each problem's hook builds its model at initialisation and
says how to make one update (``linreg/lrfind.py``, ``mnist/lrfind.py``). Here: run it, name the
suggestions, compare where the loss blew up with the bound, draw, record.

Why the blow-up comes above 2 / lambda_max: the bound says when gradient descent stops
converging, not when the loss visibly explodes. Just past it the error grows by a factor
|1 - lr lambda_max| per step, barely above 1, and the lr keeps rising 20% per step, so the loss
explodes only some steps (and learning rates) later.
"""

from __future__ import annotations

import math
from typing import Any

FLOAT32_MAX = 3.4028234663852886e38

from .core import lr_range
from .core.errors import ConfigError, Problems
from .core.limits import MAX_STEPS, check_count
from .core.paths import check_outputs
from .core.store import RunRecord, Store, new_run_id, run_folder
from .core.study import Recorder


def check(start: float, end: float, num: int, beta: float, stop_factor: float) -> None:
    problems = Problems()
    problems.check(0 < start < end, f"--start and --end must satisfy 0 < start < end, got {start:g}, {end:g}")
    for flag, value in (("--start", start), ("--end", end)):  # float32 models hold the lr too
        problems.check(math.isfinite(value) and abs(value) <= FLOAT32_MAX,
                       f"{flag} must be a finite number <= {FLOAT32_MAX:.4g} (float32's largest), got {value:g}")
    check_count(problems, num, "--num", low=2, high=MAX_STEPS)
    problems.check(0 <= beta < 1, f"--beta must be in [0, 1), got {beta:g}")
    problems.check(stop_factor > 1, f"--stop-factor must be > 1, got {stop_factor:g}")
    problems.raise_if_any(ConfigError)


def run(config: Any, *, start: float = lr_range.START, end: float = lr_range.END,
        num: int = lr_range.NUM, beta: float = lr_range.BETA,
        stop_factor: float = lr_range.STOP_FACTOR, store: Store | None = None,
        record: bool = True, on_progress=None) -> dict[str, Any]:
    """The range test on ``config``'s problem from its initialisation; the result document.
    ``on_progress(step, num)`` after each step (the CLI's estimate of time left; the test may
    stop before ``num``, when the loss blows up)."""
    from . import problems

    check(start, end, num, beta, stop_factor)
    entry = problems.for_config(config)
    hook = entry.lr_find_setup()
    if hook is None:
        known = ", ".join(n for n in problems.names() if problems.get(n).lr_find)
        raise ConfigError(f"lr-find does not know the problem {entry.name!r}; it knows: {known}")
    config.validate()
    store = store or Store()
    run_id = new_run_id()
    plots, out = getattr(config, "plots", True), getattr(config, "out", None)
    folder = run_folder(store, run_id, out)
    check_outputs(store, folder, record=record, plots=plots, out=out)
    setup = hook(config)
    # recorded from here on: a killed range test shows `interrupted` with the curve it had
    recorder = Recorder(store, RunRecord(id=run_id, command="lr-find", status="running", config=setup.config,
                                         metrics={"problem": entry.name, "bound": setup.bound}), enabled=record)
    seen: dict[str, list[float]] = {"lr": [], "loss": []}

    def step(lr: float) -> float:
        loss = setup.step(lr)
        seen["lr"].append(lr)
        seen["loss"].append(loss)
        recorder.update(curves=seen)
        if on_progress is not None:
            on_progress(len(seen["lr"]), num)
        return loss

    recorder.begin()
    with recorder.interruptible():
        test = lr_range.range_test(step, lr_range.schedule(start, end, num), beta, stop_factor)
    rules = lr_range.suggestions(test["lrs"], test["smoothed"], num)
    notes = []
    if lr_range.flat(test["losses"]):  # every rule would name an arbitrary point of a flat line
        rules = dict.fromkeys(rules)
        notes.append(f"the loss was {test['losses'][0]:.6g} at every one of the {len(test['losses'])} "
                     "steps: no update moved it (a loss the parameters do not reach, or lrs too "
                     "small to change it), so no rule suggests an lr")
    bound, stop_lr = setup.bound, test["stop_lr"]
    document = {
        "status": "completed", "run_id": run_id, "problem": entry.name, "data": setup.data,
        "batch_size": setup.batch_size, **test, "bound": bound,
        # the suggested lr as a plain number (null when the test was too short), its rule named
        "suggestion": rules[lr_range.PRIMARY_RULE], "suggestion_rule": lr_range.PRIMARY_RULE,
        "suggestions": rules,
        "blowup_over_bound": test["blowup_lr"] / bound if test["blowup_lr"] and bound else None,
        "stop_over_bound": stop_lr / bound if stop_lr and bound else None,
        "settings": {"start": start, "end": end, "num": num, "beta": beta, "stop_factor": stop_factor},
        "config": setup.config, "figures": [], **({"notes": notes} if notes else {}),
    }
    if plots:
        path = folder / "lr_find.png"
        marks = {"2 / lambda_max at init": bound, f"suggestion ({lr_range.PRIMARY_RULE})": rules[lr_range.PRIMARY_RULE],
                 "steep": rules["steep"], "loss back above its start": test["blowup_lr"],
                 "stopped (smoothed > 4x best)": stop_lr}
        document["figures"] = [lr_range_figure(document, marks, path)]
    if record:
        store.save(to_record(document))
    return document


def lr_range_figure(doc: dict[str, Any], marks: dict[str, float | None], path) -> str:
    from .core import plots

    return plots.lr_range(doc["lrs"], doc["losses"], doc["smoothed"], marks, path,
                          title=f"Range test ({doc['problem']}, batch {doc['batch_size']}) beside 2 / lambda_max")


def to_record(doc: dict[str, Any]) -> RunRecord:
    metrics = {k: doc[k] for k in ("problem", "data", "batch_size", "stop_lr", "blowup_lr", "bound",
                                   "suggestion", "suggestion_rule", "suggestions", "blowup_over_bound", "stop_over_bound", "settings")}
    return RunRecord(
        id=doc["run_id"], command="lr-find", status=doc["status"], config=doc["config"], metrics=metrics,
        figures=doc["figures"], curves={"lr": doc["lrs"], "loss": doc["losses"], "smoothed": doc["smoothed"]},
        key_metric_name="suggested_lr", key_metric=doc["suggestion"],
    )
