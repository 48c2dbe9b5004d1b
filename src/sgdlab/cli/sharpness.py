"""`sgdlab sharpness`: the edge of stability, full-batch gradient descent on the MLP."""

from __future__ import annotations

from typing import Optional

import typer

from .app import EXIT_DIVERGED, JsonOption, StoreOption, app, emit, handle_errors, not_applicable, note
from .progress import Progress
from . import options


@app.command()
@handle_errors
def sharpness(
    file: Optional[str] = options.model_file_option(),
    lr: str = typer.Option("0.2,0.3", "--lr", help="Learning rates, comma separated; one full-batch run each."),
    steps: int = typer.Option(300, "--steps", help="Full-batch gradient descent steps per learning rate."),
    every: int = typer.Option(20, "--every", help="Measure the sharpness every K steps (Lanczos on the whole training set)."),
    dataset: str = options.dataset_option(),
    data_dir: Optional[str] = options.data_dir_option(),
    hidden: str = options.hidden_option("200,200"),
    activation: str = options.activation_option("tanh"),
    loss: str = options.loss_option("mse"),
    normalize: str = options.normalize_option("standardize"),
    seed: int = options.seed_option(),
    device: str = options.device_option(),
    limit_train: Optional[int] = options.limit_train_option(),
    out: Optional[str] = typer.Option(None, "--out", help="Folder for the figures (default: <store folder>/<study id>)", show_default=False),
    no_plots: bool = typer.Option(False, "--no-plots", help="Do not draw figures."),
    store: Optional[str] = StoreOption,
    as_json: bool = JsonOption,
) -> None:
    """The edge of stability (Cohen et al. 2021): under full-batch gradient descent the sharpness
    (top eigenvalue of the training loss Hessian) rises until it reaches 2/lr, then hovers there;
    this runs it and says which happened. Defaults: their MLP on mnist-5k (784-200-200-10 tanh,
    squared loss, standardised pixels), lr 0.2 and 0.3, 300 steps, the sharpness every 20 steps:
    about a minute on a quiet 2-core CPU (67 s, benchmarks/theory.py), longer on a busy one."""
    from ..core.config import parse_float_list, parse_int_list
    from ..core.store import Store
    from ..core.errors import ConfigError
    from .. import problems

    entry = problems.with_hook("sharpness")[0]  # the problem whose study this is (the MLP's)
    MnistConfig, run_study = entry.config_class(), entry.hook("sharpness")

    refused = not_applicable(options.output_rules())
    if refused:
        raise ConfigError(*refused)

    if file is not None:  # a model of one's own: the same study, the same document
        study, config = options.model_file_config(file, "sharpness", seed=seed, device=device,
                                                  out=out, plots=not no_plots)
        bar = Progress()
        try:
            document = study(config, parse_float_list(lr, "--lr"), steps=steps, every=every,
                             store=Store(store), on_progress=lambda lr, s, t: bar(f"lr {lr:g}", s, t))
        finally:
            bar.close()
        emit(document, as_json, print_study)
        return _exit_status(document)
    config = MnistConfig(
        dataset=dataset, data_dir=data_dir, hidden=parse_int_list(hidden, "--hidden"),
        activation=activation, loss=loss, normalize=normalize, seed=seed, device=device,
        limit_train=limit_train, out=out, plots=not no_plots,
    )
    bar = Progress()
    document = run_study(config, parse_float_list(lr, "--lr"), steps=steps, every=every,
                         store=Store(store), on_progress=lambda lr, s, t: bar(f"lr {lr:g}", s, t))
    bar.close()
    emit(document, as_json, print_study)
    _exit_status(document)


def _exit_status(document: dict) -> None:
    for r in document["runs"]:
        if r["status"] == "diverged":
            note(f"error: lr {r['lr']:g}: {r['verdict']}")
    if document["status"] == "diverged":
        raise typer.Exit(EXIT_DIVERGED)


def print_study(doc: dict) -> None:
    data = doc["data"] or {}
    config = doc["config"]
    if "model" in doc:  # a model file
        print(f"edge of stability: {doc['model']['name']} ({doc['model']['file']}), {data.get('train')} "
              f"training rows, full-batch gradient descent, {doc['steps']} steps; sharpness every "
              f"{doc['every']} steps")
    else:
        print(f"edge of stability: {data.get('name')}, {data.get('train')} training images, "
              f"{'-'.join(map(str, [784, *config['hidden'], 10]))} {config['activation']} MLP, "
              f"{config['loss']} loss, full-batch gradient descent, {doc['steps']} steps; sharpness "
              f"every {doc['every']} steps")
    for r in doc["runs"]:
        median = "-" if r["ratio_median"] is None else f"{r['ratio_median']:.3f}"
        hit = "never" if r["hit_step"] is None else f"step {r['hit_step']}"
        print(f"lr {r['lr']:g}: 2/lr = {r['bound']:.4g}; sharpness {r['sharpness_init']:.4g} at "
              f"step 0, {r['sharpness_final']:.4g} at the end; reaches 2/lr: {hit}; median "
              f"sharpness*lr/2 after it: {median}; final loss {r['losses'][-1]:.4g}")
        print(f"  verdict: {r['verdict']}")
    for text in doc.get("notes", []):
        print(f"note: {text}")
    print(f"study id: {doc['study_id']} (`sgdlab runs --sweep {doc['study_id']}`)")
    for path in doc["figures"]:
        print(f"figure: {path}")
