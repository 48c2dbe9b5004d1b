"""The run scaffold: what every problem's ``run`` does around its model, written once.

A problem builds its data, model and optimizer; ``Scaffold`` does the rest: the run id, the
store and figures folder checked before any work, the run recorded when it starts
(``Tracking``), checkpoints while the loop trains (and the restore of one on ``resume``),
Ctrl-C recorded as ``interrupted``, the figures, the record at the end and the checkpoints
dropped (or kept). The problem's ``kept`` lists (curves it records besides the loop's own) are
checkpointed and restored with the rest, so a resumed run's curves are the same bits.

``Epochs`` is the record of a run evaluated at each epoch's end (a network's test loss): the
training seconds at each update, with evaluation and theory set aside, the epoch's batch losses
and one entry per epoch, checkpointed and restored with the run.
"""

from __future__ import annotations

import time
from typing import Any, Callable

from . import checkpoint as ckpt, loop as training_loop
from .store import RunRecord, Store, new_run_id, run_folder
from .tracking import Tracking


class Scaffold:
    """One run of ``config`` (a problem's config: ``problem``, ``to_dict``, ``plots``, ``out``)."""

    def __init__(self, config, *, store: Store | None = None, record: bool = True,
                 sweep_id: str | None = None, sweep_cell: dict[str, Any] | None = None,
                 run_id: str | None = None, resume: bool = False):
        self.config, self.record = config, record
        self.sweep_id, self.sweep_cell = sweep_id, sweep_cell
        self.store = store or Store()
        self.run_id = run_id or new_run_id()
        self.track = Tracking(self.store, self.run_id, config.problem, config, record=record,
                              sweep_id=sweep_id, standalone=sweep_cell is None)
        self.track.check_outputs()
        self.payload = self.track.resume_payload() if resume else None

    def train(self, problem, optimizer, generator, *, batch_size: int, steps: int,
              kept: dict[str, list[float]] | None = None,
              before_update: Callable[[int, Any], None] | None = None,
              every: int | None = None, per_epoch: bool = False,
              state: Callable[[], dict[str, Any]] | None = None,
              restore: Callable[[dict[str, Any]], None] | None = None,
              after_epoch: Callable[[int, float], None] | None = None,
              after_loop: Callable[[training_loop.LoopResult], None] | None = None,
              fast_step: Callable[[], tuple[int, Callable[[Any], Any] | None]] | None = None,
              ) -> training_loop.LoopResult:
        """The loop (``core.loop.run``) on ``problem``, checkpointed every ``every`` updates
        and/or at the end of each epoch, continued from the checkpoint when resuming.
        ``state()``/``restore(extra)``: more the checkpoint keeps (tensors), and how it comes back.
        ``after_epoch``: the loop's (``Epochs.end_epoch``); ``after_loop(loop)``: what the run
        still does after the last update (a last measurement), a Ctrl-C there included.
        ``fast_step()``: the loop's ``(sync_every, train_step)`` (losses read every K updates, a
        fused step), chosen once a resume's checkpoint is restored (a CUDA graph captures the step
        of the weights it will train)."""
        import torch

        kept = kept if kept is not None else {}

        def extra() -> dict[str, Any]:  # what a checkpoint keeps besides the loop's own state
            lists = {name: torch.tensor(values, dtype=torch.float64) for name, values in kept.items()}
            return lists | (state() if state is not None else {})

        checkpoints = self.track.checkpointer(params=problem.parameters(), optimizer=optimizer,
                                              generator=generator, extra=extra, every=every,
                                              per_epoch=per_epoch)
        if self.payload is not None:
            ckpt.restore(self.payload, problem.parameters(), optimizer, generator)
            for name, values in kept.items():
                values.extend(self.payload["extra"][name].tolist())
            if restore is not None:
                restore(self.payload["extra"])
        sync_every, train_step = fast_step() if fast_step is not None else (1, None)
        self.track.begin()
        with self.track.interruptible():
            loop = training_loop.run(
                problem, optimizer, batch_size=batch_size, steps=steps, generator=generator,
                before_update=before_update, after_epoch=after_epoch, checkpoint=checkpoints,
                resume=self.payload["loop"] if self.payload is not None else None,
                sync_every=sync_every, train_step=train_step)
            if after_loop is not None:
                after_loop(loop)
        return loop

    def finish(self, result: dict[str, Any], loop: training_loop.LoopResult,
               to_record: Callable[..., RunRecord],
               draw: Callable[[Any], list[str]] | None = None) -> dict[str, Any]:
        """Figures (``draw(folder)``), the record, the checkpoints dropped or kept: the end."""
        result["run_id"] = self.run_id
        if draw is not None and getattr(self.config, "plots", False):
            result["figures"] = draw(run_folder(self.store, self.run_id, getattr(self.config, "out", None)))
        if self.record:
            self.store.save(to_record(result, self.sweep_id, self.sweep_cell))
        self.track.finish(result["status"], getattr(self.config, "keep_checkpoint", False), loop.final_state)
        return result


