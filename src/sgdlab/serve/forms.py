"""What a problem gives the page to train it from a form: its options model and a builder.

A problem's registry entry names a ``PageHook`` (``Entry.page``); ``serve/train.py`` adds
``POST /api/jobs/NAME`` for each, so the server names no problem. The options model is strict
pydantic (an unknown key is an error); ``build`` turns it into the problem's config, checked
with the CLI's messages, before the run is queued."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

from pydantic import Field

from ..core.config import parse_float_list
from .strict import Strict

SEED = Field(None, ge=0, le=2**63 - 1)


class OptimizerOptions(Strict):
    optimizer: str = "sgd"
    momentum: float | None = None
    nesterov: bool = False
    betas: str | None = Field(None, description='as on the command line: "0.9,0.999"')
    eps: float | None = None
    weight_decay: float | None = None

    def spec(self):
        from ..optim.spec import OptimizerSpec

        betas = tuple(parse_float_list(self.betas, "--betas")) if self.betas is not None else None
        return OptimizerSpec(name=self.optimizer, momentum=self.momentum, nesterov=self.nesterov,
                             betas=betas, eps=self.eps, weight_decay=self.weight_decay)

    def fields(self, *also: str) -> dict[str, Any]:
        """The config's keyword arguments but the optimizer's and ``also``; the seed if given."""
        out = self.model_dump(exclude={"optimizer", "momentum", "nesterov", "betas", "eps",
                                       "weight_decay", "seed", *also})
        seed = getattr(self, "seed", None)
        return out | ({"seed": seed} if seed is not None else {})


@dataclass(frozen=True)
class PageHook:
    options: type  # a ``Strict`` model: the form's fields, with the CLI's defaults
    build: Callable[[Any], Any]  # options -> the problem's config, checked (ConfigError otherwise)
    summary: str  # the endpoint's one-line description
    # the run function takes ``on_epoch(epoch, metrics)`` and calls it after each epoch (metrics:
    # that epoch's entry of the result's ``epochs``, with ``step``, the updates made so far);
    # the page then draws them live (test accuracy per epoch)
    on_epoch: bool = False
    summaries: tuple[tuple[str, str], ...] = ()  # (lang, summary) in other languages, for /docs
