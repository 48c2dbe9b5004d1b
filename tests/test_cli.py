"""The command line as a user meets it: help, streams, lazy imports, the demo, the Python API."""

from __future__ import annotations

import json
import subprocess
import sys

from conftest import ROOT, run_module
from sgdlab import LinRegConfig, train


def test_help_lists_commands_and_shows_defaults(cli):
    top = cli("--help")
    assert top.exit_code == 0
    for command in ("linreg", "runs", "demo"):
        assert command in top.stdout
    sub = cli("linreg", "--help")
    assert "--lr" in sub.stdout and "0.01" in sub.stdout and "2019" in sub.stdout


def test_help_does_not_import_torch():
    code = "import sys, sgdlab.cli; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         env={"PYTHONPATH": str(ROOT / "src"), "PATH": ""})
    assert out.stdout.strip() == "False", out.stderr


def test_json_goes_alone_to_stdout_in_a_real_process(tmp_path):
    result = run_module("linreg", "--json", "--steps", "3", env={"SGDLAB_STORE": str(tmp_path / "s.db")})
    assert result.returncode == 0, result.stderr
    doc = json.loads(result.stdout)
    assert doc["status"] == "completed" and len(doc["losses"]) == 3


def test_python_api_returns_the_json_fields(cli):
    from_api = train(LinRegConfig(steps=4, plots=False))
    from_cli = cli.json("linreg", "--steps", "4", "--no-plots")
    assert set(from_api) == set(from_cli)
    assert from_api["losses"] == from_cli["losses"]


def test_demo_writes_every_lesson_under_one_folder(cli, tmp_path):
    result = cli("demo", "--quick", "--out", "demo-out")
    assert result.exit_code == 0, result.stderr
    out = (tmp_path / "demo-out").resolve()
    assert result.stdout.strip().splitlines()[-1] == f"all outputs are in: {out}"
    pngs = sorted(p.relative_to(out).as_posix() for p in out.rglob("*.png"))
    assert "linreg/fit_init.png" in pngs and "linreg/loss.png" in pngs
    assert len(cli.json("runs")["runs"]) >= 1
