"""A sweep's progress bar: cells done / total, elapsed time and an estimate of the time left.

Rich draws it on stderr (stdout stays for the table or the JSON document), only when enabled:
the sweep command turns it off under ``--json`` and when stderr is not a terminal.
"""

from __future__ import annotations

from typing import Any


class CellProgress:
    """A context manager and a ``progress(done, total)`` callback for ``run_sweep``."""

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
