"""`sgdlab noise-scale`: the gradient noise scale B_simple of the MLP, and the batch-size study."""

from __future__ import annotations

from typing import Optional

import typer

from .app import EXIT_DIVERGED, JsonOption, StoreOption, app, emit, handle_errors, not_applicable, note
from . import options


DEFAULT_BATCH = 100  # the tutorial's batch; a smaller training set trains on all of its rows


@app.command("noise-scale")
@handle_errors
def noise_scale(
    file: Optional[str] = options.model_file_option(),
    train_steps: Optional[int] = typer.Option(None, "--train-steps", help="Updates between the two measurements (default: one epoch at --batch-size).", show_default=False),
    lr: float = typer.Option(0.1, "--lr", help="Learning rate of that training (and the tutorial's SGD)."),
    batch_size: Optional[int] = typer.Option(None, "--batch-size", help="Images per update of that training (default 100, or the whole training set when it has fewer rows).", show_default=False),
    two_batch: Optional[str] = typer.Option(None, "--two-batch", help="SMALL,BIG: the two batch sizes of McCandlish's estimator (default 100,1000; on fewer than 1,000 rows a tenth of them and the largest multiple of that which fits).", show_default=False),
    draws: int = typer.Option(30, "--draws", help="Pairs of batches the two-batch estimator averages."),
    batch_sizes: Optional[str] = typer.Option(None, "--batch-sizes", help="Also the study: steps to --target per batch size (e.g. 10,30,100,300,1000,4000), lr tuned per batch size.", show_default=False),
    target: Optional[float] = typer.Option(None, "--target", help="Training loss to reach in the study (default 0.5).", show_default=False),
    lrs: Optional[str] = typer.Option(None, "--lrs", help="The study's learning-rate grid (default 0.01,0.03,0.1,0.3).", show_default=False),
    max_steps: Optional[int] = typer.Option(None, "--max-steps", help="The study's cap on updates per run (default 1000).", show_default=False),
    max_epochs: Optional[int] = typer.Option(None, "--max-epochs", help="The study's cap on passes over the data per run (default 80; caps the large batches).", show_default=False),
    dataset: str = options.dataset_option(),
    data_dir: Optional[str] = options.data_dir_option(),
    hidden: str = options.hidden_option(),
    activation: str = options.activation_option(),
    loss: str = options.loss_option(),
    normalize: str = options.normalize_option(),
    seed: int = options.seed_option(),
    device: str = options.device_option(),
    limit_train: Optional[int] = options.limit_train_option(),
    out: Optional[str] = typer.Option(None, "--out", help="Folder for the figures (default: <store folder>/<run id>)", show_default=False),
    no_plots: bool = typer.Option(False, "--no-plots", help="Do not draw figures."),
    store: Optional[str] = StoreOption,
    as_json: bool = JsonOption,
) -> None:
    """The gradient noise scale B_simple = tr(Sigma)/|G|^2 (McCandlish et al. 2018) of the MLP at
    initialisation and after --train-steps, exact (per-example gradients) and by the two-batch
    estimator. With --batch-sizes: steps to --target per batch size, the fit
    S = S_min (1 + B_noise/B) and B_crit = E_min/S_min beside B_simple; the default study
    (10,30,100,300,1000,4000) takes about a minute on a quiet 2-core CPU (49 s, benchmarks/theory.py)."""
    from ..core.config import parse_float_list, parse_int_list
    from ..core.errors import ConfigError
    from ..core.store import Store
    from .. import problems

    entry = problems.with_hook("noise_scale")[0]  # the problem whose study this is (the MLP's)
    MnistConfig, run = entry.config_class(), entry.hook("noise_scale")

    study = batch_sizes is not None
    refused = not_applicable(options.output_rules() + [
        ("out", study, "is the folder for the study's figure; without --batch-sizes there is none"),
        *((name, study, "belongs to the study: give --batch-sizes too")
          for name in ("target", "lrs", "max_steps", "max_epochs")),
    ])
    if refused:
        raise ConfigError(*refused)

    pair = parse_int_list(two_batch, "--two-batch") if two_batch is not None else [None, None]
    if len(pair) != 2:
        raise ConfigError(f"--two-batch must be two sizes SMALL,BIG, got {two_batch!r}")
    if file is not None:  # a model of one's own: B_simple exact (vmap) and two-batch
        if study:
            raise ConfigError("--batch-sizes (the steps-to-target study) is the built-in MLP's; on "
                              f"a model file, sweep batch sizes: `sgdlab sweep {file} --batch-size ...`")
        measure, config = options.model_file_config(
            file, "noise_scale", lr=lr, batch_size=batch_size, seed=seed, device=device,
            plots=False)
        from .progress import Progress

        bar = Progress()  # as the MLP's: a bar on a terminal, else a line when a part is long
        try:
            document = measure(config, train_steps=train_steps, small=pair[0], big=pair[1], draws=draws,
                               store=Store(store), default_batch=DEFAULT_BATCH,
                               on_progress=lambda part, done, total, unit: bar(f"noise-scale, {part}", done,
                                                                               total, unit))
        finally:
            bar.close()
        return _finish(document, as_json, lr)
    config = MnistConfig(
        dataset=dataset, data_dir=data_dir, hidden=parse_int_list(hidden, "--hidden"),
        activation=activation, loss=loss, normalize=normalize, lr=lr,
        # not given: 100, or all of a --limit-train below it (every set has >= 4,000 images)
        batch_size=batch_size if batch_size is not None else min(DEFAULT_BATCH, max(1, limit_train or DEFAULT_BATCH)),
        seed=seed, device=device, limit_train=limit_train, out=out, plots=not no_plots, bound=False,
    )
    from .progress import Progress

    bar = Progress()  # a bar on a terminal; else one line with the time left when a part is long
    try:
        document = run(
            config, train_steps=train_steps, small=pair[0], big=pair[1], draws=draws,
            batch_sizes=parse_int_list(batch_sizes, "--batch-sizes") if study else None,  # "" is an error, not "no study"
            target=target, lrs=parse_float_list(lrs, "--lrs") if lrs else None, max_steps=max_steps,
            max_epochs=max_epochs, store=Store(store),
            on_progress=lambda part, done, total, unit: bar(f"noise-scale, {part}", done, total, unit))
    finally:
        bar.close()
    _finish(document, as_json, lr)


