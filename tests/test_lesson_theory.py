"""`make demo`'s theory lesson: the MLP's stable learning rate 2/lambda_max beside a run."""

from __future__ import annotations

from pathlib import Path

import pytest

from sgdlab.core.store import Store
from sgdlab.lessons.demo import LESSONS
from sgdlab.lessons.theory import lesson_theory


def test_the_demo_shows_the_bound_beside_a_run(tmp_path):
    assert [slug for slug, _ in LESSONS][-1] == "theory"
    lesson = lesson_theory(tmp_path / "theory", Store(), True)
    (run_id,) = lesson["run_ids"]
    record = Store().get(run_id)
    lam, bound = record.metrics["sharpness_init"], record.metrics["lr_bound"]
    assert bound == pytest.approx(2 / lam, rel=1e-12)  # one float64 division
    assert f"2/lambda_max = {bound:.4g}" in lesson["summary"] and "below it" in lesson["summary"]
    assert lesson["figures"] and all(Path(p).is_file() for p in lesson["figures"])
