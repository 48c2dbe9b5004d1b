"""`sgdlab sweep`: a grid of runs over learning rate x batch size x optimizer x seed x ..."""

from __future__ import annotations

import sys
from typing import Optional

import typer

from .app import JsonOption, StoreOption, app, emit, handle_errors
from .progress import CellProgress


def _registry():
    from .. import problems

    return problems


@app.command()
@handle_errors
def sweep(
    problem: Optional[str] = typer.Argument(None, help=f"The problem: {', '.join(_registry().names())} or a model file (FILE.py); not needed with --resume.", show_default=False),
    lr: Optional[str] = typer.Option(None, "--lr", help="Learning rates, comma separated.", show_default=False),
    batch_size: Optional[str] = typer.Option(None, "--batch-size", help="Batch sizes, comma separated.", show_default=False),
    optimizer: Optional[str] = typer.Option(None, "--optimizer", help="Optimizers, comma separated.", show_default=False),
    momentum: Optional[str] = typer.Option(None, "--momentum", help="Momentum values, comma separated.", show_default=False),
    betas: Optional[str] = typer.Option(None, "--betas", help='Beta pairs separated by ";" ("0.9,0.999;0.8,0.99").', show_default=False),
    eps: Optional[str] = typer.Option(None, "--eps", help="Epsilon values, comma separated.", show_default=False),
    weight_decay: Optional[str] = typer.Option(None, "--weight-decay", help="Weight decays, comma separated.", show_default=False),
    nesterov: bool = typer.Option(False, "--nesterov", help="Nesterov momentum in every cell."),
    seeds: int = typer.Option(1, "--seeds", help="Seeds per cell: seed, seed+1, ..."),
    seed: Optional[int] = typer.Option(None, "--seed", help="First seed (default: the problem's).", show_default=False),
    steps: Optional[int] = typer.Option(None, "--steps", help="Updates per run.", show_default=False),
    epochs: Optional[int] = typer.Option(None, "--epochs", help="Passes over the data per run.", show_default=False),
    csv: Optional[str] = typer.Option(None, "--csv", help="CSV file (default: the problem's own data).", show_default=False),
    x: Optional[str] = typer.Option(None, "--x", help="Feature columns.", show_default=False),
    y: Optional[str] = typer.Option(None, "--y", help="Target column.", show_default=False),
    standardize: bool = typer.Option(False, "--standardize", help="Standardize the features."),
    dtype: Optional[str] = typer.Option(None, "--dtype", help="float32 or float64.", show_default=False),
    dataset: Optional[str] = typer.Option(None, "--dataset", help="Data set (default: the problem's).", show_default=False),
    data_dir: Optional[str] = typer.Option(None, "--data-dir", help="Folder with the data files.", show_default=False),
    hidden: Optional[str] = typer.Option(None, "--hidden", help="Hidden widths, comma separated.", show_default=False),
    limit_train: Optional[int] = typer.Option(None, "--limit-train", help="First N training examples.", show_default=False),
    activation: Optional[str] = typer.Option(None, "--activation", help="Hidden activation.", show_default=False),
    loss: Optional[str] = typer.Option(None, "--loss", help="Loss function.", show_default=False),
    normalize: Optional[str] = typer.Option(None, "--normalize", help="Input scaling.", show_default=False),
    max_steps: Optional[int] = typer.Option(None, "--max-steps", help="Stop each run after N updates.", show_default=False),
    device: Optional[str] = typer.Option(None, "--device", help="auto, cpu or cuda.", show_default=False),
    surface: Optional[str] = typer.Option(None, "--surface", help="The built-in function.", show_default=False),
    f: Optional[str] = typer.Option(None, "--f", help="Your own f(x, y) instead.", show_default=False),
    start: Optional[str] = typer.Option(None, "--start", help="Starting point X,Y.", show_default=False),
    noise: Optional[float] = typer.Option(None, "--noise", help="Gradient noise sigma.", show_default=False),
    executor: Optional[str] = typer.Option(None, "--executor", help="serial, process, vectorized, ray or auto (default: auto; on --resume: the sweep's own).", show_default=False),
    workers: Optional[int] = typer.Option(None, "--workers", help="Worker processes (process executor; default: CPU count), or CPUs of a local Ray.", show_default=False),
    address: Optional[str] = typer.Option(None, "--address", help="ray: the cluster to join: auto, HOST:PORT or ray://HOST:10001 (default: $RAY_ADDRESS, else a local Ray).", show_default=False),
    target: Optional[float] = typer.Option(None, "--target", help="Loss to reach: report steps to reach it.", show_default=False),
    yes: bool = typer.Option(False, "--yes", help="Run grids of more than 10,000 cells."),
    resume: Optional[str] = typer.Option(None, "--resume", help="Finish sweep SWEEP_ID without redoing its finished cells.", show_default=False),
    out: Optional[str] = typer.Option(None, "--out", help="Folder for the figures (default: <store folder>/<sweep id>).", show_default=False),
    no_plots: bool = typer.Option(False, "--no-plots", help="Do not draw figures."),
    store: Optional[str] = StoreOption,
    as_json: bool = JsonOption,
) -> None:
    """Run every combination of the given values; each cell is an ordinary, recorded run.

    A flag of the problem's own (--csv, --hidden, ...) applies when the problem's config has a
    field of that name; it is refused by name for the others."""
    from ..core.config import is_finite
    from ..core.errors import ClusterError, ConfigError, Problems
    from ..core.limits import check_count, check_seed
    from ..core.paths import check_folder
    from ..core.store import Store, run_folder
    from ..sweep import SweepSpec, run_sweep
    from ..sweep.figures import draw_sweep
    from ..sweep.grid import MAX_CELLS, parse_axis

    model_file = None
    if problem is not None and resume is None:  # a name, or the path of a model file
        from .. import problems as registry

        entry = registry.resolve(problem)
        if entry.name != problem:  # a file: the grid's fixed options name it, by absolute path
            from pathlib import Path

            model_file, problem = str(Path(problem).resolve()), entry.name
    lists = {"lr": lr, "batch_size": batch_size, "optimizer": optimizer, "momentum": momentum,
             "betas": betas, "eps": eps, "weight_decay": weight_decay}
    own = {"steps": steps, "epochs": epochs, "csv": csv, "x": x, "y": y, "standardize": standardize or None,
           "dtype": dtype, "dataset": dataset, "data_dir": data_dir, "hidden": hidden,
           "limit_train": limit_train, "activation": activation, "loss": loss, "normalize": normalize,
           "max_steps": max_steps, "device": device, "surface": surface, "f": f, "start": start,
           "noise": noise}
    refused = _not_applicable(problem, resume, executor, {**own, "batch_size": batch_size}, seeds)
    if refused:
        raise ConfigError(*refused)
    words = _axis_words(problem)  # a model file's --batch-size takes auto and full, as `train` does
    axes = {k: v for k, v in ((k, parse_axis(k, t, words.get(k, ()))) for k, t in lists.items())
            if v is not None}
    problems = Problems()
    check_count(problems, seeds, "--seeds", high=MAX_CELLS, why="a sweep's cells are all recorded")
    if seed is not None:
        check_seed(problems, seed, count=seeds if isinstance(seeds, int) and seeds >= 1 else 1)
    if target is not None:
        problems.check(is_finite(target), f"--target must be a finite loss, got {target}")
    if out is not None and not no_plots:
        check_folder(problems, out, "--out")
    problems.raise_if_any(ConfigError)
    base = {"nesterov": nesterov or None, **_problem_options(problem, own)}
    if model_file is not None:  # the model file problem's own field holds the path
        base[registry.get(problem).path_field or "file"] = model_file
    base = {k: v for k, v in base.items() if v is not None}
    first_seed = seed if seed is not None else _default_seed(problem)
    axes["seed"] = [first_seed + i for i in range(seeds)]

    db = Store(store)
    spec = None
    saved = db.sweep(resume) if resume is not None and problem is not None else None
    if saved is not None and saved["problem"] != problem:  # never ignore the problem named
        raise ConfigError(f"sweep {resume} is a {saved['problem']} sweep, not {problem}; "
                          f"give `sgdlab sweep --resume {resume}` alone")
    if resume is None:
        if problem is None:
            raise ConfigError(f"give the problem to sweep ({', '.join(_registry().names())}) or --resume SWEEP_ID")
        spec = SweepSpec(problem=problem, axes=axes, base=base, executor=executor or "auto",
                         workers=workers, address=address, target=target)
    elif executor is not None or workers is not None or address is not None:
        # a resumed sweep keeps its grid and, unless told otherwise here, its executor
        spec = SweepSpec(problem=problem or "", axes={}, workers=workers, address=address,
                         executor=executor or ("ray" if address is not None else "auto"))

    with CellProgress(enabled=not as_json and sys.stderr.isatty()) as progress:
        document = run_sweep(spec, store=db, resume=resume, yes=yes, progress=progress)
    rows = document.pop("_rows")
    document["figures"] = [] if no_plots else draw_sweep(rows, run_folder(db, document["sweep_id"], out))
    emit(document, as_json, _print)
    if document["status"] == "interrupted":
        print(f"interrupted: {document['cells_finished']} of {document['cells_total']} cells kept; "
              f"resume with: {document['resume']}", file=sys.stderr)
        raise typer.Exit(130)
    if document["status"] == "cluster_lost":
        print(f"error: {document['error']}", file=sys.stderr)
        raise typer.Exit(ClusterError.exit_code)


