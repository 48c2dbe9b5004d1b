"""Train from the page: start a linreg or mnist run with the CLI's options, follow its loss live
(server-sent events), stop it. Options are checked by the problem's own config (the CLI's
messages) before the run is queued; paths (CSV files, data folders, output folders) are not
options here: a page never names a file on the server."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from fastapi import APIRouter, Header, Request
from fastapi.responses import StreamingResponse
from pydantic import Field
from starlette.exceptions import HTTPException

from ..core.config import parse_float_list, parse_int_list
from ..core.errors import ConfigError, Problems
from ..core.store import jsonable
from .jobs import JobManager, QueueFull
from .playground import Strict
from .responses import json_response

router = APIRouter(prefix="/api/jobs", tags=["train"])

MAX_LINREG_STEPS = 1_000_000
MAX_MNIST_EPOCHS = 100
POLL_S = 0.2  # how often an event stream looks for new points
STREAM_S = 600.0  # one event stream lasts at most this long; the browser then reconnects
SEED = Field(None, ge=0, le=2**63 - 1)


class OptimizerOptions(Strict):
    optimizer: str = "sgd"
    momentum: float | None = None
    nesterov: bool = False
    betas: str | None = Field(None, description='as on the command line: "0.9,0.999"')
    eps: float | None = None
    weight_decay: float | None = None

    def spec(self):
        from ..optim.spec import OptimizerSpec

        betas = tuple(parse_float_list(self.betas, "--betas")) if self.betas is not None else None
        return OptimizerSpec(name=self.optimizer, momentum=self.momentum, nesterov=self.nesterov,
                             betas=betas, eps=self.eps, weight_decay=self.weight_decay)


class LinregOptions(OptimizerOptions):
    """`sgdlab linreg`'s options, on the tutorial's 15 points."""

    lr: float = 1e-2
    steps: int = 32
    epochs: int | None = None
    batch_size: int | None = None
    seed: int | None = SEED
    dtype: str = "float32"
    standardize: bool = False
    plots: bool = True


class MnistOptions(OptimizerOptions):
    """`sgdlab mnist`'s options, on mnist-5k (the data set that ships; no downloads)."""

    dataset: str = "mnist-5k"
    hidden: str = Field("200", description='hidden widths as on the command line: "256,128"')
    batch_size: int = 100
    lr: float = 1e-2
    epochs: int = 1
    seed: int | None = SEED
    device: str = "auto"
    limit_train: int | None = None
    limit_test: int | None = None
    plots: bool = True


def _manager(request: Request) -> JobManager:
    return request.app.state.jobs


def _submit(request: Request, problem: str, config: Any, options: Strict) -> Any:
    try:
        job = _manager(request).submit(problem, config, options.model_dump())
    except QueueFull as exc:
        raise HTTPException(429, exc.problems[0]) from None
    return json_response(job.public(queue_position=_manager(request).position(job)), 202)


@router.post("/linreg", status_code=202, summary="Queue a linear regression run (tutorial data)")
def start_linreg(request: Request, options: LinregOptions) -> Any:
    from ..linreg.config import LinRegConfig
    from ..linreg.run import Prepared

    problems = Problems()
    problems.check(options.steps <= MAX_LINREG_STEPS, f"--steps must be <= {MAX_LINREG_STEPS:,} here")
    # the command line's rule: both set the length of the run (epochs would silently win)
    problems.check("steps" not in options.model_fields_set or options.epochs is None,
                   "--steps and --epochs both set the length of the run; give one of them")
    problems.raise_if_any(ConfigError)
    fields = options.model_dump(exclude={"optimizer", "momentum", "nesterov", "betas", "eps",
                                         "weight_decay", "seed"})
    config = LinRegConfig(**fields, optimizer=options.spec(),
                          **({"seed": options.seed} if options.seed is not None else {}))
    Prepared(config)  # validates, and checks the batch size against the data: the CLI's messages
    return _submit(request, "linreg", config, options)


@router.post("/mnist", status_code=202, summary="Queue an MLP run on mnist-5k")
def start_mnist(request: Request, options: MnistOptions) -> Any:
    import torch

    from ..mnist import datasets
    from ..mnist.config import MnistConfig, resolve_device
    from ..mnist.run import tensors

    problems = Problems()
    problems.check(options.epochs <= MAX_MNIST_EPOCHS, f"--epochs must be <= {MAX_MNIST_EPOCHS} here")
    problems.check(options.dataset == "mnist-5k", f"--dataset {options.dataset!r}: the server trains on "
                   "mnist-5k only (it ships with sgdlab; nothing is downloaded for a page)")
    problems.raise_if_any(ConfigError)
    fields = options.model_dump(exclude={"optimizer", "momentum", "nesterov", "betas", "eps",
                                         "weight_decay", "seed", "hidden"})
    config = MnistConfig(**fields, hidden=parse_int_list(options.hidden, "--hidden"),
                         optimizer=options.spec(),
                         **({"seed": options.seed} if options.seed is not None else {}))
    config.validate()
    resolve_device(config.device)  # cuda asked for where there is none: refused now
    tensors(config, datasets.load(config.dataset), torch.device("cpu"))  # batch size vs the data
    return _submit(request, "mnist", config, options)


@router.get("", summary="Every job this server knows, newest first")
def list_jobs(request: Request) -> Any:
    manager = _manager(request)
    return json_response({"jobs": [j.public(since=len(j.points), queue_position=manager.position(j))
                                   for j in manager.jobs()]})


def _job(request: Request, job_id: int):
    job = _manager(request).get(job_id)
    if job is None:
        raise HTTPException(404, f"no job {job_id} on this server")
    return job


@router.get("/{job_id}", summary="One job, with its loss points from index `since` on")
def show_job(request: Request, job_id: int, since: int = 0) -> Any:
    job = _job(request, job_id)
    return json_response(job.public(since=max(0, since), queue_position=_manager(request).position(job)))


@router.post("/{job_id}/stop", summary="Cancel a waiting job, or stop a running one at its next step")
def stop_job(request: Request, job_id: int) -> Any:
    job = _job(request, job_id)
    _manager(request).stop(job)
    return json_response(job.public(since=len(job.points)))


@router.get("/{job_id}/events", summary="Server-sent events: new loss points and status, until it ends")
async def job_events(request: Request, job_id: int, since: int = 0,
                     last_event_id: str | None = Header(None)) -> Any:
    job = _job(request, job_id)
    manager = _manager(request)
    # a browser that reconnects sends the id of the last event it got: the points it already has
    # ASCII digits only: "²".isdigit() is True but int("²") fails
    valid = last_event_id and last_event_id.isascii() and last_event_id.isdigit() and len(last_event_id) < 19
    start = int(last_event_id) if valid else max(0, since)

    async def events():
        sent, waited, last = start, 0.0, None
        while waited < STREAM_S:
            finished = job.finished is not None
            doc = job.public(since=sent, queue_position=manager.position(job))
            state = (doc["status"], doc["queue_position"], doc["steps"])
            if doc["points"] or state != last or finished:
                sent, last = doc["points_total"], state
                kind = "end" if finished else "update"
                yield f"event: {kind}\nid: {sent}\ndata: {json.dumps(jsonable(doc))}\n\n"
            if finished:
                return
            await asyncio.sleep(POLL_S)
            waited += POLL_S

    return StreamingResponse(events(), media_type="text/event-stream",
                             headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"})
