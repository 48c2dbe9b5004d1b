"""Configuration pieces every problem shares: number checks and comma-list parsers.

Each problem's own config dataclass lives in its package (``linreg/config.py``,
``mnist/config.py``, ``surface/config.py``); the optimizer's is ``optim.spec.OptimizerSpec``.
"""

from __future__ import annotations

import math
from typing import Any

from .errors import ConfigError, Problems


def is_finite(value: Any) -> bool:
    """True for a number that is neither NaN nor infinite (False for non-numbers)."""
    try:
        return math.isfinite(float(value))
    except (TypeError, ValueError):
        return False


def parse_float_list(text: str, flag: str) -> list[float]:
    """Parse "0.1,0.2" into floats; an empty item or a non-number is a ConfigError naming ``flag``."""
    return _parse_list(text, flag, float, "a number")


def parse_int_list(text: str, flag: str) -> list[int]:
    """Parse "200,100" into whole numbers, with the same errors as ``parse_float_list``."""
    return _parse_list(text, flag, int, "a whole number")


def _parse_list(text: str, flag: str, convert, what: str) -> list:
    problems = Problems()
    values = []
    for item in (t.strip() for t in str(text).split(",")):
        if item == "":
            problems.add(f"{flag}: empty value in {text!r}")
            continue
        try:
            values.append(convert(item))
        except ValueError:
            problems.add(f"{flag}: {item!r} is not {what}")
    problems.raise_if_any(ConfigError)
    return values


def type_problems(config: Any, prefix: str = "") -> list[str]:
    """Fields of a config dataclass whose value is not of the annotated kind (``lr = "abc"``).

    The command line always passes the right kinds; the Python API and stored configs may not.
    Checked first, so that the value checks after it never meet a string where a number goes.
    """
    import dataclasses

    problems = []
    for f in dataclasses.fields(config):
        value = getattr(config, f.name)
        annotation = f.type if isinstance(f.type, str) else getattr(f.type, "__name__", str(f.type))
        if not _matches(value, annotation):
            problems.append(f"{prefix}{f.name} must be {annotation.replace(' | None', ' or None')}, "
                            f"got {value!r:.60}")
        elif dataclasses.is_dataclass(value) and not isinstance(value, type):
            problems += type_problems(value, prefix=f"{prefix}{f.name}.")
    return problems


def _matches(value: Any, annotation: str) -> bool:
    alternatives = [a.strip() for a in _split_top(annotation, "|")]
    return any(_matches_one(value, a) for a in alternatives)


def _matches_one(value: Any, kind: str) -> bool:
    if kind == "None":
        return value is None
    if kind == "Any":
        return True
    if kind.startswith("dict["):
        key, item = (t.strip() for t in _split_top(kind[5:-1], ","))
        return isinstance(value, dict) and all(
            _matches(k, key) and _matches(v, item) for k, v in value.items())
    if kind == "bool":
        return isinstance(value, bool)
    if kind == "int":
        return isinstance(value, int) and not isinstance(value, bool)
    if kind == "float":
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if kind == "str":
        return isinstance(value, str)
    if kind.startswith(("list[", "tuple[")):
        inner = _split_top(kind[kind.index("[") + 1 : -1], ",")[0].strip()
        return isinstance(value, (list, tuple)) and all(_matches(v, inner) for v in value)
    return type(value).__name__ == kind  # a nested config class, e.g. OptimizerSpec


def _split_top(text: str, separator: str) -> list[str]:
    """Split on ``separator`` outside brackets: "list[int] | None" -> ["list[int] ", " None"]."""
    parts, depth, current = [], 0, ""
    for char in text:
        depth += (char == "[") - (char == "]")
        if char == separator and depth == 0:
            parts.append(current)
            current = ""
        else:
            current += char
    return parts + [current]


def resolve_device(name: str):
    """``--device``: auto (CUDA where there is one, else the CPU), cpu, cuda[:N] or mps; one
    asked for that this machine lacks is a ConfigError saying so."""
    import torch

    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise ConfigError(f"--device {name}: CUDA is not available here; use --device cpu or auto")
    if name == "mps" and not torch.backends.mps.is_available():
        raise ConfigError("--device mps: MPS is not available here; use --device cpu or auto")
    return torch.device(name)
