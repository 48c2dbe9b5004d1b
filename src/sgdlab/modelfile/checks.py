"""A model file's data and model, built and checked before anything is recorded.

Every way a file can be wrong is one line naming what and where (``DataError``/``ConfigError``,
exit 2 on the command line): data that are not tensors, x and y of different lengths, empty
data, NaN or Inf in x; a model that is not an ``nn.Module`` or has no trainable parameter; an
output whose shape does not fit the target (both shapes named); a loss that is not a scalar,
does not depend on the parameters, or is NaN at initialisation.

``data()`` runs under a fixed seed (0) in a forked random state, so the data are the same for
every run and every seed of a sweep; ``model()`` runs right after ``torch.manual_seed(seed)``.
The check's forward pass runs in eval mode in a forked random state: it moves no BatchNorm
statistic and draws no Dropout mask, so the run trains as if it had not happened.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from ..core.config import resolve_device
from ..core.errors import ConfigError, DataError
from .source import Source, call, first_line

DATA_SEED = 0
CHECK_ROWS = 64  # rows of each split the shapes and the initial loss are checked on
SPLITS = ("train", "test")


@dataclass
class Prepared:
    """What a run needs: the source, its data on the device, the model built from the seed."""

    source: Source
    x: Any
    y: Any
    xt: Any  # None when data() gives no "test"
    yt: Any
    net: Any
    device: Any


def load_data(source: Source) -> dict[str, tuple]:
    """``data()`` under the fixed data seed, checked: {"train": (x, y)[, "test": (x, y)]}."""
    import torch

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(DATA_SEED)
        data = call(source, "data")
    return check_data(data, source.path or source.name)


def check_data(data: Any, where: str) -> dict[str, tuple]:
    import torch

    if not isinstance(data, dict) or "train" not in data:
        raise DataError(f"{where}: data() must return {{\"train\": (x, y), \"test\": (x, y)}}, "
                        f"got {_kind(data)}")
    unknown = sorted(str(k) for k in data if k not in SPLITS)
    if unknown:
        raise DataError(f"{where}: data() returned unknown key(s) {', '.join(unknown)}; the keys "
                        f"are train and (optional) test")
    problems, out = [], {}
    for split in SPLITS:
        if split not in data:
            continue
        pair, name = data[split], f"{where}: data()[{split!r}]"
        if not isinstance(pair, (tuple, list)) or len(pair) != 2:
            problems.append(f"{name} must be a pair (x, y) of tensors, got {_kind(pair)}")
            continue
        x, y = (_from_numpy(v) for v in pair)
        wrong = [_not_tensor(n, v) for n, v in (("x", x), ("y", y)) if not isinstance(v, torch.Tensor)]
        if wrong:
            problems.append(f"{name}: {'; '.join(wrong)}")
            continue
        if x.dim() == 0 or y.dim() == 0:
            problems.append(f"{name}: x and y need a first dimension of rows (got shapes "
                            f"{tuple(x.shape)} and {tuple(y.shape)})")
        elif x.shape[0] != y.shape[0]:
            problems.append(f"{name}: x has {x.shape[0]} rows but y has {y.shape[0]}")
        elif x.shape[0] == 0:
            problems.append(f"{name} is empty (0 rows)")
        elif x.is_floating_point() or x.is_complex():
            bad = ~torch.isfinite(x.reshape(x.shape[0], -1)).all(1)
            if bool(bad.any()):
                row = int(bad.nonzero()[0])
                problems.append(f"{name}: x holds NaN or Inf in {int(bad.sum())} row(s), the first "
                                f"at row {row}")
        out[split] = (x, y)
    if problems:
        raise DataError(*problems)
    return out


def _not_tensor(name: str, value: Any) -> str:
    if type(value).__module__.startswith("numpy") and hasattr(value, "dtype"):
        return (f"{name} is a NumPy array of dtype {value.dtype}; data() takes arrays of bool, "
                f"integers or float16/32/64; convert it, e.g. {name}.astype(np.float32)")
    return f"{name} is {_kind(value)}, not a tensor"


def _from_numpy(value: Any) -> Any:
    """A NumPy array of numbers as a tensor of the same dtype (data often comes from pandas or
    NumPy); anything else, an object array included, is returned as it is, for the check above."""
    import numpy as np
    import torch

    if isinstance(value, np.ndarray) and value.dtype.kind in "biuf":
        # a copy only where torch needs one: strided or read-only (torch warns on those); never
        # np.ascontiguousarray, which made a 0-d array a 1-row data set
        array = value if value.flags.c_contiguous and value.flags.writeable else np.array(value, order="C")
        try:
            return torch.from_numpy(array)
        except TypeError:  # float128 / longdouble: no torch dtype; named by the check above
            return value
    return value


def build_model(source: Source, seed: int):
    """``model()`` right after ``torch.manual_seed(seed)``, checked."""
    import torch
    from torch import nn

    torch.manual_seed(seed)
    net = call(source, "model")
    where = source.path or source.name
    if not isinstance(net, nn.Module):
        raise DataError(f"{where}: model() must return a torch.nn.Module, got {_kind(net)}")
    if not any(p.requires_grad for p in net.parameters()):
        raise DataError(f"{where}: model() has no trainable parameters (none, or all with "
                        f"requires_grad=False): there is nothing to train")
    return net


def prepare(config, data: dict[str, tuple] | None = None, *, source: Source | None = None,
            device=None) -> Prepared:
    """The file loaded (unless ``source``), its data checked (unless given), the model built from
    ``config.seed`` on ``device`` (default: ``config.device``), and one forward pass checked."""
    from .source import load

    source = source or load(config.file if config.file is not None else config.source)
    data = data if data is not None else load_data(source)
    import torch

    device, dtype = device or resolve_device(config.device), getattr(torch, config.dtype)
    x, y = (_to(t, device, dtype) for t in data["train"])
    xt, yt = (_to(t, device, dtype) for t in data["test"]) if "test" in data else (None, None)
    net = build_model(source, config.seed).to(device, dtype)  # --dtype: weights and float data
    check_forward(source, net, x, y, "train")
    if xt is not None:
        check_forward(source, net, xt, yt, "test")
    n = int(x.shape[0])
    if isinstance(config.batch_size, int) and config.batch_size > n:  # "auto" fits any data
        raise ConfigError(f"--batch-size {config.batch_size} is larger than the training set "
                          f"({n} rows); give at most {n} (or full)")
    return Prepared(source, x, y, xt, yt, net, device)


def check_forward(source: Source, net, x, y, split: str) -> None:
    """The model on the first rows of ``split``: shapes, a scalar finite loss with a gradient."""
    import torch

    where = source.path or source.name
    xb, yb = x[:CHECK_ROWS], y[:CHECK_ROWS]
    was = net.training
    net.eval()
    try:
        with torch.random.fork_rng(devices=[]):
            try:
                out = net(xb)
            except Exception as exc:
                raise DataError(f"{where}: the model's forward pass on data()[{split!r}] x (rows of "
                                f"shape {tuple(x.shape[1:])}) raised {type(exc).__name__}: "
                                f"{first_line(exc)}") from None
            if not isinstance(out, torch.Tensor):
                raise DataError(f"{where}: the model's output must be a tensor, got {_kind(out)}")
            shapes = (f"the model's output has shape {tuple(out.shape)} but the target y has shape "
                      f"{tuple(yb.shape)} (first {xb.shape[0]} rows of data()[{split!r}])")
            if out.dim() == 0 or out.shape[0] != yb.shape[0] or (
                    yb.is_floating_point() and out.shape != yb.shape):
                raise DataError(f"{where}: output/target shape mismatch: {shapes}")
            try:
                value = call(source, "loss", out, yb)
            except DataError as exc:
                raise DataError(f"{exc.problems[0]}; {shapes}") from None
            if not isinstance(value, torch.Tensor) or value.numel() != 1:
                shape = tuple(value.shape) if isinstance(value, torch.Tensor) else _kind(value)
                raise DataError(f"{where}: loss(output, target) must return a scalar tensor (the "
                                f"batch's mean loss), got {shape}")
            if split == "train":
                number = float(value.detach())
                if not math.isfinite(number):
                    raise DataError(f"{where}: loss(output, target) is {number} at initialisation "
                                    f"(first {xb.shape[0]} training rows); check the data and loss")
                if not value.requires_grad:
                    raise DataError(f"{where}: loss(output, target) does not depend on the model's "
                                    f"parameters (it has no gradient); compute it from output")
            if source.accuracy is not None:
                acc = call(source, "accuracy", out.detach(), yb)
                try:
                    float(acc)
                except (TypeError, ValueError, RuntimeError):
                    raise DataError(f"{where}: accuracy(output, target) must return a number, "
                                    f"got {_kind(acc)}") from None
    finally:
        net.train(was)


def _to(tensor, device, dtype):
    """On ``device``; floating-point tensors in ``dtype`` (class labels stay integers)."""
    return tensor.to(device, dtype) if tensor.is_floating_point() else tensor.to(device)


def _kind(value: Any) -> str:
    import torch

    if isinstance(value, torch.Tensor):
        return f"a tensor of shape {tuple(value.shape)}"
    return f"{type(value).__name__}"
