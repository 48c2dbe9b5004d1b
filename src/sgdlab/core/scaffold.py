"""The run scaffold: what every problem's ``run`` does around its model, written once.

A problem builds its data, model and optimizer; ``Scaffold`` does the rest: the run id, the
store and figures folder checked before any work, the run recorded when it starts
(``Tracking``), checkpoints while the loop trains (and the restore of one on ``resume``),
Ctrl-C recorded as ``interrupted``, the figures, the record at the end and the checkpoints
dropped (or kept). The problem's ``kept`` lists (curves it records besides the loop's own) are
checkpointed and restored with the rest, so a resumed run's curves are the same bits.
"""

from __future__ import annotations

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
              restore: Callable[[dict[str, Any]], None] | None = None) -> training_loop.LoopResult:
        """The loop (``core.loop.run``) on ``problem``, checkpointed every ``every`` updates
        and/or at the end of each epoch, continued from the checkpoint when resuming.
        ``state()``/``restore(extra)``: more the checkpoint keeps (tensors), and how it comes back."""
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
        self.track.begin()
        with self.track.interruptible():
            return training_loop.run(
                problem, optimizer, batch_size=batch_size, steps=steps, generator=generator,
                before_update=before_update, checkpoint=checkpoints,
                resume=self.payload["loop"] if self.payload is not None else None)

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
