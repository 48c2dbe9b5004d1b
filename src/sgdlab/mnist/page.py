"""The MLP on the page: `sgdlab mnist`'s options, on mnist-5k (the data set that ships; a page
downloads nothing and names no folder on the server)."""

from __future__ import annotations

from pydantic import Field

from ..core.config import parse_int_list
from ..core.errors import ConfigError, Problems
from ..serve.forms import SEED, OptimizerOptions, PageHook

MAX_EPOCHS = 100


class MnistOptions(OptimizerOptions):
    """`sgdlab mnist`'s options, on mnist-5k (the data set that ships; no downloads)."""

    dataset: str = "mnist-5k"
    hidden: str = Field("200", description='hidden widths as on the command line: "256,128"')
    batch_size: int = 100
    lr: float = 1e-2
    epochs: int = 1
    seed: int | None = SEED
    device: str = "auto"
    limit_train: int | None = None
    limit_test: int | None = None
    plots: bool = True


def build(options: MnistOptions):
    import torch

    from . import datasets
    from .config import MnistConfig, resolve_device
    from .run import tensors

    problems = Problems()
    problems.check(options.epochs <= MAX_EPOCHS, f"--epochs must be <= {MAX_EPOCHS} here")
    problems.check(options.dataset == "mnist-5k", f"--dataset {options.dataset!r}: the server trains on "
                   "mnist-5k only (it ships with sgdlab; nothing is downloaded for a page)")
    problems.raise_if_any(ConfigError)
    config = MnistConfig(**options.fields("hidden"), hidden=parse_int_list(options.hidden, "--hidden"),
                         optimizer=options.spec())
    config.validate()
    resolve_device(config.device)  # cuda asked for where there is none: refused now
    tensors(config, datasets.load(config.dataset), torch.device("cpu"))  # batch size vs the data
    return config


PAGE = PageHook(MnistOptions, build, "Queue an MLP run on mnist-5k", on_epoch=True,  # accuracy live
                summaries=(("zh", "排队训练一个 MLP（mnist-5k）"),))
