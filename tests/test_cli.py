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


def test_subpackages_are_reached_from_import_sgdlab_alone():
    # The README's snippets write `sgdlab.optim.batched.create(...)`, `sgdlab.api.resume(...)`
    # and `sgdlab.sweep.run_sweep(...)` after a plain `import sgdlab`; a fresh process, since
    # this one has imported those subpackages already (which binds them on the package).
    code = ("import sys, sgdlab\n"
            "torch_at_import = 'torch' in sys.modules\n"
            "print(torch_at_import, callable(sgdlab.optim.batched.create), callable(sgdlab.api.resume),"
            " callable(sgdlab.sweep.run_sweep))\n"
            "try:\n    sgdlab.no_such_thing\nexcept AttributeError as e:\n    print(e)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         env={"PYTHONPATH": str(ROOT / "src"), "PATH": ""})
    assert out.returncode == 0, out.stderr
    assert out.stdout.splitlines() == ["False True True True",
                                       "module 'sgdlab' has no attribute 'no_such_thing'"]


def test_a_reader_that_leaves_early_gets_no_error_line(tmp_path):
    """`sgdlab ... | head`: a BrokenPipeError (the reader is gone) printed "error: Broken pipe"
    now and then, depending on timing; it ends quietly now, with 128 + SIGPIPE as its status."""
    import subprocess
    import sys

    code = ("import sys\n"
            "from sgdlab.cli.app import handle_errors\n"
            "@handle_errors\n"
            "def command(as_json=False):\n"
            "    raise BrokenPipeError(32, 'Broken pipe')\n"
            "try:\n"
            "    command()\n"
            "except SystemExit as exc:\n"
            "    sys.exit(exc.code)\n"
            "except BaseException as exc:\n"
            "    sys.exit(getattr(exc, 'exit_code', 99))\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                          env={**__import__("os").environ, "PYTHONPATH": str(ROOT / "src")})
    assert (done.returncode, done.stderr) == (141, "")
