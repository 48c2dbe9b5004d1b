"""The logistic model and what is known about it exactly: the gradient by hand, Newton's
optimum, and lambda_max of the Hessian at initialisation (each rule's bound); and the data."""

from __future__ import annotations

import numpy as np

# the two blobs and the 0/1 check serve any classifier of a table: they live in core.tabular
from ..core.tabular import Table, blobs, check_labels, read_csv


def load(config) -> Table:
    if config.csv is None:
        return blobs(config.points, config.separation, config.data_seed)
    return check_labels(read_csv(config.csv, config.x, config.y, task="logistic regression"))


class LogisticRegression:
    """p = sigmoid(X w + b), J = mean(softplus(z) - y z) (the cross-entropy, written stably)."""

    def __init__(self, x, y, w, b):
        self.x, self.y, self.w, self.b = x, y, w, b
        self.n_train = int(x.shape[0])

    def parameters(self):
        return [self.w, self.b]

    def loss(self, index=None):
        import torch

        x, y = (self.x, self.y) if index is None else (self.x[index], self.y[index])
        z = x @ self.w + self.b
        return (torch.nn.functional.softplus(z) - y * z).mean()

    def loss_and_grad(self, index=None):
        """The loss, with each parameter's ``.grad`` set by hand: dJ/dw = X^T (p - y) / n."""
        import torch

        x, y = (self.x, self.y) if index is None else (self.x[index], self.y[index])
        with torch.no_grad():
            z = x @ self.w + self.b
            r = torch.sigmoid(z) - y
            self.w.grad, self.b.grad = x.T @ r / x.shape[0], r.sum().reshape(1) / x.shape[0]
            return (torch.nn.functional.softplus(z) - y * z).mean()


def _design(x: np.ndarray) -> np.ndarray:
    return np.hstack([x.astype(np.float64), np.ones((x.shape[0], 1))])


def hessian(x: np.ndarray, theta: np.ndarray) -> np.ndarray:
    """A^T diag(p (1 - p)) A / n at theta = (w, b), A = [X 1]."""
    a = _design(x)
    p = 1 / (1 + np.exp(-(a @ theta)))
    return a.T @ (a * (p * (1 - p))[:, None]) / len(a)


def lambda_max(x: np.ndarray, w: np.ndarray, b: float) -> float:
    """The top eigenvalue of the Hessian at (w, b): local, as the loss is not quadratic."""
    return float(np.linalg.eigvalsh(hessian(x, np.append(w, b)))[-1])


def lr_bound(x: np.ndarray, w: np.ndarray, b: float) -> float:
    """2 / lambda_max at (w, b): full-batch gradient descent's stable step there (lr-find's)."""
    return 2.0 / lambda_max(x, w, b)


def newton(x: np.ndarray, y: np.ndarray, iterations: int = 50) -> tuple[np.ndarray, float, float] | None:
    """The optimum (w*, b*) and its loss by Newton's method in float64; None where there is
    none (separable data: the loss falls towards 0 as |w| grows without end)."""
    a, theta = _design(x), np.zeros(x.shape[1] + 1)
    for _ in range(iterations):
        grad = a.T @ (1 / (1 + np.exp(-(a @ theta))) - y) / len(y)
        if np.linalg.norm(grad) < 1e-12:
            break
        try:
            theta = theta - np.linalg.solve(hessian(x, theta), grad)
        except np.linalg.LinAlgError:  # a singular Hessian (collinear features)
            return None
    z = a @ theta
    # a theta that puts every point on its own side means separable data (no finite optimum);
    # so does a gradient Newton could not drive to 0
    if np.all((2 * y - 1) * z > 0) or not np.linalg.norm(a.T @ (1 / (1 + np.exp(-z)) - y)) / len(y) < 1e-8:
        return None
    return theta[:-1], float(theta[-1]), float(np.mean(np.logaddexp(0.0, z) - y * z))