def _finish(document: dict, as_json: bool, lr: float) -> None:
    emit(document, as_json, print_noise)
    if document["status"] == "diverged":
        note(f"error: the training diverged at lr {lr:g}; try a smaller --lr")
        raise typer.Exit(EXIT_DIVERGED)


def print_noise(doc: dict) -> None:
    d = doc["data"]
    print(f"gradient noise scale B_simple = tr(Sigma) / |G|^2: {d['name']}, {d['train']} training "
          f"{'rows' if 'model' in doc else 'images'}")
    for text in doc.get("notes", []):
        print(f"note: {text}")
    for name, m in (("at initialisation", doc["init"]), (f"after {doc['trained']['step']} updates "
                    f"(batch {doc['batch_size']}, lr {doc['lr']:g})", doc["trained"])):
        two = m["two_batch"]
        print(f"{name}: B_simple = {m['b_simple_exact']:.4g} exact (tr(Sigma) = {m['trace_sigma']:.4g}, "
              f"|G|^2 = {m['grad_norm_sq']:.4g}); two-batch estimate ({two['small']} and {two['big']}, "
              f"{two['draws']} draws) {m['b_simple_two_batch']:.4g}")
    if "study" in doc:
        print(f"steps to a training loss of {doc['target']:g} (the mean over the last ~1000 images), "
              f"best lr per batch size:")
        for r in doc["study"]:
            if r["steps"] is None:
                print(f"  batch {r['batch_size']}: not reached within the caps")
            else:
                edge = " (at the grid's edge: widen --lrs)" if r["lr_at_grid_edge"] else ""
                print(f"  batch {r['batch_size']}: {r['steps']} steps, {r['examples']} images, lr {r['lr']:g}{edge}")
        fit = doc["fit"]
        if fit is None:
            print("fit S = S_min (1 + B_noise / B): too few batch sizes reached the target")
        else:
            print(f"fit: S_min = {fit['s_min']:.4g} steps, E_min = {fit['e_min']:.4g} images, "
                  f"B_crit = E_min / S_min = {fit['b_crit']:.4g}; measured B_simple: "
                  f"{doc['init']['b_simple_exact']:.4g} at initialisation, "
                  f"{doc['trained']['b_simple_exact']:.4g} after training")
        print(f"sweep id: {doc['sweep_id']} (`sgdlab runs --sweep {doc['sweep_id']}`)")
    print(f"run id: {doc['run_id']}")
    for path in doc["figures"]:
        print(f"figure: {path}")