class Epochs:
    """Per-epoch records beside the loop. ``entry(epoch, train_loss, seconds)`` evaluates the
    model and returns the epoch's entry in the problem's own keys (its time is not training time);
    ``step`` is called before each update, ``end_epoch`` is the loop's ``after_epoch``,
    ``aside(fn, ...)`` runs work whose seconds are not training time either (theory)."""

    def __init__(self, entry: Callable[[int, float, float], dict[str, Any]]):
        self.entry = entry
        self.step_times: list[float] = []  # training seconds (evaluation excluded) at each step's loss
        self.epochs: list[dict[str, Any]] = []
        self.batch_losses: list[float] = []  # this epoch's batch losses (the tutorial's train_loss sum)
        self.start = time.perf_counter()
        self.set_aside = 0.0  # seconds of evaluation and theory since the start
        self.epoch_theory = 0.0  # seconds of theory in this epoch

    def step(self, loss) -> None:
        """Before each update: the training time and the batch loss."""
        self.step_times.append(time.perf_counter() - self.start - self.set_aside)
        self.batch_losses.append(float(loss.detach()))

    def aside(self, fn: Callable[..., Any], *args) -> Any:
        """``fn(*args)``, whose seconds are not training time."""
        began = time.perf_counter()
        value = fn(*args)
        self.set_aside += time.perf_counter() - began
        self.epoch_theory += time.perf_counter() - began
        return value

    def end_epoch(self, epoch: int, seconds: float) -> None:
        seconds, self.epoch_theory = seconds - self.epoch_theory, 0.0
        began = time.perf_counter()
        self.epochs.append(self.entry(epoch, sum(self.batch_losses) / len(self.batch_losses), seconds))
        self.batch_losses.clear()
        self.set_aside += time.perf_counter() - began

    def state(self) -> dict[str, Any]:
        """What a checkpoint keeps of the records (``restore`` brings it back)."""
        import torch

        return {"epochs": [dict(e) for e in self.epochs], "batch_losses": list(self.batch_losses),
                "step_times": torch.tensor(self.step_times, dtype=torch.float64),
                "train_seconds": time.perf_counter() - self.start - self.set_aside}

    def restore(self, saved: dict[str, Any]) -> None:
        self.epochs.extend(saved["epochs"])
        self.batch_losses.extend(saved["batch_losses"])
        self.step_times.extend(saved["step_times"].tolist())
        self.start = time.perf_counter() - saved["train_seconds"]


def record_of(doc: dict[str, Any], sweep_id: str | None, sweep_cell: dict[str, Any] | None,
              metrics: tuple[str, ...]) -> RunRecord:
    """A run's document as its store record: the ``metrics`` keys (with its divergence and sweep
    cell), the curves ``loss`` and ``batch_loss``, keyed by the final loss."""
    kept = {k: doc[k] for k in metrics} | ({"sweep_cell": sweep_cell} if sweep_cell is not None else {})
    kept |= {"divergence": doc["divergence"]} if "divergence" in doc else {}
    curves = {"loss": doc["losses"]}
    curves |= {"batch_loss": doc["batch_losses"]} if doc.get("batch_losses") is not None else {}
    return RunRecord(id=doc["run_id"], command=doc["problem"], status=doc["status"], sweep_id=sweep_id,
                     config=doc["config"], metrics=kept, figures=doc["figures"], curves=curves,
                     key_metric_name="final_loss", key_metric=doc["final"]["loss"])
