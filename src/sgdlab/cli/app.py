"""The Typer app and what every subcommand shares: one error format, output, the store flag.

Every way a command can fail prints the same thing: one ``error: ...`` line per problem on
stderr, exit code 2 (with ``--json``, also ``{"status": "error", "errors": [...]}`` on stdout, so
a script always gets a document). That covers sgdlab's own errors (``SgdlabError``, through
``handle_errors``) and click/Typer's usage errors (an unknown flag, ``--lr abc``, an unknown
command), which ``SgdlabGroup.main`` catches before Typer draws its multi-line box.
"""

from __future__ import annotations

import difflib
import functools
import json
import os
import sys
from typing import Any, Callable

import typer
from typer.core import TyperGroup

try:  # Typer >= 0.25 vendors click; older ones use the click package
    from typer import _click as click
except ImportError:  # pragma: no cover
    import click

from ..core.errors import SgdlabError

EXIT_BAD_INPUT = 2
EXIT_DIVERGED = 3
EXIT_INTERRUPTED = 130
EXIT_BROKEN_PIPE = 141  # 128 + SIGPIPE: what a shell reports for a writer whose reader left
EXIT_BUG = 1
DEBUG_ENV = "SGDLAB_DEBUG"  # set: unexpected exceptions show their traceback
INT64_MAX = 2**63 - 1  # torch and SQLite hold whole numbers in 64 bits


class SgdlabGroup(TyperGroup):
    """Typer's group, with click's usage errors printed in sgdlab's one-line format."""

    def main(self, args=None, prog_name=None, complete_var=None, standalone_mode=True, **extra):
        argv = list(sys.argv[1:] if args is None else args)
        try:
            code = super().main(args=argv, prog_name=prog_name, complete_var=complete_var,
                                standalone_mode=False, **extra)
            code = code if isinstance(code, int) else 0
        except click.exceptions.NoArgsIsHelpError as exc:  # bare `sgdlab`: the help, then why it failed
            print(exc.format_message(), file=sys.stderr)
            group = " ".join(["sgdlab"] + [a for a in argv if not a.startswith("-")])
            print(f"error: {group} needs a command; `{group} --help` lists them", file=sys.stderr)
            code = EXIT_BAD_INPUT
        except click.exceptions.ClickException as exc:
            code = fail([usage_message(exc, argv)], "--json" in argv)
        except (typer.Abort, KeyboardInterrupt):
            print("interrupted", file=sys.stderr)
            code = EXIT_INTERRUPTED
        if standalone_mode:
            sys.exit(code)
        return code


