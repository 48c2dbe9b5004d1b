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
