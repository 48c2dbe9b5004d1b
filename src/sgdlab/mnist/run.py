"""The tutorial's MNIST MLP (section 4): same mathematics, data prepared once, one loop.

``run(MnistConfig(...))`` returns the document ``sgdlab mnist --json`` prints for one batch size.
The images are transformed once, as the tutorial's ``transform_mnist`` does per sample
((x / 255 - 0.5) / 0.5, flattened), and live as one tensor on the chosen device; each epoch is a
seeded ``randperm`` and index batches through ``loop.run``; the update is the tutorial's
``sgd_update`` (``optim.SGD``) unless ``--optimizer`` says otherwise.

Beside the training, the theory (``curvature.py``, ``sgdlab.theory``): the sharpness lambda_max at
initialisation and the bound 2 / lambda_max, and with ``sharpness_every`` the sharpness along
training; with ``noise_every`` the gradient noise scale B_simple (``noise_curve.py``); their
seconds are not counted as training time.
"""

from __future__ import annotations

from typing import Any, Callable

from ..core.errors import ConfigError, Problems
from ..core.limits import check_steps
from ..core.store import RunRecord, Store, new_run_id
from ..distributed.hooks import KEYS as DISTRIBUTED_KEYS  # what a data-parallel run adds
from .config import MnistConfig, resolve_device
from .curvature import Curvature, add_curvature
from .model import Classifier, build_model, evaluate, loss_function, prepare
from .noise_curve import NoiseCurve, add_noise


def tensors(config: MnistConfig, data, device):
    """(x, y, x_test, y_test): the limited training and test sets, transformed once, on ``device``
    (standardised with the training set's statistics when ``config.normalize`` says so)."""
    x_train, y_train = data.x_train[: config.limit_train], data.y_train[: config.limit_train]
    x_test, y_test = data.x_test[: config.limit_test], data.y_test[: config.limit_test]
    n = int(x_train.shape[0])
    if config.batch_size is not None and config.batch_size > n:
        raise ConfigError(
            f"batch size {config.batch_size} is larger than the training set ({n} images); "
            f"give --batch-size of at most {n} (or full)"
        )
    x = prepare(x_train, device, config.normalize)
    xt = prepare(x_test, device, config.normalize, reference=x_train)
    return x, y_train.to(device), xt, y_test.to(device)


