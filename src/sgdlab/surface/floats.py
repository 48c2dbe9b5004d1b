"""Arithmetic on Python floats with IEEE results, as torch gives them: x / 0 = inf, log(-1) =
nan, exp(1000) = inf, (-8) ** (1/3) = nan, where Python's own operators and ``math`` raise.
tests/test_surface_fast.py checks each against torch at zeros, infinities, NaN and negatives."""

from __future__ import annotations

import math
from typing import Callable

INF, NAN = math.inf, math.nan


def f_div(a: float, b: float) -> float:
    try:
        return a / b
    except ZeroDivisionError:
        if a != a or a == 0:
            return NAN
        return math.copysign(INF, a) * math.copysign(1.0, b)


def _odd_integer(b: float) -> bool:
    return math.isfinite(b) and b == int(b) and int(b) % 2 == 1


def f_pow(a: float, b: float) -> float:
    if b == 2.0:
        return a * a  # what C's pow gives (both are correctly rounded)
    try:
        return math.pow(a, b)
    except ValueError:  # 0 to a negative power, or a negative base to a fractional one
        if a == 0:
            return math.copysign(INF, a) if _odd_integer(b) else INF
        return NAN
    except OverflowError:
        return -INF if a < 0 and _odd_integer(b) else INF


def _wrap(fn: Callable[[float], float], domain: Callable[[float], float], overflow=None):
    def safe(a: float) -> float:
        try:
            return fn(a)
        except ValueError:
            return domain(a)
        except OverflowError:
            return overflow(a) if overflow else INF

    return safe


def _log_domain(a: float) -> float:
    return -INF if a == 0 else NAN


def _nan(a: float) -> float:
    return NAN


def f_sigmoid(a: float) -> float:
    return 1.0 / (1.0 + F_EXP(-a))


def f_sign(a: float) -> float:
    return NAN if a != a else (1.0 if a > 0 else (-1.0 if a < 0 else 0.0))


F_EXP = _wrap(math.exp, _nan)
FLOAT_FUNCTIONS: dict[str, Callable] = {
    "sin": _wrap(math.sin, _nan), "cos": _wrap(math.cos, _nan), "tan": _wrap(math.tan, _nan),
    "asin": _wrap(math.asin, _nan), "acos": _wrap(math.acos, _nan), "atan": math.atan,
    "atan2": math.atan2, "sinh": _wrap(math.sinh, _nan, lambda a: math.copysign(INF, a)),
    "cosh": _wrap(math.cosh, _nan), "tanh": math.tanh, "exp": F_EXP,
    "log": _wrap(math.log, _log_domain), "log2": _wrap(math.log2, _log_domain),
    "log10": _wrap(math.log10, _log_domain), "sqrt": _wrap(math.sqrt, _nan), "abs": abs,
    "sigmoid": f_sigmoid, "sign": f_sign,
}
FLOAT_BINARY = {"add": lambda a, b: a + b, "sub": lambda a, b: a - b, "mul": lambda a, b: a * b,
                "div": f_div, "pow": f_pow}
