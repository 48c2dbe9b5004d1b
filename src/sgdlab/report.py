"""A self-contained HTML report of a sweep or of some runs: tables, configs and figures.

Figures are embedded as base64 PNG, so the file opens anywhere with no network. Everything that
came from a user (run configs, CSV column names, expressions, file paths) passes through
``html.escape``; the page has no scripts.
"""

from __future__ import annotations

import base64
import html
import json
import math
import tempfile
import time
from pathlib import Path
from typing import Any

from . import __version__
from .core.errors import ConfigError
from .core.files import write_text
from .core.owned import owned_figure
from .core.paths import require_file
from .core.store import Store, jsonable

STYLE = """
body{font-family:system-ui,sans-serif;max-width:1100px;margin:2em auto;padding:0 1em;color:#222}
table{border-collapse:collapse;margin:1em 0;font-size:0.9em}
th,td{border:1px solid #ccc;padding:3px 8px;text-align:right}
th{background:#f3f3f3} td.l{text-align:left}
pre{background:#f7f7f7;padding:0.8em;overflow-x:auto;font-size:0.85em}
img{max-width:100%;border:1px solid #eee;margin:0.5em 0}
.diverged{color:#b00020;font-weight:bold}
"""


def e(value: Any) -> str:
    """Escape anything for HTML text or attribute context."""
    return html.escape(str(value), quote=True)


def fmt(value: Any) -> str:
    if isinstance(value, float):
        return "NaN" if math.isnan(value) else f"{value:.6g}"
    if value is None:
        return "-"
    return str(value)


def image(path: str | Path, caption: str = "") -> str:
    path = Path(path)
    if not path.is_file():
        return f"<p>(figure {e(path)} is missing)</p>"
    data = base64.b64encode(path.read_bytes()).decode("ascii")
    return f'<figure><img alt="{e(caption or path.name)}" src="data:image/png;base64,{data}"><figcaption>{e(caption or path.name)}</figcaption></figure>'


def table(rows: list[dict[str, Any]], columns: list[str]) -> str:
    head = "".join(f"<th>{e(c)}</th>" for c in columns)
    body = []
    for row in rows:
        cells = []
        for c in columns:
            value = row.get(c)
            css = ' class="diverged"' if c == "status" and value == "diverged" else (
                ' class="l"' if isinstance(value, str) else "")
            cells.append(f"<td{css}>{e(fmt(value))}</td>")
        body.append("<tr>" + "".join(cells) + "</tr>")
    return f"<table><tr>{head}</tr>{''.join(body)}</table>"


def pre_json(obj: Any) -> str:
    return f"<pre>{e(json.dumps(jsonable(obj), indent=2))}</pre>"


def sweep_section(store: Store, sweep_id: str, scratch: Path) -> str:
    from . import problems
    from .sweep.figures import draw_sweep
    from .sweep.grid import SweepSpec
    from .sweep.summary import summarize_sweep

    saved = store.sweep(sweep_id)
    if saved is None:
        raise ConfigError(f"no sweep {sweep_id!r} in {store.path}")
    if "axes" not in saved["spec"]:  # a study (batch sizes, edge of stability): its runs in turn
        return study_section(store, sweep_id, saved, scratch)
    spec = SweepSpec.from_dict(saved["spec"])
    doc = summarize_sweep(store, sweep_id, spec, problems.get(spec.problem).sweep_adapter())
    rows = doc.pop("_rows")
    axes = [a for a in ("optimizer", "batch_size", "lr", "momentum", "betas", "eps", "weight_decay") if a in spec.axes]
    group_cols = axes + ["seeds", "final_loss_mean", "final_loss_std", "best_loss_mean",
                         "steps_to_target_mean", "seconds_mean", "diverged"]
    if any("accuracy_mean" in g for g in doc["groups"]):
        group_cols.insert(len(axes) + 3, "accuracy_mean")
    cell_cols = ["run_id"] + axes + ["seed", "status", "final_loss", "best_loss", "seconds"]
    best = doc["best"]
    best_text = ", ".join(f"{a} = {fmt(best.get(a))}" for a in axes) + f": final loss {fmt(best['final_loss_mean'])}" if best else "no cell finished without diverging"
    figures = "".join(image(p) for p in draw_sweep(rows, scratch / sweep_id))
    return (
        f"<h2>Sweep {e(sweep_id)} ({e(spec.problem)})</h2>"
        f"<p>{len(rows)} cells; created {e(saved['created'])}. Best: {e(best_text)}.</p>"
        f"<h3>Grid</h3>{pre_json({'axes': spec.axes, 'fixed options': spec.base, 'target': spec.target})}"
        f"<h3>Summary over seeds</h3>{table(doc['groups'], group_cols)}"
        f"<h3>Figures</h3>{figures}"
        f"<h3>Cells</h3>{table(doc['cells'], cell_cols)}"
    )


