"""Figures for `sgdlab surface`: contours with every trajectory, and f against step."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np

from ..core import plots

GRID = 160  # contour grid points per axis
VIEW_CAP = 2.0  # the view grows to fit the paths, but never beyond 2x the surface's own box


def view_box(surface, runs: list[dict]) -> tuple[float, float, float, float]:
    """The surface's box, widened to show every finite path point (within VIEW_CAP of it)."""
    x0, x1, y0, y1 = (float(v) for v in surface.box)
    cx, cy, wx, wy = (x0 + x1) / 2, (y0 + y1) / 2, (x1 - x0) / 2, (y1 - y0) / 2
    xs, ys = [x0, x1], [y0, y1]
    for r in runs:
        for x, y in r["path"]:
            if math.isfinite(x) and math.isfinite(y) and abs(x - cx) <= VIEW_CAP * wx \
                    and abs(y - cy) <= VIEW_CAP * wy:
                xs.append(x)
                ys.append(y)
    mx, my = 0.05 * (max(xs) - min(xs)), 0.05 * (max(ys) - min(ys))
    return min(xs) - mx, max(xs) + mx, min(ys) - my, max(ys) + my


def color(i: int) -> str:
    """The color of trajectory ``i`` (the cycle's first color is skipped: it sits on the contours)."""
    colors = plots._pyplot().rcParams["axes.prop_cycle"].by_key()["color"]
    return colors[(i + 1) % len(colors)]


def contour(surface, runs: list[dict], path: Path, title: str) -> str:
    """Filled contours of f, each trajectory on top: o = start, x = end, arrows show the direction."""
    fig, ax = plots._pyplot().subplots(figsize=(6.4, 5.2))
    contour_panel(fig, ax, surface, runs, title)
    return plots.save(fig, path)


def contour_panel(fig, ax, surface, runs: list[dict], title: str) -> None:
    """``contour`` drawn on ``ax``. A run's legend entry is its ``label`` (default ``lr=...``)
    and its verdict."""
    import torch

    x0, x1, y0, y1 = view_box(surface, runs)
    gx = torch.linspace(x0, x1, GRID, dtype=torch.float64)
    gy = torch.linspace(y0, y1, GRID, dtype=torch.float64)
    X, Y = torch.meshgrid(gx, gy, indexing="xy")
    with torch.no_grad():
        Z = surface.f(X, Y) + torch.zeros_like(X)
    Z = Z.numpy()
    finite = Z[np.isfinite(Z)]
    if finite.size and finite.max() > finite.min():
        # levels at quantiles of f over the view: every region gets contour lines, even when f
        # spans many orders of magnitude (Rosenbrock)
        levels = np.unique(np.quantile(finite, np.linspace(0, 1, 25)))
        if levels.size >= 2:
            filled = ax.contourf(X.numpy(), Y.numpy(), Z, levels=levels, cmap="viridis", alpha=0.85)
            ax.contour(X.numpy(), Y.numpy(), Z, levels=levels, colors="k", linewidths=0.3, alpha=0.5)
            fig.colorbar(filled, ax=ax, label="f(x, y)")
    for i, r in enumerate(runs):
        c = color(i)
        pts = np.array([p for p in r["path"] if math.isfinite(p[0]) and math.isfinite(p[1])])
        if pts.size == 0:
            continue
        name = r.get("label") or f"lr={r['lr']:g}"
        ax.plot(pts[:, 0], pts[:, 1], "-", color=c, linewidth=1.3, label=f"{name}: {r['verdict']}")
        ax.plot(pts[:, 0], pts[:, 1], ".", color=c, markersize=2.5)
        ax.plot(*pts[0], "o", color=c, markersize=7, markeredgecolor="k")
        ax.plot(*pts[-1], "X", color=c, markersize=9, markeredgecolor="k")
        # a few arrows along the path show which way it runs
        n = len(pts) - 1
        for k in sorted({int(n * q) for q in (0.0, 0.25, 0.5, 0.75)} - {n}):
            ax.annotate("", xy=pts[k + 1], xytext=pts[k],
                        arrowprops=dict(arrowstyle="->", color=c, lw=1.5))
    for mx, my in surface.minima:
        ax.plot(mx, my, "*", color="white", markersize=10, markeredgecolor="k")
    if surface.saddle is not None:
        ax.plot(*surface.saddle, "s", color="red", markersize=6, markeredgecolor="k", label="saddle")
    ax.set_xlim(x0, x1)
    ax.set_ylim(y0, y1)
    ax.set_xlabel("x")
    ax.set_ylabel("y")
    ax.set_title(title)
    ax.legend(loc="best", fontsize=7)


def draw(folder: Path, surface, result: dict[str, Any]) -> list[str]:
    runs = result["runs"]
    title = f"f(x, y) = {surface.formula}" if len(surface.formula) < 60 else surface.name
    paths = [contour(surface, runs, Path(folder) / "contour.png", title)]
    series = {}
    for i, r in enumerate(runs):
        if not any(math.isfinite(v) for v in r["f"]):
            continue  # nothing to draw (f was never finite)
        label = f"lr={r['lr']:g} ({r['verdict']})"
        series[label if label not in series else f"{label} #{i}"] = (list(range(len(r["f"]))), r["f"])
    if series:
        paths.append(plots.curves(series, Path(folder) / "f_vs_step.png", xlabel="step",
                                  ylabel="f(x, y)", title=title))
    return paths
