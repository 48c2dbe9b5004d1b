"""Figures, drawn with matplotlib's non-interactive Agg backend and written atomically."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Sequence

from .files import write_with


def _pyplot():
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    return plt


def save(fig, path: str | Path) -> str:
    """Write ``fig`` as PNG atomically and close it; returns the path as a string."""
    plt = _pyplot()
    path = Path(path)
    write_with(path, lambda tmp: fig.savefig(tmp, format="png", dpi=110, bbox_inches="tight"))
    plt.close(fig)
    return str(path)


def plot_series(ax, xs: Sequence[float], ys: Sequence[float], **style):
    """``ax.plot`` of one recorded series; one point gets a marker, since a line needs two (a
    one-step run, a one-epoch test loss, a sharpness measured once were drawn as nothing)."""
    xs, ys = list(xs), list(ys)
    if len(xs) == 1 and "marker" not in style:
        style["marker"] = "o"
    (line,) = ax.plot(xs, ys, **style)
    return line


def fit(x: Sequence[float], y: Sequence[float], y_hat: Sequence[float], title: str, path) -> str:
    """The tutorial's figure: real points in blue, the model's estimates in red."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(5.5, 4))
    ax.plot(x, y, "bo", label="real")
    ax.plot(x, y_hat, "ro", label="estimated")
    ax.set_xlabel("x")
    ax.set_ylabel("y")
    ax.set_title(title)
    ax.legend()
    return save(fig, path)


def predicted_vs_actual(y: Sequence[float], y_hat: Sequence[float], title: str, path) -> str:
    """For several features the fit cannot be drawn against one x: plot estimate against truth."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(5.5, 4))
    ax.plot(y, y_hat, "ro", label="estimated")
    finite = [v for v in list(y) + list(y_hat) if math.isfinite(v)]
    if finite:
        lo, hi = min(finite), max(finite)
        ax.plot([lo, hi], [lo, hi], "b-", label="perfect fit")
    ax.set_xlabel("actual y")
    ax.set_ylabel("estimated y")
    ax.set_title(title)
    ax.legend()
    return save(fig, path)


def curves(
    series: dict[str, tuple[Sequence[float], Sequence[float]]],
    path,
    *,
    xlabel: str,
    ylabel: str = "loss",
    title: str = "",
    log: bool = True,
    marks: dict[str, tuple[float, str]] | None = None,
    levels: dict[str, tuple[float, str]] | None = None,
    xlog: bool = False,
) -> str:
    """Overlay several (x, y) curves; log y-axis when every finite value is positive.

    ``marks`` puts a labelled cross on a curve (a diverged run's last finite point, say).
    ``levels`` draws, for a curve's label, a dashed horizontal line in its colour at a value
    (a theory's number, e.g. 2 / lr beside a sharpness curve), with its own legend text.
    Non-finite values are left out of the line (matplotlib cannot draw them) but marked.
    """
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(6.5, 4.2))
    positive = True
    colours: dict[str, str] = {}
    for label, (xs, ys) in series.items():
        points = [(a, b) for a, b in zip(xs, ys) if math.isfinite(b)]
        positive = positive and all(b > 0 for _, b in points)
        if points:
            line = plot_series(ax, [a for a, _ in points], [b for _, b in points], label=label, linewidth=1.2)
            colours[label] = line.get_color()
    for label, (value, text) in (levels or {}).items():
        if math.isfinite(value):
            positive = positive and value > 0
            ax.axhline(value, linestyle="--", linewidth=1, color=colours.get(label, "k"), label=text)
    for label, (x_at, text) in (marks or {}).items():
        xs, ys = series[label]
        finite = [(a, b) for a, b in zip(xs, ys) if math.isfinite(b) and a <= x_at]
        if finite:
            ax.plot([finite[-1][0]], [finite[-1][1]], "kx", markersize=9)
            ax.annotate(text, finite[-1], textcoords="offset points", xytext=(4, 4), fontsize=8)
    if log and positive:
        ax.set_yscale("log")
    if xlog:
        ax.set_xscale("log")
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel + (" (log scale)" if log and positive else ""))
    if title:
        ax.set_title(title)
    if ax.get_legend_handles_labels()[1]:  # no finite point at all: no legend, no warning
        ax.legend(loc="upper right", fontsize=8)
    ax.grid(True, which="both", alpha=0.3)
    return save(fig, path)


def lr_range(lrs: Sequence[float], losses: Sequence[float], smoothed: Sequence[float],
             marks: dict[str, float | None], path, title: str = "") -> str:
    """The range test: batch loss and its smoothed form against lr (log x), with vertical lines
    at named learning rates (the theory's bound, the suggestion, where it stopped)."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(6.5, 4.2))
    finite = [(a, b) for a, b in zip(lrs, losses) if math.isfinite(b)]
    plot_series(ax, [a for a, _ in finite], [b for _, b in finite], color="0.7", linewidth=1, label="batch loss")
    finite = [(a, b) for a, b in zip(lrs, smoothed) if math.isfinite(b)]
    plot_series(ax, [a for a, _ in finite], [b for _, b in finite], linewidth=1.5, label="smoothed (beta 0.98)")
    styles = iter([("-", "tab:red"), (":", "k"), ("-.", "k"), ("--", "tab:orange"), ("--", "0.4")])
    for label, lr in marks.items():  # the first mark (the theory's) in red, solid
        style, colour = next(styles, ("--", "k"))
        if lr is not None and math.isfinite(lr) and lr > 0:
            ax.axvline(lr, linestyle=style, color=colour, linewidth=1.2, label=f"{label}: {lr:.3g}")
    ax.set_xscale("log")
    if finite and all(b > 0 for _, b in finite):
        ax.set_yscale("log")
    ax.set_xlabel("learning rate (log scale)")
    ax.set_ylabel("loss")
    ax.set_title(title or "Learning-rate range test")
    ax.legend(fontsize=8)
    ax.grid(True, which="both", alpha=0.3)
    return save(fig, path)
