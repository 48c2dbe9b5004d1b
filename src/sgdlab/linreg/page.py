"""Linear regression on the page: `sgdlab linreg`'s options, on the tutorial's 15 points (a page
never names a file on the server, so no --csv)."""

from __future__ import annotations

from ..core.errors import ConfigError, Problems
from ..serve.forms import SEED, OptimizerOptions, PageHook

MAX_STEPS = 1_000_000


class LinregOptions(OptimizerOptions):
    """`sgdlab linreg`'s options, on the tutorial's 15 points."""

    lr: float = 1e-2
    steps: int = 32
    epochs: int | None = None
    batch_size: int | None = None
    seed: int | None = SEED
    dtype: str = "float32"
    standardize: bool = False
    plots: bool = True


def build(options: LinregOptions):
    from .config import LinRegConfig
    from .run import Prepared

    problems = Problems()
    problems.check(options.steps <= MAX_STEPS, f"--steps must be <= {MAX_STEPS:,} here")
    # the command line's rule: both set the length of the run (epochs would silently win)
    problems.check("steps" not in options.model_fields_set or options.epochs is None,
                   "--steps and --epochs both set the length of the run; give one of them")
    problems.raise_if_any(ConfigError)
    config = LinRegConfig(**options.fields(), optimizer=options.spec())
    Prepared(config)  # validates, and checks the batch size against the data: the CLI's messages
    return config


PAGE = PageHook(LinregOptions, build, "Queue a linear regression run (tutorial data)",
                summaries=(("zh", "排队训练一个线性回归（教程的数据）"),))
