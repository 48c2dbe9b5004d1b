"""A run's life in the store: checked outputs, recorded when it starts, checkpointed while it
trains, interrupted or finished at the end. Problem-agnostic: linreg and mnist runs use it alike.

``Tracking`` is what a problem's ``run`` calls around its training loop:

1. ``check_outputs`` before any work: the store and the figures folder must be writable
   (nothing is created yet);
2. ``begin`` records the run as ``running`` (config, process id, host): `sgdlab runs` shows it;
3. ``checkpointer`` gives the loop its ``Checkpointer`` (when the run is recorded, so that
   `sgdlab resume` can find it); ``resume_payload`` loads the last good checkpoint;
4. ``interruptible`` marks the run ``interrupted`` on Ctrl-C; ``finish`` deletes the checkpoints
   of a completed run, unless they are to be kept.
"""

from __future__ import annotations

import contextlib
import sys
from typing import Any, Callable, Iterator

from . import checkpoint as ckpt
from .errors import ConfigError, Problems, SgdlabError
from .paths import check_folder
from .store import RunRecord, Store, run_folder


class Tracking:
    def __init__(self, store: Store, run_id: str, command: str, config, *, record: bool,
                 sweep_id: str | None = None, standalone: bool = True):
        self.store, self.run_id, self.command, self.config = store, run_id, command, config
        self.record = record
        self.sweep_id = sweep_id
        # runs of a sweep are recorded when they end (a sweep resumes by cells); others at start
        self.standalone = record and standalone
        self.folder = ckpt.folder_for(store.path, run_id)
        self.checkpoints: ckpt.Checkpointer | None = None

    def check_outputs(self) -> None:
        """Refuse, before any work, a store or figures folder that cannot be written."""
        problems = Problems()
        if self.record:
            try:
                self.store.check_writable()
            except SgdlabError as exc:  # collect its lines with the others
                problems.items.extend(exc.problems)
        checkpoints = getattr(self.config, "checkpoint_every", None) is not None or getattr(self.config, "epochs", None)
        if self.standalone and checkpoints and not problems.items:  # where checkpoints go, any kind of file
            check_folder(problems, self.folder, "the checkpoint folder (next to the run store)")
            if self.folder.is_dir():
                problems.items += [f"checkpoint {p} is not a regular file; move it away"
                                   for p in sorted(self.folder.glob("step-*.pt")) if not p.is_file()]
        out = getattr(self.config, "out", None)
        # the default figures folder sits next to the store: one line for one cause
        if getattr(self.config, "plots", False) and (out or not problems.items):
            check_folder(problems, run_folder(self.store, self.run_id, out),
                         "--out" if out else "the figures folder (next to the run store)")
        problems.raise_if_any(ConfigError)

    def begin(self) -> None:
        if self.standalone:
            self.store.start(RunRecord(id=self.run_id, command=self.command, status="running",
                                       config=self.config.to_dict(), metrics={},
                                       sweep_id=self.sweep_id))

    def resume_payload(self) -> dict[str, Any] | None:
        payload, path = ckpt.latest(self.folder)
        if payload is not None and payload.get("run_id") != self.run_id:
            raise ConfigError(f"checkpoint {path} belongs to run {payload.get('run_id')}, not {self.run_id}")
        if payload is None:
            print(f"run {self.run_id} has no checkpoint yet: starting it again from step 0",
                  file=sys.stderr)
        else:
            print(f"resuming run {self.run_id} from {path} (step {payload['loop']['step']})",
                  file=sys.stderr)
        return payload

    def checkpointer(self, *, params, optimizer, generator, extra: Callable[[], dict],
                     every: int | None, per_epoch: bool) -> ckpt.Checkpointer | None:
        if not self.standalone or (every is None and not per_epoch):
            return None
        self.checkpoints = ckpt.Checkpointer(
            self.folder, params=params, optimizer=optimizer, generator=generator, extra=extra,
            every=every, per_epoch=per_epoch, meta={"run_id": self.run_id, "command": self.command},
        )
        return self.checkpoints

    @contextlib.contextmanager
    def interruptible(self) -> Iterator[None]:
        """Ctrl-C: the run is recorded as ``interrupted`` (resumable from its last checkpoint)."""
        try:
            yield
        except KeyboardInterrupt:
            if self.standalone:
                self.store.mark(self.run_id, "interrupted")
                if self.checkpoints is not None and self.checkpoints.saved:
                    print(f"interrupted; continue with: sgdlab resume {self.run_id}", file=sys.stderr)
            raise

    def finish(self, status: str, keep: bool, final_state: dict | None) -> None:
        """After the run is recorded: drop its checkpoints, or keep them with a final one."""
        if self.checkpoints is None:
            return
        if keep and status == "completed" and final_state is not None:
            self.checkpoints.save(final_state)
        elif not keep:
            self.checkpoints.discard()
