"""The tutorial notebooks: built from their sources, stored without outputs, executed top to bottom.

Each notebook checks its own claims with ``assert`` cells (the tutorial's numbers, the behaviour
of tensors); executing it here turns every one of those into a test.
"""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = ROOT / "notebooks"
CHAPTERS = ["01_tensors", "02_gradient_descent", "03_linear_regression", "04_mnist_sgd",
            "05_why_that_lr_and_batch"]


def _build_module():
    spec = importlib.util.spec_from_file_location("notebooks_build", NOTEBOOKS / "build.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


build = _build_module()


def _cells(chapter: str) -> list[dict]:
    """The stored cells, each source joined into one string (the JSON stores a list of lines)."""
    nb = json.loads((NOTEBOOKS / f"{chapter}.ipynb").read_text(encoding="utf-8"))
    return [dict(c, source="".join(c["source"])) for c in nb["cells"]]


def test_one_notebook_per_chapter():
    assert [s.stem for s in build.chapters()] == CHAPTERS
    assert sorted(p.stem for p in NOTEBOOKS.glob("*.ipynb")) == CHAPTERS


def test_notebooks_match_their_sources():
    assert build.stale() == [], "run: python notebooks/build.py"


@pytest.mark.parametrize("chapter", CHAPTERS)
def test_stored_without_outputs(chapter):
    nb = json.loads((NOTEBOOKS / f"{chapter}.ipynb").read_text(encoding="utf-8"))
    assert nb["metadata"]["kernelspec"]["name"] == "python3"
    for cell in nb["cells"]:
        if cell["cell_type"] == "code":
            assert cell["outputs"] == [] and cell["execution_count"] is None


def test_headings_are_chinese_and_english_and_follow_the_tutorial():
    for chapter, number in zip(CHAPTERS, "12345"):
        title = _cells(chapter)[0]["source"].splitlines()[0]
        assert title.startswith(f"# {number} ") and "·" in title
        assert any("\u4e00" <= ch <= "\u9fff" for ch in title), title
    # every numbered section of the tutorial's chapters has its heading
    sections = {"01_tensors": ["1.1", "1.1.1", "1.1.2", "1.1.3", "1.1.4", "1.2", "1.2.1", "1.2.2",
                               "1.2.3", "1.2.4", "1.2.5", "1.2.6", "1.3", "1.3.1"],
                "02_gradient_descent": ["2.1", "2.1.1", "2.1.2", "2.1.3", "2.2", "2.3", "2.3.1", "2.3.2"],
                "03_linear_regression": ["3.1", "3.1.1", "3.1.2", "3.1.3", "3.2", "3.2.1", "3.2.2",
                                         "3.2.3", "3.2.4", "3.2.4.1", "3.2.4.2", "3.2.4.3", "3.2.4.4"],
                "04_mnist_sgd": ["4.1", "4.1.1", "4.1.2", "4.2", "4.2.1", "4.2.2", "4.2.3", "4.3",
                                 "4.3.1", "4.3.2", "4.3.3"],
                "05_why_that_lr_and_batch": ["5.1", "5.2", "5.3", "5.4", "5.5", "5.6"]}
    for chapter, numbers in sections.items():
        headings = [line for c in _cells(chapter) if c["cell_type"] == "markdown"
                    for line in c["source"].splitlines() if line.startswith("#")]
        for number in numbers:
            assert any(h.split(" ", 2)[1:2] == [number] for h in headings), (chapter, number)


def test_migration_table_and_errata_in_readme_and_chapter_one():
    readme = (NOTEBOOKS / "README.md").read_text(encoding="utf-8")
    for idiom in ["Variable(t, requires_grad=True)", "w.data = w.data - lr * w.grad.data",
                  "torch.cuda.FloatTensor", "x.type(torch.DoubleTensor)", r"E:\ai",
                  "torch.Tensor(ndarray)", "DataLoader("]:
        assert idiom in readme, idiom
    for erratum in ["`get_loss(y_, y)` ignores `y`", "`print(w.grad)` shows `None`",
                    "`torch.Size([1, 2, 2])`", "`range(31)`", "np.linspace(0, 5"]:
        assert erratum in readme, erratum
    appendix = _cells("01_tensors")[-1]["source"]
    assert build.readme_section("migration") in appendix
    assert build.readme_section("errata") in appendix
    assert "<!-- include" not in appendix


def test_bad_source_is_reported(tmp_path):
    bad = tmp_path / "05_bad.py"
    bad.write_text("# %% [markdown]\nnot a comment\n", encoding="utf-8")
    with pytest.raises(SystemExit, match="does not start with '# '"):
        build.parse(bad)


# chapter 5 trains the theory's studies (~25 s): in `make test-slow`; the others in `make test`
@pytest.mark.parametrize("chapter", [pytest.param(c, marks=pytest.mark.slow) if c.startswith("05") else c
                                     for c in CHAPTERS])
def test_notebook_executes(chapter, tmp_path):
    """Run top to bottom in a fresh kernel; any error (a failed assert included) fails the test."""
    nb = build.execute(NOTEBOOKS / f"{chapter}.ipynb", cwd=tmp_path, store=tmp_path / "store" / "runs.db")
    outputs = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs]
    assert not [o for o in outputs if o.output_type == "error"]
    text = "".join(o.get("text", "") for o in outputs if o.output_type == "stream")
    figures = sum("image/png" in o.get("data", {}) for o in outputs)
    if chapter == "01_tensors":
        assert "CUDA" in text and "from_numpy: 123.0" in text
    else:
        assert figures >= 2, f"{chapter} drew {figures} figures"
    if chapter == "03_linear_regression":
        for line in ["epoch: 0, loss: 0.41421", "epoch: 10, loss: 0.22605",
                     "epoch: 20, loss: 0.22319", "epoch: 30, loss: 0.22047"]:
            assert line in text, line
        assert (tmp_path / "store" / "runs.db").exists()  # sgdlab recorded the run there
    if chapter == "04_mnist_sgd":
        assert "batch 1000, 1 epoch(s), 4 updates" in text
    if chapter == "05_why_that_lr_and_batch":
        assert "at the edge of stability: the sharpness reached 2/lr = 6.667" in text
        assert "largest stable learning rate 2/lambda_max = 0.023149" in text
