"""Limits checked before any work starts: what cannot work is refused with the limit in words.

Python's numbers have no bounds, but torch's generators take 64-bit seeds, a float32 tensor
cannot be multiplied by 1e308, every step's loss is kept in memory and in the store, and a
network larger than the machine's memory cannot be allocated. Each check adds one line to a
``Problems`` collection naming the flag, the value and the limit.
"""

from __future__ import annotations

import os

from .errors import Problems

INT64_MAX = 2**63 - 1
# Every step's loss (and, for a surface, every point) is kept in memory, printed with --json and
# stored as a float64 curve: 10 million steps are 80 MB per curve, the most that stays practical.
MAX_STEPS = 10_000_000
# float32 / float64 largest finite values: a hyperparameter beyond them overflows in the update
FLOAT_MAX = {"float32": 3.4028234663852886e38, "float64": 1.7976931348623157e308}
FLOAT_TINY = {"float32": 1.401298464324817e-45, "float64": 5e-324}  # smallest positive (subnormal)


def check_seed(problems: Problems, seed, flag: str = "--seed", count: int = 1) -> None:
    """``seed`` .. ``seed + count - 1`` must be 64-bit generator seeds (0 .. 2**63 - 1)."""
    if isinstance(seed, bool) or not isinstance(seed, int):
        problems.add(f"{flag} must be a whole number, got {seed!r}")
        return
    last = INT64_MAX - max(count - 1, 0)
    if not 0 <= seed <= last:
        problems.add(f"{flag} must be between 0 and {last:,}, got {seed}")


def check_count(problems: Problems, value, flag: str, *, low: int = 1, high: int | None = None,
                why: str = "") -> None:
    """A whole number in [low, high] (``why`` explains the upper limit)."""
    if isinstance(value, bool) or not isinstance(value, int):
        problems.add(f"{flag} must be a whole number, got {value!r}")
    elif value < low:
        problems.add(f"{flag} must be >= {low}, got {shown(value)}")
    elif high is not None and value > high:
        problems.add(f"{flag} {shown(value)} is more than the limit {high:,}{f' ({why})' if why else ''}")


def shown(value: int) -> str:
    """A whole number as an error line shows it: 10,000,001; past 30 digits 1.000e+400 (the API
    takes any JSON integer: {"epochs": 10**400} printed all 401 digits, with commas)."""
    text = f"{value:,}"
    if len(text) <= 40:
        return text
    from decimal import Decimal

    return f"{Decimal(value):.3e}"


def check_steps(problems: Problems, steps: int, flag: str, limit: int = MAX_STEPS) -> None:
    """A run's number of updates must stay under ``limit`` (its curves are kept whole)."""
    if steps > limit:
        problems.add(f"{flag} asks for {shown(steps)} updates, more than the limit {limit:,} (every "
                     f"step's loss is kept in memory and in the run store)")


def check_fits(problems: Problems, flag: str, value, dtype: str, hint: str = "") -> None:
    """A hyperparameter multiplies tensors of ``dtype``: it must be representable in it."""
    limit = FLOAT_MAX.get(dtype)
    if limit is not None and isinstance(value, (int, float)) and abs(value) > limit:
        problems.add(f"{flag} {value:g} does not fit in {dtype} (largest value {limit:.4g}); "
                     f"use a smaller value{hint}")
    tiny = FLOAT_TINY.get(dtype)
    # below half the smallest subnormal it rounds to 0: an --eps of 1e-46 divided by zero
    if tiny is not None and isinstance(value, (int, float)) and 0 < abs(value) <= tiny / 2:
        problems.add(f"{flag} {value:g} rounds to 0 in {dtype} (smallest positive value "
                     f"{tiny:.4g}); use a larger value")


def memory_bytes() -> int | None:
    """This machine's physical memory in bytes (None where the OS does not say)."""
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        return None


def human_bytes(n: float) -> str:
    for unit in ("bytes", "KB", "MB", "GB", "TB", "PB"):
        if abs(n) < 1000 or unit == "PB":
            return f"{n:.0f} {unit}" if unit == "bytes" else f"{n:.3g} {unit}"
        n /= 1000
    return f"{n:.3g} PB"  # pragma: no cover


def check_memory(problems: Problems, needed: float, what: str, device_total: int | None = None) -> None:
    """Refuse work whose tensors alone need more than the memory of the device they go to."""
    total = device_total if device_total is not None else memory_bytes()
    if total is not None and needed > total:
        problems.add(f"{what} needs about {human_bytes(needed)} of memory; this machine has "
                     f"{human_bytes(total)}")
