"""The range test's hook for linear regression (``sgdlab lr-find linreg``): the tutorial's model
at its initialisation, plain SGD, and beside it plain SGD's exact bound 2 / lambda_max (the Hessian
is constant; ``optim.bounds``' ``gd`` rule, the rule the range test runs)."""

from __future__ import annotations

from ..core.lr_range import Setup, stepper
from .config import LinRegConfig


def setup(config: LinRegConfig) -> Setup:
    from .. import optim
    from ..optim import bounds
    from ..core.tabular import initial_parameters
    from .model import LinearRegression
    from .run import Prepared

    prep = Prepared(config)
    w, b, generator = initial_parameters(config.seed, prep.d, prep.dtype)
    problem = LinearRegression(prep.x, prep.y, w.requires_grad_(True), b.requires_grad_(True))
    optimizer = optim.create("sgd", problem.parameters(), lr=config.lr)
    batch_size, _ = prep.schedule(config)
    bound = bounds.lr_bound("sgd", {}, prep.lambda_max)["lr_bound"]  # the range test's own rule
    return Setup(step=stepper(problem, optimizer, batch_size, generator), bound=bound,
                 config=config.to_dict(), data=prep.data_info(config), batch_size=batch_size)
