"""The run store as JSON for the pages: the list, one run, its curves and figures, sweeps.

Everything is read through ``ReadOnlyStore`` (SQLite ``mode=ro``). A client names runs by id
and figures by number, never by path.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import FileResponse

from ..core.errors import ConfigError, StoreError
from ..core.store import RunRecord
from .responses import json_response
from .store import ReadOnlyStore, check_id, decimate, figure_file

router = APIRouter(prefix="/api", tags=["runs"])

MAX_LIST = 1000  # runs in one list response
MAX_POINTS = 20_000  # points per curve in one response (longer curves are thinned, spikes kept)
MAX_OVERLAY = 20  # runs in one overlay


def _store(request: Request) -> ReadOnlyStore:
    return request.app.state.read_store


def label(command: str, config: dict[str, Any]) -> str:
    """A run named by what it is: its command and the hyperparameters people compare runs by
    (``mnist · sgd β=0.9 · lr 0.01 · b 100 · h 200 · seed 0``), for lists and legends."""
    parts = []
    opt = config.get("optimizer")
    if isinstance(opt, dict) and opt.get("name"):
        parts.append(opt["name"] + (f" β={opt['momentum']:g}" if opt.get("momentum") else "")
                     + (" nesterov" if opt.get("nesterov") else ""))
    elif isinstance(opt, str):
        parts.append(opt)
    for key, short in (("name", ""), ("expr", "f = "), ("lr", "lr "), ("lrs", "lr "),
                       ("batch_size", "b "), ("hidden", "h "), ("epochs", "epochs "), ("seed", "seed ")):
        value = config.get(key)
        if value is None or value == [] or (key == "seed" and not parts):
            continue
        if isinstance(value, (list, tuple)):
            value = ",".join(f"{v:g}" if isinstance(v, float) else str(v) for v in value)
        elif isinstance(value, float):
            value = f"{value:g}"
        parts.append(f"{short}{value}")
    return " · ".join([command, *parts])


def _row(r: RunRecord) -> dict[str, Any]:
    return {"id": r.id, "label": label(r.command, r.config or {}), "created": r.created,
            "command": r.command, "status": r.state,
            "sweep_id": r.sweep_id, "key_metric_name": r.key_metric_name, "key_metric": r.key_metric}


def _get(store: ReadOnlyStore, run_id: str, curves: bool = True) -> RunRecord:
    check_id(run_id)
    if not store.exists():
        raise StoreError(f"no run {run_id!r}: nothing has been recorded in {store.path} yet")
    return store.get(run_id, curves=curves)


def _curves(record: RunRecord, max_points: int) -> dict[str, Any]:
    out = {}
    for name, values in record.curves.items():
        steps, kept = decimate(values, max_points)
        out[name] = {"step": steps, "value": kept, "points": len(values)}
    return out


def _check_points(max_points: int) -> None:
    if not 2 <= max_points <= MAX_POINTS:
        raise ConfigError(f"max_points must be 2 to {MAX_POINTS}, got {max_points}")


@router.get("/runs", summary="Recorded runs, newest first, filtered by command, status, sweep")
def list_runs(request: Request, command: str | None = None, status: str | None = None,
              sweep: str | None = None, limit: int = Query(200, ge=1, le=MAX_LIST)) -> Any:
    store = _store(request)
    if sweep:
        check_id(sweep, "sweep id")
    records = store.find(command=command, status=status, sweep_id=sweep, limit=limit)
    return json_response({"store": str(store.path), "exists": store.exists(),
                          "runs": [_row(r) for r in records], "facets": store.facets()})


@router.get("/runs/{run_id}", summary="One run: what `sgdlab runs show ID --json` prints")
def show_run(request: Request, run_id: str, lang: str | None = None) -> Any:
    from .. import i18n

    store = _store(request)
    record = _get(store, run_id)
    urls = [f"/api/runs/{record.id}/figures/{i}" if figure_file(store, record, i) else None
            for i in range(len(record.figures))]
    # a diverged run's why in the reader's language (?lang=, else Accept-Language); the record
    # itself (metrics.divergence.message) stays the English the run wrote
    chosen = i18n.language(lang) if lang else i18n.language_from_header(request.headers.get("accept-language"))
    divergence = record.metrics.get("divergence") if isinstance(record.metrics, dict) else None
    return json_response(_row(record) | {
        "divergence_text": i18n.divergence_text(divergence, chosen) if divergence else None,
        "config": record.config, "metrics": record.metrics, "figures": record.figures,
        "figure_urls": urls, "sgdlab_version": record.sgdlab_version,
        "torch_version": record.torch_version, "curves": record.curves,
    })


@router.get("/runs/{run_id}/curves", summary="A run's curves, thinned to max_points for drawing")
def run_curves(request: Request, run_id: str, max_points: int = 4000) -> Any:
    _check_points(max_points)
    record = _get(_store(request), run_id)
    return json_response({"id": record.id, "command": record.command, "status": record.state,
                          "curves": _curves(record, max_points)})


@router.get("/overlay", summary="The curves of several runs (ids comma separated), for overlaying")
def overlay(request: Request, ids: str, max_points: int = 4000) -> Any:
    _check_points(max_points)
    chosen = [i for i in ids.split(",") if i]
    if not 1 <= len(chosen) <= MAX_OVERLAY:
        raise ConfigError(f"ids: give 1 to {MAX_OVERLAY} run ids, got {len(chosen)}")
    store = _store(request)
    runs = []
    for run_id in chosen:
        record = _get(store, run_id)
        runs.append(_row(record) | {"config": record.config, "curves": _curves(record, max_points)})
    return json_response({"runs": runs})


@router.get("/runs/{run_id}/figures/{index}", summary="A run's n-th figure (PNG), if the store owns it",
            response_class=FileResponse)
def run_figure(request: Request, run_id: str, index: int) -> Any:
    store = _store(request)
    record = _get(store, run_id, curves=False)
    path = figure_file(store, record, index)
    if path is None:
        raise StoreError(f"run {record.id} has no figure {index} inside the run store's folder")
    return FileResponse(path, media_type="image/svg+xml" if path.suffix == ".svg" else "image/png")


@router.get("/sweeps", summary="Recorded sweeps and batch-size studies, newest first")
def list_sweeps(request: Request) -> Any:
    return json_response({"sweeps": _store(request).sweeps()})


@router.get("/sweeps/{sweep_id}", summary="A sweep's summary (as `sgdlab sweep --json`) and curves")
def show_sweep(request: Request, sweep_id: str, max_points: int = 1000) -> Any:
    from .. import problems
    from ..sweep.summary import summarize_sweep

    _check_points(max_points)
    check_id(sweep_id, "sweep id")
    store = _store(request)
    saved = store.sweep(sweep_id) if store.exists() else None
    if saved is None:
        raise StoreError(f"no sweep {sweep_id!r} in {store.path}")
    if "axes" not in saved["spec"] and "batch_sizes" not in saved["spec"]:
        return json_response(_study(store, sweep_id, saved, max_points))
    spec = _spec(saved)
    doc = summarize_sweep(store, sweep_id, spec, problems.get(spec.problem).sweep_adapter())
    rows = doc.pop("_rows")
    curves = []
    for row in rows:
        steps, values = decimate(row["curve"], max_points)
        curves.append({k: row.get(k) for k in ("run_id", "lr", "batch_size", "optimizer", "seed",
                                                "status")} | {"step": steps, "value": values})
    return json_response(doc | {"created": saved["created"], "curves": curves})


def _study(store, study_id: str, saved: dict[str, Any], max_points: int) -> dict[str, Any]:
    """A study that is not a grid (sharpness): its settings, runs and loss curves."""
    runs, curves = [], []
    for r in store.list_runs(sweep_id=study_id):
        full = store.get(r.id)
        runs.append({"run_id": r.id, "command": r.command, "status": r.state, "lr": r.config.get("lr"),
                     "key_metric_name": r.key_metric_name, "key_metric": r.key_metric})
        steps, values = decimate(full.curves.get("loss") or full.curves.get("step_loss") or [], max_points)
        curves.append({"run_id": r.id, "lr": r.config.get("lr"), "status": r.state, "step": steps, "value": values})
    return {"sweep_id": study_id, "study": saved["spec"].get("study"), "problem": saved["problem"],
            "created": saved["created"], "settings": saved["spec"], "runs": runs, "curves": curves}


def _spec(saved: dict[str, Any]):
    """The sweep's grid; an mnist batch-size study (`sgdlab mnist --batch-size 1,10,...`) is
    read as a sweep over batch size."""
    from ..sweep.grid import SweepSpec

    spec = saved["spec"]
    if "axes" in spec:
        return SweepSpec.from_dict(spec)
    return SweepSpec(problem=saved["problem"], axes={"batch_size": list(spec.get("batch_sizes", []))},
                     base=spec.get("config", {}))
