"""The demo: each lesson of the tutorial run on embedded data, outputs under one folder.

Each lesson is a function taking the folder and the store and returning a summary; later lessons
add themselves to ``LESSONS``.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any, Callable

from ..core.store import Store
from .linreg import lesson_linreg
from .mnist import lesson_mnist
from .optimizers import lesson_optimizers
from .surface import lesson_learning_rate, lesson_saddles
from .theory import lesson_theory


LESSONS: list[tuple[str, Callable[[Path, Store, bool], dict[str, Any]]]] = [
    ("linreg", lesson_linreg),
    ("surface-lr", lesson_learning_rate),
    ("surface-saddles", lesson_saddles),
    ("optimizers", lesson_optimizers),
    ("mnist", lesson_mnist),
    ("theory", lesson_theory),
]


def run_demo(out: str | Path, *, store: Store | None = None, quick: bool = False) -> dict[str, Any]:
    from ..core.paths import require_folder

    require_folder(out, "--out")
    out = Path(out).resolve()
    store = store or Store()
    store.check_writable()
    lessons = []
    for slug, lesson in LESSONS:
        print(f"running lesson: {slug}", file=sys.stderr)
        lessons.append(lesson(out / slug, store, quick))
    return {"status": "completed", "out": str(out), "store": str(store.path), "lessons": lessons}
