"""The optimizers lesson: its figures, its recorded runs, and its surfaces' paths."""

from __future__ import annotations

import math

import pytest
import torch

from sgdlab.core.store import Store
from sgdlab.lessons import optimizers as lesson

# numbers compared to a tolerance or bit for bit: `make test-numeric` runs these on every kernel path
pytestmark = pytest.mark.numeric


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


@pytest.mark.parametrize("panel", list(lesson.SURFACES))
def test_surface_paths_come_from_the_surface_module_and_equal_torch(panel):
    surface = lesson.surface_of(panel)
    assert surface.name == lesson.SURFACES[panel]["name"]
    assert float(surface.at(torch.tensor(surface.minima[0], dtype=torch.float64))) == 0.0
    start = lesson.SURFACES[panel]["start"]
    runs = {r["label"]: r for r in lesson.descend_each(panel, 30)}
    assert list(runs) == list(lesson.SURFACES[panel]["runs"])
    rule, lr, hp = lesson.SURFACES[panel]["runs"]["adam"]
    assert rule == "adam" and not hp
    xy = torch.tensor(start, dtype=torch.float64, requires_grad=True)
    opt = torch.optim.Adam([xy], lr=lr, foreach=False)
    path = [list(start)]
    for _ in range(30):
        opt.zero_grad()
        surface.at(xy).backward()
        opt.step()
        path.append(xy.detach().tolist())
    adam = runs["adam"]
    # every point: the surface's descent steps Python floats (issue 20), which round a*b + c twice
    # where torch's fused CPU kernels (add with alpha, addcdiv, lerp) may use one FMA rounding:
    # an ulp per operation, ~10 operations per step, 30 contracting steps: far below 1e-12
    assert len(adam["path"]) == len(path)
    for got, want in zip(adam["path"], path):
        assert got == pytest.approx(want, rel=1e-12, abs=1e-14)
    assert len(adam["f"]) == 31 and math.isclose(adam["f"][0], float(surface.at(torch.tensor(start))))
    assert adam["verdict"] in {"converged", "slow", "oscillating"}


def test_the_quadratic_is_bowl_with_curvatures_1_and_25():
    surface = lesson.surface_of("quadratic")
    xy = torch.tensor([[-4.0, 1.5], [0.3, -2.0], [1.0, 1.0]], dtype=torch.float64)
    expected = 0.5 * (xy[:, 0] ** 2 + 25 * xy[:, 1] ** 2)
    assert torch.allclose(surface.f(xy[:, 0], xy[:, 1]), expected, rtol=1e-15, atol=0)  # four float64 operations on short decimals: a few eps