def run(
    config: MnistConfig | None = None,
    *,
    store: Store | None = None,
    record: bool = True,
    sweep_id: str | None = None,
    sweep_cell: dict[str, Any] | None = None,
    data=None,
    on_progress: Callable[[int, int], None] | None = None,
    on_loss: Callable[[int, float], None] | None = None,
    on_epoch: Callable[[int, dict[str, Any]], None] | None = None,
    on_sharpness: Callable[[list[dict[str, Any]]], None] | None = None,
    run_id: str | None = None,
    resume: bool = False,
) -> dict[str, Any]:
    """Train one MLP; return (and record) its result document. ``data``: an ``ImageSet`` to use
    instead of loading ``config.dataset``. Figures: ``figures.draw_runs``; several batch sizes:
    ``study.run_study``. A recorded run outside a sweep is recorded when it starts and
    checkpointed at the end of every epoch (and every ``checkpoint_every`` updates);
    ``resume=True`` continues run ``run_id`` from its last checkpoint, bit for bit on the CPU.
    ``on_progress(step, steps)`` and ``on_loss(step, batch loss)`` (step counted from 1) run
    before each update; either may raise ``core.loop.StopTraining`` to end the run early
    (status ``stopped``, recorded with what it did). ``on_epoch(epoch, metrics)`` runs after each
    epoch's evaluation: its entry of ``epochs`` (test accuracy...) and ``step``, the updates so far.
    ``on_sharpness(curve)`` after each tracked sharpness (the study records its points as it goes)."""
    import torch

    from .. import optim
    from ..core.scaffold import Epochs, Scaffold
    from ..distributed import hooks as parallel
    from . import datasets, fast_step

    config = config or MnistConfig()
    config.validate()
    if parallel.launches(config):  # --nproc N outside torchrun: N workers, rank 0's document
        return parallel.launch("mnist", config, store=store, record=record, run_id=run_id,
                               resume=resume, sweep_id=sweep_id)
    place = parallel.join(config)  # this rank of a data-parallel run (None: one process)
    device = resolve_device(config.device) if place is None else place.device
    store = store or Store()
    config, run_id, resume, record = parallel.agree(place, config, store, run_id, resume, record)
    # the run's life (store, checkpoints, resume) on the scaffold: its outputs checked before
    # the data is loaded (a download), its checkpoint read once the data and config are checked
    scaffold = Scaffold(config, store=store, record=record, sweep_id=sweep_id, sweep_cell=sweep_cell,
                        run_id=run_id)
    data = data if data is not None else datasets.load(config.dataset, config.data_dir)
    x, y, xt, yt = tensors(config, data, device)
    x, xt = x.to(getattr(torch, config.dtype)), xt.to(getattr(torch, config.dtype))
    n = int(x.shape[0])
    batch_size, steps = config.updates(n)
    parallel.check_split(n, batch_size, config)
    problems = Problems()
    check_steps(problems, steps, f"--epochs {config.epochs} at batch size {batch_size}")
    from ..theory import tracked

    tracked.check_every(problems, config, steps)
    problems.raise_if_any(ConfigError)
    if resume and (place is None or place.writer):
        scaffold.payload = scaffold.track.resume_payload()
    if place is not None:  # rank 0's checkpoint, everywhere
        scaffold.payload = place.agree(scaffold.payload)
    payload = scaffold.payload

    # model and optimizer: initial weights from the run's seed, then the same generator shuffles
    generator = torch.Generator().manual_seed(config.seed)
    net = build_model(x.shape[1], config.hidden, len(data.classes), generator,
                      config.activation).to(device, x.dtype)
    # data parallel: this rank's shard of each batch, averaged across ranks (or N emulated ranks)
    sharded = parallel.problem(place, config, net, loss_function(config.loss), x, y)
    problem = sharded or Classifier(net, x, y, config.loss)
    rule = optim.create(config.optimizer.name, problem.parameters(), lr=config.lr,
                        **config.optimizer.hyperparameters())
    optimizer = parallel.wrap_optimizer(sharded, rule)  # local SGD: a periodic average
    # theory: the sharpness at initialisation (the bound 2 / lambda_max), along training on request
    # (under Adam/RMSprop the curve is lambda_1(P^-1 H), P read from this optimizer's state)
    curvature = Curvature(config, net, x, y, rule) if config.bound or config.sharpness_every else None
    if curvature is not None and payload is None:
        curvature.measure(0)
    noise = NoiseCurve(net, x, y, config.loss) if config.noise_every else None
    if noise is not None and payload is None:
        noise.measure(0)

    def entry(epoch: int, train_loss: float, seconds: float) -> dict[str, Any]:  # the test set's
        test_loss, accuracy = evaluate(net, xt, yt, config.loss)
        return {"epoch": epoch, "train_loss": train_loss, "test_loss": test_loss,
                "test_accuracy": accuracy, "seconds": seconds,
                "samples_per_second": n / seconds if seconds > 0 else None}

    log = Epochs(entry)  # step times, epoch entries; theory's seconds are not training time

    def before_update(step: int, loss) -> None:
        log.step(loss)
        if config.sharpness_every and step > 0 and step % config.sharpness_every == 0:
            log.aside(curvature.measure, step)
            if on_sharpness is not None:
                on_sharpness(curvature.curve)
        if config.noise_every and step > 0 and step % config.noise_every == 0:
            log.aside(noise.measure, step)
        if on_progress is not None:
            on_progress(step + 1, steps)
        if on_loss is not None:
            on_loss(step + 1, log.batch_losses[-1])

    def after_epoch(epoch: int, seconds: float) -> None:
        log.end_epoch(epoch, seconds)
        if on_epoch is not None:  # the page's live accuracy
            on_epoch(epoch, dict(log.epochs[-1], step=len(log.step_times)))

    def state() -> dict[str, Any]:  # what a checkpoint keeps besides the loop's own state
        return log.state() | {**({} if curvature is None else curvature.state()),
                              "noise_scale": [] if noise is None else [dict(p) for p in noise.curve]}

    def restore(saved: dict[str, Any]) -> None:
        log.restore(saved)
        if curvature is not None:
            curvature.restore(saved)
        if noise is not None:
            noise.curve.extend(saved.get("noise_scale") or [])
            if not noise.curve:
                noise.measure(0)

    def after_loop(loop) -> None:  # the theory after the last update
        for every, tracker in ((config.sharpness_every, curvature), (config.noise_every, noise)):
            if every and loop.status == "completed" and loop.steps_done % every == 0:
                log.aside(tracker.measure, loop.steps_done)

    def speed():  # losses read every K updates, the step as a CUDA graph (fast_step.py)
        return fast_step.choose(config, problem, optimizer, device, batch_size, n)

    loop = scaffold.train(problem, optimizer, generator, batch_size=batch_size, steps=steps,
                          before_update=before_update, after_epoch=after_epoch,
                          every=config.checkpoint_every, per_epoch=True, state=state,
                          restore=restore, after_loop=after_loop, fast_step=speed)
    result = assemble(config, data, loop, log.epochs, log.step_times, n, int(xt.shape[0]), device,
                      scaffold.run_id)
    if sharded is not None:  # data parallel: nproc, world, allreduce, communication time
        result.update(sharded.describe(result["seconds"], result["steps"]))
    if curvature is not None:
        add_curvature(result, config, curvature)
    if noise is not None:
        add_noise(result, noise)

    def draw(folder) -> list[str]:
        from ..theory import tracked
        from . import figures

        drawn = figures.draw_runs([result], folder)
        if "sharpness" in result:
            drawn.append(tracked.draw(result, f"lr {config.lr:g}", folder / "sharpness.png"))
        if "noise_scale" in result:
            from .noise_curve import draw as draw_noise

            drawn.append(draw_noise(result["noise_scale"], result["batch_size"], folder / "noise_scale.png"))
        return drawn

    return scaffold.finish(result, loop, to_record, draw)


