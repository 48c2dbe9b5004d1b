"""`sgdlab linreg`: the tutorial's linear regression, and your own data."""

from __future__ import annotations

from typing import Optional

import typer

from .app import (EXIT_DIVERGED, JsonOption, StoreOption, emit, handle_errors, not_applicable,
                  note)
from . import options
from .progress import Progress


@handle_errors
def linreg(
    csv: Optional[str] = options.CSV,
    x: Optional[str] = options.X_COLUMNS,
    y: Optional[str] = options.Y_COLUMN,
    standardize: bool = options.STANDARDIZE,
    lr: float = typer.Option(1e-2, "--lr", help="Learning rate (step size)."),
    steps: int = typer.Option(32, "--steps", help="Number of updates (the tutorial: 1 + 31)."),
    epochs: Optional[int] = typer.Option(None, "--epochs", help="Passes over the data; overrides --steps.", show_default=False),
    batch_size: Optional[int] = typer.Option(None, "--batch-size", help="Rows per update (default: all rows, i.e. gradient descent)", show_default=False),
    seed: int = options.LINREG_SEED,
    dtype: str = options.DTYPE,
    out: Optional[str] = typer.Option(None, "--out", help="Folder for the figures (default: <store folder>/<run id>)", show_default=False),
    no_plots: bool = typer.Option(False, "--no-plots", help="Do not draw figures."),
    optimizer: str = options.OPTIMIZER,
    momentum: Optional[float] = options.MOMENTUM,
    nesterov: bool = options.NESTEROV,
    betas: Optional[str] = options.BETAS,
    eps: Optional[float] = options.EPS,
    weight_decay: Optional[float] = options.WEIGHT_DECAY,
    checkpoint_every: Optional[int] = options.CHECKPOINT_EVERY,
    keep_checkpoint: bool = options.KEEP_CHECKPOINT,
    store: Optional[str] = StoreOption,
    as_json: bool = JsonOption,
) -> None:
    """Linear regression by hand-written gradient descent (tutorial section 3)."""
    from ..linreg.config import LinRegConfig
    from ..core.tabular import split_columns
    from ..linreg.run import run
    from ..core.errors import ConfigError
    from ..core.store import Store

    checkpointed = epochs is not None or checkpoint_every is not None
    refused = not_applicable(options.output_rules() + [
        ("steps", epochs is None, "and --epochs both set the length of the run; give one of them"),
        ("keep_checkpoint", checkpointed, "needs checkpoints: linreg writes them with --epochs or "
                                          "--checkpoint-every"),
    ])
    if refused:
        raise ConfigError(*refused)
    config = LinRegConfig(
        csv=csv, x=split_columns(x), y=y, standardize=standardize, lr=lr, steps=steps,
        epochs=epochs, batch_size=batch_size, seed=seed, dtype=dtype, out=out,
        plots=not no_plots, checkpoint_every=checkpoint_every, keep_checkpoint=keep_checkpoint,
        optimizer=options.optimizer_spec(optimizer, momentum, nesterov, betas, eps, weight_decay),
    )
    bar = Progress()
    try:
        result = run(config, store=Store(store), on_progress=lambda s, t: bar(config.problem, s + 1, t))
    finally:
        bar.close()
    emit(result, as_json, print_linreg)
    if result["status"] == "diverged":
        note("error: " + result["divergence"]["message"])
        raise typer.Exit(EXIT_DIVERGED)


def _vec(values) -> str:
    return "[" + ", ".join(f"{v:.4f}" for v in values) + "]"


def print_linreg(r: dict) -> None:
    init, final, opt = r["init"], r["final"], r["optimum"]
    print(f"data: {r['data']['source']} ({r['data']['rows']} rows, features {', '.join(r['data']['features'])})")
    print(f"initial w: {_vec(init['w'])}, b: {init['b']:.4f}")
    print(f"initial loss: {init['loss']:.4f}")
    print(f"gradients: dJ/dw = {_vec(init['grad_w'])}, dJ/db = {init['grad_b']:.4f}")
    losses = r["losses"]
    # the tutorial's loop prints every 10th update after the first single step: losses[1 + e]
    for e in range(0, len(losses) - 1, 10):
        print(f"epoch: {e}, loss: {losses[1 + e]}")
    print(f"final: w = {_vec(final['w'])}, b = {final['b']:.4f}, loss = {final['loss']:.6g} after {r['steps']} updates")
    print(f"optimum (closed form): w = {_vec(opt['w'])}, b = {opt['b']:.4f}, loss = {opt['loss']:.6g}; gap {r['gap_to_optimum']:.4g}")
    from .bound_text import lines

    for line in lines(r):  # lambda_max, and this update rule's own bound (LANG: English or Chinese)
        print(line)
    print(f"status: {r['status']}")
    for path in r["figures"]:
        print(f"figure: {path}")
    print(f"run id: {r['run_id']}")


def register(app) -> None:
    """Add this problem's own command to the Typer app (its registry entry's ``command`` hook)."""
    app.command()(linreg)
