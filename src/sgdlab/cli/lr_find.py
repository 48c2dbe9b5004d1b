"""`sgdlab lr-find linreg|mnist`: the learning-rate range test beside the bound 2/lambda_max."""

from __future__ import annotations

from typing import Optional

import typer
from typer.core import TyperGroup

from .app import JsonOption, StoreOption, app, emit, handle_errors, not_applicable
from . import options

class _Group(TyperGroup):
    """`sgdlab lr-find FILE.py ...`: a path in the subcommand's place is a model file, handed to
    the hidden ``file`` subcommand as its argument."""

    def resolve_command(self, ctx, args):
        if args and args[0].endswith(".py") and "file" in self.commands:
            return "file", self.commands["file"], args
        return super().resolve_command(ctx, args)


lr_find_app = typer.Typer(
    cls=_Group,
    help="The learning-rate range test (fastai's lr_find: 1e-7 to 10 over 100 steps, loss smoothed "
         "with beta 0.98, stop at 4x the best) with 2/lambda_max at initialisation on the same axis. "
         "`sgdlab lr-find FILE.py` runs it on your model file.",
    no_args_is_help=True,
)
app.add_typer(lr_find_app, name="lr-find")

START = typer.Option(1e-7, "--start", help="First learning rate.")
END = typer.Option(10.0, "--end", help="Last learning rate.")
NUM = typer.Option(100, "--num", help="Steps (one batch each), lr growing exponentially.")
BETA = typer.Option(0.98, "--beta", help="Smoothing of the loss (exponential moving average, bias-corrected).")
STOP = typer.Option(4.0, "--stop-factor", help="Stop once the smoothed loss exceeds this times its best.")
OUT = typer.Option(None, "--out", help="Folder for the figure (default: <store folder>/<run id>)", show_default=False)
NO_PLOTS = typer.Option(False, "--no-plots", help="Do not draw the figure.")


@lr_find_app.command("linreg")
@handle_errors
def lr_find_linreg(
    csv: Optional[str] = options.CSV,
    x: Optional[str] = options.X_COLUMNS,
    y: Optional[str] = options.Y_COLUMN,
    standardize: bool = options.STANDARDIZE,
    batch_size: Optional[int] = typer.Option(None, "--batch-size", help="Rows per step (default: all rows)", show_default=False),
    seed: int = options.LINREG_SEED,
    dtype: str = options.DTYPE,
    start: float = START, end: float = END, num: int = NUM, beta: float = BETA, stop_factor: float = STOP,
    out: Optional[str] = OUT, no_plots: bool = NO_PLOTS,
    store: Optional[str] = StoreOption,
    as_json: bool = JsonOption,
) -> None:
    """Range test on linear regression (the tutorial's by default), plain SGD from its initialisation."""
    from ..linreg.config import LinRegConfig
    from ..linreg.data import split_columns

    config = LinRegConfig(csv=csv, x=split_columns(x), y=y, standardize=standardize,
                          batch_size=batch_size, seed=seed, dtype=dtype, out=out, plots=not no_plots)
    _run(config, start, end, num, beta, stop_factor, store, as_json)


@lr_find_app.command("mnist")
@handle_errors
def lr_find_mnist(
    dataset: str = options.dataset_option(),
    data_dir: Optional[str] = options.data_dir_option(),
    hidden: str = options.hidden_option(),
    activation: str = options.activation_option(),
    loss: str = options.loss_option(),
    normalize: str = options.normalize_option(),
    batch_size: str = typer.Option("100", "--batch-size", help="Images per step, or full."),
    seed: int = options.seed_option(),
    device: str = options.device_option(),
    limit_train: Optional[int] = options.limit_train_option(),
    sharpness_subset: str = typer.Option("1000", "--sharpness-subset", help="The bound's lambda_max on the first N training images, or all."),
    start: float = START, end: float = END, num: int = NUM, beta: float = BETA, stop_factor: float = STOP,
    out: Optional[str] = OUT, no_plots: bool = NO_PLOTS,
    store: Optional[str] = StoreOption,
    as_json: bool = JsonOption,
) -> None:
    """Range test on the MLP (the tutorial's by default), plain SGD from its initialisation."""
    from ..core.config import parse_int_list
    from ..core.errors import ConfigError
    from ..mnist.config import MnistConfig

    sizes = options.parse_batch_size(batch_size)
    if len(sizes) != 1:
        raise ConfigError(f"--batch-size takes one size here, got {batch_size!r}")
    config = MnistConfig(
        dataset=dataset, data_dir=data_dir, hidden=parse_int_list(hidden, "--hidden"),
        activation=activation, loss=loss, normalize=normalize, batch_size=sizes[0], seed=seed,
        device=device, limit_train=limit_train, out=out, plots=not no_plots,
        sharpness_subset=options.parse_subset(sharpness_subset),
    )
    _run(config, start, end, num, beta, stop_factor, store, as_json)


