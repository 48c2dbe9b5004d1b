"""Train from the page: start a run of any problem with a page hook (``Entry.page``, a
``forms.PageHook``) with the CLI's options, follow its loss live (server-sent events), stop it.
Options are checked by the problem's own config (the CLI's messages) before the run is queued;
paths (CSV files, data folders, output folders) are not options here: a page never names a file
on the server."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from fastapi import APIRouter, Header, Request
from fastapi.responses import StreamingResponse
from starlette.exceptions import HTTPException

from ..core.store import jsonable
from .jobs import JobManager, QueueFull
from .responses import json_response

router = APIRouter(prefix="/api/jobs", tags=["train"])

POLL_S = 0.2  # how often an event stream looks for new points
STREAM_S = 600.0  # one event stream lasts at most this long; the browser then reconnects


def _manager(request: Request) -> JobManager:
    return request.app.state.jobs


def _submit(request: Request, problem: str, config: Any, options: Any) -> Any:
    try:
        job = _manager(request).submit(problem, config, options.model_dump())
    except QueueFull as exc:
        raise HTTPException(429, exc.problems[0]) from None
    return json_response(job.public(queue_position=_manager(request).position(job)), 202)


def _add_start_route(name: str, hook: Any) -> None:
    """``POST /api/jobs/NAME``: queue a run of problem ``name`` from its page hook's form."""

    def start(request: Request, options: Any) -> Any:
        return _submit(request, name, hook.build(options), options)

    start.__annotations__ = {"request": Request, "options": hook.options, "return": Any}
    start.__name__ = f"start_{name}"
    router.post(f"/{name}", status_code=202, summary=hook.summary)(start)


def _add_start_routes() -> None:
    from .. import problems

    for entry in problems.with_hook("page"):
        _add_start_route(entry.name, entry.hook("page"))


_add_start_routes()


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
    sent = _event_id(last_event_id)
    if sent is not None and sent > len(job.points):
        # past every point this job has: an id this server never sent for it (a restarted
        # server numbers its jobs from 1 again, and its job 1 is another run): from the first
        # point, as for any other odd id (it skipped the new run's points up to that number)
        sent = None
    start = sent if sent is not None else max(0, since)

    async def events():
        sent, waited, last = start, 0.0, None
        while waited < STREAM_S:
            finished = job.finished is not None
            doc = job.public(since=sent, queue_position=manager.position(job))
            state = (doc["status"], doc["queue_position"], doc["steps"], len(doc["epochs"]))
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


def _event_id(value: str | None) -> int | None:
    """A ``Last-Event-ID`` as the number of points already sent; None when it is not one. HTTP's
    optional whitespace (spaces, tabs) around a field value is not part of it (RFC 9110 5.5):
    " 3 " is 3. ASCII digits only: "²".isdigit() is True but int("²") fails."""
    if value is None:
        return None
    value = value.strip(" \t")
    if value and value.isascii() and value.isdigit() and len(value) < 19:
        return int(value)
    return None