app = typer.Typer(
    name="sgdlab",
    cls=SgdlabGroup,
    help="Learn, see and measure gradient descent: the tutorial's lessons, studies and sweeps.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)

# Options shared by every command that runs something.
JsonOption = typer.Option(False, "--json", help="Print one JSON document on stdout and nothing else there.")
StoreOption = typer.Option(
    None, "--store", help="SQLite run store (default: $SGDLAB_STORE or ./sgdlab-runs/runs.db)",
    show_default=False,
)


def fail(problems: list[str], as_json: bool, code: int = EXIT_BAD_INPUT) -> int:
    """Print ``problems`` as ``error:`` lines (and the JSON error document); return ``code``."""
    for problem in problems:
        print(f"error: {problem}", file=sys.stderr)
    if as_json:
        sys.stdout.write(json.dumps({"status": "error", "errors": problems}, indent=2) + "\n")
    return code


def handle_errors(func: Callable) -> Callable:
    """Turn user errors into `error: ...` lines on stderr and exit code 2, never a traceback.

    Before the command runs, every whole-number flag is checked to fit in 64 bits (Python's ints
    have no limit; torch's and SQLite's do), so ``--seed 99999999999999999999999`` is refused
    by name instead of failing deep inside torch.
    """

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        as_json = bool(kwargs.get("as_json"))
        try:
            _check_int_ranges(kwargs)
            return func(*args, **kwargs)
        except SgdlabError as exc:
            raise typer.Exit(fail(exc.problems, as_json, exc.exit_code)) from None  # 2; cluster lost: 1
        except KeyboardInterrupt:
            print("interrupted", file=sys.stderr)
            raise typer.Exit(EXIT_INTERRUPTED) from None
        except (typer.Exit, typer.Abort, click.exceptions.ClickException):
            raise
        except MemoryError:
            raise typer.Exit(fail(["out of memory; try smaller sizes (--hidden, --batch-size, "
                                   "--limit-train)"], as_json)) from None
        except BrokenPipeError:  # `sgdlab ... | head`: the reader has all it wanted; no error
            # line, as Unix tools end; stdout to the null device so that the final flush at exit
            # does not raise again (Python's documented recipe), and 128 + SIGPIPE as the status
            null = os.open(os.devnull, os.O_WRONLY)
            os.dup2(null, sys.stdout.fileno())
            raise typer.Exit(EXIT_BROKEN_PIPE) from None
        except OSError as exc:  # a full disk, a vanished folder: the environment, not a bug
            where = f" ({exc.filename})" if getattr(exc, "filename", None) else ""
            raise typer.Exit(fail([f"{exc.strerror or exc}{where}"], as_json)) from None
        except Exception as exc:
            if os.environ.get(DEBUG_ENV):
                raise
            fail([f"internal error ({type(exc).__name__}: {_one_line(str(exc))}); this is a bug "
                  f"in sgdlab: please report the command; {DEBUG_ENV}=1 shows the traceback"], as_json)
            raise typer.Exit(EXIT_BUG) from None

    return wrapper


def given(*names: str) -> bool:
    """True when any of the parameters ``names`` (Python names) came from the command line or
    the environment, not from its default: a flag that does not apply can then be refused."""
    ctx = click.globals.get_current_context(silent=True)
    if ctx is None:
        return False
    user = (click.core.ParameterSource.COMMANDLINE, click.core.ParameterSource.ENVIRONMENT)
    return any(ctx.get_parameter_source(name) in user for name in names)


def flag_of(name: str) -> str:
    """The command-line spelling (``--batch-size``) of parameter ``name`` of the current command."""
    ctx = click.globals.get_current_context(silent=True)
    for param in (ctx.command.params if ctx else []):
        if param.name == name and param.opts:
            return max(param.opts, key=len)
    return "--" + name.replace("_", "-")


def not_applicable(rules: list[tuple[str, bool, str]]) -> list[str]:
    """Problems for flags the user gave that do not apply: ``(parameter, applies, why)`` each."""
    return [f"{flag_of(name)} {why}" for name, applies, why in rules if given(name) and not applies]


def emit(document: dict[str, Any], as_json: bool, human: Callable[[dict[str, Any]], None]) -> None:
    """Print ``document`` as strict JSON (``--json``) or through ``human``."""
    if as_json:
        from ..core.store import jsonable

        sys.stdout.write(json.dumps(jsonable(document), indent=2) + "\n")
    else:
        human(document)


def print_document(document: dict[str, Any]) -> None:
    """The human text of a problem that has no printer of its own: its numbers, a line per key
    (a dict's numbers on one line; not its config), its figures; ``lambda_max`` and the run's
    own ``lr_bound`` as ``cli.bound_text`` says them (the rule in ``LANG``'s language)."""
    def text(value: Any) -> str:
        if isinstance(value, float):
            return f"{value:.6g}"
        if isinstance(value, list) and len(value) <= 8 and all(isinstance(v, (int, float)) for v in value):
            return "[" + ", ".join(text(v) for v in value) + "]"
        return str(value)

    from . import bound_text

    theory = bound_text.applies(document)  # lambda_max and the rule's own bound, in LANG's language
    for key, value in document.items():
        if theory and key in ("lambda_max", "lambda_max_kind", "lr_bound", "lr_bound_rule"):
            if key == "lambda_max":
                print("\n".join(bound_text.lines(document)))
        elif isinstance(value, dict) and key != "config":
            inner = [f"{k} {text(v)}" for k, v in value.items() if isinstance(v, (str, int, float, list))]
            print(f"{key}: {', '.join(inner)}")
        elif key == "figures":
            for path in value:
                print(f"figure: {path}")
        elif isinstance(value, (str, int, float)) or value is None:
            print(f"{key}: {text(value)}")


def note(message: str) -> None:
    """Messages and progress go to stderr, so stdout stays clean for --json."""
    print(message, file=sys.stderr)


def main() -> None:
    app()


# -- usage errors --------------------------------------------------------------------------------

def usage_message(exc: Exception, argv: list[str]) -> str:
    """click's usage error in sgdlab's words, on one line, with a hint where one helps."""
    ctx = getattr(exc, "ctx", None)
    command = ctx.command_path if ctx is not None else "sgdlab"
    helper = f"`{command} --help` lists them"
    if isinstance(exc, click.exceptions.NoSuchOption):
        options = _options_of(ctx)
        close = difflib.get_close_matches(exc.option_name, options, n=1, cutoff=0.6)
        hint = f"did you mean {close[0]}?" if close else f"`{command} --help` lists the options"
        return f"{command}: unknown option {exc.option_name}; {hint}"
    if isinstance(exc, click.exceptions.BadParameter) and exc.param is not None:
        flag = max(exc.param.opts, key=len) if exc.param.opts else exc.param.name
        if isinstance(exc, click.exceptions.MissingParameter):
            return f"{command}: {flag} is missing; {helper.replace('them', 'what it needs')}"
        value = _value_after(argv, exc.param.opts)
        shown = f" {value!r}" if value is not None else ""
        # Typer's own messages ("Input should be a valid integer, ..."), in fewer words
        kind = next((k for word, k in (("integer", "a whole number"), ("number", "a number"),
                                       ("float", "a number")) if f"valid {word}" in exc.message), None)
        if kind:
            return f"{flag}:{shown} is not {kind}"
        return f"{flag}:{shown} {_one_line(exc.message)}"
    message = _one_line(exc.format_message() if hasattr(exc, "format_message") else str(exc))
    if message.startswith("No such command"):
        name = message.split("'")[1] if "'" in message else ""
        commands = sorted(getattr(ctx.command, "commands", {}) or {}) if ctx else []
        close = difflib.get_close_matches(name, commands, n=1, cutoff=0.5)
        hint = f"did you mean {close[0]}?" if close else "`sgdlab --help` lists the commands"
        return f"unknown command {name!r}; {hint}"
    if message.startswith("Option '") and "requires an argument" in message:
        return f"{message.split(chr(39))[1]} needs a value"
    if message.startswith("Got unexpected extra argument"):
        extra = message[message.rfind("(") + 1 : message.rfind(")")]
        return f"{command}: unexpected argument(s) {extra}; {helper.replace('them', 'what it takes')}"
    return f"{command}: {message[0].lower() + message[1:] if message else 'bad usage'}"


def _options_of(ctx) -> list[str]:
    if ctx is None:
        return []
    return [opt for p in ctx.command.params for opt in p.opts if opt.startswith("-")]


def _value_after(argv: list[str], opts) -> str | None:
    """The text the user gave to one of ``opts`` (``--lr abc`` or ``--lr=abc``), if any."""
    for i, token in enumerate(argv):
        for opt in opts:
            if token == opt and i + 1 < len(argv):
                return argv[i + 1]
            if token.startswith(opt + "="):
                return token[len(opt) + 1 :]
    return None


def _one_line(text: str) -> str:
    return " ".join(str(text).split())


def _check_int_ranges(kwargs: dict[str, Any]) -> None:
    problems = []
    for name, value in kwargs.items():
        if isinstance(value, int) and not isinstance(value, bool) and abs(value) > INT64_MAX:
            problems.append(f"{flag_of(name)} {value} is out of range: whole numbers must lie "
                            f"within +-{INT64_MAX:,} (64 bits)")
    if problems:
        raise SgdlabError(*problems)
