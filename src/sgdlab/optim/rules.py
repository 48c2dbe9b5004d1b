"""Hand-written update rules with torch.optim's interface.

Each rule subclasses ``torch.optim.Optimizer`` so that ``zero_grad``, ``state_dict``,
``load_state_dict`` and parameter groups behave exactly like PyTorch's; only ``step`` is ours, and
it reads like the formula in the class docstring. The state keys (``momentum_buffer``, ``step``,
``exp_avg``, ...) are torch.optim's, and each line uses the same tensor operation as torch's
single-tensor path, so a rule and its torch.optim twin agree bit for bit (tests/test_optim.py).
"""

from __future__ import annotations

from typing import Any, Iterable

import torch

from ..core.errors import ConfigError
from . import spec


def _scalar_dtype() -> torch.dtype:
    # torch.optim keeps its step counters in float64 only when that is the default dtype
    return torch.float64 if torch.get_default_dtype() == torch.float64 else torch.float32


class Rule(torch.optim.Optimizer):
    """What every rule shares: validated hyperparameters, and ``step`` calling ``update``."""

    name = ""
    batched = False

    def __init__(self, params: Iterable, **defaults: Any):
        problems = spec.check(self.name, spec.normalized(defaults), batched=self.batched)
        if problems:
            raise ConfigError(*problems)
        super().__init__(params, spec.normalized(defaults))

    def add_param_group(self, param_group: dict[str, Any]) -> None:
        super().add_param_group(param_group)
        group = self.param_groups[-1]
        group.update(spec.normalized({k: v for k, v in group.items() if k != "params"}))
        problems = spec.check(self.name, group, batched=self.batched)
        if problems:
            self.param_groups.pop()
            raise ConfigError(*problems)

    @torch.no_grad()
    def step(self, closure=None):
        """One update of every parameter that has a gradient; returns ``closure()``'s loss."""
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is not None:
                    self.update(p, p.grad, self.state[p], group)
                    if not self.state[p]:  # like torch.optim: no entry for a rule without state
                        del self.state[p]
        return loss

    def update(self, p: torch.Tensor, grad: torch.Tensor, state: dict, group: dict) -> None:
        raise NotImplementedError


class SGD(Rule):
    """Stochastic gradient descent: the tutorial's ``sgd_update``, plus momentum and weight decay.

    Update, per parameter w with gradient grad::

        g = grad + weight_decay * w
        b = momentum * b + (1 - dampening) * g        (b = g on the first step)
        d = g + momentum * b if nesterov else b       (d = g when momentum = 0)
        w = w - lr * d

    With the defaults this is section 4.2.3's ``param.data = param.data - lr * param.grad.data``.
    """

    name = "sgd"

    def __init__(self, params: Iterable, lr: float = 1e-3, momentum: float = 0.0,
                 dampening: float = 0.0, weight_decay: float = 0.0, nesterov: bool = False):
        super().__init__(params, lr=lr, momentum=momentum, dampening=dampening,
                         weight_decay=weight_decay, nesterov=nesterov)

    @torch.no_grad()
    def step(self, closure=None):
        """The plain rule (no momentum, no weight decay) as one ``torch._foreach_add_`` over every
        parameter: the same ``w + (-lr) * grad`` per element as ``add_`` (bit for bit), without a
        Python call per tensor; anything else goes through ``update`` one tensor at a time."""
        def plain(group) -> bool:  # numbers, not the batched rules' per-model tensors
            values = [group["lr"], group["momentum"], group["weight_decay"]]
            return not any(torch.is_tensor(v) for v in values) and values[1] == 0 and values[2] == 0

        if closure is not None or not all(plain(g) for g in self.param_groups):
            return super().step(closure)
        for group in self.param_groups:
            params = [p for p in group["params"] if p.grad is not None]
            if params:
                torch._foreach_add_(params, [p.grad for p in params], alpha=-group["lr"])
        return None

    def update(self, w, grad, state, group):
        lr, momentum, wd = group["lr"], group["momentum"], group["weight_decay"]
        g = grad.add(w, alpha=wd) if wd != 0 else grad
        if momentum != 0:
            if "momentum_buffer" not in state:
                state["momentum_buffer"] = g.detach().clone()
            else:
                state["momentum_buffer"].mul_(momentum).add_(g, alpha=1 - group["dampening"])
            b = state["momentum_buffer"]
            g = g.add(b, alpha=momentum) if group["nesterov"] else b
        w.add_(g, alpha=-lr)


