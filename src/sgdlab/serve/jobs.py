"""Training runs started from the page: one at a time per server, the others wait in a queue.

A job runs the problem's ordinary ``run`` function (found in the registry) in one worker thread,
with the normal ``Store``: the run lands in the store like one made by the CLI. Its losses are
collected through the run's ``on_loss`` hook as they come, and, for problems whose page hook has
``on_epoch``, each epoch's metrics (test accuracy) through ``on_epoch``, for the page to stream. Stop is
cooperative: the hook raises ``StopTraining`` at the next step, and the run is recorded with
status ``stopped`` and what it did so far.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from ..core.errors import SgdlabError

log = logging.getLogger("sgdlab.serve")

FINISHED = ("completed", "diverged", "stopped", "failed", "cancelled", "interrupted")
MAX_QUEUE = 10  # waiting jobs; one more is refused (HTTP 429)
KEEP_FINISHED = 50  # finished jobs remembered (their runs stay in the store regardless)


@dataclass
class Job:
    id: int
    problem: str  # a registry name: linreg, mnist
    options: dict[str, Any]  # what the form sent, as given
    config: Any = field(repr=False, default=None)
    status: str = "queued"  # queued | running | then one of FINISHED
    submitted: float = field(default_factory=time.time)
    started: float | None = None
    finished: float | None = None
    steps: int | None = None  # updates the run will make, once known
    points: list[tuple[int, float]] = field(default_factory=list)  # (step, loss), in order
    epochs: list[dict[str, Any]] = field(default_factory=list)  # per-epoch metrics, as they come
    run_id: str | None = None
    errors: list[str] = field(default_factory=list)
    stop_requested: threading.Event = field(default_factory=threading.Event, repr=False)

    def public(self, since: int = 0, queue_position: int | None = None) -> dict[str, Any]:
        """What the API shows; ``points`` from index ``since`` on (``points_total`` counts all)."""
        since = min(max(0, since), len(self.points))
        points = self.points[since:]
        return {"id": self.id, "problem": self.problem, "options": self.options,
                "status": self.status, "queue_position": queue_position,
                "submitted": self.submitted, "started": self.started, "finished": self.finished,
                "steps": self.steps, "points_total": since + len(points), "since": since,
                "points": [list(p) for p in points], "epochs": [dict(e) for e in self.epochs],
                "run_id": self.run_id, "errors": self.errors,
                "stop_requested": self.stop_requested.is_set()}


class JobManager:
    """A FIFO of jobs and the one thread that runs them, writing to the store at ``store_path``."""

    def __init__(self, store_path, max_queue: int = MAX_QUEUE):
        self.store_path = store_path
        self.max_queue = max_queue
        self._jobs: dict[int, Job] = {}
        self._queue: deque[Job] = deque()
        self._lock = threading.Condition()
        self._next_id = 1
        self._thread: threading.Thread | None = None
        self._closing = False

    # -- what the routes call ------------------------------------------------------------------
    def submit(self, problem: str, config: Any, options: dict[str, Any]) -> Job:
        with self._lock:
            if len(self._queue) >= self.max_queue:
                raise QueueFull(f"{len(self._queue)} runs are waiting already (the limit); "
                                "wait for one to finish or stop one")
            job = Job(id=self._next_id, problem=problem, options=options, config=config)
            self._next_id += 1
            self._jobs[job.id] = job
            self._queue.append(job)
            self._forget_old()
            if self._thread is None:
                self._thread = threading.Thread(target=self._work, daemon=True, name="sgdlab-jobs")
                self._thread.start()
            self._lock.notify_all()
            return job

    def get(self, job_id: int) -> Job | None:
        return self._jobs.get(job_id)

    def position(self, job: Job) -> int | None:
        """1 for the next job to run, 2 after it...; None once it is not waiting."""
        with self._lock:
            for i, waiting in enumerate(self._queue):
                if waiting is job:
                    return i + 1
        return None

    def jobs(self) -> list[Job]:
        return sorted(self._jobs.values(), key=lambda j: j.id, reverse=True)

    def stop(self, job: Job) -> None:
        """A waiting job is cancelled; a running one stops at its next step."""
        with self._lock:
            job.stop_requested.set()
            if job in self._queue:
                self._queue.remove(job)
                job.status, job.finished = "cancelled", time.time()

    def shutdown(self, timeout: float = 30.0) -> None:
        """Cancel the waiting jobs, stop the running one (it is recorded as stopped), wait."""
        with self._lock:
            self._closing = True
            for job in list(self._queue):
                self.stop(job)
            for job in self._jobs.values():
                job.stop_requested.set()
            self._lock.notify_all()
        if self._thread is not None:
            self._thread.join(timeout)

    # -- the worker ---------------------------------------------------------------------------
    def _work(self) -> None:
        while True:
            with self._lock:
                while not self._queue and not self._closing:
                    self._lock.wait()
                if self._closing:
                    return
                job = self._queue.popleft()
                job.status, job.started = "running", time.time()
            self._run(job)

    def _run(self, job: Job) -> None:
        from .. import problems
        from ..core.loop import StopTraining
        from ..core.store import Store

        def on_progress(step: int, steps: int) -> None:
            job.steps = steps

        def on_loss(step: int, loss: float) -> None:
            job.points.append((step, float(loss)))
            if job.stop_requested.is_set():
                raise StopTraining()

        def on_epoch(epoch: int, metrics: dict[str, Any]) -> None:
            job.epochs.append({"epoch": epoch, **metrics})

        try:
            entry = problems.get(job.problem)
            # problems whose page hook says so report each epoch's metrics (test accuracy) live
            hook = entry.hook("page")
            more = {"on_epoch": on_epoch} if getattr(hook, "on_epoch", False) else {}
            document = entry.run_function()(job.config, store=Store(self.store_path),
                                            on_progress=on_progress, on_loss=on_loss, **more)
            job.run_id, job.status = document["run_id"], document["status"]
        except SgdlabError as exc:
            job.status, job.errors = "failed", list(exc.problems)
        except Exception as exc:  # a bug: logged with its traceback, one line for the page
            log.exception("training job %s failed", job.id)
            job.status, job.errors = "failed", [f"internal error ({type(exc).__name__}); see the server's log"]
        finally:
            job.finished = time.time()

    def _forget_old(self) -> None:
        done = [j for j in sorted(self._jobs.values(), key=lambda j: j.id) if j.status in FINISHED]
        for job in done[: max(0, len(done) - KEEP_FINISHED)]:
            del self._jobs[job.id]


class QueueFull(SgdlabError):
    """Too many runs waiting (HTTP 429)."""
