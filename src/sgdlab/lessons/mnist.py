"""Demo lesson for tutorial section 4: the MLP and the batch-size study on mnist-5k."""

from __future__ import annotations

from typing import Any

from ..core.store import Store


def lesson_mnist(folder, store: Store, quick: bool) -> dict[str, Any]:
    """Demo lesson: the tutorial's MLP on mnist-5k at batch sizes 1, 10, 100, 1000 (one epoch).
    Quick mode (tests): 300 training and 200 test images, batch sizes 10 and 100."""
    from ..mnist.config import MnistConfig
    from ..mnist.study import run_study

    config = MnistConfig(out=str(folder), limit_train=300 if quick else None,
                         limit_test=200 if quick else None)
    study = run_study(config, [10, 100] if quick else [1, 10, 100, 1000], store=store)
    parts = [f"batch {r['batch_size']}: {100 * r['test_accuracy']:.1f}% in {r['seconds']:.2f} s"
             for r in study["runs"]]
    return {
        "name": "MNIST MLP and the batch-size study (tutorial section 4)",
        "summary": "one epoch on mnist-5k, test accuracy: " + "; ".join(parts),
        "figures": study["figures"],
        "run_ids": [r["run_id"] for r in study["runs"]],
    }
