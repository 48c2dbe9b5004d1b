"""The linear model and what is known about it exactly: the tutorial's analytic gradients, the
closed-form least-squares optimum, and lambda_max of the (constant) loss Hessian."""

from __future__ import annotations

import numpy as np

from ..core.tabular import initial_parameters  # noqa: F401  (moved there; its old name here)


class LinearRegression:
    """y_hat = X w + b with J = mean((y_hat - y)^2); the problem the training loop drives."""

    def __init__(self, x, y, w, b):
        self.x, self.y = x, y
        self.w, self.b = w, b
        self.n_train = int(x.shape[0])

    def parameters(self):
        return [self.w, self.b]

    def predict(self, x=None):
        x = self.x if x is None else x
        return x @ self.w + self.b

    def loss(self, index=None):
        if index is None:
            x, y = self.x, self.y
        else:
            x, y = self.x[index], self.y[index]
        return ((x @ self.w + self.b - y) ** 2).mean()


def analytic_gradients(x, y, w, b):
    """Section 3.1.3's formulas: dJ/dw = 2/n sum x_i (w x_i + b - y_i), dJ/db = 2/n sum (...)."""
    n = x.shape[0]
    residual = x @ w + b - y
    return 2.0 / n * (x.T @ residual), 2.0 / n * residual.sum().reshape(1)


def closed_form(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, float, float]:
    """Least squares optimum (w*, b*) and its loss, in float64 (the target of every run)."""
    design = np.hstack([x.astype(np.float64), np.ones((x.shape[0], 1))])
    solution, *_ = np.linalg.lstsq(design, y.astype(np.float64), rcond=None)
    loss = float(np.mean((design @ solution - y) ** 2))
    return solution[:-1], float(solution[-1]), loss


def lambda_max(x: np.ndarray) -> float:
    """The top eigenvalue of the loss Hessian, in float64.

    For J = mean((Xw + b - y)^2) the Hessian in (w, b) is constant: H = 2/n [X 1]^T [X 1], so
    every update rule's bound from it (``optim.bounds``) is exact, not local.
    """
    design = np.hstack([x.astype(np.float64), np.ones((x.shape[0], 1))])
    with np.errstate(over="ignore", invalid="ignore"):  # said below, not as numpy's raw warning
        hessian = 2.0 / x.shape[0] * design.T @ design
    if not np.all(np.isfinite(hessian)):  # features near 1e154 and up: their squares overflow
        return float("inf")  # float64, and eigvalsh gave NaN, read as "no positive curvature"
    return float(np.linalg.eigvalsh(hessian)[-1])


def stable_lr_bound(x: np.ndarray) -> float:
    """Largest stable full-batch learning rate of plain gradient descent: 2 / lambda_max(H)
    (what ``sgdlab lr-find linreg``, which runs plain SGD, marks; other rules: ``optim.bounds``)."""
    return 2.0 / lambda_max(x)


def objective(x, y, w, b):
    """The loss J(w, b) for ``sgdlab.theory`` (curvature at any point; the lr-find bound). Its
    Hessian is constant, so Lanczos on it gives exactly ``lambda_max`` (tested)."""
    from ..theory.curvature import Objective

    return Objective([w, b], lambda params, _: ((x @ params[0] + params[1] - y) ** 2).mean())
