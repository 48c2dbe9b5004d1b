"""`sgdlab serve`'s JSON API, without a browser: the playground equals `sgdlab surface`, bad input
is a 422 with the CLI's own message (never a 500), work is bounded, the store is read-only and
only its own files are served."""

from __future__ import annotations

import hashlib
import json
import math
import os
import sqlite3
import sys
import tomllib
from fnmatch import fnmatch
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from sgdlab.core.store import RunRecord, Store
from sgdlab.serve import playground
from sgdlab.serve.app import STATIC, create_app
from sgdlab.serve.store import ReadOnlyStore, decimate

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def store_path() -> Path:
    return Path(os.environ["SGDLAB_STORE"])


@pytest.fixture
def client(store_path) -> TestClient:
    with TestClient(create_app(store_path), base_url="http://127.0.0.1") as c:
        yield c


def cli_errors(cli, *args) -> list[str]:
    result = cli(*args)
    assert result.exit_code == 2, (result.stdout, result.stderr)
    return [line.removeprefix("error: ") for line in result.stderr.splitlines() if line.startswith("error: ")]


# -- playground ---------------------------------------------------------------------------------
@pytest.mark.parametrize("flags, body", [
    (["bowl", "--lr", "0.21"], {"surface": "bowl", "lr": 0.21}),
    (["saddle"], {"surface": "saddle"}),
    (["x4-y3", "--start", "0.5,-0.05"], {"surface": "x4-y3", "start": [0.5, -0.05]}),
    (["--f", "x**2 + 3*sin(y)", "--lr", "0.1", "--optimizer", "sgd", "--momentum", "0.9"],
     {"f": "x**2 + 3*sin(y)", "lr": 0.1, "optimizers": [{"name": "sgd", "momentum": 0.9}]}),
    (["himmelblau", "--noise", "2", "--seed", "3"], {"surface": "himmelblau", "noise": 2, "seed": 3}),
])
def test_descent_is_what_sgdlab_surface_computes(cli, client, flags, body):
    result = cli("surface", *flags, "--no-plots", "--json")
    assert result.exit_code in (0, 3), result.stderr  # 3: a trajectory diverged (a result)
    expected = json.loads(result.stdout)
    got = client.post("/api/descent", json=body)
    assert got.status_code == 200, got.text
    doc = got.json()
    want = expected["runs"][0]
    trajectory = doc["trajectories"][0]
    for key in ("verdict", "reason", "escape_step", "diverged_step", "path", "f", "final", "lr"):
        assert trajectory[key] == want[key], key
    for key in ("lr_bound", "lr_bound_kind", "hessian_start", "noise_check", "critical_point", "start"):
        assert doc[key] == expected[key], key


def test_several_optimizers_are_overlaid_each_with_its_verdict(client):
    doc = client.post("/api/descent", json={"surface": "bowl", "lr": 0.05, "optimizers": [
        {"name": "sgd"}, {"name": "sgd", "momentum": 0.9, "nesterov": True}, {"name": "adam"}]}).json()
    assert [t["optimizer"]["name"] for t in doc["trajectories"]] == ["sgd", "sgd", "adam"]
    assert doc["trajectories"][1]["optimizer"]["nesterov"] is True
    assert doc["trajectories"][0]["verdict"] == "slow"  # 0.95^200 leaves |grad f| ~1e-4 from x = -3
    assert doc["trajectories"][0]["path"] != doc["trajectories"][1]["path"]


@pytest.mark.parametrize("flags, body", [
    (["bowl", "--lr", "-1"], {"surface": "bowl", "lr": -1}),
    (["--f", "x + foo(y)"], {"f": "x + foo(y)"}),
    (["--f", "x +* y"], {"f": "x +* y"}),
    (["--f", "__import__('os')"], {"f": "__import__('os')"}),
    (["bowl", "--noise", "-1", "--steps", "0"], {"surface": "bowl", "noise": -1, "steps": 0}),
    (["bowl", "--optimizer", "nope"], {"surface": "bowl", "optimizers": [{"name": "nope"}]}),
    (["bowl", "--nesterov"], {"surface": "bowl", "optimizers": [{"name": "sgd", "nesterov": True}]}),
    (["nowhere"], {"surface": "nowhere"}),
    (["bowl", "--f", "x"], {"surface": "bowl", "f": "x"}),
])
def test_bad_input_is_422_with_the_cli_message(cli, client, flags, body):
    expected = cli_errors(cli, "surface", *flags, "--no-plots")
    got = client.post("/api/descent", json=body)
    assert got.status_code == 422
    assert got.json() == {"status": "error", "errors": expected}


