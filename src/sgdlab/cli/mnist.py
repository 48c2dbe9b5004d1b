"""`sgdlab mnist`: the tutorial's MLP with hand-written SGD, and the batch-size study."""

from __future__ import annotations

from typing import Optional

import typer

from .app import (EXIT_DIVERGED, JsonOption, StoreOption, emit, handle_errors, not_applicable,
                  note)
from . import options, parallel
from .progress import Progress


@handle_errors
def mnist(
    dataset: str = options.dataset_option(),
    data_dir: Optional[str] = options.data_dir_option(),
    hidden: str = options.hidden_option(),
    activation: str = options.activation_option(),
    loss: str = options.loss_option(),
    normalize: str = options.normalize_option(),
    batch_size: str = typer.Option("100", "--batch-size", help="Images per update, or full (gradient descent); several (1,10,100,1000) make one run each and the comparison figures."),
    lr: float = typer.Option(1e-2, "--lr", help="Learning rate (step size)."),
    epochs: int = typer.Option(1, "--epochs", help="Passes over the training set."),
    max_steps: Optional[int] = typer.Option(None, "--max-steps", help="Stop after N updates, even mid-epoch.", show_default=False),
    seed: int = options.seed_option(),
    device: str = options.device_option(),
    limit_train: Optional[int] = options.limit_train_option(),
    limit_test: Optional[int] = typer.Option(None, "--limit-test", help="Evaluate on the first N test images only.", show_default=False),
    dry_run: bool = typer.Option(False, "--dry-run", help="Smoke test: 2 batches per batch size, 100 test images, 1 epoch."),
    out: Optional[str] = typer.Option(None, "--out", help="Folder for the figures (default: <store folder>/<run or study id>)", show_default=False),
    no_plots: bool = typer.Option(False, "--no-plots", help="Do not draw figures."),
    no_bound: bool = typer.Option(False, "--no-bound", help="Skip the sharpness at initialisation (lambda_max by Lanczos, well under a second) and its bound 2/lambda_max."),
    sharpness_every: Optional[int] = typer.Option(None, "--sharpness-every", help="Also measure the sharpness every K updates; draws it against 2/lr (the rule's own bound over lr; under adam, adamw, rmsprop the preconditioned sharpness lambda_1(P^-1 H) against 38/lr for Adam, 2/lr for RMSprop).", show_default=False),
    sharpness_subset: str = typer.Option("1000", "--sharpness-subset", help="Measure the sharpness on the first N training images, or all."),
    noise_every: Optional[int] = typer.Option(None, "--noise-every", help="Also measure the exact gradient noise scale B_simple over the training set every K updates (per-example norms: about 0.2 s per 4,000 images); draws it against the batch size.", show_default=False),
    sync_every: Optional[int] = typer.Option(None, "--sync-every", help="Read the losses on the host every K updates (default: 1 on CPU, 50 on CUDA); a diverged run still stops at its exact step.", show_default=False),
    no_cuda_graph: bool = typer.Option(False, "--no-cuda-graph", help="On CUDA, run each step eagerly instead of replaying it as one captured graph."),
    compile_step: bool = typer.Option(False, "--compile", help="Run the training step through torch.compile (compiles for a minute; measured slower on CPU)."),
    optimizer: str = options.OPTIMIZER,
    momentum: Optional[float] = options.MOMENTUM,
    nesterov: bool = options.NESTEROV,
    betas: Optional[str] = options.BETAS,
    eps: Optional[float] = options.EPS,
    weight_decay: Optional[float] = options.WEIGHT_DECAY,
    checkpoint_every: Optional[int] = options.CHECKPOINT_EVERY,
    keep_checkpoint: bool = options.KEEP_CHECKPOINT,
    nproc: int = parallel.NPROC,
    allreduce: str = parallel.ALLREDUCE,
    local_steps: int = parallel.LOCAL_STEPS,
    emulate: bool = parallel.EMULATE,
    dtype: str = parallel.DTYPE,
    store: Optional[str] = StoreOption,
    as_json: bool = JsonOption,
) -> None:
    """The tutorial's MNIST MLP trained with hand-written SGD (section 4), fast; batch-size study.
    Beside it, the theory: the sharpness lambda_max of the training loss at initialisation and the
    largest stable full-batch learning rate 2/lambda_max."""
    from ..core.config import parse_int_list
    from ..mnist.config import MnistConfig
    from ..mnist.run import run
    from ..mnist.study import run_study
    from ..core.errors import ConfigError
    from ..core.store import Store
    from ..distributed.env import quiet as quiet_rank

    sizes = options.parse_batch_size(batch_size)
    twice = sorted({b for b in sizes if sizes.count(b) > 1})
    if twice:
        raise ConfigError(f"--batch-size gives {', '.join(str(b or 'full') for b in twice)} twice: the runs would "
                          "be identical")
    refused = not_applicable(options.output_rules() + [
        ("epochs", not dry_run, "does not apply to --dry-run (one epoch of 2 batches)"),
        ("sharpness_subset", not no_bound or bool(sharpness_every), "needs the sharpness; --no-bound skips it"),
    ])
    if refused:
        raise ConfigError(*refused)
    if dry_run:  # a bad value given with --dry-run stays bad, for validation to name it
        cap = 2 * max((b for b in sizes if b is not None), default=50)
        limit_train = cap if limit_train is None else min(limit_train, cap)
        limit_test = 100 if limit_test is None else min(limit_test, 100)
        epochs = 1
    config = MnistConfig(
        dataset=dataset, data_dir=data_dir, hidden=parse_int_list(hidden, "--hidden"),
        activation=activation, loss=loss, normalize=normalize, lr=lr, batch_size=sizes[0],
        epochs=epochs, max_steps=max_steps, seed=seed, device=device, limit_train=limit_train,
        limit_test=limit_test, out=out, plots=not no_plots, checkpoint_every=checkpoint_every,
        keep_checkpoint=keep_checkpoint, bound=not no_bound, sharpness_every=sharpness_every,
        sharpness_subset=options.parse_subset(sharpness_subset), noise_every=noise_every,
        sync_every=sync_every, cuda_graph=not no_cuda_graph, compile=compile_step,
        optimizer=options.optimizer_spec(optimizer, momentum, nesterov, betas, eps, weight_decay),
        **parallel.settings(nproc, allreduce, local_steps, emulate, dtype),
    )
    bar = Progress()
    try:
        if len(sizes) == 1:
            document = run(config, store=Store(store),
                           on_progress=lambda s, t: bar(f"batch size {sizes[0] or 'full'}", s, t))
        else:
            document = run_study(config, sizes, store=Store(store),
                                 on_progress=lambda b, s, t: bar(f"batch size {b or 'full'}", s, t))
    finally:
        bar.close()
    if quiet_rank():  # under torchrun, rank 0 alone reports the run
        return
    emit(document, as_json, print_mnist)
    for r in document.get("runs", [document]):
        if r["status"] == "diverged":
            note("error: " + r["divergence"]["message"])
    if document["status"] == "diverged":
        raise typer.Exit(EXIT_DIVERGED)
    if document["status"] == "interrupted":
        raise typer.Exit(130)


