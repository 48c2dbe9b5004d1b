"""One run of a model file on the run scaffold: recorded at start, checkpointed, resumable.

``run(ModelFileConfig(file="mynet.py", ...))`` returns the document ``sgdlab train mynet.py
--json`` prints: status, run_id, problem, step_losses, lr_bound (2 / lambda_max at
initialisation on the first ``sharpness_subset`` training rows), sharpness_init, final_loss
(the whole training set's mean loss after the last update, eval mode) and per-epoch train and
test loss (and accuracy when the file defines ``accuracy``).

Randomness: ``torch.manual_seed(seed)`` before ``model()`` (the weights; Dropout then draws from
the same global stream) and a ``torch.Generator`` seeded with ``seed`` for the shuffling. A
checkpoint keeps both streams and the network's buffers (BatchNorm's statistics), so a resumed
run equals the uninterrupted one bit for bit on the CPU; the file's SHA-256 must not have changed.
"""

from __future__ import annotations

from typing import Any, Callable

from ..core.errors import ConfigError, Problems
from ..core.limits import check_steps
from ..core.store import RunRecord, Store, new_run_id
from ..distributed.hooks import KEYS as DISTRIBUTED_KEYS  # what a data-parallel run adds
from .config import ModelFileConfig

COMMAND = "modelfile"  # the run store's command for these runs (the registry's name)


def curvature_of(config, prepared, optimizer):
    """The run's tracked sharpness (``theory.tracked.Tracked``) on its fixed subset of rows:
    lambda_max(H), or under Adam/RMSprop lambda_1(P^-1 H) from ``optimizer``'s state."""
    from ..theory.tracked import Tracked
    from .problem import objective, subset

    xs, ys = subset(prepared.x, prepared.y, config.sharpness_subset)
    target = objective(prepared.net, prepared.source.loss, xs, ys)
    return Tracked(target, int(xs.shape[0]), config, target.params, optimizer)


def check_unchanged(config: ModelFileConfig, run_id: str) -> None:
    """A resumed run needs the file's text as it was when the run started."""
    from .source import sha256_of

    if config.file is None or config.file_sha256 is None:
        raise ConfigError(f"run {run_id} trained an object given from Python, not a file: it "
                          "cannot be resumed; run it again")
    try:
        now = sha256_of(config.file)
    except OSError as exc:
        raise ConfigError(f"run {run_id}: its model file {config.file} cannot be read "
                          f"({exc.strerror or exc}); resume needs it unchanged") from None
    if now != config.file_sha256:
        raise ConfigError(f"run {run_id}: {config.file} changed since the run started (sha256 "
                          f"{config.file_sha256[:12]}... then, {now[:12]}... now); resume needs "
                          "the same text: restore it, or start a new run")