def assemble(config, data, loop, epochs, step_times, n, n_test, device, run_id=None) -> dict[str, Any]:
    """One run's result document (shared by ``run`` and the vectorized sweep); no figures yet."""
    final = epochs[-1] if epochs else None
    result: dict[str, Any] = {
        "status": loop.status,
        "problem": config.problem,
        "run_id": run_id or new_run_id(),
        "batch_size": config.updates(n)[0],
        "data": data.describe() | {"train": n, "test": n_test},
        "device": str(device),
        "epochs": epochs,
        "step_losses": loop.step_losses,
        "step_times": step_times[: len(loop.step_losses)],
        "steps": loop.steps_done,
        "seconds": sum(e["seconds"] for e in epochs) if epochs else loop.seconds,
        "test_accuracy": final["test_accuracy"] if final else None,
        "lr_bound": None,  # 2 / lambda_max at initialisation (None: not measured, or no curvature)
        "sharpness_init": None,
        "sharpness_images": None,  # the images it was measured on (the first N of the training set)
        "config": config.to_dict(),
        "figures": [],
    }
    if loop.status == "diverged":
        last = "none" if loop.last_finite_loss is None else f"{loop.last_finite_loss:.6g}"
        result["divergence"] = {
            "step": loop.diverged_step, "last_finite_loss": loop.last_finite_loss, "lr": config.lr,
            "reason": loop.divergence_reason,
            "message": (f"batch size {result['batch_size']}: diverged at step {loop.diverged_step}: "
                        f"{loop.divergence_reason} (last finite loss {last}) with learning "
                        f"rate {config.lr:g}; try a smaller --lr"),
        }
    return result


# what the record keeps of the theory besides lr_bound: the bound's rule, and along training which
# sharpness was tracked (lambda_1(H) or lambda_1(P^-1 H)) against which threshold
THEORY_KEYS = ("lr_bound_rule", "sharpness_images", "sharpness_kind", "sharpness_threshold",
               "sharpness_threshold_label", "sharpness_threshold_rule")


def to_record(result: dict[str, Any], sweep_id: str | None = None,
              sweep_cell: dict[str, Any] | None = None) -> RunRecord:
    metrics = {k: result[k] for k in ("batch_size", "data", "device", "epochs", "steps", "seconds",
                                      "test_accuracy", "lr_bound", "sharpness_init")}
    metrics.update({k: result[k] for k in THEORY_KEYS if k in result})
    if "divergence" in result:
        metrics["divergence"] = result["divergence"]
    metrics.update({k: result[k] for k in DISTRIBUTED_KEYS if k in result})
    if sweep_cell is not None:
        metrics["sweep_cell"] = sweep_cell
    curves = {"step_loss": result["step_losses"], "step_time": result["step_times"]}
    if "sharpness" in result:
        curves["sharpness_step"] = [point["step"] for point in result["sharpness"]]
        curves["sharpness"] = [point["value"] for point in result["sharpness"]]
    if "noise_scale" in result:
        curves["noise_step"] = [point["step"] for point in result["noise_scale"]]
        curves["b_simple"] = [point["b_simple"] for point in result["noise_scale"]]
    return RunRecord(
        id=result["run_id"], command="mnist", status=result["status"], sweep_id=sweep_id,
        config=result["config"], metrics=metrics, figures=result["figures"], curves=curves,
        key_metric_name="test_accuracy", key_metric=result["test_accuracy"],
    )
