"""`sgdlab scaling`: data-parallel workers 1, 2, 4, 8... at a fixed per-worker batch; steps and
examples to a target loss, the wall time split into compute and communication, beside B_simple
and 2 / lambda_max. The workers are emulated exactly by one process (see distributed/scaling.py)."""

from __future__ import annotations

import math
from typing import Optional

import typer

from .app import JsonOption, StoreOption, app, emit, handle_errors
from . import options


@app.command()
@handle_errors
def scaling(
    workers: str = typer.Option("1,2,4,8", "--workers", help="Numbers of workers N (comma list)."),
    batch_size: int = typer.Option(16, "--batch-size", help="Images per worker per update (the global batch is N times it)."),
    lr: float = typer.Option(0.02, "--lr", help="Learning rate of one worker; N workers use lr x rule(N)."),
    rule: str = typer.Option("linear", "--rule", help="How the lr grows with N: linear (N), sqrt, none."),
    warmup: int = typer.Option(20, "--warmup", help="Updates over which the lr ramps linearly from lr to its scaled value."),
    target: float = typer.Option(0.6, "--target", help="Training loss (whole training set) to reach."),
    max_steps: int = typer.Option(400, "--max-steps", help="Give up on an N after this many updates."),
    eval_every: int = typer.Option(5, "--eval-every", help="Measure the training loss every K updates."),
    no_comm: bool = typer.Option(False, "--no-comm", help="Do not measure the all_reduce on N real processes (communication then 0)."),
    dataset: str = options.dataset_option(),
    hidden: str = options.hidden_option(),
    seed: int = options.seed_option(),
    limit_train: Optional[int] = options.limit_train_option(),
    out: Optional[str] = typer.Option(None, "--out", help="Folder for the figure (default: <store folder>/<study id>)", show_default=False),
    no_plots: bool = typer.Option(False, "--no-plots", help="Do not draw the figure."),
    store: Optional[str] = StoreOption,
    as_json: bool = JsonOption,
) -> None:
    """Data parallelism's batch-size lesson: linear lr scaling pays until B_crit, and N x lr must
    stay under 2 / lambda_max. Steps to target scale on any machine; wall time cannot on 2 cores."""
    from ..core.config import parse_int_list
    from ..core.errors import ConfigError, Problems
    from ..core.paths import check_outputs
    from ..core.records import RunRecord
    from ..core.store import Store, new_run_id, run_folder
    from ..distributed import scaling as study
    from ..distributed.bench import allreduce_seconds
    from ..distributed.figure import draw
    from ..mnist import scaling as mlp
    from ..mnist.config import MnistConfig

    counts = parse_int_list(workers, "--workers")
    problems = Problems()
    problems.check(all(n >= 1 for n in counts) and len(set(counts)) == len(counts),
                   f"--workers must be distinct whole numbers >= 1, got {workers}")
    problems.check(rule in study.RULES, f"--rule must be one of {', '.join(study.RULES)}, got {rule!r}")
    for flag, value in (("--warmup", warmup + 1), ("--max-steps", max_steps), ("--eval-every", eval_every)):
        problems.check(value >= 1, f"{flag} must be >= {0 if flag == '--warmup' else 1}")
    problems.check(math.isfinite(target) and target > 0, f"--target must be a finite number > 0, got {target}")
    problems.raise_if_any(ConfigError)
    config = MnistConfig(dataset=dataset, hidden=parse_int_list(hidden, "--hidden"), lr=lr,
                         batch_size=batch_size, seed=seed, limit_train=limit_train, plots=not no_plots,
                         out=out)
    config.validate()
    store = Store(store)
    study_id = new_run_id()
    check_outputs(store, run_folder(store, study_id, out), record=True, plots=not no_plots, out=out)
    document = study.study(config, mlp.setup, mlp.theory, workers=counts, rule=rule, warmup=warmup,
                           target=target, max_steps=max_steps, eval_every=eval_every,
                           allreduce_seconds=None if no_comm else allreduce_seconds)
    document = {"status": "completed", "study_id": study_id, "rule": rule, "warmup": warmup,
                "target": target, "per_worker_batch": batch_size, "base_lr": lr,
                "steps_counted_by": "one process emulating N workers exactly (the chunked reference)",
                "communication": "median all_reduce of the gradient on N gloo processes on this "
                                 "machine, times the steps" if not no_comm else "not measured",
                **document, "config": config.to_dict(), "figures": []}
    if not no_plots:
        document["figures"].append(draw(document, run_folder(store, study_id, out) / "scaling.png"))
    store.save(RunRecord(id=study_id, command="scaling", status="completed", config=config.to_dict(),
                         metrics={k: v for k, v in document.items() if k not in ("config", "figures")},
                         figures=document["figures"], key_metric_name="largest useful N",
                         key_metric=_largest_useful(document["rows"])))
    emit(document, as_json, print_scaling)


def _largest_useful(rows) -> float | None:
    """The largest N whose step speed-up is still at least half of N (linear scaling still pays)."""
    good = [r["nproc"] for r in rows if r["step_speedup"] and r["step_speedup"] >= r["nproc"] / 2]
    return float(max(good)) if good else None


def print_scaling(doc: dict) -> None:
    theory = doc["theory"]
    print(f"scaling study {doc['study_id']}: per-worker batch {doc['per_worker_batch']}, lr "
          f"{doc['base_lr']:g} x {doc['rule']}(N), warmup {doc['warmup']}, target loss {doc['target']:g}")
    print(f"steps counted by {doc['steps_counted_by']}")
    print(f"{'N':>3} {'batch':>6} {'lr':>8} {'steps':>6} {'examples':>9} {'speed-up':>8} "
          f"{'compute s':>9} {'comm s':>7}")
    for r in doc["rows"]:
        steps = r["steps_to_target"] or f"-({r['status']})"
        speed = f"{r['step_speedup']:.2f}" if r["step_speedup"] else "-"
        print(f"{r['nproc']:>3} {r['global_batch']:>6} {r['lr']:>8.4g} {steps!s:>6} "
              f"{r['examples_to_target'] or '-'!s:>9} {speed:>8} {r['compute_seconds']:>9.3f} "
              f"{r['comm_seconds']:>7.3f}")
    if theory:
        print(f"B_simple at initialisation: {theory['b_simple']:.1f} (global batch where linear "
              f"scaling should stop paying); 2/lambda_max: {theory['lr_bound']:.4g}")
    print("wall time on a 2-core machine cannot scale with N; the steps to target can (that is the figure)")
    for path in doc["figures"]:
        print(f"figure: {path}")
