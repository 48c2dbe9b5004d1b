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
# -- the MLP's options, shared by `mnist`, `sharpness`, `noise-scale`, `lr-find mnist` ----------
# Factories, because each command has its own defaults (the edge-of-stability study defaults to
# Cohen et al.'s tanh MLP with the squared loss; `mnist` to the tutorial's).

def dataset_option():
    return typer.Option("mnist-5k", "--dataset", help="mnist-5k (5,000 digits, no download), mnist or fashion-mnist.")


def data_dir_option():
    return typer.Option(None, "--data-dir", help="Folder with the IDX files (gz or not; torchvision's <dir>/MNIST/raw works too) instead of downloading.", show_default=False)


def hidden_option(default: str = "200"):
    return typer.Option(default, "--hidden", help="Hidden layer widths, comma separated (e.g. 256,128).")


def activation_option(default: str = "relu"):
    return typer.Option(default, "--activation", help="Hidden activation: relu (the tutorial's) or tanh.")


def loss_option(default: str = "cross-entropy"):
    return typer.Option(default, "--loss", help="cross-entropy (the tutorial's) or mse: 0.5 ||f(x) - onehot(y)||^2 per image, averaged.")


def normalize_option(default: str = "tutorial"):
    return typer.Option(default, "--normalize", help="Input scaling: tutorial ((x/255 - 0.5)/0.5) or standardize (per pixel, the training set's mean and std).")


def seed_option():
    return typer.Option(0, "--seed", help="Seed for the initial weights and the shuffling.")


def device_option():
    return typer.Option("auto", "--device", help="auto (CUDA when present), cpu, cuda, cuda:N or mps.")


def limit_train_option():
    return typer.Option(None, "--limit-train", help="Train on the first N images only (quick runs).", show_default=False)


def parse_batch_size(text: str, flag: str = "--batch-size", auto: bool = False) -> list[int | str | None]:
    """Comma list of batch sizes; ``full`` is the whole training set (gradient descent) -> None;
    with ``auto`` (a model file's default, ``modelfile.config.AUTO``) the word ``auto`` is kept for
    the config to resolve. Any case (``FULL``, ``Auto``). An empty item is refused by
    ``parse_int_list`` with the others (``--batch-size ""`` raised StopIteration: an internal error)."""
    from ..core.config import parse_int_list
    from ..core.errors import ConfigError, Problems

    words = {"full": None} | ({"auto": "auto"} if auto else {})
    problems, sizes = Problems(), []
    for item in (t.strip() for t in str(text).split(",")):
        if item.lower() in words:
            sizes.append(words[item.lower()])
            continue
        try:
            sizes.extend(parse_int_list(item, flag) if item else [])
        except ConfigError as exc:  # 'x' is not a whole number
            for line in exc.problems:
                problems.add(line)
        if not item:
            problems.add(f"{flag}: empty value in {text!r}")
    problems.raise_if_any(ConfigError)
    return sizes


def parse_subset(text: str, flag: str = "--sharpness-subset") -> int | None:
    """A number of images, or ``all`` (None)."""
    from ..core.errors import ConfigError

    if str(text).strip().lower() in ("all", "full"):
        return None
    try:
        return int(text)
    except ValueError:
        raise ConfigError(f"{flag} must be a number of images or all, got {text!r}") from None


# -- linear regression's data options, shared by `linreg` and `lr-find linreg` -------------------
CSV = typer.Option(None, "--csv", help="CSV file with a header row (default: the tutorial's 15 points)", show_default=False)
X_COLUMNS = typer.Option(None, "--x", help="Feature column(s), comma separated (default: all but --y)", show_default=False)
Y_COLUMN = typer.Option(None, "--y", help="Target column (default: the last column)", show_default=False)
STANDARDIZE = typer.Option(False, "--standardize", help="Rescale each feature to mean 0, std 1.")
LINREG_SEED = typer.Option(2019, "--seed", help="Seed for the initial w and the shuffling.")
DTYPE = typer.Option("float32", "--dtype", help="float32 (the tutorial's) or float64.")


# -- a model file where a command studies the built-in MLP by default (`sharpness`, `noise-scale`)
MLP_ONLY = ("dataset", "data_dir", "hidden", "activation", "loss", "normalize", "limit_train")


def model_file_option():
    return typer.Argument(None, help="Your model file (.py, defining data(), model(), loss()); without one: the built-in MLP.", show_default=False)


def model_file_config(file: str, hook: str, **options):
    """(the problem's ``hook``, its config) for a model file given where the MLP is the default;
    the MLP's own flags, given beside a file, are refused by name."""
    from .. import problems
    from ..core.errors import ConfigError
    from .app import not_applicable

    refused = not_applicable([(name, False, "is the built-in MLP's; a model file brings its own "
                               "data and model") for name in MLP_ONLY])
    if refused:
        raise ConfigError(*refused)
    entry = problems.resolve(file)
    config_class = entry.config_class()
    function = entry.hook(hook)
    if entry.name == file or function is None or not hasattr(config_class, "from_source"):
        raise ConfigError(f"{file!r}: give the path of a model file (.py) here; without one the "
                          "command studies the built-in MLP")
    return function, config_class.from_source(file, **options)


def print_tracked(r: dict) -> None:
    """The sharpness a run tracked along training (``--sharpness-every``), each point beside its
    threshold: lambda_1(H) against the rule's bound over lr, or under Adam/RMSprop lambda_1(P^-1 H)
    against its edge (38/lr for Adam at beta1 0.9)."""
    what = ("preconditioned sharpness lambda_1(P^-1 H)" if r.get("sharpness_kind") == "preconditioned"
            else "sharpness")
    threshold, name = r.get("sharpness_threshold"), r.get("sharpness_threshold_label")
    beside = "" if threshold is None else f" ({name} = {threshold:.6g})"
    for point in r.get("sharpness", []):
        if point["step"] > 0:
            print(f"{what} after {point['step']} updates: {point['value']:.6g}{beside}")
