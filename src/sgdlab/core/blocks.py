"""The training loop's losses read in blocks: no host sync inside a block of K updates.

On a GPU, reading a step's loss on the host (``float(loss)``, for the divergence guard and the
records) waits for every kernel queued so far, so the host can never run ahead of the device.
Here the K updates of a block are queued without a read; the block's K losses then come back in
one transfer, and the guard checks them in order, exactly as the per-step guard would. When loss
j of the block has diverged (or ``before_update`` stops the run there), the updates j, j+1, ...
already ran: the parameters and the optimizer's state are restored from the copy taken at the
block's start (a device-to-device copy, no sync) and updates 0 .. j-1 are replayed on the same
batches, so the run stops at, and reports, the same step with the same parameters as K = 1.
Replays are rare (a run diverges or stops once); the copy per block is one pass over the
parameters.
"""

from __future__ import annotations

import copy
from typing import Callable

import torch


class Block:
    """Updates queued since the last read: each (index, loss on the device)."""

    def __init__(self, params: list[torch.Tensor], optimizer, step: Callable):
        self.params, self.optimizer, self.step = params, optimizer, step
        self.items: list[tuple[torch.Tensor | None, torch.Tensor]] = []
        self.first = 0  # the loop's step count at the block's start
        self.saved: tuple[list[torch.Tensor], dict] | None = None

    def run(self, step: int, index) -> None:
        """Queue update ``step`` (0-based) on batch ``index``; the first of a block saves a copy."""
        if not self.items:
            self.first = step
            with torch.no_grad():
                self.saved = ([p.detach().clone() for p in self.params],
                              copy.deepcopy(self.optimizer.state_dict()))
        self.items.append((index, self.step(index).detach()))

    def read(self, result, before_update, first_loss):
        """Read the block's losses (one sync), record and check them in order as the per-step loop
        does; on a divergence or a stop, roll back and replay to that step. Returns the loop's
        (step count, first loss)."""
        from .loop import StopTraining, divergence_reason

        values = torch.stack([loss for _, loss in self.items]).tolist()
        end = len(values)
        for j, value in enumerate(values):
            step = self.first + j
            result.step_losses.append(value)
            if before_update is not None:
                try:
                    before_update(step, torch.tensor(value, dtype=self.items[j][1].dtype))
                except StopTraining:
                    result.status = "stopped"
                    end = j
                    break
            if first_loss is None:
                first_loss = value
            reason = divergence_reason(value, first_loss)
            if reason is not None:
                result.status = "diverged"
                result.diverged_step = step + 1
                result.divergence_reason = reason
                end = j
                break
            result.last_finite_loss = value
        if end < len(values):
            self.replay(end)
        self.items = []
        return self.first + end, first_loss

    def replay(self, end: int) -> None:
        """Back to the block's start, then its first ``end`` updates again."""
        params, state = self.saved
        with torch.no_grad():
            for p, saved in zip(self.params, params):
                p.copy_(saved)
        self.optimizer.load_state_dict(state)
        for index, _ in self.items[:end]:
            self.step(index)
