"""`sgdlab resume`: continue an interrupted run from its last checkpoint, under the same id."""

from __future__ import annotations

from typing import Optional

import typer

from .app import EXIT_DIVERGED, JsonOption, StoreOption, app, emit, handle_errors, note, print_document


@app.command()
@handle_errors
def resume(
    run_id: str = typer.Argument(..., help="The interrupted run's id (or a unique prefix of it); `sgdlab runs` lists them.", show_default=False),
    store: Optional[str] = StoreOption,
    as_json: bool = JsonOption,
) -> None:
    """Continue an interrupted run (killed, Ctrl-C) from its last checkpoint and finish it.

    On the CPU the finished run's losses, weights and metrics are bit-identical to those of a
    run that was never interrupted. Which runs checkpoint, and when, is each problem's own: the
    MLP's at the end of every epoch, linear regression's with --epochs; both every N updates
    with --checkpoint-every N.
    """
    from .. import problems
    from ..api import resume as resume_run
    from ..core.store import Store

    document = resume_run(run_id, store=Store(store))
    emit(document, as_json, problems.get(document["problem"]).hook("printer") or print_document)
    if document["status"] == "diverged":
        note("error: " + document["divergence"]["message"])
        raise typer.Exit(EXIT_DIVERGED)
