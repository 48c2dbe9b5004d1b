"""The largest stable learning rate of each update rule on a quadratic, from lambda_max.

On f(w) = 1/2 w^T H w every rule below acts on each eigen-direction of H (eigenvalue lambda)
separately. With g = lambda w (plus ``weight_decay * w`` when the decay is added to the gradient,
so the curvature it sees is lambda + weight_decay):

* ``gd`` (SGD, momentum 0): w <- (1 - lr lambda) w, stable iff lr < 2 / lambda.
* ``heavy-ball`` (PyTorch's form b <- beta b + g, w <- w - lr b): the iteration matrix of the
  state (w_k, w_{k-1}) has the characteristic polynomial z^2 - (1 + beta - lr lambda) z + beta;
  both roots lie inside the unit circle iff beta < 1 and 0 < lr lambda < 2 (1 + beta): lr < 2 (1 + beta)
  / lambda (the roots multiply to beta: with beta >= 1 no lr is stable, ``bound.momentum_unstable``).
* ``nesterov`` (PyTorch's form d = g + beta b): z^2 - (1 + beta - lr lambda (1 + beta)) z +
  beta (1 - lr lambda) = 0 is stable iff lr lambda < 2 (1 + beta) / (1 + 2 beta) (and, when
  beta > 1, lr lambda > 1 - 1/beta: flat directions are unstable at every lr, so no bound then).
* adaptive rules (adagrad, rmsprop, adam, adamw) divide each coordinate's step by a running
  size of its own gradients, so no fixed lr is stable or unstable: ``none``, with the reason.

tests/test_bounds.py checks each bound against the spectral radius of the 2x2 iteration matrix.
This module needs no torch: the playground and the CLI call it on every trajectory.
"""

from __future__ import annotations

import math
from typing import Any

from . import spec as optim_spec

ADAPTIVE = {"adagrad", "rmsprop", "adam", "adamw"}


def rule_of(name: str, hyperparameters: dict[str, Any]) -> str:
    """``gd``, ``heavy-ball``, ``nesterov`` or ``none`` (adaptive) for an optimizer and its settings."""
    base = optim_spec.base_name(name)
    if base in ADAPTIVE:
        return "none"
    momentum = float(hyperparameters.get("momentum") or 0.0)
    if momentum == 0:
        return "gd"
    return "nesterov" if hyperparameters.get("nesterov") else "heavy-ball"


def factor(rule: str, beta: float) -> float:
    """lr_bound * lambda_max for a rule: 2, 2 (1 + beta), 2 (1 + beta) / (1 + 2 beta)."""
    if rule == "gd":
        return 2.0
    if rule == "heavy-ball":
        return 2.0 * (1.0 + beta)
    if rule == "nesterov":
        return 2.0 * (1.0 + beta) / (1.0 + 2.0 * beta)
    raise ValueError(f"no fixed bound for rule {rule!r}")


def lr_bound(name: str, hyperparameters: dict[str, Any], lambda_max: float) -> dict[str, Any]:
    """``{"lr_bound", "lr_bound_rule", "lr_bound_key", "lr_bound_fields"}`` for one optimizer.

    ``lr_bound_rule`` is the rule in words (English, for ``--json``); ``lr_bound_key`` and
    ``lr_bound_fields`` let ``sgdlab.i18n`` say the same in another language.
    """
    base = optim_spec.base_name(name)
    rule = rule_of(name, hyperparameters)
    beta = float(hyperparameters.get("momentum") or 0.0)
    decay = float(hyperparameters.get("weight_decay") or 0.0)
    fields: dict[str, Any] = {"optimizer": name, "beta": beta, "weight_decay": decay}
    if beta >= 1 and (rule == "heavy-ball" or base == "rmsprop"):  # rmsprop: heavy-ball on its
        return _out(None, "bound.momentum_unstable", fields)  # preconditioned step: no stable lr either
    if rule == "nesterov" and beta > 1:  # roots multiply to beta (1 - lr lambda): above 1 on every
        return _out(None, "bound.nesterov_unstable", fields)  # direction flatter than (1 - 1/beta)/lr
    if rule == "none":
        key = f"bound.none.{'adam' if base in ('adam', 'adamw') else base}"
        if base in ("adam", "adamw"):
            beta1 = float((hyperparameters.get("betas") or optim_spec.DEFAULTS[base]["betas"])[0])
            fields |= {"beta1": beta1, "threshold": (2 + 2 * beta1) / (1 - beta1)}
        if base == "rmsprop":  # the same factor as preconditioned_threshold: 2 (1 + momentum)
            fields |= {"threshold": 2 * (1 + beta)}
        return _out(None, key, fields)
    # SGD's weight decay is added to the gradient: the curvature it sees is lambda + decay, and
    # the words say so (they said 2/lambda_max beside 2/(lambda_max + decay))
    curvature = lambda_max + decay
    fields["lambda_max"] = curvature
    if curvature == math.inf:  # an overflowed Hessian: no lr is stable, none is "no curvature"
        return _out(None, "bound.infinite_curvature", fields | {"rule": rule})
    if not (math.isfinite(curvature) and curvature > 0):
        return _out(None, "bound.no_curvature", fields | {"rule": rule})
    return _out(factor(rule, beta) / curvature, f"bound.{rule}" + (".decay" if decay else ""), fields)


def _out(bound: float | None, key: str, fields: dict[str, Any]) -> dict[str, Any]:
    from ..i18n import text

    return {"lr_bound": bound, "lr_bound_rule": text(key, "en", **fields), "lr_bound_key": key,
            "lr_bound_fields": fields}


def for_spec(spec, lambda_max: float) -> dict[str, Any]:
    """``lambda_max`` and the bound of a run of ``spec`` (an ``OptimizerSpec``) on a loss whose top
    Hessian eigenvalue is ``lambda_max``: what linreg and logreg put in ``--json`` and the record,
    each run (each sweep cell) with its own update rule's ``lr_bound`` and ``lr_bound_rule``."""
    own = lr_bound(spec.name, spec.hyperparameters(), lambda_max)
    return {"lambda_max": lambda_max, "lr_bound": own["lr_bound"], "lr_bound_rule": own["lr_bound_rule"]}


def preconditioned_threshold(name: str, hyperparameters: dict[str, Any], lr: float) -> tuple[float, str, str]:
    """Where an adaptive rule's preconditioned sharpness lambda_1(P^-1 H) sits at the edge of
    stability (Cohen et al. 2022), its short name ("38/lr") and the rule in words: Adam (EMA momentum beta1 on the
    preconditioned gradient) (2 + 2 beta1) / ((1 - beta1) lr), 38/lr at beta1 = 0.9; RMSprop
    (preconditioned gradient descent, heavy-ball momentum beta) 2 (1 + beta) / lr."""
    base = optim_spec.base_name(name)
    if base in ("adam", "adamw"):
        beta1 = float((hyperparameters.get("betas") or optim_spec.DEFAULTS[base]["betas"])[0])
        factor_ = (2 + 2 * beta1) / (1 - beta1)
        return (factor_ / lr, f"{factor_:g}/lr",
                f"(2+2beta1)/((1-beta1) lr) = {factor_:g}/lr with beta1 = {beta1:.10g}")
    if base == "rmsprop":
        beta = float(hyperparameters.get("momentum") or 0.0)
        short = f"{2 * (1 + beta):g}/lr"
        return 2 * (1 + beta) / lr, short, ("2/lr" if beta == 0 else f"2(1+beta)/lr = {short} with beta = {beta:g}")
    raise ValueError(f"{name} has no preconditioned-sharpness threshold (adam, adamw, rmsprop have)")
