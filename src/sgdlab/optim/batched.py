"""The same update rules on K models at once, each with its own hyperparameters.

Every parameter is a stack of K models' parameters along a leading model dimension (shape
``(K, ...)``); every hyperparameter is a number (the same for all K) or a 1-D tensor of K values,
broadcast over the remaining dimensions. One ``step()`` advances K runs, using each stacked
parameter's ``p.grad``; ``zero_grad()``, ``state_dict()`` and parameter groups are torch.optim's.
This is what torch.optim cannot do (its hyperparameters are one number per group), and what makes
a sweep over learning rates one vectorized run::

    w = torch.zeros(K, d, requires_grad=True)            # K linear models
    opt = optim.batched.create("adam", [w], lr=torch.logspace(-3, -1, K), betas=(0.9, 0.999))
    loss = ((torch.bmm(x, w.unsqueeze(-1)).squeeze(-1) - y) ** 2).mean(1).sum()
    loss.backward(); opt.step(); opt.zero_grad()

The sum over models keeps each model's gradient its own. K batched runs equal K separate runs
of ``rules.py`` (tests/test_optim_batched.py: relative 1e-12 in float64; nearly always bit for bit,
except a model with momentum 0 among models with momentum, which goes the buffer path).
On/off switches (``nesterov``, ``centered``, ``amsgrad``) are one bool for all K models.
"""

from __future__ import annotations

from typing import Any, Iterable

import torch

from ..core.errors import ConfigError
from . import rules, spec


class Batched(rules.Rule):
    """Mixin: hyperparameters become (K,) tensors; ``hp(group, key, p)`` views them as (K, 1, ...)."""

    batched = True

    def add_param_group(self, param_group: dict[str, Any]) -> None:
        params = param_group["params"]
        params = [params] if isinstance(params, torch.Tensor) else list(params)
        if not params or any(p.dim() == 0 for p in params):
            raise ConfigError(f"{self.name}: batched parameters need a leading model dimension (K, ...)")
        k = params[0].shape[0]
        if any(p.shape[0] != k for p in params):
            shapes = ", ".join(str(tuple(p.shape)) for p in params)
            raise ConfigError(f"{self.name}: every batched parameter needs the same number of models "
                              f"in its first dimension, got shapes {shapes}")
        super().add_param_group(param_group | {"params": params})
        group = self.param_groups[-1]
        problems = []
        for key, value in list(group.items()):
            if key == "betas":
                group[key] = tuple(self._per_model(key, b, k, params[0], problems) for b in value)
            elif key in spec.RANGES:
                group[key] = self._per_model(key, value, k, params[0], problems)
        if problems:
            self.param_groups.pop()
            raise ConfigError(*problems)

    def _per_model(self, key, value, k, like, problems) -> torch.Tensor:
        if isinstance(value, torch.Tensor):
            if value.numel() != k:
                problems.append(f"{self.name}: {key} has {value.numel()} values but the parameters "
                                f"stack {k} models; give one value per model or a single number")
            return value.detach().to(device=like.device, dtype=like.dtype)
        return torch.full((k,), float(value), device=like.device, dtype=like.dtype)


def hp(group: dict, key: str, p: torch.Tensor) -> torch.Tensor:
    """Hyperparameter ``key`` as shape (K, 1, ..., 1), to broadcast over ``p`` of shape (K, ...)."""
    value = group[key]
    return value.view((-1,) + (1,) * (p.dim() - 1))


def _bias_corrections(beta1: torch.Tensor, beta2: torch.Tensor, t: float):
    """(1 - beta1^t, 1 - beta2^t) per model, with Python's power like torch.optim's (torch's own
    rounds otherwise); both in one tensor, made once per update."""
    values = [[1 - b**t for b in beta.flatten().tolist()] for beta in (beta1, beta2)]
    both = torch.tensor(values, dtype=beta1.dtype, device=beta1.device)
    return both[0].view(beta1.shape), both[1].view(beta2.shape)


def _betas(group, p):
    b1, b2 = group["betas"]
    shape = (-1,) + (1,) * (p.dim() - 1)
    return b1.view(shape), b2.view(shape)


# Each line mirrors rules.py with the hyperparameter as a (K, 1, ...) tensor. torch's
# ``a.add(b, alpha=c)`` is a fused multiply-add, and so is ``a.addcmul(b, c)``; ``addcdiv(b, d,
# value=c)`` is ``a + (c * b) / d``. Writing the same arithmetic keeps batched and separate runs
# equal to the last bit (Adam's bias correction is computed with Python's power, as torch.optim's).


class BatchedSGD(Batched, rules.SGD):
    """``rules.SGD`` with one lr, momentum, dampening, weight_decay per model."""

    def update(self, w, grad, state, group):
        lr, momentum, wd = hp(group, "lr", w), hp(group, "momentum", w), hp(group, "weight_decay", w)
        # grad + weight_decay * w; skipped when every model's is 0, as rules.SGD skips it
        g = torch.addcmul(grad, w, wd) if bool((group["weight_decay"] != 0).any()) else grad
        if bool((group["momentum"] != 0).any()):  # a model with momentum 0 gets b = g: plain SGD
            if "momentum_buffer" not in state:
                state["momentum_buffer"] = g.detach().clone()
            else:
                state["momentum_buffer"].mul_(momentum).addcmul_(g, 1 - hp(group, "dampening", w))
            b = state["momentum_buffer"]
            g = torch.addcmul(g, b, momentum) if group["nesterov"] else b
        w.addcmul_(g, -lr)  # w - lr * g