def test_a_bad_expression_in_the_contour_names_its_column(client):
    got = client.post("/api/contour", json={"f": "x + foo(y)"})
    assert got.status_code == 422
    assert "unknown function 'foo' at column 5 (x + >>foo(y))" in got.json()["errors"][0]


@pytest.mark.parametrize("payload, fragment", [
    ({"surface": "bowl", "lr": "abc"}, "lr: Input should be a valid number"),
    ({"surface": "bowl", "zzz": 1}, "zzz: Extra inputs are not permitted"),
    ({"surface": "bowl", "start": [1, 2, 3]}, "start:"),
    ({"surface": "bowl", "seed": -1}, "seed: Input should be greater than or equal to 0"),
    ({"surface": "bowl", "steps": 10**30}, "--steps must be <= 5000 here"),
    ({"surface": "bowl", "optimizers": {"name": "sgd"}}, "optimizers:"),
    ([1, 2], "Input should be a valid dictionary"),
])
def test_malformed_requests_are_422_naming_the_field(client, payload, fragment):
    got = client.post("/api/descent", json=payload)
    assert got.status_code == 422
    assert any(fragment in line for line in got.json()["errors"]), got.json()


@pytest.mark.parametrize("raw", [
    b"not json", b"{", b'{"surface": "bowl", "lr": NaN}', b'{"surface": "bowl", "lr": Infinity}',
    b'{"surface": "bowl", "start": [1e999, 0]}', b'{"f": "9**9**9"}', b'{"f": "' + b"(" * 400 + b'"}',
    b'{"f": "' + b"x+" * 300 + b'x"}', b'{"surface": "bowl", "curvature": ["a", 1]}', b"\xff\xfe",
    b'{"f": "x", "surface": null, "escape_radius": 0}',
])
def test_hostile_bodies_never_give_a_500(client, raw):
    got = client.post("/api/descent", content=raw, headers={"content-type": "application/json"})
    assert got.status_code == 422, got.text
    assert got.json()["status"] == "error" and got.json()["errors"]
    assert "Traceback" not in got.text


def test_work_per_request_is_bounded(client):
    steps = client.post("/api/descent", json={"surface": "bowl", "steps": playground.MAX_STEPS + 1})
    assert steps.status_code == 422 and f"--steps must be <= {playground.MAX_STEPS}" in steps.text
    many = client.post("/api/descent", json={"surface": "bowl", "optimizers": [{"name": "sgd"}] * 8})
    assert many.status_code == 422 and "optimizers: give 1 to 7, got 8" in many.text
    total = client.post("/api/descent", json={"surface": "bowl", "steps": 5000, "optimizers": [{"name": "sgd"}] * 4})
    assert total.status_code == 422 and "20000 updates; one request may make at most 15000" in total.text
    grid = client.post("/api/contour", json={"surface": "bowl", "n": 1000})
    assert grid.status_code == 422 and "n must be 10 to 201, got 1000" in grid.text
    long = client.post("/api/contour", json={"f": "x" + "+x" * 300})
    assert long.status_code == 422 and "the limit is 500" in long.text
    body = client.post("/api/descent", content=b"{" + b" " * 70_000 + b"}",
                       headers={"content-type": "application/json"})
    assert body.status_code == 413 and body.json()["errors"] == ["request body larger than 65536 bytes"]


def test_contour_is_f_on_the_grid_and_gaps_where_f_is_not_finite(client):
    bowl = client.post("/api/contour", json={"surface": "bowl", "curvature": [2, 4], "n": 11}).json()
    x0, x1, y0, y1 = bowl["box"]
    assert bowl["x"][0] == x0 and bowl["y"][-1] == y1 and bowl["shown_as"] == "f"
    for i in (0, 5, 10):
        for j in (0, 3, 10):
            x, y = bowl["x"][j], bowl["y"][i]
            assert bowl["z"][i][j] == pytest.approx(x * x + 2 * y * y, rel=1e-12)  # three float64 operations, via JSON's 17 digits
    rosenbrock = client.post("/api/contour", json={"surface": "rosenbrock", "n": 21}).json()
    assert rosenbrock["shown_as"] == "log(1 + f - min f)"
    assert rosenbrock["minima"] == [[1.0, 1.0]]
    logs = client.post("/api/contour", json={"f": "log(x) + y", "box": [-1, 1, -1, 1], "n": 10}).json()
    assert logs["z"][0][0] is None and logs["z"][0][-1] == pytest.approx(math.log(1.0) - 1.0)  # exact: log 1 = 0


def test_surfaces_lists_builtins_and_limits(client):
    doc = client.get("/api/surfaces").json()
    assert [s["name"] for s in doc["surfaces"]] == ["bowl", "saddle", "x4-y3", "rosenbrock", "himmelblau"]
    assert "adam" in doc["optimizers"] and doc["limits"]["max_steps"] == playground.MAX_STEPS