def study_section(store: Store, study_id: str, saved: dict[str, Any], scratch: Path) -> str:
    """A study's settings, a table of its runs (the key metric of each), then each run."""
    records = store.list_runs(sweep_id=study_id)
    rows = [{"run_id": r.id, "command": r.command, "status": r.status, "lr": r.config.get("lr"),
             "batch_size": (r.metrics or {}).get("batch_size"), r.key_metric_name or "key metric": r.key_metric,
             "verdict": (r.metrics or {}).get("verdict")} for r in records]
    columns = ["run_id", "command", "status", "lr", "batch_size"]
    columns += sorted({r.key_metric_name or "key metric" for r in records}) + ["verdict"]
    return (
        f"<h2>Study {e(study_id)} ({e(saved['spec'].get('study', saved['problem']))})</h2>"
        f"<p>{len(records)} runs; created {e(saved['created'])}.</p>"
        f"<h3>Settings</h3>{pre_json(saved['spec'])}<h3>Runs</h3>{table(rows, columns)}"
        + "".join(run_section(store, r.id, scratch) for r in records)
    )


def run_section(store: Store, run_id: str, scratch: Path) -> str:
    from .core import plots

    record = store.get(run_id)
    parts = [
        f"<h2>Run {e(record.id)}: {e(record.command)} (<span class=\"{e(record.status)}\">{e(record.status)}</span>)</h2>",
        f"<p>created {e(record.created)}; sgdlab {e(record.sgdlab_version)}, torch {e(record.torch_version)}"
        + (f"; sweep {e(record.sweep_id)}" if record.sweep_id else "") + "</p>",
    ]
    if record.key_metric_name:
        parts.append(f"<p>{e(record.key_metric_name)} = {e(fmt(record.key_metric))}</p>")
    parts.append(f"<h3>Config</h3>{pre_json(record.config)}")
    parts.append(f"<details><summary>Metrics</summary>{pre_json(record.metrics)}</details>")
    if record.curves:
        # a curve NAME_step holds the steps of the curve NAME (a sharpness measured every K steps)
        series = {name: (record.curves.get(f"{name}_step") or list(range(len(v))), v)
                  for name, v in record.curves.items()
                  if v and len(v) < 1_000_000 and not name.endswith("_step")}
        path = plots.curves(series, scratch / f"{record.id}-curves.png", xlabel="step",
                            title=f"curves of run {record.id}")
        parts.append(image(path, "recorded curves"))
    for figure in record.figures:
        # only a figure the store owns: a row from a store received from someone else may name
        # /etc/passwd or /proc/self/environ, which must never end up in a page meant to be shared
        owned = owned_figure(store.path, figure)
        parts.append(image(owned) if owned else f"<p>(figure {e(figure)} is missing or outside "
                     f"the run store's folder {e(store.path.parent)}; not included)</p>")
    return "".join(parts)


def build_report(store: Store, *, sweep_id: str | None = None, run_ids: list[str] | None = None,
                 out: str | Path = "report.html") -> Path:
    run_ids = run_ids or []
    if sweep_id is not None and not sweep_id.strip():
        raise ConfigError("--sweep: the sweep id is empty; `sgdlab runs` lists the sweeps' runs")
    if not sweep_id and not run_ids:
        raise ConfigError("nothing to report: give --sweep ID or one or more run ids")
    require_file(out, "report --out")
    if not store.exists():
        raise ConfigError(f"no run store at {store.path}; nothing has been recorded there yet")
    with tempfile.TemporaryDirectory() as tmp:
        scratch = Path(tmp)
        sections = []
        if sweep_id:
            sections.append(sweep_section(store, sweep_id, scratch))
        for run_id in run_ids:
            sections.append(run_section(store, run_id, scratch))
        title = f"sgdlab report: {'sweep ' + sweep_id if sweep_id else ', '.join(run_ids)}"
        page = (
            "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\">"
            f"<title>{e(title)}</title><style>{STYLE}</style></head><body>"
            f"<h1>{e(title)}</h1><p>made {e(time.strftime('%Y-%m-%d %H:%M:%S'))} by sgdlab {e(__version__)} "
            f"from {e(store.path)}</p>{''.join(sections)}</body></html>"
        )
    return write_text(out, page)
