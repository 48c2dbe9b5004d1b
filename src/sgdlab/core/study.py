"""A study recorded as it goes, like a training run (DESIGN: "studies are runs").

``Recorder`` writes the study's row as ``running`` when the work starts (so `sgdlab runs` shows
it at once, and a killed process shows as ``interrupted``), saves what it has measured so far at
most every ``EVERY_S`` seconds, and marks it ``interrupted`` on Ctrl-C. The study writes its
final row itself at the end, under the same id. Nothing is written when ``enabled`` is False.
"""

from __future__ import annotations

import contextlib
import time
from typing import Any, Iterator

from .store import RunRecord, Store

EVERY_S = 2.0  # a row rewrite costs ~1 ms; every 2 s loses at most 2 s of a killed study


class Recorder:
    def __init__(self, store: Store, record: RunRecord, *, enabled: bool = True):
        self.store, self.record, self.enabled = store, record, enabled
        self.last = 0.0

    def begin(self) -> None:
        if self.enabled:
            self.record.status = "running"
            self.store.start(self.record)
            self.last = time.monotonic()

    def update(self, *, metrics: dict[str, Any] | None = None, curves: dict[str, list[float]] | None = None,
               force: bool = False) -> None:
        """Keep ``metrics`` and ``curves`` (merged in); written when ``EVERY_S`` has passed."""
        self.record.metrics.update(metrics or {})
        self.record.curves.update({k: list(v) for k, v in (curves or {}).items()})
        if self.enabled and (force or time.monotonic() - self.last >= EVERY_S):
            self.store.save(self.record)
            self.last = time.monotonic()

    def curve(self, name: str, then=None):
        """A training loop's ``before_update(step, loss)`` that keeps each batch loss in the curve
        ``name`` as it goes (a stopped study's row kept its training curve only when the loop had
        finished), then calls ``then(step, loss)`` if given."""
        losses: list[float] = []

        def before_update(step: int, loss) -> None:
            losses.append(float(loss.detach() if hasattr(loss, "detach") else loss))  # a tensor
            self.update(curves={name: losses})
            if then is not None:
                then(step, loss)

        return before_update

    @contextlib.contextmanager
    def interruptible(self) -> Iterator[None]:
        """Ctrl-C or an error: the row keeps what was measured, marked ``interrupted``."""
        try:
            yield
        except BaseException:
            if self.enabled:
                self.record.status = "interrupted"
                with contextlib.suppress(Exception):
                    self.store.save(self.record)
            raise
