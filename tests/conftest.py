"""Shared fixtures: an isolated run store per test, and a way to call the CLI in-process."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

ROOT = Path(__file__).resolve().parents[1]
SEED = ROOT.parent / "shared" / "seed" / "000_914e17bac8af4a1c.txt"


@pytest.fixture(scope="session")
def _session_data_cache(tmp_path_factory):
    """One data cache for the whole session (mnist-5k is converted once), never ~/.cache."""
    return tmp_path_factory.mktemp("sgdlab-data")


@pytest.fixture(autouse=True)
def _isolated_store(tmp_path, monkeypatch, _session_data_cache):
    """Every test gets its own store, so tests never see each other's runs."""
    monkeypatch.setenv("SGDLAB_STORE", str(tmp_path / "store" / "runs.db"))
    monkeypatch.setenv("SGDLAB_DATA", str(_session_data_cache))
    monkeypatch.setenv("MPLBACKEND", "Agg")
    monkeypatch.setenv("SGDLAB_DEBUG", "1")  # a bug in a test shows its traceback, not one line
    monkeypatch.chdir(tmp_path)


class Cli:
    """Run ``sgdlab ARGS`` in-process; ``.json(...)`` parses stdout as one JSON document."""

    def __init__(self) -> None:
        self.runner = CliRunner()

    def __call__(self, *args: str):
        from sgdlab.cli import app

        return self.runner.invoke(app, [str(a) for a in args], catch_exceptions=False)

    def json(self, *args: str, code: int = 0):
        result = self(*args, "--json")
        assert result.exit_code == code, (result.exit_code, result.stdout, result.stderr)
        return json.loads(result.stdout)


@pytest.fixture
def cli() -> Cli:
    return Cli()


def device_node(folder: Path) -> Path:
    """A character device to point a command at. As root (CI) a private null device made in
    ``folder``, so that a regression that replaces its target by a regular file replaces that
    node, never the machine's /dev/null; elsewhere /dev/null, which a user cannot replace."""
    if os.geteuid() != 0:
        return Path("/dev/null")
    import stat

    node = folder / "nulldev"
    if not node.exists():
        os.mknod(node, 0o666 | stat.S_IFCHR, os.makedev(1, 3))
    return node


def run_module(*args: str, env: dict | None = None, timeout: int = 300) -> subprocess.CompletedProcess:
    """Run ``python -m sgdlab ARGS`` in a real subprocess (for exit codes and stream separation)."""
    full_env = dict(os.environ)
    full_env["PYTHONPATH"] = str(ROOT / "src") + os.pathsep + full_env.get("PYTHONPATH", "")
    full_env.update(env or {})
    return subprocess.run(
        [sys.executable, "-m", "sgdlab", *map(str, args)],
        capture_output=True, text=True, env=full_env, timeout=timeout,
    )


# Hypothesis profiles: "fast" for `make test` (a few dozen examples per property, no example
# database written into the tests' folders); "nightly" (HYPOTHESIS_PROFILE=nightly) runs 50x more.
from hypothesis import HealthCheck, settings  # noqa: E402

settings.register_profile("fast", max_examples=40, deadline=None, database=None,
                          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
settings.register_profile("nightly", max_examples=2000, deadline=None,
                          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "fast"))


def pytest_terminal_summary(terminalreporter):
    """Say it loudly when the browser tests could not run (no chromium on this machine)."""
    skipped = terminalreporter.stats.get("skipped", [])
    if any("BROWSER TESTS SKIPPED" in str(getattr(r, "longrepr", "")) for r in skipped):
        terminalreporter.write_sep("!", "BROWSER TESTS SKIPPED: `sgdlab serve` was not tested in a browser", red=True)
        terminalreporter.write_line("install them: apt-get install -y chromium chromium-driver (.ci/run does)", red=True)
