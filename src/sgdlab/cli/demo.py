"""`sgdlab demo`: the main job, every lesson on embedded data, outputs under one folder."""

from __future__ import annotations

from typing import Optional

import typer

from .app import JsonOption, StoreOption, app, emit, handle_errors


@app.command()
@handle_errors
def demo(
    out: str = typer.Option("sgdlab-demo", "--out", help="Folder for every output of the demo."),
    quick: bool = typer.Option(False, "--quick", help="Smaller versions of the long lessons (for tests)."),
    store: Optional[str] = StoreOption,
    as_json: bool = JsonOption,
) -> None:
    """Run every lesson on embedded data and write its figures under one folder."""
    from ..lessons.demo import run_demo
    from ..core.store import Store

    document = run_demo(out, store=Store(store), quick=quick)
    emit(document, as_json, _print)


def _print(doc: dict) -> None:
    for lesson in doc["lessons"]:
        print(f"[{lesson['name']}] {lesson['summary']}")
        for path in lesson["figures"]:
            print(f"    {path}")
    print(f"all outputs are in: {doc['out']}")
