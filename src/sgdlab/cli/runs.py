"""`sgdlab runs`: list the run store, or show one run."""

from __future__ import annotations

from typing import Optional

import typer

from .app import JsonOption, StoreOption, app, emit, handle_errors, not_applicable


@app.command()
@handle_errors
def runs(
    action: Optional[str] = typer.Argument(None, help="`show` to show one run", show_default=False),
    run_id: Optional[str] = typer.Argument(None, help="Run id (or a unique prefix of it)", show_default=False),
    sweep: Optional[str] = typer.Option(None, "--sweep", help="Only the runs of this sweep.", show_default=False),
    limit: int = typer.Option(50, "--limit", help="Show the newest N runs (0: all)."),
    store: Optional[str] = StoreOption,
    as_json: bool = JsonOption,
) -> None:
    """List recorded runs (`sgdlab runs`), or show one (`sgdlab runs show ID`)."""
    from ..core.errors import ConfigError
    from ..core.store import Store

    db = Store(store)
    if action is None:
        if limit < 0:
            raise ConfigError(f"--limit must be >= 0 (0 shows every run), got {limit}")
        if sweep is not None and not db.has_sweep(sweep):
            raise ConfigError(f"no sweep {sweep!r} in {db.path}; `sgdlab runs` lists the runs "
                              "and their sweep ids (`sgdlab runs --json`)")
        records = db.list_runs(sweep_id=sweep, limit=limit or None)
        rows = [
            {"id": r.id, "created": r.created, "command": r.command, "status": r.state,
             "sweep_id": r.sweep_id, "key_metric_name": r.key_metric_name, "key_metric": r.key_metric}
            for r in records
        ]
        emit({"store": str(db.path), "runs": rows}, as_json, _print_table)
        return
    if action != "show":
        raise ConfigError(f"unknown action {action!r}; use `sgdlab runs` or `sgdlab runs show ID`")
    problems = not_applicable([("sweep", False, "lists a sweep's runs; `runs show ID` shows one run"),
                               ("limit", False, "limits the list; `runs show ID` shows one run")])
    if problems:
        raise ConfigError(*problems)
    if run_id is None:
        raise ConfigError("`sgdlab runs show` needs a run id; `sgdlab runs` lists them")
    if not db.exists():
        raise ConfigError(f"no run store at {db.path}; nothing has been recorded there yet")
    record = db.get(run_id)
    document = {
        "id": record.id, "created": record.created, "command": record.command,
        "status": record.state, "recorded_status": record.status, "pid": record.pid,
        "host": record.host, "sweep_id": record.sweep_id, "config": record.config,
        "metrics": record.metrics, "figures": record.figures,
        "key_metric_name": record.key_metric_name, "key_metric": record.key_metric,
        "sgdlab_version": record.sgdlab_version, "torch_version": record.torch_version,
        "curves": record.curves,
    }
    emit(document, as_json, _print_one)


def _print_table(doc: dict) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"runs in {doc['store']}")
    for column in ("id", "time", "command", "status", "key metric"):
        table.add_column(column, no_wrap=True)
    for r in doc["runs"]:
        metric = "" if r["key_metric"] is None else f"{r['key_metric_name']} = {r['key_metric']:.6g}"
        table.add_row(r["id"], r["created"][:19].replace("T", " "), r["command"], r["status"], metric)
    console = Console()
    console.width = max(console.width, 120)  # ids and times stay whole in pipes, too
    console.print(table)
    if not doc["runs"]:
        print("no runs recorded yet")
    interrupted = {r["command"] for r in doc["runs"] if r["status"] == "interrupted"}
    if interrupted:
        from .. import problems

        resumable = {c for c in interrupted if getattr(problems.find(c), "resumable", False)}
        if resumable:
            print("interrupted runs: `sgdlab resume RUN_ID` continues one from its last checkpoint")
        if interrupted - resumable:  # a study keeps what it measured; it has no checkpoints
            print(f"interrupted {', '.join(sorted(interrupted - resumable))}: kept what it had "
                  f"measured (`sgdlab runs show RUN_ID`); run the command again to redo it")


def _print_one(doc: dict) -> None:
    import json

    from ..core.store import jsonable

    print(f"run {doc['id']}  ({doc['command']}, {doc['status']}, {doc['created']})")
    if doc["status"] in ("running", "interrupted", "unknown"):
        print(f"process: {doc['pid']} on {doc['host']}")
    if doc["sweep_id"]:
        print(f"sweep: {doc['sweep_id']}")
    print(f"versions: sgdlab {doc['sgdlab_version']}, torch {doc['torch_version']}")
    print("config: " + json.dumps(jsonable(doc["config"])))
    print("metrics: " + json.dumps(jsonable(doc["metrics"]), indent=2))
    for name, values in doc["curves"].items():
        tail = ", ".join(f"{v:.6g}" for v in values[-3:])
        print(f"curve {name}: {len(values)} values, last: {tail}")
    for path in doc["figures"]:
        print(f"figure: {path}")
