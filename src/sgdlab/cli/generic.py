"""`sgdlab NAME` for a problem that brings no command of its own: its flags are its config's
fields (``cli/fields.py``), its output the entry's printer; run, print, exit 3 if it diverged."""

from __future__ import annotations

import inspect
from typing import Any, Optional

import typer

from .app import EXIT_DIVERGED, JsonOption, StoreOption, emit, handle_errors, note, print_document


def register(app: typer.Typer, entry) -> None:
    from . import fields

    cls = entry.config_class()
    params = fields.parameters(cls) + [
        inspect.Parameter("store", inspect.Parameter.KEYWORD_ONLY, default=StoreOption, annotation=Optional[str]),
        inspect.Parameter("as_json", inspect.Parameter.KEYWORD_ONLY, default=JsonOption, annotation=bool)]

    def body(store: Optional[str] = None, as_json: bool = False, **given: Any) -> None:
        from ..core.store import Store

        config = cls(**fields.values(cls, given))
        document = entry.run_function()(config, store=Store(store))
        emit(document, as_json, entry.hook("printer") or print_document)
        if document.get("status") == "diverged":
            note("error: " + document.get("divergence", {}).get("message", "the run diverged"))
            raise typer.Exit(EXIT_DIVERGED)

    doc = (cls.__doc__ or entry.summary or entry.name).strip()
    app.command(name=entry.name)(handle_errors(fields.function(params, body, doc)))
