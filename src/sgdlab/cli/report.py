"""`sgdlab report`: one self-contained HTML file for a sweep or some runs."""

from __future__ import annotations

from typing import List, Optional

import typer

from .app import JsonOption, StoreOption, app, emit, handle_errors


@app.command()
@handle_errors
def report(
    run_ids: Optional[List[str]] = typer.Argument(None, help="Run ids (or unique prefixes) to report.", show_default=False),
    sweep: Optional[str] = typer.Option(None, "--sweep", help="Report this sweep.", show_default=False),
    out: str = typer.Option("report.html", "--out", help="The HTML file to write."),
    store: Optional[str] = StoreOption,
    as_json: bool = JsonOption,
) -> None:
    """Write a self-contained HTML report (figures embedded; opens with no network)."""
    from ..report import build_report
    from ..core.store import Store

    path = build_report(Store(store), sweep_id=sweep, run_ids=list(run_ids or []), out=out)
    emit({"status": "completed", "report": str(path)}, as_json, lambda d: print(f"report: {d['report']}"))
