"""The MLP handed to ``sgdlab.theory``: its training loss as an ``Objective`` (sharpness, the bound
2 / lambda_max), its per-example loss (the exact noise scale) and its minibatch gradient (the
two-batch estimator). The network is evaluated functionally (``torch.func.functional_call``) at
the parameters theory passes in; nothing here changes the network's own parameters."""

from __future__ import annotations

from ..theory import curvature as theory
from ..theory.tracked import Tracked, tracks_preconditioned  # noqa: F401  (the tracker's home)

HVP_CHUNK = 4096  # images per Hessian-vector product chunk: bounds memory on 60,000 images


def functional_loss(net, loss: str):
    """``value(params, images, labels)``: the mean loss of ``net`` with ``params`` in place of its own."""
    from torch.func import functional_call

    from .model import loss_function

    names = [name for name, _ in net.named_parameters()]
    criterion = loss_function(loss)

    def value(params, images, labels):
        return criterion(functional_call(net, dict(zip(names, params)), (images,)), labels)

    return value


def objective(net, x, y, loss: str, chunk: int = HVP_CHUNK) -> theory.Objective:
    """The mean training loss of ``net`` over all rows of (x, y), in row chunks."""
    value = functional_loss(net, loss)
    return theory.Objective(list(net.parameters()), lambda params, rows: value(params, x[rows], y[rows]),
                            theory.chunks_of(int(x.shape[0]), chunk))


def subset(x, y, size: int | None):
    """The first ``size`` rows (all of them for None): the fixed set the sharpness is measured on."""
    return (x, y) if size is None else (x[:size], y[:size])


def per_example_loss(net, loss: str):
    """``loss_one(params, image, label)``: one example's loss, for ``torch.func.vmap(grad(...))``."""
    value = functional_loss(net, loss)
    return lambda params, image, label: value(params, image.unsqueeze(0), label.unsqueeze(0))


def batch_gradient(net, x, y, loss: str):
    """``gradient(index)``: the flat gradient of the mean loss over rows ``index``."""
    value = functional_loss(net, loss)

    def rows_loss(params, index):
        return value(params, x.index_select(0, index), y.index_select(0, index))

    def gradient(index):
        chunks = [(index.to(x.device), 1.0)]
        return theory.gradient(theory.Objective(list(net.parameters()), rows_loss, chunks))

    return gradient


class Curvature(Tracked):
    """The MLP's tracked sharpness (``theory.tracked.Tracked``) on the run's fixed subset."""

    def __init__(self, config, net, x, y, optimizer=None):
        xs, ys = subset(x, y, config.sharpness_subset)
        super().__init__(objective(net, xs, ys, config.loss), int(xs.shape[0]), config,
                         net.parameters(), optimizer)


def add_curvature(result: dict, config, curvature: Curvature) -> None:
    """The theory beside a run's result: lambda_max at initialisation, the optimizer's own bound,
    and along training the curve with the quantity tracked and its threshold."""
    first = curvature.init
    result["sharpness_init"] = first
    # the optimizer's own bound (2/lambda_max for plain SGD; none for adaptive rules), and its rule
    from ..optim import bounds

    own = bounds.lr_bound(config.optimizer.name, config.optimizer.hyperparameters(), first)
    result["lr_bound"] = own["lr_bound"]
    result["lr_bound_rule"] = own["lr_bound_rule"]
    result["sharpness_images"] = curvature.images
    result["sharpness_cost"] = curvature.cost()
    if config.sharpness_every:
        result["sharpness"] = curvature.curve
        result["sharpness_kind"] = curvature.kind  # "hessian": lambda_1(H); "preconditioned": lambda_1(P^-1 H)
        result["sharpness_threshold"] = curvature.threshold
        result["sharpness_threshold_label"] = curvature.threshold_label
        result["sharpness_threshold_rule"] = curvature.threshold_rule
