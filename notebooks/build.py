"""Build the tutorial notebooks from their reviewable sources, check them, or execute them.

The chapters are written as plain Python files in ``notebooks/source/`` in the "percent" format
that Jupytext and VS Code understand: ``# %%`` starts a code cell, ``# %% [markdown]`` starts a
markdown cell whose lines begin with ``# ``. A markdown line ``<!-- include: README.md#NAME -->``
is replaced by the part of ``notebooks/README.md`` between ``<!-- begin NAME -->`` and
``<!-- end NAME -->``, so the migration table and the errata are written once.

The ``.ipynb`` files are stored WITHOUT outputs (clean diffs). Usage, from the repository root::

    python notebooks/build.py            # (re)write notebooks/*.ipynb from notebooks/source/
    python notebooks/build.py --check    # exit 1 if a notebook differs from its source
    python notebooks/build.py --execute  # run each top to bottom; copies WITH outputs in out/notebooks/
"""

from __future__ import annotations

import argparse
import os
import re
import sys
import tempfile
from pathlib import Path

import nbformat

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
SOURCES = HERE / "source"
README = HERE / "README.md"
KERNEL = {"display_name": "Python 3 (ipykernel)", "language": "python", "name": "python3"}
CELL_MARK = re.compile(r"^# %%(?P<markdown> \[markdown\])?\s*$")
INCLUDE = re.compile(r"^<!-- include: README\.md#(?P<name>[\w-]+) -->$")


def chapters() -> list[Path]:
    """The chapter sources, in order (``01_tensors.py`` -> ``01_tensors.ipynb``)."""
    return sorted(SOURCES.glob("[0-9][0-9]_*.py"))


def readme_section(name: str) -> str:
    text = README.read_text(encoding="utf-8")
    begin, end = f"<!-- begin {name} -->", f"<!-- end {name} -->"
    if begin not in text or end not in text:
        raise SystemExit(f"error: {README} has no section {name!r} (markers {begin} ... {end})")
    return text.split(begin, 1)[1].split(end, 1)[0].strip()


def parse(source: Path) -> nbformat.NotebookNode:
    """Percent-format Python -> a notebook with no outputs."""
    cells: list[tuple[str, list[str]]] = []
    for line in source.read_text(encoding="utf-8").splitlines():
        mark = CELL_MARK.match(line)
        if mark:
            cells.append(("markdown" if mark.group("markdown") else "code", []))
        elif cells:
            cells[-1][1].append(line)
        elif line.strip():
            raise SystemExit(f"error: {source}: text before the first '# %%' cell marker: {line!r}")
    nb = nbformat.v4.new_notebook()
    nb.metadata = {"kernelspec": dict(KERNEL), "language_info": {"name": "python"}}
    for kind, lines in cells:
        while lines and not lines[-1].strip():
            lines.pop()
        if kind == "markdown":
            text = "\n".join(_markdown_line(source, line) for line in lines)
            nb.cells.append(nbformat.v4.new_markdown_cell(text))
        else:
            nb.cells.append(nbformat.v4.new_code_cell("\n".join(lines)))
    # stable ids, so a rebuild of an unchanged source is byte-identical
    for i, cell in enumerate(nb.cells):
        cell["id"] = f"{source.stem[:2]}-{i:03d}"
    nbformat.validate(nb)
    return nb


def _markdown_line(source: Path, line: str) -> str:
    if line == "#":
        return ""
    if not line.startswith("# "):
        raise SystemExit(f"error: {source}: markdown line does not start with '# ': {line!r}")
    text = line[2:]
    include = INCLUDE.match(text.strip())
    return readme_section(include.group("name")) if include else text


def render(source: Path) -> str:
    return nbformat.writes(parse(source)) + "\n"


def target(source: Path) -> Path:
    return HERE / f"{source.stem}.ipynb"


def build() -> list[Path]:
    written = []
    for source in chapters():
        path = target(source)
        text = render(source)
        if not path.exists() or path.read_text(encoding="utf-8") != text:
            path.write_text(text, encoding="utf-8")
            written.append(path)
    return written


def stale() -> list[Path]:
    """Notebooks that are missing or differ from what their source builds."""
    return [
        target(s) for s in chapters()
        if not target(s).exists() or target(s).read_text(encoding="utf-8") != render(s)
    ]


def kernel_env(store: Path) -> dict[str, str]:
    """The kernel's environment: this checkout's ``src`` first, a private store, and matplotlib's
    inline backend (headless, Agg-rendered PNGs that land in the cell outputs; a plain ``Agg``
    inherited from the caller would draw nothing into the notebook)."""
    env = dict(os.environ)
    env["PYTHONPATH"] = str(ROOT / "src") + os.pathsep + env.get("PYTHONPATH", "")
    env["SGDLAB_STORE"] = str(store)
    env["MPLBACKEND"] = "module://matplotlib_inline.backend_inline"
    return env


def execute(notebook: Path, cwd: Path, store: Path, timeout: int = 300) -> nbformat.NotebookNode:
    """Run ``notebook`` top to bottom in a fresh ``python3`` kernel; raise on the first error."""
    from nbclient import NotebookClient

    nb = nbformat.read(notebook, as_version=4)
    client = NotebookClient(
        nb, kernel_name="python3", timeout=timeout, allow_errors=False,
        resources={"metadata": {"path": str(cwd)}},
    )
    client.execute(env=kernel_env(store))
    return nb


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--check", action="store_true", help="exit 1 if a notebook is stale")
    group.add_argument("--execute", action="store_true",
                       help="execute every notebook; write copies with outputs to --out")
    parser.add_argument("--out", default=str(ROOT / "out" / "notebooks"),
                        help="folder for executed copies (default: out/notebooks)")
    args = parser.parse_args(argv)
    if args.check:
        bad = stale()
        for path in bad:
            print(f"stale: {path.relative_to(ROOT)} (run: python notebooks/build.py)", file=sys.stderr)
        return 1 if bad else 0
    for path in build():
        print(f"wrote {path.relative_to(ROOT)}", file=sys.stderr)
    if args.execute:
        out = Path(args.out).resolve()
        out.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory() as tmp:
            for source in chapters():
                print(f"executing {target(source).name} ...", file=sys.stderr)
                nb = execute(target(source), cwd=out, store=Path(tmp) / "runs.db")
                nbformat.write(nb, out / target(source).name)
                print(f"wrote {out / target(source).name}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
