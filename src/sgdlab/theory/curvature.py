"""Curvature of a training loss from Hessian-vector products: top eigenvalues, trace, 2/lambda_max.

A problem describes its loss as an ``Objective``: the parameter tensors and a closure
``loss(params, chunk)`` giving the mean loss over one chunk of the data, with each chunk's weight
(its share of the examples). The loss over the whole set is the weighted sum, so its Hessian
H = sum_c w_c H_c, and a Hessian-vector product H v is computed chunk by chunk: memory is bounded
by one chunk's activations, whatever the size of the data set.

* ``hvp``: double backward (grad of <grad L, v>), as locuslab/edge-of-stability does; measured here
  on the 784-200-200-10 MLP it costs the same as torch.func's forward-over-reverse ``jvp(grad)``.
* ``top_eigenvalues``: Lanczos through ``scipy.sparse.linalg.eigsh`` on a ``LinearOperator``.
  Power iteration is not used: the top two eigenvalues of an MLP's MSE Hessian are close, and its
  error shrinks like (lambda_2 / lambda_1)^t. ``v0`` warm-starts it (``Sharpness`` passes the
  previous top eigenvector: while the sharpness rises an estimate then takes 9 products, not 17).
  Below ``DENSE_MAX`` parameters the Hessian is built column by column from the same products and
  solved exactly (ARPACK needs k < ncv <= dim, and a 2x2 or 3x3 Hessian gains nothing from it).
* ``hutchinson_trace``: tr(H) = E[z^T H z] for Rademacher z.
* ``preconditioned_hvp`` / ``top_eigenvalues(..., scale=d)``: the preconditioned sharpness
  lambda_1(P^-1 H) of an adaptive optimizer (P diagonal, from its second-moment state; Cohen et al.
  2022), by the same Lanczos on the symmetric D H D with D = P^-1/2, which has the eigenvalues of
  P^-1 H (P^-1 H = D (D H D) D^-1). ``adaptive_preconditioner`` reads P from Adam's or RMSprop's state.

Gradient descent on a quadratic converges iff lr < 2 / lambda_max; ``lr_bound`` says so.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Callable, Sequence

import numpy as np
import torch

DENSE_MAX = 64  # at most this many parameters: exact eigenvalues of the Hessian built from HVPs
LANCZOS_TOL = 1e-3  # ARPACK's relative accuracy of the eigenvalues (0.1%: finer than any curve here needs)
LANCZOS_NCV = 8  # Lanczos vectors per restart (at least 2k + 1). scipy's default, 20, costs 20
#                  products before its first answer. Measured on the 784-200-200-10 MLP under
#                  gradient descent, warm-started: 9 products per estimate while it sharpens (21
#                  with 20 vectors); 13 to 33 at the edge of stability, where the top eigenvalues
#                  crowd together (4 vectors then needed up to 73)
LANCZOS_MAXITER = 500  # restarts before ARPACK gives up (what converged is kept, NaN for the rest)
START_SEED = 0  # the first Lanczos vector is drawn from this seed: the same answer every time


@dataclass
class Objective:
    """The training loss as theory sees it.

    ``params``: the parameter tensors (read, never modified); ``loss(params, chunk)``: the mean
    loss over one chunk, differentiable in ``params``; ``chunks``: (chunk, weight) pairs whose
    weights sum to 1 (``None`` as the only chunk: the loss needs no data argument).
    """

    params: Sequence[torch.Tensor]
    loss: Callable[[list[torch.Tensor], Any], torch.Tensor]
    chunks: list[tuple[Any, float]] = field(default_factory=lambda: [(None, 1.0)])

    @property
    def dim(self) -> int:
        return sum(int(p.numel()) for p in self.params)

    def leaves(self) -> list[torch.Tensor]:
        """Fresh leaf copies of the parameters that autograd can differentiate."""
        return [p.detach().requires_grad_(True) for p in self.params]


def flatten(tensors: Sequence[torch.Tensor]) -> torch.Tensor:
    return torch.cat([t.reshape(-1) for t in tensors])


def unflatten(vector: torch.Tensor, like: Sequence[torch.Tensor]) -> list[torch.Tensor]:
    sizes = [int(t.numel()) for t in like]
    return [v.view_as(t) for v, t in zip(torch.split(vector, sizes), like)]


def chunks_of(n: int, size: int) -> list[tuple[slice, float]]:
    """Row slices of at most ``size`` rows covering ``n`` rows, each weighted by its share."""
    size = max(1, int(size))
    return [(slice(b, min(b + size, n)), (min(b + size, n) - b) / n) for b in range(0, n, size)]


def loss_value(objective: Objective) -> float:
    with torch.no_grad():
        return float(sum(w * objective.loss(list(objective.params), c) for c, w in objective.chunks))


def gradient(objective: Objective) -> torch.Tensor:
    """The gradient of the whole loss, flattened."""
    leaves = objective.leaves()
    total = torch.zeros(objective.dim, dtype=leaves[0].dtype, device=leaves[0].device)
    for chunk, weight in objective.chunks:
        grads = torch.autograd.grad(objective.loss(leaves, chunk), leaves, allow_unused=True)
        total += weight * flatten(_zeros_for_none(grads, leaves))
    return total


def hvp(objective: Objective, vector: torch.Tensor) -> torch.Tensor:
    """H v for the whole loss, one chunk at a time (double backward)."""
    leaves = objective.leaves()
    directions = unflatten(vector.to(dtype=leaves[0].dtype, device=leaves[0].device), leaves)
    total = torch.zeros(objective.dim, dtype=leaves[0].dtype, device=leaves[0].device)
    for chunk, weight in objective.chunks:
        grads = torch.autograd.grad(objective.loss(leaves, chunk), leaves, create_graph=True,
                                    allow_unused=True)
        pairs = [(g, d) for g, d in zip(grads, directions) if g is not None and g.requires_grad]
        if not pairs:  # the loss is linear in the parameters here: H = 0
            continue
        dot = sum((g * d).sum() for g, d in pairs)
        second = torch.autograd.grad(dot, leaves, allow_unused=True)
        total += weight * flatten(_zeros_for_none(second, leaves))
    return total


def preconditioned_hvp(objective: Objective, vector: torch.Tensor, scale: torch.Tensor) -> torch.Tensor:
    """D H D v with D = diag(``scale``) (scale = P^-1/2: the symmetric form of P^-1 H)."""
    return scale * hvp(objective, scale * vector.to(scale.dtype))


def _zeros_for_none(grads, leaves) -> list[torch.Tensor]:
    return [torch.zeros_like(p) if g is None else g for g, p in zip(grads, leaves)]


@dataclass
class Eigen:
    """Top eigenvalues (descending), their eigenvectors (dim x k, float64), products used."""

    values: list[float]
    vectors: np.ndarray
    matvecs: int
    method: str  # "lanczos" or "dense"


def top_eigenvalues(objective: Objective, k: int = 1, *, v0: np.ndarray | None = None,
                    tol: float = LANCZOS_TOL, ncv: int | None = None,
                    dense_max: int = DENSE_MAX, scale: torch.Tensor | None = None) -> Eigen:
    """The ``k`` largest (algebraic) eigenvalues of the loss Hessian, from HVPs only; with
    ``scale`` = P^-1/2 (flat, > 0), those of P^-1 H (through D H D, eigenvectors of D H D)."""
    dim = objective.dim
    if k < 1 or k > dim:
        raise ValueError(f"k must be in 1..{dim}, got {k}")
    count = [0]
    if scale is not None:
        scale = scale.detach().to("cpu", torch.float64)

    def matvec(v: np.ndarray) -> np.ndarray:
        count[0] += 1
        vector = torch.from_numpy(np.ascontiguousarray(v, dtype=np.float64).ravel())
        out = hvp(objective, vector) if scale is None else preconditioned_hvp(objective, vector, scale)
        return out.detach().to("cpu", torch.float64).numpy()

    if not math.isfinite(loss_value(objective)):  # no curvature to speak of at a diverged point
        return Eigen([math.nan] * k, np.full((dim, k), math.nan), 0, "none")
    if dim <= dense_max or k >= dim - 1:
        hessian = np.stack([matvec(column) for column in np.eye(dim)], axis=1)
        hessian = (hessian + hessian.T) / 2  # symmetric up to rounding
        values, vectors = np.linalg.eigh(hessian)
        return Eigen(values[::-1][:k].tolist(), vectors[:, ::-1][:, :k].copy(), count[0], "dense")
    start = _start_vector(dim) if v0 is None or v0.shape != (dim,) or not np.any(v0) else v0
    ncv = min(dim, max(ncv or LANCZOS_NCV, 2 * k + 1))
    try:
        from scipy.sparse.linalg import ArpackNoConvergence, LinearOperator, eigsh
    except ImportError:  # only a bare PYTHONPATH checkout lacks SciPy (a dependency of sgdlab)
        values, vectors = _lanczos_without_scipy(matvec, dim, k, start, tol)
        return Eigen(values, vectors, count[0], "lanczos (no scipy)")
    operator = LinearOperator((dim, dim), matvec=matvec, dtype=np.float64)
    try:
        with _one_blas_thread():
            values, vectors = eigsh(operator, k=k, which="LA", v0=start, tol=tol, ncv=ncv,
                                    maxiter=LANCZOS_MAXITER)
    except ArpackNoConvergence as exc:  # keep what converged; NaN for the rest
        values = np.full(k, math.nan)
        vectors = np.full((dim, k), math.nan)
        got = len(exc.eigenvalues)
        values[k - got:], vectors[:, k - got:] = exc.eigenvalues, exc.eigenvectors
    order = np.argsort(values)[::-1]
    return Eigen(values[order].tolist(), vectors[:, order].copy(), count[0], "lanczos")


def _one_blas_thread():
    """ARPACK's own vector work is tiny, but SciPy's OpenBLAS threads spin-wait after it and take
    the cores from torch's Hessian-vector products: measured here, an estimate took 0.81 s with
    them and 0.30 s with one BLAS thread (benchmarks/theory.py). threadpoolctl limits them."""
    import contextlib

    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # a bare checkout: correct, only slower
        return contextlib.nullcontext()
    return threadpool_limits(limits=1, user_api="blas")


def _lanczos_without_scipy(matvec, dim: int, k: int, start: np.ndarray, tol: float,
                           max_steps: int = 300) -> tuple[list[float], np.ndarray]:
    """Plain Lanczos with full reorthogonalisation, for machines without SciPy (benchmarks run
    from a bare checkout): grows the Krylov basis until the top k Ritz pairs' residuals are
    below tol * |lambda|. Tested against eigvalsh; eigsh remains the implementation sgdlab uses."""
    basis = [start / np.linalg.norm(start)]
    alphas: list[float] = []
    betas: list[float] = []
    for step in range(min(max_steps, dim)):
        w = matvec(basis[-1])
        alphas.append(float(w @ basis[-1]))
        for q in basis:  # full reorthogonalisation (twice is enough)
            w = w - (w @ q) * q
        for q in basis:
            w = w - (w @ q) * q
        beta = float(np.linalg.norm(w))
        tridiagonal = np.diag(alphas) + np.diag(betas, 1) + np.diag(betas, -1)
        ritz, vectors = np.linalg.eigh(tridiagonal)
        top = slice(len(ritz) - min(k, len(ritz)), len(ritz))
        residuals = beta * np.abs(vectors[-1, top])
        if len(ritz) >= k and (np.all(residuals <= tol * np.abs(ritz[top])) or beta < 1e-12):
            break
        betas.append(beta)
        basis.append(w / beta)
    q = np.stack(basis[: len(alphas)], axis=1)
    order = np.argsort(ritz)[::-1][:k]
    return ritz[order].tolist(), q @ vectors[:, order]


def _start_vector(dim: int) -> np.ndarray:
    generator = torch.Generator().manual_seed(START_SEED)
    return torch.randn(dim, generator=generator, dtype=torch.float64).numpy()


def lr_bound(lambda_max: float) -> float | None:
    """2 / lambda_max: the largest stable learning rate of full-batch gradient descent on the
    local quadratic model (None when there is no positive curvature)."""
    if not (math.isfinite(lambda_max) and lambda_max > 0):
        return None
    return 2.0 / lambda_max


class Sharpness:
    """lambda_max along training, each Lanczos warm-started from the last top eigenvector."""

    def __init__(self, tol: float = LANCZOS_TOL):
        self.tol = tol
        self.vector: np.ndarray | None = None
        self.matvecs = 0  # Hessian-vector products used so far (the cost)
        self.estimates = 0

    def __call__(self, objective: Objective) -> float:
        eigen = top_eigenvalues(objective, 1, v0=self.vector, tol=self.tol)
        self.matvecs += eigen.matvecs
        self.estimates += 1
        value = eigen.values[0]
        if math.isfinite(value):
            self.vector = eigen.vectors[:, 0]
        return value


class PreconditionedSharpness(Sharpness):
    """lambda_1(P^-1 H) along training (``P``: the flat diagonal preconditioner at each call)."""

    def __call__(self, objective: Objective, p_diag: torch.Tensor) -> float:
        scale = p_diag.detach().double().rsqrt()
        eigen = top_eigenvalues(objective, 1, v0=self.vector, tol=self.tol, scale=scale)
        self.matvecs += eigen.matvecs
        self.estimates += 1
        if math.isfinite(eigen.values[0]):
            self.vector = eigen.vectors[:, 0]
        return eigen.values[0]


def adaptive_preconditioner(optimizer, params, grads=None) -> torch.Tensor | None:
    """P (flat) of the optimizer's last update: Adam sqrt(v / (1 - beta2^t)) + eps, RMSprop
    sqrt(v) + eps (centered: sqrt(v - m^2) + eps). Before the first update (no state) and with
    ``grads``, the P the first update will use: v_hat = g^2 for Adam, (1 - alpha) g^2 for RMSprop.
    None for a rule without a second moment."""
    group_of = {id(p): g for g in optimizer.param_groups for p in g["params"]}
    parts = []
    for i, p in enumerate(params):
        state, group = optimizer.state.get(p, {}), group_of[id(p)]
        if "exp_avg_sq" in state:  # adam, adamw
            v = state["max_exp_avg_sq"] if group.get("amsgrad") else state["exp_avg_sq"]
            parts.append(v.sqrt() / math.sqrt(1 - group["betas"][1] ** float(state["step"])) + group["eps"])
        elif "square_avg" in state:  # rmsprop
            v = state["square_avg"]
            if group.get("centered"):
                v = v - state["grad_avg"] ** 2
            parts.append(v.sqrt() + group["eps"])
        elif grads is not None and ("betas" in group or "alpha" in group):
            share = 1.0 if "betas" in group else 1 - group["alpha"]
            parts.append((share * grads[i] ** 2).sqrt() + group["eps"])
        elif grads is None and ("betas" in group or "alpha" in group) and optimizer.state:
            # a parameter the loss never reached (grad None): the optimizer skipped it, so its
            # second moment is the zeros it would hold had every gradient been 0: P = eps
            parts.append(torch.full_like(p, group["eps"]))
        else:
            return None
    return flatten(parts)


def hutchinson_trace(objective: Objective, samples: int, generator: torch.Generator) -> tuple[float, float]:
    """Hutchinson's estimate of tr(H) from ``samples`` Rademacher probes: (mean, standard error)."""
    leaf = objective.params[0]
    values = []
    for _ in range(samples):
        z = torch.randint(0, 2, (objective.dim,), generator=generator).to(leaf.dtype).mul_(2).sub_(1)
        values.append(float(z.to(leaf.device) @ hvp(objective, z)))
    mean = sum(values) / samples
    if samples < 2:
        return mean, math.nan
    var = sum((v - mean) ** 2 for v in values) / (samples - 1)
    return mean, math.sqrt(var / samples)