def run(config: ModelFileConfig, *, store: Store | None = None, record: bool = True,
        sweep_id: str | None = None, sweep_cell: dict[str, Any] | None = None, data=None,
        on_progress: Callable[[int, int], None] | None = None, run_id: str | None = None,
        resume: bool = False, source=None,
        on_loss: Callable[[int, float], None] | None = None,
        on_sharpness: Callable[[list[dict[str, Any]]], None] | None = None) -> dict[str, Any]:
    """Train the model file; return (and record) its result document. ``data``: the checked
    data dict to use instead of calling ``data()`` (a sweep loads it once); ``on_loss(step,
    batch loss)`` after each update's loss and ``on_sharpness(curve)`` after each tracked
    sharpness (a study records its curves as it goes)."""
    import dataclasses

    import torch

    from .. import optim
    from ..core.scaffold import Epochs, Scaffold
    from ..distributed import hooks as parallel
    from .checks import prepare
    from .parallel import check_exact, check_source
    from .problem import FileProblem, evaluate, mode_note

    config.validate()
    if parallel.launches(config):  # --nproc N outside torchrun: N workers, rank 0's document
        check_source(config)
        from pathlib import Path

        config = dataclasses.replace(config, file=str(Path(config.file).resolve()))
        return parallel.launch(type(config).problem, config, store=store, record=record,
                               run_id=run_id, resume=resume, sweep_id=sweep_id)
    place = parallel.join(config)  # this rank of a data-parallel run (None: one process)
    store = store or Store()
    config, run_id, resume, record = parallel.agree(place, config, store, run_id, resume, record)
    run_id = run_id or new_run_id()
    if resume:
        check_unchanged(config, run_id)
    prepared = prepare(config, data, source=source, device=None if place is None else place.device)
    config = config.resolved(int(prepared.x.shape[0]))  # the batch size used, recorded and resumed
    src = prepared.source
    check_exact(config, prepared.net, prepared.x, src.path or src.name)  # BatchNorm, Dropout
    if config.file_sha256 is None and src.sha256 is not None:  # recorded: resume compares it
        from pathlib import Path

        config = dataclasses.replace(config, file=str(Path(config.file).resolve()),
                                     file_sha256=src.sha256)
    # the run's life (store, checkpoints, resume) on the scaffold; the checkpoint is read by
    # rank 0 alone and handed to every rank
    scaffold = Scaffold(config, store=store, record=record, sweep_id=sweep_id, sweep_cell=sweep_cell,
                        run_id=run_id, resume=resume and (place is None or place.writer))
    if place is not None:
        scaffold.payload = place.agree(scaffold.payload)
    net, x, y = prepared.net, prepared.x, prepared.y
    n = int(x.shape[0])
    batch_size, steps = config.updates(n)
    parallel.check_split(n, batch_size, config, rows="rows",
                         fix=f"give a --batch-size that divides {n} (or full)")
    problems = Problems()
    check_steps(problems, steps, f"--epochs {config.epochs} at batch size {batch_size}")
    from ..theory import tracked

    tracked.check_every(problems, config, steps)
    problems.raise_if_any(ConfigError)

    # data parallel: this rank's shard of each batch, averaged across ranks (or N emulated ranks)
    sharded = parallel.problem(place, config, net, src.loss, x, y)
    problem = sharded or FileProblem(net, src.loss, x, y)
    generator = torch.Generator().manual_seed(config.seed)
    rule = optim.create(config.optimizer.name, problem.parameters(), lr=config.lr,
                        **config.optimizer.hyperparameters())
    optimizer = parallel.wrap_optimizer(sharded, rule)  # local SGD: a periodic average
    wanted = config.bound or config.sharpness_every
    curvature = curvature_of(config, prepared, rule) if wanted else None
    if curvature is not None and scaffold.payload is None:
        curvature.measure(0)

    def entry(epoch: int, train_loss: float, seconds: float) -> dict[str, Any]:  # the test set's
        entry = {"epoch": epoch, "train_loss": train_loss, "test_loss": None, "seconds": seconds}
        if prepared.xt is not None:
            entry["test_loss"], accuracy = evaluate(net, src.loss, src.accuracy, prepared.xt, prepared.yt)
            if accuracy is not None:
                entry["test_accuracy"] = accuracy
        return entry

    log = Epochs(entry)  # step times, epoch entries; theory's seconds are not training time

    def before_update(step: int, loss) -> None:
        log.step(loss)
        if on_loss is not None:
            on_loss(step + 1, log.batch_losses[-1])
        if config.sharpness_every and step > 0 and step % config.sharpness_every == 0:
            log.aside(curvature.measure, step)
            if on_sharpness is not None:
                on_sharpness(curvature.curve)
        if on_progress is not None:
            on_progress(step + 1, steps)

    def state() -> dict[str, Any]:  # what a checkpoint keeps besides the loop's own state
        return log.state() | {
            # the curve and Lanczos's warm starts (the same start, the same bits)
            **({} if curvature is None else curvature.state()),
            "buffers": [b.detach().to("cpu", copy=True) for b in net.buffers()],
            "torch_rng": torch.get_rng_state()}  # Dropout's stream

    def restore(saved: dict[str, Any]) -> None:
        with torch.no_grad():
            for b, s in zip(net.buffers(), saved["buffers"]):
                b.copy_(s.to(b.device))
        torch.set_rng_state(saved["torch_rng"])
        log.restore(saved)
        if curvature is not None:
            curvature.restore(saved)

    def after_loop(loop) -> None:  # the sharpness after the last update
        every = config.sharpness_every
        if every and loop.status == "completed" and loop.steps_done % every == 0:
            log.aside(curvature.measure, loop.steps_done)

    loop = scaffold.train(problem, optimizer, generator, batch_size=batch_size, steps=steps,
                          before_update=before_update, after_epoch=log.end_epoch,
                          every=config.checkpoint_every, per_epoch=True, state=state,
                          restore=restore, after_loop=after_loop)
    final_loss = evaluate(net, src.loss, None, x, y)[0] if loop.status == "completed" else None
    result = assemble(config, src, loop, log.epochs, log.step_times, n, prepared, run_id, final_loss)
    if sharded is not None:  # data parallel: nproc, world, allreduce, communication time
        result.update(sharded.describe(result["seconds"], result["steps"]))
    note = mode_note(net, "the sharpness") if curvature is not None else None
    if curvature is not None:
        add_curvature(result, config, curvature, note)

    def draw(folder) -> list[str]:
        from ..core import plots

        steps_axis = list(range(1, len(loop.step_losses) + 1))
        figures = [plots.curves({f"lr {config.lr:g}": (steps_axis, loop.step_losses)}, folder / "loss.png",
                                xlabel="update", ylabel="batch loss", title=f"{src.name}: training loss")]
        if "sharpness" in result:  # the tracked sharpness against its own threshold
            from ..theory import tracked

            figures.append(tracked.draw(result, f"lr {config.lr:g}", folder / "sharpness.png"))
        return figures

    return scaffold.finish(result, loop, to_record, draw)


