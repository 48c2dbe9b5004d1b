"""`sgdlab train FILE.py`: train a model of one's own, with the theory's bound beside it."""

from __future__ import annotations

from typing import Optional

import typer

from .app import EXIT_DIVERGED, JsonOption, StoreOption, emit, handle_errors, not_applicable, note
from . import options, parallel
from .progress import Progress


def _help() -> str:
    from ..modelfile import FORMAT

    lines = "\n".join(f"    {line}" if line else "" for line in FORMAT.splitlines())
    return ("Train a model of your own (one .py file defining data(), model(), loss(output, "
            "target) and optionally accuracy(output, target)) with sgdlab's loop; beside it the "
            "sharpness lambda_max at initialisation and the bound 2/lambda_max, measured on the "
            "first 1,000 training examples. The run is recorded, checkpointed each epoch, and "
            "`sgdlab resume RUN_ID` finishes it if it is killed.\n\n\b\nA complete model file:\n\n"
            f"{lines}\n")


@handle_errors
def train(
    file: str = typer.Argument(..., help="The model file (.py).", show_default=False),
    lr: float = typer.Option(0.1, "--lr", help="Learning rate (step size)."),
    batch_size: Optional[str] = typer.Option(None, "--batch-size", help="Examples per update, full (gradient descent) or auto. Default (auto): 32, or all the rows when the data has fewer.", show_default=False),
    epochs: int = typer.Option(1, "--epochs", help="Passes over the training set."),
    steps: Optional[int] = typer.Option(None, "--steps", help="Make N updates instead of whole epochs.", show_default=False),
    seed: int = typer.Option(0, "--seed", help="Seeds torch before model() (the weights) and the shuffling."),
    device: str = options.device_option(),
    no_bound: bool = typer.Option(False, "--no-bound", help="Skip the sharpness at initialisation and its bound 2/lambda_max."),
    sharpness_every: Optional[int] = typer.Option(None, "--sharpness-every", help="Also measure the sharpness every K updates.", show_default=False),
    sharpness_subset: str = typer.Option("1000", "--sharpness-subset", help="Measure the sharpness on the first N training examples, or all."),
    optimizer: str = options.OPTIMIZER,
    momentum: Optional[float] = options.MOMENTUM,
    nesterov: bool = options.NESTEROV,
    betas: Optional[str] = options.BETAS,
    eps: Optional[float] = options.EPS,
    weight_decay: Optional[float] = options.WEIGHT_DECAY,
    checkpoint_every: Optional[int] = options.CHECKPOINT_EVERY,
    keep_checkpoint: bool = options.KEEP_CHECKPOINT,
    out: Optional[str] = typer.Option(None, "--out", help="Folder for the figure (default: <store folder>/<run id>)", show_default=False),
    no_plots: bool = typer.Option(False, "--no-plots", help="Do not draw the loss curve."),
    nproc: int = parallel.NPROC,
    allreduce: str = parallel.ALLREDUCE,
    local_steps: int = parallel.LOCAL_STEPS,
    emulate: bool = parallel.EMULATE,
    dtype: str = parallel.DTYPE,
    store: Optional[str] = StoreOption,
    as_json: bool = JsonOption,
) -> None:
    from ..core.errors import ConfigError
    from ..core.store import Store
    from ..distributed.env import quiet as quiet_rank
    from ..modelfile.config import AUTO, ModelFileConfig
    from ..modelfile.run import run

    sizes = [AUTO] if batch_size is None else options.parse_batch_size(batch_size, auto=True)
    if len(sizes) != 1:
        raise ConfigError(f"--batch-size takes one size here, got {batch_size!r} (a grid: `sgdlab sweep {file}`)")
    refused = not_applicable(options.output_rules() + [
        ("epochs", steps is None, "and --steps both say how long to train: give one"),
        ("sharpness_subset", not no_bound or bool(sharpness_every), "needs the sharpness; --no-bound skips it"),
    ])
    if refused:
        raise ConfigError(*refused)
    config = ModelFileConfig(
        file=file, lr=lr, batch_size=sizes[0], epochs=epochs, steps=steps, seed=seed, device=device,
        bound=not no_bound, sharpness_every=sharpness_every,
        sharpness_subset=options.parse_subset(sharpness_subset),
        optimizer=options.optimizer_spec(optimizer, momentum, nesterov, betas, eps, weight_decay),
        checkpoint_every=checkpoint_every, keep_checkpoint=keep_checkpoint, out=out,
        plots=not no_plots, **parallel.settings(nproc, allreduce, local_steps, emulate, dtype),
    )
    bar = Progress()
    try:
        document = run(config, store=Store(store), on_progress=lambda s, t: bar(file, s, t))
    finally:
        bar.close()
    if quiet_rank():  # under torchrun, rank 0 alone reports the run
        return
    emit(document, as_json, print_train)
    if document["status"] == "diverged":
        note("error: " + document["divergence"]["message"])
        raise typer.Exit(EXIT_DIVERGED)


def print_train(r: dict) -> None:
    m, d = r["model"], r["data"]
    test = f" / {d['test']} test" if d["test"] is not None else " (no test split)"
    print(f"{m['name']} ({m['file'] or 'from Python'}): {d['train']} training{test} rows, batch "
          f"{r['batch_size']}, lr {r['config']['lr']:g}, on {r['device']}")
    epochs = r["epochs"]
    shown = epochs if len(epochs) <= 12 else epochs[:3] + [None] + epochs[-3:]  # --steps, full batch
    for e in shown:
        if e is None:
            print(f"... ({len(epochs) - 6} more epochs: `--json` has them all)")
            continue
        line = f"epoch {e['epoch']}: train loss {e['train_loss']:.6f}"
        if e.get("test_loss") is not None:
            line += f", test loss {e['test_loss']:.6f}"
        if e.get("test_accuracy") is not None:
            line += f", test accuracy {100 * e['test_accuracy']:.2f}%"
        print(line + f" ({e['seconds']:.3f} s)")
    if r.get("final_loss") is not None:
        print(f"final training loss (all {d['train']} rows): {r['final_loss']:.6g}")
    if r.get("sharpness_init") is not None:
        lr, bound = r["config"]["lr"], r["lr_bound"]
        print(f"sharpness at initialisation (top Hessian eigenvalue, first {r['sharpness_rows']} "
              f"training rows): {r['sharpness_init']:.6g}")
        rule = r.get("lr_bound_rule") or "gd"
        label = "2 / lambda_max" if rule.startswith("gd: 2/lambda_max") else rule  # the optimizer's own bound (and decay)
        if bound is not None:
            side = "below" if lr < bound else "above"
            print(f"largest stable learning rate (full batch, {label}): {bound:.6g}; "
                  f"lr {lr:g} is {side} it ({lr / bound:.2g}x)")
        else:
            print(f"largest stable learning rate: {rule}")
    options.print_tracked(r)
    if r.get("nproc", 1) > 1:  # data parallel: what the communication cost
        from ..distributed.report import describe

        print(describe(r))
    for text in r.get("notes", []):
        print(f"note: {text}")
    if r["status"] != "completed":
        print(f"status: {r['status']} after {r['steps']} steps")
    for path in r["figures"]:
        print(f"figure: {path}")
    print(f"run id: {r['run_id']}")


def register(app) -> None:
    """Add `sgdlab train FILE.py` to the Typer app (the model-file entry's ``command`` hook)."""
    app.command(help=_help())(train)
