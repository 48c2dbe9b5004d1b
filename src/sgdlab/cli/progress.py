"""Progress of long runs on stderr: a bar with the time left on a terminal, one estimate line
otherwise (logs, pipes), so a legal but long run never runs silently. A sweep's cells: a Rich bar
(cells done / total, elapsed, time left), on a terminal only, never under --json."""

from __future__ import annotations

import sys
import time
from typing import Any

ESTIMATE_AFTER_S = 3.0  # measure this long before estimating
LONG_RUN_S = 20.0  # without a terminal, say how long a run will take when it is longer than this


def duration(seconds: float) -> str:
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 5400:
        return f"{seconds / 60:.0f} min"
    if seconds < 2 * 86400:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds / 86400:.1f} days"


class Progress:
    """``progress(label, step, steps)``: a bar redrawn 10x a second on a terminal; without one, a
    single line with the estimated time when the run will take longer than ``LONG_RUN_S``.
    ``unit`` names what is counted where it is not a training step (a draw, a cell)."""

    def __init__(self) -> None:
        self.tty = sys.stderr.isatty()
        self.last = 0.0
        self.shown = False
        self.began: dict[str, tuple[float, int]] = {}
        self.estimated: set[str] = set()

    def __call__(self, label: str, step: int, steps: int, unit: str = "step") -> None:
        now = time.monotonic()
        began, first = self.began.setdefault(label, (now, step))
        elapsed = now - began
        left = None
        if elapsed >= ESTIMATE_AFTER_S and step > first:
            left = elapsed / (step - first) * (steps - step)
        if not self.tty:
            # the whole run's length decides, not what is left: a 25 s run is long at any step
            if left is not None and elapsed + left > LONG_RUN_S and label not in self.estimated:
                self.estimated.add(label)
                sys.stderr.write(f"{label}: {unit} {step:,} of {steps:,}; about {duration(left)} left "
                                 "(Ctrl-C stops it)\n")
            return
        if now - self.last < 0.1 and step != steps:
            return
        self.last, self.shown = now, True
        done = int(30 * step / steps)
        eta = f", {duration(left)} left" if left is not None else ""
        sys.stderr.write(f"\r{label}: [{'#' * done}{'.' * (30 - done)}] {step}/{steps} {unit}s{eta}   ")
        sys.stderr.flush()

    def close(self) -> None:
        if self.shown:
            sys.stderr.write("\r" + " " * 100 + "\r")
            sys.stderr.flush()


class CellProgress:
    """A sweep's bar: a context manager and a ``progress(done, total)`` callback for
    ``run_sweep``; Rich draws it on stderr (stdout stays for the table or the JSON document)."""

    def __init__(self, enabled: bool):
        self.enabled = enabled
        self.bar: Any = None
        self.task: Any = None

    def __enter__(self) -> "CellProgress | None":
        if not self.enabled:
            return None  # run_sweep takes None as "no progress to show"
        from rich.console import Console
        from rich.progress import (BarColumn, MofNCompleteColumn, Progress, TextColumn,
                                   TimeElapsedColumn, TimeRemainingColumn)

        self.bar = Progress(
            TextColumn("cells"), BarColumn(), MofNCompleteColumn(), TextColumn("elapsed"),
            TimeElapsedColumn(), TextColumn("left"), TimeRemainingColumn(),
            console=Console(stderr=True),
        )
        self.bar.start()
        return self

    def __call__(self, done: int, total: int) -> None:
        if self.task is None:
            # cells kept from before a --resume count as done, but not toward the speed estimate
            self.task = self.bar.add_task("sweep", total=total, completed=done)
        else:
            self.bar.update(self.task, completed=done, total=total)

    def __exit__(self, *exc_info: Any) -> None:
        if self.bar is not None:
            self.bar.stop()