class BatchedAdagrad(Batched, rules.Adagrad):
    """``rules.Adagrad`` with one lr, lr_decay, weight_decay, eps (and start value) per model."""

    def _init_state(self, p, state, group):
        state["step"] = torch.tensor(0.0, dtype=rules._scalar_dtype())
        state["sum"] = torch.zeros_like(p) + hp(group, "initial_accumulator_value", p)

    def update(self, w, grad, state, group):
        if "sum" not in state:
            self._init_state(w, state, group)
        state["step"] += 1
        t = state["step"].item()
        g = torch.addcmul(grad, w, hp(group, "weight_decay", w))
        state["sum"].addcmul_(g, g)
        step_size = hp(group, "lr", w) / (1 + (t - 1) * hp(group, "lr_decay", w))
        w.addcdiv_(-step_size * g, state["sum"].sqrt().add_(hp(group, "eps", w)))


class BatchedRMSprop(Batched, rules.RMSprop):
    """``rules.RMSprop`` with one lr, alpha, eps, weight_decay, momentum per model."""

    def update(self, w, grad, state, group):
        alpha, momentum = hp(group, "alpha", w), hp(group, "momentum", w)
        with_momentum = bool((group["momentum"] > 0).any())
        if not state:
            state["step"] = torch.tensor(0.0, dtype=rules._scalar_dtype())
            state["square_avg"] = torch.zeros_like(w)
            if with_momentum:
                state["momentum_buffer"] = torch.zeros_like(w)
            if group["centered"]:
                state["grad_avg"] = torch.zeros_like(w)
        state["step"] += 1
        g = torch.addcmul(grad, w, hp(group, "weight_decay", w))
        v = state["square_avg"].mul_(alpha).addcmul_((1 - alpha) * g, g)
        if group["centered"]:
            m = state["grad_avg"].lerp_(g, (1 - alpha).expand_as(g))
            denom = v.addcmul(m, m, value=-1).sqrt_().add_(hp(group, "eps", w))
        else:
            denom = v.sqrt().add_(hp(group, "eps", w))
        if with_momentum:  # a model with momentum 0 gets b = g / denom: plain RMSprop
            b = state["momentum_buffer"].mul_(momentum).addcdiv_(g, denom)
            w.addcmul_(b, -hp(group, "lr", w))
        else:
            w.addcdiv_(-hp(group, "lr", w) * g, denom)


class BatchedAdam(Batched, rules.Adam):
    """``rules.Adam`` with one lr, beta1, beta2, eps, weight_decay per model."""

    def update(self, w, grad, state, group):
        lr, wd = hp(group, "lr", w), hp(group, "weight_decay", w)
        beta1, beta2 = _betas(group, w)
        if not state:
            state["step"] = torch.tensor(0.0, dtype=rules._scalar_dtype())
            state["exp_avg"] = torch.zeros_like(w)
            state["exp_avg_sq"] = torch.zeros_like(w)
            if group["amsgrad"]:
                state["max_exp_avg_sq"] = torch.zeros_like(w)
        state["step"] += 1
        t = state["step"].item()
        if self.decoupled:
            w.mul_(1 - lr * wd)
            g = grad
        else:
            g = torch.addcmul(grad, w, wd)
        m = state["exp_avg"].lerp_(g, (1 - beta1).expand_as(g))
        v = state["exp_avg_sq"].mul_(beta2).addcmul_((1 - beta2) * g, g)
        if group["amsgrad"]:
            v = torch.maximum(state["max_exp_avg_sq"], v, out=state["max_exp_avg_sq"])
        correction1, correction2 = _bias_corrections(beta1, beta2, t)
        step_size = lr / correction1
        denom = (v.sqrt() / correction2.sqrt()).add_(hp(group, "eps", w))
        w.addcdiv_(-step_size * m, denom)


class BatchedAdamW(BatchedAdam, rules.AdamW):
    """``rules.AdamW`` (decoupled weight decay) with one lr, betas, eps, weight_decay per model."""


BATCHED: dict[str, type[Batched]] = {
    "sgd": BatchedSGD, "adagrad": BatchedAdagrad, "rmsprop": BatchedRMSprop,
    "adam": BatchedAdam, "adamw": BatchedAdamW,
}


def create(name: str, params: Iterable, **hyperparameters: Any) -> Batched:
    """Build the batched form of rule ``name``; each hyperparameter a number or K values."""
    if isinstance(name, str) and name.startswith(spec.TORCH_PREFIX):
        raise ConfigError(f"{name} has no batched form (torch.optim takes one number per "
                          f"hyperparameter); choose one of: {', '.join(sorted(BATCHED))}")
    base = spec.base_name(name)
    hp_ = {k: v for k, v in hyperparameters.items() if v is not None}
    problems = spec.unaccepted(name, hp_)
    if problems:
        raise ConfigError(*problems)
    hp_ = {k: _tensor(v) if isinstance(v, (list, tuple)) and k != "betas" else v
           for k, v in hp_.items()}
    if "betas" in hp_:
        hp_["betas"] = tuple(_tensor(b) if isinstance(b, (list, tuple)) else b
                             for b in hp_["betas"])
    return BATCHED[base](params, **hp_)


def _tensor(values) -> torch.Tensor:
    return torch.as_tensor(values, dtype=torch.float64)
