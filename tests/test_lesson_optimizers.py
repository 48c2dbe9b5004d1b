"""The optimizers lesson: its figures, its recorded runs, and its surfaces' paths."""

from __future__ import annotations

import math

import pytest
import torch

from sgdlab import lesson_optimizers as lesson
from sgdlab.store import Store


def test_lesson_writes_both_figures_and_records_every_run(tmp_path):
    store = Store(tmp_path / "runs.db")
    out = lesson.lesson_optimizers(tmp_path / "optimizers", store, quick=True)
    assert [p.split("/")[-1] for p in out["figures"]] == ["optimizers_linreg.png", "optimizers_surface.png"]
    for path in out["figures"]:
        with open(path, "rb") as f:
            assert f.read(8) == b"\x89PNG\r\n\x1a\n"
    runs = {r.id: r for r in store.list_runs(limit=None)}
    assert set(out["run_ids"]) == set(runs)
    assert len(runs) == len(lesson.LINREG_RUNS) + 1
    assert sorted({r.command for r in runs.values()}) == ["linreg", "optimizers-surface"]
    # every rule made progress on the tutorial's regression (initial loss 10.23)
    assert all(loss < 1.0 for loss in out["final_losses"].values()), out["final_losses"]
    # on the quadratic every path moved towards the minimum from 4.3 away
    assert all(d < 1.0 for d in out["distance_to_minimum"]["quadratic"].values())


@pytest.mark.parametrize("surface", list(lesson.SURFACES))
def test_surface_paths_use_the_rules_as_torch_would(surface):
    f, start, minimum, _, _, runs = lesson.SURFACES[surface]
    assert float(f(torch.tensor(minimum, dtype=torch.float64))) == 0.0
    rule, lr, hp = runs["adam"]
    points, values = lesson.path_on_surface(f, start, rule, lr, 30, **hp)
    xy = torch.tensor(start, dtype=torch.float64, requires_grad=True)
    opt = torch.optim.Adam([xy], lr=lr, foreach=False)
    for _ in range(30):
        opt.zero_grad()
        f(xy).backward()
        opt.step()
    assert points[-1] == xy.detach().tolist()
    assert len(points) == 31 and len(values) == 31 and math.isclose(values[0], float(f(torch.tensor(start))))
