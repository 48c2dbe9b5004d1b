"""The scaling study's one figure: steps to target against the global batch (with perfect linear
scaling and B_simple), and the learning rate used against the bound 2 / lambda_max."""

from __future__ import annotations

from pathlib import Path


def draw(document: dict, path: str | Path) -> str:
    from ..core.plots import _pyplot, save

    plt = _pyplot()
    rows = document["rows"]
    theory = document.get("theory") or {}
    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 4))
    reached = [r for r in rows if r["steps_to_target"]]
    batches = [r["global_batch"] for r in reached]
    left.plot(batches, [r["steps_to_target"] for r in reached], "o-", label="measured")
    if reached:
        first = reached[0]
        left.plot(batches, [first["steps_to_target"] * first["global_batch"] / b for b in batches],
                  ":", color="grey", label="perfect scaling (steps x N = const)")
    if theory.get("b_simple"):
        left.axvline(theory["b_simple"], color="tab:red", linestyle="--",
                     label=f"B_simple = {theory['b_simple']:.0f}")
    for r in rows:
        if not r["steps_to_target"]:
            left.annotate(r["status"], (r["global_batch"], 1), fontsize=8, color="tab:red")
    left.set(xscale="log", yscale="log", xlabel="global batch (N workers x per-worker batch)",
             ylabel=f"steps to training loss {document['target']:g}",
             title=f"rule {document['rule']}, warmup {document['warmup']}")
    left.legend(fontsize=8)
    right.plot([r["global_batch"] for r in rows], [r["lr"] for r in rows], "o-", label="lr used")
    if theory.get("lr_bound"):
        right.axhline(theory["lr_bound"], color="tab:red", linestyle="--",
                      label=f"2 / lambda_max = {theory['lr_bound']:.3g}")
    right.set(xscale="log", yscale="log", xlabel="global batch", ylabel="learning rate",
              title="the lr against the stability bound")
    right.legend(fontsize=8)
    fig.tight_layout()
    return save(fig, path)