@lr_find_app.command("file", hidden=True)
@handle_errors
def lr_find_file(
    file: str = typer.Argument(..., help="The model file (.py).", show_default=False),
    batch_size: str = typer.Option("32", "--batch-size", help="Examples per step, or full."),
    seed: int = typer.Option(0, "--seed", help="Seeds torch before model() (the weights) and the shuffling."),
    device: str = options.device_option(),
    sharpness_subset: str = typer.Option("1000", "--sharpness-subset", help="The bound's lambda_max on the first N training examples, or all."),
    start: float = START, end: float = END, num: int = NUM, beta: float = BETA, stop_factor: float = STOP,
    out: Optional[str] = OUT, no_plots: bool = NO_PLOTS,
    store: Optional[str] = StoreOption,
    as_json: bool = JsonOption,
) -> None:
    """Range test on your model file, plain SGD from its initialisation."""
    from .. import problems
    from ..core.errors import ConfigError

    sizes = options.parse_batch_size(batch_size)
    if len(sizes) != 1:
        raise ConfigError(f"--batch-size takes one size here, got {batch_size!r}")
    entry = problems.resolve(file)
    config = entry.config_class().from_source(
        file, batch_size=sizes[0], seed=seed, device=device, out=out, plots=not no_plots,
        sharpness_subset=options.parse_subset(sharpness_subset))
    _run(config, start, end, num, beta, stop_factor, store, as_json)


def _run(config, start, end, num, beta, stop_factor, store, as_json) -> None:
    from ..core.errors import ConfigError
    from ..core.store import Store
    from ..lrfind import run

    refused = not_applicable(options.output_rules())
    if refused:
        raise ConfigError(*refused)

    document = run(config, start=start, end=end, num=num, beta=beta, stop_factor=stop_factor, store=Store(store))
    emit(document, as_json, print_lr_find)


def print_lr_find(doc: dict) -> None:
    s = doc["settings"]
    print(f"learning-rate range test on {doc['problem']}: lr from {s['start']:g} to {s['end']:g} over "
          f"{s['num']} steps of batch {doc['batch_size']}, plain SGD from the initialisation")
    stop = doc["stop_lr"]
    where = (f"stopped at lr {stop:.4g} after {len(doc['lrs'])} steps (smoothed loss above "
             f"{s['stop_factor']:g}x its best)" if stop else "never blew up within the range")
    print(f"loss {doc['losses'][0]:.4g} at the start; {where}")
    bound = doc["bound"]
    if bound is not None:
        print(f"largest stable learning rate at initialisation (full batch, 2 / lambda_max): {bound:.4g}")
    if doc["blowup_lr"] is not None:
        ratio = "" if bound is None else (f", {doc['blowup_over_bound']:.3g}x the bound (the lr rises "
                                          f"faster than the instability grows)")
        print(f"the loss was back above its start at lr {doc['blowup_lr']:.4g}{ratio}")
    for name, lr in doc["suggestions"].items():
        mark = " (the suggestion)" if name == doc["suggestion_rule"] else ""
        text = "-" if lr is None else f"{lr:.4g}" + ("" if bound is None else f" = {lr / bound:.3g}x the bound")
        print(f"rule {name}: {text}{mark}")
    for path in doc["figures"]:
        print(f"figure: {path}")
    print(f"run id: {doc['run_id']}")
