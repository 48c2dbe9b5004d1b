"""The batch-size figures: the tutorial's loss-against-progress plot, and two that show the cost.

One curve per run (batch size). The x axis is, in turn: progress through training in epochs (the
tutorial's figure), training images seen (the work done), and training seconds (what it cost on
this machine). Batch losses are noisy (batch size 1 swings over orders of magnitude), so each
curve is the mean over consecutive windows of steps, about 200 points per curve; the window is
written in the legend. Non-finite losses are kept as NaN in the window mean, never hidden.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Sequence

POINTS = 200


def samples_seen(n_train: int, batch_size: int, steps: int) -> list[int]:
    """Images seen after each step (an epoch's last batch may be smaller)."""
    seen, total = [], 0
    for i in range(steps):
        begin = (i * batch_size) % _epoch_span(n_train, batch_size)
        total += min(batch_size, n_train - begin)
        seen.append(total)
    return seen


def _epoch_span(n: int, b: int) -> int:
    # batches start at 0, b, 2b, ... within an epoch: an epoch spans ceil(n / b) * b positions
    return -(-n // b) * b


def window_means(xs: Sequence[float], ys: Sequence[float], window: int):
    out_x, out_y = [], []
    for begin in range(0, len(ys), window):
        chunk_x, chunk_y = xs[begin : begin + window], ys[begin : begin + window]
        out_x.append(chunk_x[-1])
        out_y.append(sum(chunk_y) / len(chunk_y))
    return out_x, out_y


def draw_runs(runs: Sequence[dict[str, Any]], folder: str | Path) -> list[str]:
    """Three figures in ``folder`` (loss against epochs, images seen, seconds); returns paths."""
    from ..core import plots

    folder = Path(folder)
    axes = {
        "epochs": ("progress through training (epochs)", "loss_vs_progress.png",
                   "Training loss against progress (the tutorial's figure)"),
        "samples": ("training images seen", "loss_vs_samples.png",
                    "Training loss against the work done"),
        "seconds": ("training seconds (evaluation excluded)", "loss_vs_seconds.png",
                    "Training loss against wall-clock time"),
    }
    series: dict[str, dict[str, tuple[list[float], list[float]]]] = {k: {} for k in axes}
    for r in runs:
        losses = r["step_losses"]
        if not losses:
            continue
        n, b = r["data"]["train"], r["batch_size"]
        seen = samples_seen(n, b, len(losses))
        window = max(1, len(losses) // POINTS)
        label = f"batch size {b}" + (f" (mean of {window} steps)" if window > 1 else "")
        xs = {"epochs": [s / n for s in seen], "samples": seen,
              "seconds": r["step_times"][: len(losses)]}
        for key in axes:
            series[key][label] = window_means(xs[key], losses, window)
    paths = []
    for key, (xlabel, name, title) in axes.items():
        paths.append(plots.curves(series[key], folder / name, xlabel=xlabel,
                                  ylabel="cross-entropy (batch loss)", title=title))
    return paths
