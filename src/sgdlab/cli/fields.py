"""Flags from a config dataclass: one option per field, its help the field's own comment.

A problem's config is the one place its options are written down (name, type, default, unit);
`sgdlab sweep`, `sgdlab lr-find NAME` and the generic `sgdlab NAME` read them from there, so a
new problem gets its flags without a line in cli/. Field ``x: int = 3  # what x is`` becomes
``--x INTEGER`` with that comment as help; ``plots: bool = True`` becomes ``--no-plots``; an
``OptimizerSpec`` field becomes the optimizer flags; lists are comma separated.
"""

from __future__ import annotations

import dataclasses
import inspect
import re
import typing
from functools import lru_cache
from typing import Any, Optional

import typer

SCALARS = (bool, int, float, str)
NONE_WORDS = ("full", "all", "none")  # the text of None for a number that has a default


@lru_cache(maxsize=None)
def docs(cls: type) -> dict[str, str]:
    """Each field's help: ``field(metadata={"help": ...})``, else its trailing ``# comment``."""
    found: dict[str, str] = {}
    try:
        source = inspect.getsource(cls)
    except (OSError, TypeError):  # no source (a frozen app): fields go without help
        source = ""
    for line in source.splitlines():
        match = re.match(r"\s+(\w+)\s*:[^#]*#\s*(.+)$", line)
        if match:
            found.setdefault(match.group(1), match.group(2).strip())
    for f in dataclasses.fields(cls):
        if "help" in f.metadata:
            found[f.name] = f.metadata["help"]
    return found


@lru_cache(maxsize=None)
def hints(cls: type) -> dict[str, Any]:
    return typing.get_type_hints(cls)


def fields(cls: type) -> dict[str, dataclasses.Field]:
    return {f.name: f for f in dataclasses.fields(cls)}


def _strip_optional(hint: Any) -> tuple[Any, bool]:
    args = typing.get_args(hint)
    if type(None) in args and len(args) == 2:
        return next(a for a in args if a is not type(None)), True
    return hint, False


def default_of(f: dataclasses.Field) -> Any:
    if f.default is not dataclasses.MISSING:
        return f.default
    if f.default_factory is not dataclasses.MISSING:
        return f.default_factory()
    return None


def flag(name: str) -> str:
    return "--" + name.replace("_", "-")


def parse(text: Any, hint: Any, name: str) -> Any:
    """The command line's text for field ``name`` as its type says (lists comma separated)."""
    from ..core.config import parse_float_list, parse_int_list
    from ..core.errors import ConfigError

    base, optional = _strip_optional(hint)
    if not isinstance(text, str):
        return text
    kinds = typing.get_args(hint)
    if str in kinds and {int, float} & set(kinds):  # a number or a word (batch_size: 32, full, auto)
        if type(None) in kinds and text.strip().lower() in NONE_WORDS:
            return None
        try:
            return (int if int in kinds else float)(text)
        except ValueError:
            return text.strip()  # the config's validate names the words it takes
    if optional and text.strip().lower() in NONE_WORDS and base is not str:
        return None
    origin = typing.get_origin(base)
    if origin in (list, tuple):
        item = (typing.get_args(base) or (str,))[0]
        if item is int:
            values: list = parse_int_list(text, flag(name))
        elif item is float:
            values = parse_float_list(text, flag(name))
        else:
            values = [t.strip() for t in text.split(",") if t.strip()]
        return tuple(values) if origin is tuple else values
    if base in (int, float):
        if "," in text:
            raise ConfigError(f"{flag(name)} takes one value here, got {text!r}")
        try:
            return base(text)
        except ValueError:
            what = "a whole number" if base is int else "a number"
            none = f" or {NONE_WORDS[0]}" if optional else ""
            raise ConfigError(f"{flag(name)} must be {what}{none}, got {text!r}") from None
    return text


def parameters(cls: type, names: typing.Iterable[str] | None = None,
               defaults: dict[str, Any] | None = None) -> list[inspect.Parameter]:
    """Typer parameters for the fields ``names`` of ``cls`` (default: all), in that order."""
    from . import options

    by_name, help_of, overrides = fields(cls), docs(cls), defaults or {}
    params: list[inspect.Parameter] = []
    for name in (names if names is not None else by_name):
        f = by_name[name]
        hint = hints(cls)[name]
        default = overrides.get(name, default_of(f))
        help_text = help_of.get(name, "")
        base, optional = _strip_optional(hint)
        if getattr(base, "__name__", "") == "OptimizerSpec":
            params += [_param("optimizer", str, options.OPTIMIZER), _param("momentum", Optional[float], options.MOMENTUM),
                       _param("nesterov", bool, options.NESTEROV), _param("betas", Optional[str], options.BETAS),
                       _param("eps", Optional[float], options.EPS),
                       _param("weight_decay", Optional[float], options.WEIGHT_DECAY)]
        elif base is bool and default is True:
            params.append(_param(f"no_{name}", bool, typer.Option(False, flag(f"no_{name}"), help=f"Do not {help_text}")))
        elif base in SCALARS and (not optional or default is None or base is str):
            kind = Optional[base] if optional else base
            params.append(_param(name, kind, typer.Option(default, flag(name), help=help_text,
                                                          show_default=default is not None)))
        else:  # lists, tuples, numbers whose None is a word: text, parsed by the field's type
            shown = _show(default)
            params.append(_param(name, Optional[str], typer.Option(
                None, flag(name), help=help_text + (f" (default: {shown})" if shown else ""), show_default=False)))
    return params


def _show(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, (list, tuple)):
        return ",".join(str(v) for v in value)
    return str(value)


def _param(name: str, annotation: Any, default: Any) -> inspect.Parameter:
    return inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, default=default, annotation=annotation)


def values(cls: type, given: dict[str, Any], names: typing.Iterable[str] | None = None) -> dict[str, Any]:
    """Config keyword arguments from what ``parameters`` parsed: texts parsed, ``no_X`` turned
    into ``X``, the optimizer flags into an ``OptimizerSpec``; a flag left out keeps the field's
    default."""
    from . import options

    by_name = fields(cls)
    out: dict[str, Any] = {}
    for name in (names if names is not None else by_name):
        base, _ = _strip_optional(hints(cls)[name])
        if getattr(base, "__name__", "") == "OptimizerSpec":
            out[name] = options.optimizer_spec(given["optimizer"], given["momentum"], given["nesterov"],
                                               given["betas"], given["eps"], given["weight_decay"])
        elif f"no_{name}" in given:
            out[name] = not given[f"no_{name}"]
        elif given.get(name) is not None:
            out[name] = parse(given[name], hints(cls)[name], name)
    return out


def function(params: list[inspect.Parameter], body: typing.Callable[..., None], doc: str) -> typing.Callable:
    """A function with signature ``params`` that calls ``body(**kwargs)``: what Typer reads."""

    def command(**kwargs: Any) -> None:
        body(**kwargs)

    command.__signature__ = inspect.Signature(params)  # type: ignore[attr-defined]
    command.__annotations__ = {p.name: p.annotation for p in params}
    command.__doc__ = doc
    return command
