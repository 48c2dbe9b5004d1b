"""Flags shared by several subcommands (the optimizer and its hyperparameters)."""

from __future__ import annotations

from typing import Optional

import typer

OPTIMIZER = typer.Option("sgd", "--optimizer", help="Update rule (`sgdlab optimizers` lists them); torch-NAME for torch.optim's own.")
MOMENTUM = typer.Option(None, "--momentum", help="Momentum coefficient, >= 0 (default: the rule's)", show_default=False)
NESTEROV = typer.Option(False, "--nesterov", help="Nesterov momentum (needs --momentum > 0).")
BETAS = typer.Option(None, "--betas", help="Adam/AdamW betas as B1,B2, each in [0, 1) (default: 0.9,0.999)", show_default=False)
EPS = typer.Option(None, "--eps", help="Denominator epsilon, > 0 (default: the rule's)", show_default=False)
CHECKPOINT_EVERY = typer.Option(None, "--checkpoint-every", help="Also write a checkpoint every N updates (`sgdlab resume RUN_ID` continues from the last one).", show_default=False)
KEEP_CHECKPOINT = typer.Option(False, "--keep-checkpoint", help="Keep the checkpoints (and a final one) after the run completes.")
WEIGHT_DECAY = typer.Option(None, "--weight-decay", help="Weight decay, >= 0 (default: 0)", show_default=False)


def optimizer_spec(
    name: str,
    momentum: Optional[float] = None,
    nesterov: bool = False,
    betas: Optional[str] = None,
    eps: Optional[float] = None,
    weight_decay: Optional[float] = None,
):
    """Build an ``OptimizerSpec`` from the shared flags (``--betas`` as "0.9,0.999")."""
    from ..core.config import parse_float_list
    from ..optim.spec import OptimizerSpec

    parsed_betas = tuple(parse_float_list(betas, "--betas")) if betas is not None else None
    return OptimizerSpec(
        name=name, momentum=momentum, nesterov=nesterov, betas=parsed_betas, eps=eps,
        weight_decay=weight_decay,
    )


def output_rules() -> list[tuple[str, bool, str]]:
    """``--out`` means nothing without figures (see ``app.not_applicable``)."""
    from .app import given

    return [("out", not given("no_plots"), "is the folder for figures; --no-plots draws none")]
