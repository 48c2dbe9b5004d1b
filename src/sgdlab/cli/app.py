"""The Typer app and what every subcommand shares: error handling, output, the store flag."""

from __future__ import annotations

import functools
import json
import sys
from typing import Any, Callable

import typer

from ..core.errors import SgdlabError

app = typer.Typer(
    name="sgdlab",
    help="Learn, see and measure gradient descent: the tutorial's lessons, studies and sweeps.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)

EXIT_DIVERGED = 3  # bad input exits 2, a lost cluster 1: each error's own ``exit_code``

# Options shared by every command that runs something.
JsonOption = typer.Option(False, "--json", help="Print one JSON document on stdout and nothing else there.")
StoreOption = typer.Option(
    None, "--store", help="SQLite run store (default: $SGDLAB_STORE or ./sgdlab-runs/runs.db)",
    show_default=False,
)


def handle_errors(func: Callable) -> Callable:
    """Turn user errors into `error: ...` lines on stderr and their exit code (2 for bad input),
    never a traceback."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except SgdlabError as exc:
            for problem in exc.problems:
                print(f"error: {problem}", file=sys.stderr)
            raise typer.Exit(exc.exit_code) from None
        except KeyboardInterrupt:
            print("interrupted", file=sys.stderr)
            raise typer.Exit(130) from None

    return wrapper


def emit(document: dict[str, Any], as_json: bool, human: Callable[[dict[str, Any]], None]) -> None:
    """Print ``document`` as strict JSON (``--json``) or through ``human``."""
    if as_json:
        from ..core.store import jsonable

        sys.stdout.write(json.dumps(jsonable(document), indent=2) + "\n")
    else:
        human(document)


def note(message: str) -> None:
    """Messages and progress go to stderr, so stdout stays clean for --json."""
    print(message, file=sys.stderr)


def main() -> None:
    app()
