"""The figures of a linear-regression run: the tutorial's fit plots and the loss on a log scale."""

from __future__ import annotations

from ..core import plots


def draw(folder, x_np, y_np, snapshots, losses, table) -> list[str]:
    paths = []
    titles = {"init": "at initialisation", "step1": "after one step", "final": "after training"}
    for key, title in titles.items():
        y_hat = snapshots[key].double().numpy()
        if x_np.shape[1] == 1:
            paths.append(plots.fit(x_np[:, 0], y_np, y_hat, f"Linear regression {title}",
                                   folder / f"fit_{key}.png"))
        else:
            paths.append(plots.predicted_vs_actual(y_np, y_hat, f"Linear regression {title}",
                                                   folder / f"fit_{key}.png"))
    paths.append(plots.curves(
        {"full-batch loss": (list(range(len(losses))), losses)}, folder / "loss.png",
        xlabel="update step", ylabel="mean squared error", title="Loss during training",
    ))
    return paths