class Adagrad(Rule):
    """Adagrad: each coordinate's step shrinks with the sum of its squared gradients.

    Update, per parameter w with gradient grad, at step t = 1, 2, ...::

        g = grad + weight_decay * w
        s = s + g^2                                   (s starts at initial_accumulator_value)
        w = w - lr / (1 + (t - 1) * lr_decay) * g / (sqrt(s) + eps)
    """

    name = "adagrad"

    def __init__(self, params: Iterable, lr: float = 1e-2, lr_decay: float = 0.0,
                 weight_decay: float = 0.0, initial_accumulator_value: float = 0.0,
                 eps: float = 1e-10):
        super().__init__(params, lr=lr, lr_decay=lr_decay, weight_decay=weight_decay,
                         initial_accumulator_value=initial_accumulator_value, eps=eps)
        for group in self.param_groups:  # like torch: the state exists before the first step
            for p in group["params"]:
                self._init_state(p, self.state[p], group)

    def _init_state(self, p, state, group):
        state["step"] = torch.tensor(0.0, dtype=_scalar_dtype())
        state["sum"] = torch.full_like(p, group["initial_accumulator_value"],
                                       memory_format=torch.preserve_format)

    def update(self, w, grad, state, group):
        if "sum" not in state:
            self._init_state(w, state, group)
        state["step"] += 1
        t, wd = state["step"].item(), group["weight_decay"]
        g = grad.add(w, alpha=wd) if wd != 0 else grad
        state["sum"].addcmul_(g, g, value=1)
        step_size = group["lr"] / (1 + (t - 1) * group["lr_decay"])
        w.addcdiv_(g, state["sum"].sqrt().add_(group["eps"]), value=-step_size)


class RMSprop(Rule):
    """RMSprop: divide the gradient by a running root mean square of recent gradients.

    Update, per parameter w with gradient grad::

        g = grad + weight_decay * w
        v = alpha * v + (1 - alpha) * g^2
        c = v - m^2 with m = alpha * m + (1 - alpha) * g   if centered, else c = v
        b = momentum * b + g / (sqrt(c) + eps);  w = w - lr * b      if momentum > 0
        w = w - lr * g / (sqrt(c) + eps)                             otherwise
    """

    name = "rmsprop"

    def __init__(self, params: Iterable, lr: float = 1e-2, alpha: float = 0.99, eps: float = 1e-8,
                 weight_decay: float = 0.0, momentum: float = 0.0, centered: bool = False):
        super().__init__(params, lr=lr, alpha=alpha, eps=eps, weight_decay=weight_decay,
                         momentum=momentum, centered=centered)

    def update(self, w, grad, state, group):
        alpha, momentum, wd = group["alpha"], group["momentum"], group["weight_decay"]
        if not state:
            state["step"] = torch.tensor(0.0, dtype=_scalar_dtype())
            state["square_avg"] = torch.zeros_like(w, memory_format=torch.preserve_format)
            if momentum > 0:
                state["momentum_buffer"] = torch.zeros_like(w, memory_format=torch.preserve_format)
            if group["centered"]:
                state["grad_avg"] = torch.zeros_like(w, memory_format=torch.preserve_format)
        state["step"] += 1
        g = grad.add(w, alpha=wd) if wd != 0 else grad
        v = state["square_avg"].mul_(alpha).addcmul_(g, g, value=1 - alpha)
        if group["centered"]:
            m = state["grad_avg"].lerp_(g, 1 - alpha)
            denom = v.addcmul(m, m, value=-1).sqrt_().add_(group["eps"])
        else:
            denom = v.sqrt().add_(group["eps"])
        if momentum > 0:
            b = state["momentum_buffer"].mul_(momentum).addcdiv_(g, denom)
            w.add_(b, alpha=-group["lr"])
        else:
            w.addcdiv_(g, denom, value=-group["lr"])