# -- the run store, read-only -------------------------------------------------------------------
def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_runs_from_the_cli_are_listed_read_only(cli, client, store_path):
    linreg = cli.json("linreg")
    surface = cli.json("surface", "bowl", "--no-plots")
    before = _digest(store_path)
    rows = client.get("/api/runs").json()
    assert [r["id"] for r in rows["runs"]] == [surface["run_id"], linreg["run_id"]]
    assert rows["facets"]["command"] == ["linreg", "surface"]
    only = client.get("/api/runs", params={"command": "linreg", "status": "completed"}).json()["runs"]
    assert [r["id"] for r in only] == [linreg["run_id"]]
    run = client.get(f"/api/runs/{linreg['run_id']}").json()
    assert run["curves"]["loss"] == linreg["losses"] and run["config"]["lr"] == 0.01
    assert run["figures"] == linreg["figures"] and all(run["figure_urls"])
    figure = client.get(run["figure_urls"][0])
    assert figure.status_code == 200 and figure.content[:8] == b"\x89PNG\r\n\x1a\n"
    curves = client.get(f"/api/runs/{linreg['run_id']}/curves", params={"max_points": 10}).json()
    assert len(curves["curves"]["loss"]["step"]) <= 12 and curves["curves"]["loss"]["points"] == 32
    assert _digest(store_path) == before  # reading never wrote


def test_a_missing_store_reads_as_empty_and_is_not_created(client, store_path):
    assert client.get("/api/runs").json()["runs"] == [] and client.get("/api/sweeps").json()["sweeps"] == []
    assert client.get("/api/runs/20260101-000000-abcdef").status_code == 404
    assert not store_path.parent.exists()


def test_the_pages_store_connection_cannot_write(cli, store_path):
    cli.json("linreg", "--no-plots")
    conn = ReadOnlyStore(store_path)._connect()
    with pytest.raises(sqlite3.OperationalError, match="readonly"):
        conn.execute("DELETE FROM runs")
    conn.close()
    assert len(Store(store_path).list_runs()) == 1


def test_files_are_served_only_from_the_store_folder(cli, client, store_path, tmp_path):
    run = cli.json("linreg")
    folder = store_path.parent
    outside = tmp_path / "secret.png"
    outside.write_bytes(b"\x89PNG\r\n\x1a\nsecret")
    (folder / "link.png").symlink_to(outside)
    (folder / "notes.txt").write_text("not a figure")
    hostile = ["../secret.png", str(outside), "/etc/passwd", str(folder / "link.png"),
               str(folder / "notes.txt"), str(folder / ".." / "secret.png"), "sgdlab-runs/../../etc/passwd"]
    Store(store_path).save(RunRecord(id="20260101-000000-aaaaaa", command="linreg", status="completed",
                                     config={}, metrics={}, figures=hostile))
    doc = client.get("/api/runs/20260101-000000-aaaaaa").json()
    assert doc["figure_urls"] == [None] * len(hostile)
    for i in range(len(hostile)):
        got = client.get(f"/api/runs/20260101-000000-aaaaaa/figures/{i}")
        assert got.status_code == 404 and b"secret" not in got.content
    for url in ["/api/runs/..%2F..%2Fetc%2Fpasswd", "/api/runs/%2Fetc%2Fpasswd/figures/0",
                f"/api/runs/{run['run_id']}/figures/..%2F..%2Fetc%2Fpasswd", "/api/runs/2026%25",
                "/static/..%2F..%2F..%2Fetc%2Fpasswd", "/static/../../../../etc/passwd"]:
        got = client.get(url)
        assert got.status_code in (404, 422), url
        assert b"root:" not in got.content and b"secret" not in got.content


def test_sweep_summary_is_the_cli_one(cli, client):
    sweep = cli.json("sweep", "linreg", "--lr", "0.001,0.01", "--batch-size", "5,15", "--steps", "20",
                     "--executor", "serial")
    doc = client.get(f"/api/sweeps/{sweep['sweep_id']}").json()
    assert doc["best"] == sweep["best"]
    assert [c["run_id"] for c in doc["cells"]] == [c["run_id"] for c in sweep["cells"]]
    assert len(doc["curves"]) == 4 and all(len(c["value"]) >= 20 for c in doc["curves"])
    listed = client.get("/api/sweeps").json()["sweeps"]
    assert listed[0]["id"] == sweep["sweep_id"] and listed[0]["runs"] == 4
    assert client.get("/api/sweeps/nope-0").status_code == 404