def print_run(r: dict) -> None:
    d = r["data"]
    print(f"batch size {r['batch_size']}: {d['name']}, {d['train']} train / {d['test']} test images, "
          f"on {r['device']}")
    for e in r["epochs"]:
        # the tutorial's two lines, then what it did not show
        print(f"epoch: {e['epoch']}, Train Loss: {e['train_loss']:.6f}")
        print(f"time used: {e['seconds']:.5f} s ({e['samples_per_second'] or 0:,.0f} images/s)")
        print(f"test loss: {e['test_loss']:.6f}, test accuracy: {100 * e['test_accuracy']:.2f}%")
    print_bound(r)
    for point in r.get("noise_scale", []):
        print(f"gradient noise scale B_simple after {point['step']} updates: {point['b_simple']:.6g} "
              f"(batch size {r['batch_size']})")
    if r.get("nproc", 1) > 1:  # data parallel: what the communication cost
        from ..distributed.report import describe

        print(describe(r))
    if r["status"] != "completed":
        print(f"status: {r['status']} after {r['steps']} steps")
    print(f"run id: {r['run_id']}")


def print_bound(r: dict) -> None:
    """The theory's number beside the run, as `sgdlab linreg` prints it."""
    if r.get("sharpness_init") is None:
        return
    lr, bound = r["config"]["lr"], r["lr_bound"]
    print(f"sharpness at initialisation (top Hessian eigenvalue, first {r['sharpness_images']} "
          f"training images): {r['sharpness_init']:.6g}")
    rule = r.get("lr_bound_rule") or "gd"
    label = "2 / lambda_max" if rule.startswith("gd: 2/lambda_max") else rule  # the optimizer's own bound (and decay)
    if bound is not None:
        side = "below" if lr < bound else "above"
        print(f"largest stable learning rate (full batch, {label}): {bound:.6g}; "
              f"lr {lr:g} is {side} it ({lr / bound:.2g}x)")
    else:
        print(f"largest stable learning rate: {rule}")
    options.print_tracked(r)


def print_mnist(doc: dict) -> None:
    runs = doc.get("runs", [doc])
    for r in runs:
        print_run(r)
    if "runs" in doc:
        print(f"study id: {doc['study_id']} (`sgdlab runs --sweep {doc['study_id']}`)")
    for path in doc["figures"]:
        print(f"figure: {path}")


def register(app) -> None:
    """Add this problem's own command to the Typer app (its registry entry's ``command`` hook)."""
    app.command()(mnist)
