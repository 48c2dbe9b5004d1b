"""A sweep's figures: curves per batch size and per learning rate, the final-loss heatmap, loss
against samples seen and against wall-clock time. Diverged cells are marked, never dropped."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from ..core.plots import _pyplot, plot_series, save


def draw_sweep(rows: list[dict[str, Any]], folder: Path) -> list[str]:
    if not rows:
        return []
    first_seed = min(r["seed"] for r in rows)
    shown = [r for r in rows if r["seed"] == first_seed]  # one curve per cell, the first seed
    return [
        _panels(shown, folder / "curves_by_batch_size.png", panel="batch_size", line=("lr", "optimizer"),
                title="Loss per batch size"),
        _panels(shown, folder / "curves_by_lr.png", panel="lr", line=("batch_size", "optimizer"),
                title="Loss per learning rate"),
        _heatmap(rows, folder / "final_loss_heatmap.png"),
        _against(shown, folder / "loss_vs_samples.png", "samples"),
        _against(shown, folder / "loss_vs_time.png", "seconds"),
    ]


def _label(row: dict[str, Any], keys: tuple[str, ...]) -> str:
    return ", ".join(f"{k}={row[k]}" for k in keys if row.get(k) is not None)


def _plot_curve(ax, xs, row, label) -> None:
    points = [(a, v) for a, v in zip(xs, row["curve"]) if math.isfinite(v) and v > 0]
    if not points:
        return
    line = plot_series(ax, [p[0] for p in points], [p[1] for p in points], label=label, linewidth=1.1)
    if row["status"] == "diverged":
        ax.plot([points[-1][0]], [points[-1][1]], "x", color=line.get_color(), markersize=9)


def _panels(rows, path, *, panel: str, line: tuple[str, ...], title: str) -> str:
    plt = _pyplot()
    keys = sorted({r[panel] for r in rows}, key=lambda v: (v is None, v))
    fig, axes = plt.subplots(1, len(keys), figsize=(4.2 * len(keys) + 1, 3.8), squeeze=False)
    for ax, key in zip(axes[0], keys):
        for row in (r for r in rows if r[panel] == key):
            _plot_curve(ax, range(len(row["curve"])), row, _label(row, line))
        ax.set_yscale("log")
        ax.set_title(f"{panel} = {key}")
        ax.set_xlabel("update step")
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=7, loc="upper right")  # "best" is slow with many points
    axes[0][0].set_ylabel("loss (log scale); x = diverged")
    fig.suptitle(title)
    return save(fig, path)


def _heatmap(rows, path) -> str:
    import numpy as np

    plt = _pyplot()
    optimizers = sorted({r["optimizer"] for r in rows})
    lrs = sorted({r["lr"] for r in rows})
    sizes = sorted({r["batch_size"] for r in rows}, key=lambda v: (v is None, v))
    fig, axes = plt.subplots(1, len(optimizers), figsize=(1.2 * len(lrs) + 3.5, 0.7 * len(sizes) + 2.5) if len(optimizers) == 1 else (5 * len(optimizers), 0.7 * len(sizes) + 2.5), squeeze=False)
    for ax, name in zip(axes[0], optimizers):
        grid = np.full((len(sizes), len(lrs)), np.nan)
        diverged = np.zeros_like(grid, dtype=bool)
        for i, size in enumerate(sizes):
            for j, lr in enumerate(lrs):
                cell = [r for r in rows if r["optimizer"] == name and r["lr"] == lr and r["batch_size"] == size]
                if not cell:
                    continue
                finals = [r["final_loss"] for r in cell]
                diverged[i, j] = any(r["status"] == "diverged" for r in cell)
                if not diverged[i, j] and all(math.isfinite(v) and v > 0 for v in finals):
                    grid[i, j] = np.log10(np.mean(finals))
        image = ax.imshow(grid, cmap="viridis_r", aspect="auto")
        for i in range(len(sizes)):
            for j in range(len(lrs)):
                text = "diverged" if diverged[i, j] else ("" if np.isnan(grid[i, j]) else f"{10 ** grid[i, j]:.3g}")
                ax.text(j, i, text, ha="center", va="center", fontsize=7,
                        color="red" if diverged[i, j] else "white")
        ax.set_xticks(range(len(lrs)), [f"{v:g}" for v in lrs], rotation=45)
        ax.set_yticks(range(len(sizes)), ["full" if s is None else str(s) for s in sizes])
        ax.set_xlabel("learning rate")
        ax.set_ylabel("batch size")
        ax.set_title(f"final loss ({name}, mean over seeds)")
        fig.colorbar(image, ax=ax, label="log10 final loss")
    return save(fig, path)


def _against(rows, path, what: str) -> str:
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(7, 4.2))
    for row in rows:
        n = len(row["curve"])
        if what == "samples":
            xs = [i * row["samples_per_step"] for i in range(n)]
        else:
            per_step = row["seconds"] / max(n - 1, 1)
            xs = [i * per_step for i in range(n)]
        _plot_curve(ax, xs, row, _label(row, ("lr", "batch_size", "optimizer")))
    ax.set_yscale("log")
    ax.set_xlabel("samples seen" if what == "samples" else "wall-clock seconds (training loop)")
    ax.set_ylabel("loss (log scale); x = diverged")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=7, loc="upper right")  # "best" is slow with many points
    return save(fig, path)