class Adam(Rule):
    """Adam: momentum on the gradient, divided by a running root mean square, bias corrected.

    Update, per parameter w with gradient grad, at step t = 1, 2, ...::

        g = grad + weight_decay * w
        m = beta1 * m + (1 - beta1) * g
        v = beta2 * v + (1 - beta2) * g^2             (amsgrad: v_max = max(v_max, v), used as v)
        w = w - lr / (1 - beta1^t) * m / (sqrt(v) / sqrt(1 - beta2^t) + eps)
    """

    name = "adam"
    decoupled = False  # AdamW: decay the weights directly instead of adding to the gradient

    def __init__(self, params: Iterable, lr: float = 1e-3, betas: tuple[float, float] = (0.9, 0.999),
                 eps: float = 1e-8, weight_decay: float = 0.0, amsgrad: bool = False):
        super().__init__(params, lr=lr, betas=betas, eps=eps, weight_decay=weight_decay,
                         amsgrad=amsgrad)

    def update(self, w, grad, state, group):
        lr, (beta1, beta2), wd = group["lr"], group["betas"], group["weight_decay"]
        if not state:
            state["step"] = torch.tensor(0.0, dtype=_scalar_dtype())
            state["exp_avg"] = torch.zeros_like(w, memory_format=torch.preserve_format)
            state["exp_avg_sq"] = torch.zeros_like(w, memory_format=torch.preserve_format)
            if group["amsgrad"]:
                state["max_exp_avg_sq"] = torch.zeros_like(w, memory_format=torch.preserve_format)
        state["step"] += 1
        t = state["step"].item()
        g = grad
        if wd != 0:
            if self.decoupled:
                w.mul_(1 - lr * wd)
            else:
                g = grad.add(w, alpha=wd)
        m = state["exp_avg"].lerp_(g, 1 - beta1)  # m + (1 - beta1)(g - m)
        v = state["exp_avg_sq"].mul_(beta2).addcmul_(g, g, value=1 - beta2)
        if group["amsgrad"]:
            v = torch.maximum(state["max_exp_avg_sq"], v, out=state["max_exp_avg_sq"])
        step_size = lr / (1 - beta1**t)
        denom = (v.sqrt() / (1 - beta2**t) ** 0.5).add_(group["eps"])
        w.addcdiv_(m, denom, value=-step_size)


class AdamW(Adam):
    """AdamW: Adam with decoupled weight decay (the decay never enters m or v).

    Update, per parameter w with gradient g = grad, at step t = 1, 2, ...::

        w = w * (1 - lr * weight_decay)
        m = beta1 * m + (1 - beta1) * g
        v = beta2 * v + (1 - beta2) * g^2             (amsgrad: v_max = max(v_max, v), used as v)
        w = w - lr / (1 - beta1^t) * m / (sqrt(v) / sqrt(1 - beta2^t) + eps)
    """

    name = "adamw"
    decoupled = True

    def __init__(self, params: Iterable, lr: float = 1e-3, betas: tuple[float, float] = (0.9, 0.999),
                 eps: float = 1e-8, weight_decay: float = 1e-2, amsgrad: bool = False):
        super().__init__(params, lr=lr, betas=betas, eps=eps, weight_decay=weight_decay,
                         amsgrad=amsgrad)


RULES: dict[str, type[Rule]] = {
    "sgd": SGD, "adagrad": Adagrad, "rmsprop": RMSprop, "adam": Adam, "adamw": AdamW,
}
TORCH_RULES: dict[str, Any] = {
    "torch-sgd": torch.optim.SGD, "torch-adagrad": torch.optim.Adagrad,
    "torch-rmsprop": torch.optim.RMSprop, "torch-adam": torch.optim.Adam,
    "torch-adamw": torch.optim.AdamW,
}
