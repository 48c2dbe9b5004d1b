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
    lr: Optional[str] = typer.Option(None, "--lr", help="Learning rates, comma separated; one full-batch run each (default: 0.2,0.3 for sgd, 0.001 for adam/adamw/rmsprop).", show_default=False),
    optimizer: str = typer.Option("sgd", "--optimizer", help="sgd: gradient descent, the sharpness lambda_1(H) against 2/lr (with --momentum beta: 2(1+beta)/lr, Nesterov 2(1+beta)/((1+2beta) lr)); adam, adamw or rmsprop: the preconditioned sharpness lambda_1(P^-1 H) against (2+2beta1)/((1-beta1) lr) = 38/lr (Adam, beta1 0.9) or 2/lr (RMSprop)."),
    momentum: Optional[float] = options.MOMENTUM,
    nesterov: bool = options.NESTEROV,
    weight_decay: Optional[float] = options.WEIGHT_DECAY,
    betas: Optional[str] = options.BETAS,
    eps: Optional[float] = options.EPS,
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
    about a minute on a quiet 2-core CPU (67 s, benchmarks/theory.py), longer on a busy one.
    With --momentum beta: the same edge at heavy-ball momentum's own bound 2(1+beta)/lr (Nesterov:
    2(1+beta)/((1+2beta) lr); SGD's --weight-decay lowers it by the decay). With --optimizer
    adam|adamw|rmsprop: the adaptive edge of stability (Cohen et al. 2022), the preconditioned
    sharpness lambda_1(P^-1 H), P the optimizer's own sqrt(v_hat) + eps, by Lanczos on
    P^-1/2 H P^-1/2, against its threshold. The same for a model file of your own."""
    from ..core.config import parse_float_list, parse_int_list
    from ..core.store import Store
    from ..core.errors import ConfigError
    from .. import problems

    entry = problems.with_hook("sharpness")[0]  # the problem whose study this is (the MLP's)
    MnistConfig, run_study = entry.config_class(), entry.hook("sharpness")

    refused = not_applicable(options.output_rules())
    if refused:
        raise ConfigError(*refused)

    spec = options.optimizer_spec(optimizer, momentum, nesterov, betas, eps, weight_decay)
    if lr is None:
        lr = "0.2,0.3" if spec.name in ("sgd", "torch-sgd") else "0.001"
    if file is not None:  # a model of one's own: the same study, the same document
        study, config = options.model_file_config(file, "sharpness", seed=seed, device=device,
                                                  out=out, plots=not no_plots, optimizer=spec)
        bar = Progress()
        try:
            document = study(config, parse_float_list(lr, "--lr"), steps=steps, every=every,
                             store=Store(store), on_progress=lambda lr, s, t: bar(f"lr {lr:g}", s, t))
        finally:
            bar.close()
        emit(document, as_json, print_study)
        return _exit_status(document)
    config = MnistConfig(
        optimizer=spec, dataset=dataset, data_dir=data_dir, hidden=parse_int_list(hidden, "--hidden"),
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
    from ..i18n import language_from_env

    for r in document["runs"]:
        if r["status"] == "diverged":
            note(f"error: lr {r['lr']:g}: {_verdict(r, language_from_env())}")
    if document["status"] == "diverged":
        raise typer.Exit(EXIT_DIVERGED)


def _verdict(r: dict, lang: str) -> str:
    """A run's verdict in ``lang`` (LANG): the same words as the document's English ``verdict``,
    from its key and numbers; as recorded when the numbers cannot be read back."""
    from ..theory.edge import verdict_text

    if lang == "en" or not r.get("verdict_key"):
        return r["verdict"]
    try:
        return verdict_text(r["verdict_key"], r["verdict_fields"], lang)
    except (KeyError, TypeError, ValueError):  # a number the JSON made null (a NaN)
        return r["verdict"]


def print_study(doc: dict) -> None:
    from ..i18n import language_from_env

    lang = language_from_env()  # zh_*: the verdicts in Chinese; the numbers and --json unchanged
    data = doc["data"] or {}
    config = doc["config"]
    first = doc["runs"][0] if doc["runs"] else {}
    adaptive = first.get("kind") == "preconditioned"
    plain = not adaptive and first.get("threshold_label", "2/lr") == "2/lr"
    spec = config.get("optimizer") if isinstance(config.get("optimizer"), dict) else {}
    how = f"full-batch {spec.get('name', 'sgd')}" if adaptive else "full-batch gradient descent"
    if not adaptive and not plain:  # the update rule that sets the threshold, in its own words
        how += "".join(f", {key} {spec[key]:g}" for key in ("momentum", "weight_decay") if spec.get(key))
        how += ", Nesterov" if spec.get("nesterov") else ""
    what = "preconditioned sharpness lambda_1(P^-1 H)" if adaptive else "sharpness"
    if "model" in doc:  # a model file
        print(f"edge of stability: {doc['model']['name']} ({doc['model']['file']}), {data.get('train')} "
              f"training rows, {how}, {doc['steps']} steps; {what} every {doc['every']} steps")
    else:
        print(f"edge of stability: {data.get('name')}, {data.get('train')} training images, "
              f"{'-'.join(map(str, [784, *config['hidden'], 10]))} {config['activation']} MLP, "
              f"{config['loss']} loss, {how}, {doc['steps']} steps; {what} "
              f"every {doc['every']} steps")
    for r in doc["runs"]:
        median = "-" if r["ratio_median"] is None else f"{r['ratio_median']:.3f}"
        hit = "never" if r["hit_step"] is None else f"step {r['hit_step']}"
        rule = r.get("threshold_label") or "2/lr"
        init = "-" if r["sharpness_init"] is None else f"{r['sharpness_init']:.4g}"
        final = "-" if r["sharpness_final"] is None else f"{r['sharpness_final']:.4g}"
        ratio = "sharpness*lr/2" if plain else f"sharpness / ({rule})"
        # Adam's first measurement is at step --every (no second moment before an update)
        first_step = r["sharpness"][0]["step"] if r.get("sharpness") else 0
        print(f"lr {r['lr']:g}: {rule} = {r['bound']:.4g}; {what} {init} at "
              f"step {first_step}, {final} at the end; reaches {rule}: {hit}; median "
              f"{ratio} after it: {median}; final loss {r['losses'][-1]:.4g}")
        print(f"  {'结论' if lang == 'zh' else 'verdict'}: {_verdict(r, lang)}")
    for text in doc.get("notes", []):
        print(f"note: {text}")
    print(f"study id: {doc['study_id']} (`sgdlab runs --sweep {doc['study_id']}`)")
    for path in doc["figures"]:
        print(f"figure: {path}")