GRID_OPTIONS = ("lr", "batch_size", "optimizer", "momentum", "betas", "eps", "weight_decay",
                "nesterov", "seeds", "seed", "steps", "epochs", "csv", "x", "y", "standardize",
                "dtype", "dataset", "data_dir", "hidden", "limit_train", "activation", "loss",
                "normalize", "max_steps", "device", "surface", "f", "start", "noise", "target")


def _field(entry, name: str) -> str | None:
    """The config field flag ``name`` sets for problem ``entry``: a field of that name, or one
    the config class maps it to (``sweep_aliases``, e.g. a sweep's --f is a surface's expr)."""
    from . import fields

    cls = entry.config_class()
    if name in fields.fields(cls):
        return name
    return getattr(cls, "sweep_aliases", {}).get(name)


def _problem_options(problem, own: dict) -> dict:
    """The problem's own flags that were given, each parsed by its config field's type, with
    the problem's sweep defaults (``adapter.defaults(base)``) beneath them."""
    from . import fields

    registry = _registry()
    if problem not in registry.names():
        return {}
    entry = registry.get(problem)
    cls = entry.config_class()
    base = {}
    for name, value in own.items():
        target = _field(entry, name) if value is not None else None
        if target is not None:
            base[name] = fields.parse(value, fields.hints(cls)[target], name)
    defaults = getattr(entry.sweep_adapter(), "defaults", None)
    return {**(defaults(base) if defaults else {}), **base}