def test_an_mnist_batch_size_study_reads_as_a_sweep(cli, client):
    study = cli.json("mnist", "--dry-run", "--batch-size", "10,20", "--no-plots")
    doc = client.get(f"/api/sweeps/{study['study_id']}").json()
    assert sorted(c["batch_size"] for c in doc["cells"]) == [10, 20]
    assert all("accuracy_mean" in g for g in doc["groups"])


def test_overlay_returns_each_runs_curves(cli, client):
    a, b = cli.json("linreg", "--no-plots"), cli.json("linreg", "--lr", "0.02", "--no-plots")
    doc = client.get("/api/overlay", params={"ids": f"{a['run_id']},{b['run_id']}"}).json()
    assert [r["curves"]["loss"]["value"] for r in doc["runs"]] == [a["losses"], b["losses"]]
    assert client.get("/api/overlay", params={"ids": ",".join(["x"] * 21)}).status_code == 422


def test_thinning_keeps_spikes_and_every_nan():
    values = [1.0] * 10_000
    values[1234], values[5678], values[9000] = 50.0, float("nan"), float("inf")
    steps, kept = decimate(values, 200)
    assert len(steps) <= 210 and steps[0] == 0 and steps[-1] == 9999
    assert 1234 in steps and 5678 in steps and 9000 in steps
    assert decimate([1.0, 2.0], 10) == ([0, 1], [1.0, 2.0])


# -- the app itself -----------------------------------------------------------------------------
def test_every_static_file_ships_as_package_data():
    globs = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["package-data"]["sgdlab.serve"]
    files = [p.relative_to(STATIC.parent).as_posix() for p in STATIC.rglob("*") if p.is_file()]
    assert files and all(any(fnmatch(f, g) and "/" not in f[len(g.split("*")[0]):] for g in globs) for f in files), files
    assert (STATIC / "vendor" / "LICENSE-plotly.js.txt").read_text().startswith("MIT License")


def test_pages_and_docs_load_nothing_from_elsewhere(client):
    for route in ("/", "/runs", "/run", "/sweep", "/overlay", "/train", "/docs"):
        page = client.get(route)
        assert page.status_code == 200 and "http://" not in page.text and "https://" not in page.text, route
        assert "default-src 'self'" in page.headers["content-security-policy"]
    spec = client.get("/openapi.json").json()
    assert {"/api/descent", "/api/runs", "/api/jobs/mnist", "/api/jobs/{job_id}/events"} <= set(spec["paths"])


def test_unknown_routes_and_methods_answer_json_errors(client):
    assert client.get("/api/nope").json() == {"status": "error", "errors": ["Not Found"]}
    assert client.get("/api/descent").status_code == 405


def test_serve_prints_its_url_and_warns_off_loopback(cli, monkeypatch):
    from sgdlab.serve import server

    served = []
    monkeypatch.setattr(server, "run_forever", lambda app, sock: served.append(sock.getsockname()))
    result = cli("serve", "--port", "0")
    assert result.exit_code == 0, result.stderr
    assert result.stdout.strip() == f"http://127.0.0.1:{served[0][1]}/" and "warning" not in result.stderr
    real_bind = server.bind
    monkeypatch.setattr(server, "bind", lambda host, port: real_bind("127.0.0.1", port))  # bind nothing public
    loud = cli("serve", "--host", "0.0.0.0", "--port", "0")
    assert "warning: listening on 0.0.0.0: sgdlab serve has NO authentication" in loud.stderr
    assert [server.is_loopback(h) for h in ("127.0.0.1", "127.8.0.1", "::1", "localhost", "0.0.0.0", "10.0.0.1")] == \
        [True, True, True, True, False, False]
    assert cli_errors(cli, "serve", "--port", "70000") == ["--port must be 0 to 65535, got 70000"]


def test_serve_runs_as_a_real_process(tmp_path):
    import signal
    import subprocess
    import urllib.request

    env = dict(os.environ, PYTHONPATH=str(ROOT / "src"))
    proc = subprocess.Popen([sys.executable, "-m", "sgdlab", "serve", "--port", "0", "--store",
                             str(tmp_path / "runs.db")], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, env=env)
    try:
        url = proc.stdout.readline().strip()
        assert url.startswith("http://127.0.0.1:"), proc.stderr.read()
        with urllib.request.urlopen(url + "api/surfaces", timeout=60) as answer:
            assert json.load(answer)["surfaces"][0]["name"] == "bowl"
    finally:
        proc.send_signal(signal.SIGINT)  # Ctrl-C: a clean shutdown, exit 130 as for every command
        assert proc.wait(timeout=60) == 130
        assert "Traceback" not in proc.stderr.read()