def add_curvature(result: dict, config, curvature, note: str | None) -> None:
    """lambda_max at initialisation, the optimizer's own bound and its rule (``optim.bounds``),
    and along training the curve with the quantity tracked and its threshold."""
    from ..optim import bounds

    first = curvature.init
    own = bounds.lr_bound(config.optimizer.name, config.optimizer.hyperparameters(), first)
    result.update({"sharpness_init": first, "lr_bound": own["lr_bound"],
                   "lr_bound_rule": own["lr_bound_rule"], "sharpness_rows": curvature.images,
                   "sharpness_cost": {k: v for k, v in curvature.cost().items() if k != "images"}})
    if config.sharpness_every:
        result.update({"sharpness": curvature.curve, "sharpness_kind": curvature.kind,
                       "sharpness_threshold": curvature.threshold,
                       "sharpness_threshold_label": curvature.threshold_label,
                       "sharpness_threshold_rule": curvature.threshold_rule})
    if note:
        result["notes"] = result.get("notes", []) + [note]


def assemble(config, src, loop, epochs, step_times, n, prepared, run_id, final_loss) -> dict[str, Any]:
    """One run's document (shared with the stacked sweep); no figures yet."""
    final = epochs[-1] if epochs else {}
    result: dict[str, Any] = {
        "status": loop.status, "run_id": run_id, "problem": COMMAND, "model": src.describe(),
        "batch_size": config.updates(n)[0], "device": str(prepared.device),
        "data": {"train": n, "test": None if prepared.xt is None else int(prepared.xt.shape[0])},
        "epochs": epochs, "step_losses": loop.step_losses,
        "step_times": step_times[: len(loop.step_losses)], "steps": loop.steps_done,
        "seconds": sum(e["seconds"] for e in epochs) if epochs else loop.seconds,
        "final_loss": final_loss, "test_loss": final.get("test_loss"),
        "test_accuracy": final.get("test_accuracy"),
        "lr_bound": None, "sharpness_init": None, "sharpness_rows": None,
        "config": config.resolved(n).to_dict(), "figures": [],
    }
    if loop.status == "diverged":
        last = "none" if loop.last_finite_loss is None else f"{loop.last_finite_loss:.6g}"
        result["divergence"] = {
            "step": loop.diverged_step, "last_finite_loss": loop.last_finite_loss, "lr": config.lr,
            "reason": loop.divergence_reason,
            "message": (f"{src.name}: diverged at step {loop.diverged_step}: {loop.divergence_reason} "
                        f"(last finite loss {last}) with learning rate {config.lr:g}; try a smaller --lr"),
        }
    return result


def to_record(result: dict[str, Any], sweep_id: str | None = None,
              sweep_cell: dict[str, Any] | None = None) -> RunRecord:
    keys = ("problem", "model", "batch_size", "data", "device", "epochs", "steps", "seconds",
            "final_loss", "test_loss", "test_accuracy", "lr_bound", "lr_bound_rule", "sharpness_init",
            "notes", "divergence", "sharpness_kind", "sharpness_threshold", "sharpness_threshold_label",
            "sharpness_threshold_rule")
    metrics = {k: result[k] for k in keys + DISTRIBUTED_KEYS if k in result}
    if sweep_cell is not None:
        metrics["sweep_cell"] = sweep_cell
    curves = {"step_loss": result["step_losses"], "step_time": result["step_times"]}
    if "sharpness" in result:
        curves["sharpness_step"] = [p["step"] for p in result["sharpness"]]
        curves["sharpness"] = [p["value"] for p in result["sharpness"]]
    return RunRecord(
        id=result["run_id"], command=COMMAND, status=result["status"], sweep_id=sweep_id,
        config=result["config"], metrics=metrics, figures=result["figures"], curves=curves,
        key_metric_name="final_loss", key_metric=result["final_loss"],
    )