def _axis_words(problem) -> dict[str, tuple[str, ...]]:
    """The words the problem's sweep takes on an axis besides numbers (``adapter.axis_words``)."""
    registry = _registry()
    if problem not in registry.names():
        return {}
    return getattr(registry.get(problem).sweep_adapter(), "axis_words", {})


def _not_applicable(problem, resume, executor, own, seeds) -> list[str]:
    """Flags the user gave that this sweep would ignore: each is refused by name."""
    from .app import not_applicable

    if resume is not None:  # a resumed sweep keeps its grid: only how it runs may change
        return not_applicable([(name, False, "cannot change a resumed sweep's grid; --resume "
                                "keeps the grid it was started with") for name in GRID_OPTIONS])
    registry = _registry()
    if problem not in registry.names():
        return []  # an unknown (or missing) problem is reported by the sweep's validation
    entry = registry.get(problem)
    rules = []
    for name in own:
        if _field(entry, name) is None:
            owners = [e.name for e in registry.entries().values() if _field(e, name) is not None]
            rules.append((name, False, f"applies to `sgdlab sweep {' / '.join(owners)}` only, not {problem}"))
    rules.append(("workers", executor in ("process", "ray"), "is for --executor process or ray"))
    identical = getattr(entry.sweep_adapter(), "identical_seeds", None)
    why = identical({k: v for k, v in own.items() if v is not None}) if identical else None
    rules.append(("seeds", why is None or seeds == 1, why or ""))
    return not_applicable(rules)


def _default_seed(problem: str | None) -> int:
    """The problem's own default seed (linreg: the tutorial's 2019), read from its config class."""
    import dataclasses

    from .. import problems

    if problem not in problems.names():
        return 0  # an unknown problem is reported by the sweep's validation
    fields = {f.name: f for f in dataclasses.fields(problems.get(problem).config_class())}
    return int(fields["seed"].default)


def _fmt(value, spec: str = ".4g") -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return format(value, spec)
    return str(value)


def _print(doc: dict) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console()
    console.width = max(console.width, 120)
    table = Table(title=f"sweep {doc['sweep_id']} ({doc['problem']}, {doc['executor']})")
    axes = [a for a in ("optimizer", "batch_size", "lr", "momentum", "betas", "eps", "weight_decay")
            if a in doc["axes"]]
    for column in axes + ["seeds", "final loss (mean +- std)", "best loss", "steps to target", "seconds", "diverged"]:
        table.add_column(column, no_wrap=True)
    for g in doc["groups"]:
        final = f"{_fmt(g['final_loss_mean'])} +- {_fmt(g['final_loss_std'], '.2g')}"
        if g["diverged"]:
            final = f"diverged ({g['diverged']} of {g['seeds']} seeds)"
        if "accuracy_mean" in g:
            final += f"  (acc {g['accuracy_mean']:.3f})"
        table.add_row(*[_fmt(g.get(a)) for a in axes], str(g["seeds"]), final,
                      _fmt(g["best_loss_mean"]), _fmt(g["steps_to_target_mean"], ".1f"),
                      _fmt(g["seconds_mean"], ".3f"), str(g["diverged"]))
    console.print(table)
    best = doc["best"]
    if best:
        where = ", ".join(f"{a}={best.get(a)}" for a in axes)
        print(f"best: {where} with final loss {best['final_loss_mean']:.6g}")
    print(f"{doc['cells_finished']} of {doc['cells_total']} cells finished ({doc['cells_run_now']} now, "
          f"{doc['seconds']:.2f} s, executor {doc['executor']}); status {doc['status']}")
    for path in doc["figures"]:
        print(f"figure: {path}")
    print(f"sweep id: {doc['sweep_id']}  (sgdlab runs --sweep {doc['sweep_id']})")
