"""The update rules of ``sgdlab.optim.rules`` on a 2-D point of Python floats.

A surface's point has two coordinates: a torch operation on it costs ~2 us of dispatch for a
nanosecond of arithmetic, so the descent steps a list of two floats instead. Each rule here is
the class docstring of its twin in ``optim/rules.py`` written operation for operation in the same
order (``lerp``, ``addcmul``, ``addcdiv`` spelled out as torch's CPU kernels compute them), with
the same defaults (``optim.spec.DEFAULTS``); tests/test_surface_fast.py runs both side by side.
``torch-NAME`` uses the same rule: torch.optim's class and ours agree bit for bit
(tests/test_optim.py).
"""

from __future__ import annotations

import math
from typing import Any

from ..optim import spec as optim_spec


def _sqrt(v: float) -> float:
    return math.sqrt(v) if v >= 0 else math.nan


def _lerp(a: float, b: float, w: float) -> float:
    # torch's lerp: a + w (b - a) for |w| < 0.5, else b - (b - a)(1 - w)
    return a + w * (b - a) if abs(w) < 0.5 else b - (b - a) * (1 - w)


class Stepper:
    """One optimizer on one 2-D point: ``step(point, grad)`` updates ``point`` in place."""

    def __init__(self, name: str, lr: float, hyperparameters: dict[str, Any]):
        base = optim_spec.base_name(name)
        self.kind = base
        self.hp = dict(optim_spec.normalized(optim_spec.DEFAULTS[base] | hyperparameters))
        self.lr = float(lr)
        self.t = 0
        fill = float(self.hp.get("initial_accumulator_value", 0.0))
        self.state: dict[str, list[float]] = {k: [0.0, 0.0] for k in ("b", "m", "v", "vmax")}
        self.state["sum"] = [fill, fill]  # adagrad's accumulator
        self.first = True  # SGD's momentum buffer starts as the first gradient, as torch's does
        self.step = getattr(self, "_" + base)

    def _sgd(self, w: list[float], grad) -> None:
        hp, lr = self.hp, self.lr
        momentum, wd, nesterov, damp = hp["momentum"], hp["weight_decay"], hp["nesterov"], hp["dampening"]
        first, self.first = self.first, False
        b = self.state["b"]
        for i in (0, 1):
            g = grad[i] + wd * w[i] if wd != 0 else grad[i]
            if momentum != 0:
                b[i] = g if first else b[i] * momentum + (1 - damp) * g
                g = g + momentum * b[i] if nesterov else b[i]
            w[i] = w[i] + (-lr) * g

    def _adagrad(self, w: list[float], grad) -> None:
        hp = self.hp
        self.t += 1
        s = self.state["sum"]
        step_size = self.lr / (1 + (self.t - 1) * hp["lr_decay"])
        for i in (0, 1):
            g = grad[i] + hp["weight_decay"] * w[i] if hp["weight_decay"] != 0 else grad[i]
            s[i] = s[i] + 1 * g * g
            w[i] = w[i] + (-step_size) * (g / (_sqrt(s[i]) + hp["eps"]))

    def _rmsprop(self, w: list[float], grad) -> None:
        hp, lr = self.hp, self.lr
        alpha, momentum, wd, eps = hp["alpha"], hp["momentum"], hp["weight_decay"], hp["eps"]
        v, m, b = self.state["v"], self.state["m"], self.state["b"]
        for i in (0, 1):
            g = grad[i] + wd * w[i] if wd != 0 else grad[i]
            v[i] = v[i] * alpha + (1 - alpha) * g * g
            if hp["centered"]:
                m[i] = _lerp(m[i], g, 1 - alpha)
                denom = _sqrt(v[i] + (-1) * m[i] * m[i]) + eps
            else:
                denom = _sqrt(v[i]) + eps
            if momentum > 0:
                b[i] = b[i] * momentum + g / denom
                w[i] = w[i] + (-lr) * b[i]
            else:
                w[i] = w[i] + (-lr) * (g / denom)

    def _adam(self, w: list[float], grad, decoupled: bool = False) -> None:
        hp, lr = self.hp, self.lr
        (beta1, beta2), wd, eps = hp["betas"], hp["weight_decay"], hp["eps"]
        self.t += 1
        t = float(self.t)
        m, v, vmax = self.state["m"], self.state["v"], self.state["vmax"]
        step_size = lr / (1 - beta1**t)
        correction = (1 - beta2**t) ** 0.5
        for i in (0, 1):
            g = grad[i]
            if wd != 0:
                if decoupled:
                    w[i] = w[i] * (1 - lr * wd)
                else:
                    g = g + wd * w[i]
            m[i] = _lerp(m[i], g, 1 - beta1)
            v[i] = v[i] * beta2 + (1 - beta2) * g * g
            if hp["amsgrad"]:
                vmax[i] = v[i] if v[i] > vmax[i] or v[i] != v[i] else vmax[i]
                second = vmax[i]
            else:
                second = v[i]
            denom = _sqrt(second) / correction + eps
            w[i] = w[i] + (-step_size) * (m[i] / denom)

    def _adamw(self, w: list[float], grad) -> None:
        self._adam(w, grad, decoupled=True)
