"""Issue 19's third hostile round, closed as classes; each test failed before its fix.

- Nothing outside the store is read by a store's say-so: `report` embeds only figures inside
  the run store's folder (a store received from someone else may name /etc/passwd).
- The server is safe from the browser: Host checked (DNS rebinding), JSON content type and a
  same-origin Origin on every state change (CSRF), security headers on every answer (413 and
  500 included), HEAD / answered.
- Paths: `report --out` never replaces a device node, socket or fifo.
"""

from __future__ import annotations

import json
import os
import socket
import sqlite3
import stat
from pathlib import Path

import pytest

from fastapi.testclient import TestClient

from sgdlab.serve.app import create_app

STATE = "/api/jobs/987654/stop"  # a state change; an unknown job is 404 once the guard lets it by


def _set_figures(store: Path, run_id: str, figures: list[str]) -> None:
    with sqlite3.connect(store) as conn:
        conn.execute("UPDATE runs SET figures = ? WHERE id = ?", (json.dumps(figures), run_id))


# -- report: only the store's own figures ------------------------------------------------------

def test_report_embeds_no_file_from_outside_the_store(cli, tmp_path):
    doc = cli.json("linreg", "--steps", "3")
    store = Path(os.environ["SGDLAB_STORE"])
    secret = tmp_path / "secret.png"  # outside the store's folder, with an image's name
    secret.write_bytes(b"SECRET-OUTSIDE")
    link = store.parent / "link.png"  # inside the folder, but a symlink leading out of it
    link.symlink_to(secret)
    _set_figures(store, doc["run_id"], ["/etc/passwd", "/proc/self/environ", str(secret), str(link),
                                        "../secret.png", doc["figures"][0]])
    cli.json("report", doc["run_id"], "--out", "r.html")
    page = (tmp_path / "r.html").read_text()
    assert "root:" not in page and "PATH=" not in page
    import base64

    assert base64.b64encode(b"SECRET-OUTSIDE").decode() not in page
    assert page.count("outside the run store's folder") == 5
    assert page.count("data:image/png;base64,") == 2  # the recorded curves and the one real figure


def test_figures_are_found_from_any_working_folder(cli, tmp_path, monkeypatch):
    # the store given as a relative path, as a user types it (the finding: figure paths were
    # stored relative to the working folder, so from anywhere else every figure was "missing")
    monkeypatch.chdir(tmp_path)
    doc = cli.json("linreg", "--steps", "3", "--store", "here/runs.db")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    cli.json("report", doc["run_id"], "--store", tmp_path / "here" / "runs.db", "--out", "r.html")
    page = (elsewhere / "r.html").read_text()
    assert "is missing" not in page and page.count("data:image/png;base64,") == 1 + 4


# -- report --out: never a device node, socket or fifo -----------------------------------------

def _private_null(tmp_path) -> Path:
    """A device node of our own, like /dev/null (char 1,3): a test that fails must never replace
    the machine's real /dev/null. Making one needs root (CI runs as root)."""
    node = tmp_path / "null"
    try:
        os.mknod(node, stat.S_IFCHR | 0o666, os.makedev(1, 3))
    except PermissionError:
        pytest.skip("making a device node needs root")
    return node


@pytest.mark.parametrize("kind", ["device", "fifo", "socket"])
def test_report_out_refuses_special_files(cli, tmp_path, kind):
    doc = cli.json("linreg", "--steps", "2", "--no-plots")
    if kind == "device":
        target = _private_null(tmp_path)
    elif kind == "fifo":
        target = tmp_path / "pipe"
        os.mkfifo(target)
    else:
        target = tmp_path / "sock"
        server = socket.socket(socket.AF_UNIX)
        server.bind(str(target))
    result = cli("report", doc["run_id"], "--out", str(target))
    assert result.exit_code == 2, result.stdout
    word = {"device": "a device node", "fifo": "a fifo", "socket": "a socket"}[kind]
    assert f"error: report --out: {target} is {word}, not a regular file" in result.stderr
    mode = target.stat().st_mode
    assert {"device": stat.S_ISCHR, "fifo": stat.S_ISFIFO, "socket": stat.S_ISSOCK}[kind](mode)


# -- the server against the browser -------------------------------------------------------------

@pytest.fixture
def client():
    with TestClient(create_app(os.environ["SGDLAB_STORE"]), base_url="http://127.0.0.1:8000") as c:
        yield c


def _errors(response) -> str:
    return " ".join(response.json()["errors"])


@pytest.mark.parametrize("host", ["attacker.example", "attacker.example:8000", "127.0.0.1.evil.example",
                                  "localhost.evil.example", ""])
def test_a_foreign_host_is_refused_dns_rebinding(client, host):
    for method, path in (("GET", "/api/runs"), ("POST", "/api/jobs/linreg"), ("GET", "/")):
        response = client.request(method, path, headers={"host": host, "content-type": "application/json"},
                                  content=b"{}")
        assert response.status_code == 403, (method, path, response.text)
        assert "content-security-policy" in response.headers
    assert "is not this server's address" in _errors(client.get("/api/runs", headers={"host": "attacker.example"}))


@pytest.mark.parametrize("host", ["127.0.0.1:8000", "localhost:8000", "[::1]:8000", "127.0.0.1"])
def test_the_loopback_names_are_this_server(client, host):
    assert client.get("/api/runs", headers={"host": host}).status_code == 200


def test_allowed_host_and_a_server_bound_to_every_address():
    store = os.environ["SGDLAB_STORE"]
    app = create_app(store, host="127.0.0.1", allowed_hosts=("lab.example",))
    with TestClient(app, base_url="http://lab.example") as c:
        assert c.get("/api/runs").status_code == 200
        assert c.get("/api/runs", headers={"host": "other.example"}).status_code == 403
    with TestClient(create_app(store, host="0.0.0.0"), base_url="http://192.168.1.20:8000") as c:
        assert c.get("/api/runs").status_code == 200  # an address of this machine: cannot be rebound
        assert c.get("/api/runs", headers={"host": "attacker.example"}).status_code == 403


@pytest.mark.parametrize("headers,problem", [
    ({"content-type": "text/plain"}, "must send Content-Type: application/json, got 'text/plain'"),
    ({"content-type": "application/x-www-form-urlencoded"}, "got 'application/x-www-form-urlencoded'"),
    ({}, "got 'none'"),
    ({"content-type": "application/json", "origin": "http://attacker.example"}, "Origin 'http://attacker.example'"),
    ({"content-type": "application/json", "origin": "null"}, "Origin 'null'"),
    ({"content-type": "application/json", "origin": "http://127.0.0.1:9999"}, "is not this server"),
    ({"content-type": "application/json", "sec-fetch-site": "cross-site"}, "Sec-Fetch-Site: cross-site"),
])
def test_cross_site_state_changes_are_refused_csrf(client, headers, problem):
    response = client.post(STATE, content=b"{}", headers=headers)
    assert response.status_code == 403 and problem in _errors(response)
    assert response.headers["x-frame-options"] == "DENY"


def test_same_origin_json_and_scripts_without_origin_pass(client):
    for headers in ({"origin": "http://127.0.0.1:8000"}, {}):
        response = client.post(STATE, json={}, headers=headers)
        assert response.status_code == 404, response.text  # past the guard: the job is unknown


def test_security_headers_on_413_and_500(client):
    big = client.post("/api/descent", content=b"{" + b" " * 70_000 + b"}", headers={"content-type": "application/json"})
    assert big.status_code == 413 and big.headers["x-content-type-options"] == "nosniff"
    assert "default-src 'self'" in big.headers["content-security-policy"]

    def boom():
        raise RuntimeError("a bug")

    client.app.add_api_route("/api/boom", boom)
    with TestClient(client.app, base_url="http://127.0.0.1", raise_server_exceptions=False) as c:
        crash = c.get("/api/boom")
    assert crash.status_code == 500 and crash.json()["errors"] == ["internal error (RuntimeError); see the server's log"]
    for name in ("content-security-policy", "x-content-type-options", "referrer-policy", "x-frame-options"):
        assert name in crash.headers, name


def test_head_of_a_page_is_not_405(client):
    response = client.head("/")
    assert response.status_code == 200 and response.text == ""
    assert "x-frame-options" in response.headers


def test_serve_refuses_a_bad_host_before_warning(cli):
    result = cli("serve", "--host", "not a host", "--port", "0")
    assert result.exit_code == 2 and result.stderr.startswith("error: cannot listen on not a host:0")
    assert "warning" not in result.stderr
    result = cli("serve", "--allowed-host", "http://x/", "--port", "0")
    assert result.exit_code == 2 and "error: --allowed-host must be a host name, got 'http://x/'" in result.stderr


# -- one bad row never breaks a store ------------------------------------------------------------

def _three_runs(cli) -> list[str]:
    return [cli.json("linreg", "--steps", "2", "--no-plots")["run_id"] for _ in range(3)]


def test_damaged_rows_are_skipped_with_a_warning_naming_them(cli, tmp_path):
    good, bad_config, bad_metrics = _three_runs(cli)
    store = Path(os.environ["SGDLAB_STORE"])
    with sqlite3.connect(store) as conn:
        conn.execute("UPDATE runs SET config = 'not json' WHERE id = ?", (bad_config,))
        conn.execute("UPDATE runs SET metrics = '[1, 2' WHERE id = ?", (bad_metrics,))
        conn.execute("UPDATE curves SET data = x'000102' WHERE run_id = ? AND name = 'loss'", (good,))
    result = cli("runs", "--json")
    assert result.exit_code == 0, result.stderr
    assert [r["id"] for r in json.loads(result.stdout)["runs"]] == [good]
    assert f"skipped run {bad_config} (config is not JSON)" in result.stderr
    assert f"skipped run {bad_metrics} (metrics is not JSON)" in result.stderr
    shown = cli("runs", "show", good, "--json")
    assert shown.exit_code == 0 and f"run {good}: skipped curve 'loss'" in shown.stderr
    broken = cli("runs", "show", bad_config)
    assert broken.exit_code == 2
    assert f"error: run {bad_config} (config is not JSON) in {store} is damaged" in broken.stderr
    assert cli("report", good, "--out", "r.html").exit_code == 0
    resume = cli("resume", bad_metrics)
    assert resume.exit_code == 2 and "is damaged" in resume.stderr
    with TestClient(create_app(store), base_url="http://127.0.0.1") as c:
        listed = c.get("/api/runs")
        assert listed.status_code == 200 and [r["id"] for r in listed.json()["runs"]] == [good]


def test_a_sweep_row_that_is_not_a_grid(cli):
    store = Path(os.environ["SGDLAB_STORE"])
    cli.json("linreg", "--steps", "2", "--no-plots")
    with sqlite3.connect(store) as conn:
        conn.execute("INSERT INTO sweeps VALUES ('snoaxes', '2026', 'linreg', '{\"problem\": \"linreg\"}')")
        conn.execute("INSERT INTO sweeps VALUES ('sjunk', '2026', 'linreg', 'not json')")
    result = cli("sweep", "--resume", "snoaxes")
    assert result.exit_code == 2
    assert "error: snoaxes is a linreg study, not a grid sweep" in result.stderr
    result = cli("sweep", "--resume", "sjunk")
    assert result.exit_code == 2 and "error: sweep sjunk in" in result.stderr and "is damaged" in result.stderr
    assert cli("runs").exit_code == 0


# -- store paths: every kind of file, checked before work -------------------------------------------

def test_an_empty_store_file_stays_empty(cli, tmp_path):
    empty = tmp_path / "empty.db"
    empty.write_bytes(b"")
    listed = cli("runs", "--store", str(empty), "--json")
    assert listed.exit_code == 0 and json.loads(listed.stdout)["runs"] == [] and empty.stat().st_size == 0
    for args in (["resume", "20260101-000000-abcdef"], ["runs", "show", "x"]):
        result = cli(*args, "--store", str(empty))
        assert result.exit_code == 2 and f"error: no run store at {empty}" in result.stderr, args
        assert empty.stat().st_size == 0
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith("empty")) == ["empty.db"]


@pytest.mark.parametrize("args,message", [
    (["runs", "--store", "{tmp}/null"], "the run store (--store or $SGDLAB_STORE): {tmp}/null is a device node, not a run store file"),
    (["linreg", "--steps", "2", "--store", "{tmp}/null"], "the run store (--store or $SGDLAB_STORE): {tmp}/null is a device node, not a run store file"),
    (["runs", "--store", "{tmp}"], "the run store (--store or $SGDLAB_STORE): {tmp} is a folder; give a file name"),
    (["serve", "--port", "0", "--store", "{tmp}/afile/x.db"], "the run store (--store or $SGDLAB_STORE): {tmp}/afile/x.db cannot be created: {tmp}/afile is a file"),
])
def test_store_paths_that_can_never_be_a_store(cli, tmp_path, args, message):
    (tmp_path / "afile").write_text("x")
    if "{tmp}/null" in " ".join(args):
        _private_null(tmp_path)
    result = cli(*[a.replace("{tmp}", str(tmp_path)) for a in args])
    assert result.exit_code == 2 and f"error: {message.replace('{tmp}', str(tmp_path))}" in result.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted({"afile"} | ({"null"} if "null" in message else set()))


@pytest.mark.parametrize("kind", ["file named checkpoints", "run folder is a file", "checkpoint is a folder"])
def test_checkpoint_paths_are_checked_before_training(cli, kind):
    store = Path(os.environ["SGDLAB_STORE"])
    store.parent.mkdir(parents=True)
    if kind == "file named checkpoints":
        (store.parent / "checkpoints").write_text("x")
        args = ["linreg", "--epochs", "2", "--no-plots"]
    else:
        doc = cli.json("linreg", "--epochs", "3", "--batch-size", "5", "--no-plots", "--keep-checkpoint")
        folder = store.parent / "checkpoints" / doc["run_id"]
        with sqlite3.connect(store) as conn:
            conn.execute("UPDATE runs SET status = 'interrupted' WHERE id = ?", (doc["run_id"],))
        if kind == "run folder is a file":
            import shutil

            shutil.rmtree(folder)
            folder.write_text("x")
        else:
            for p in folder.glob("step-*.pt"):
                p.unlink()
            (folder / "step-000000000009.pt").mkdir()
        args = ["resume", doc["run_id"]]
    result = cli(*args)
    assert result.exit_code == 2, result.stdout
    assert result.stderr.startswith("error: ") and "checkpoint" in result.stderr.splitlines()[0]
    assert "Traceback" not in result.stderr
    # found before any training: no run is left `running` (the finding: every later resume failed)
    with sqlite3.connect(store) as conn:  # (no table at all: nothing was recorded)
        has_runs = conn.execute("SELECT 1 FROM sqlite_master WHERE name = 'runs'").fetchone()
        statuses = {s for (s,) in conn.execute("SELECT status FROM runs")} if has_runs else set()
    assert "running" not in statuses


def test_a_forged_checkpoint_with_missing_keys_is_a_clean_error(tmp_path):
    import hashlib
    import io

    import torch

    from sgdlab.core import checkpoint
    from sgdlab.core.errors import DataError

    buffer = io.BytesIO()
    torch.save({"format": checkpoint.FORMAT, "params": []}, buffer)
    data = buffer.getvalue()
    path = tmp_path / "step-000000000001.pt"
    path.write_bytes(data + checkpoint.MAGIC + hashlib.sha256(data).digest())
    with pytest.raises(DataError) as info:
        checkpoint.read(path)
    assert "lacks or has a malformed optimizer, generator, loop, extra, loop.step, loop.position" in str(info.value)


def test_two_resumes_of_one_run_one_trains_the_other_refuses(tmp_path):
    import subprocess
    import sys

    env = dict(os.environ, PYTHONPATH=str(Path(__file__).resolve().parents[1] / "src"))
    store = Path(os.environ["SGDLAB_STORE"])
    from sgdlab.core.checkpoint import folder_for, resume_lock
    from sgdlab.core.errors import ConfigError

    folder = folder_for(store, "20260101-000000-abcdef")
    with resume_lock(folder, "20260101-000000-abcdef"):
        with pytest.raises(ConfigError, match="is being resumed by another process"):
            with resume_lock(folder, "20260101-000000-abcdef"):
                pass
        # and from another process, as two terminals would
        code = ("from pathlib import Path; from sgdlab.core.checkpoint import resume_lock\n"
                f"with resume_lock(Path({str(folder)!r}), 'r'): pass")
        other = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120)
        assert other.returncode != 0 and "is being resumed by another process" in other.stderr
    with resume_lock(folder, "20260101-000000-abcdef"):  # released: free again
        pass


# -- the page's API on studies and odd headers ----------------------------------------------------

def test_a_study_through_the_sweeps_api_and_an_odd_last_event_id(client):
    from sgdlab.mnist import sharpness
    from sgdlab.mnist.config import MnistConfig

    doc = sharpness.run_study(MnistConfig(limit_train=60, hidden=[4], plots=False), [0.1], steps=2, every=1)
    shown = client.get(f"/api/sweeps/{doc['study_id']}")
    assert shown.status_code == 200, shown.text  # was 500: KeyError 'batch_size'
    body = shown.json()
    assert body["study"] == "sharpness" and [r["lr"] for r in body["runs"]] == [0.1]
    assert len(body["curves"][0]["value"]) == 2
    import time

    job = client.post("/api/jobs/linreg", json={"steps": 3, "plots": False}).json()
    deadline = time.monotonic() + 120  # a 3-step run; polled, with a deadline
    while client.get(f"/api/jobs/{job['id']}").json()["finished"] is None and time.monotonic() < deadline:
        time.sleep(0.05)
    for odd in ("²".encode("latin-1"), "١٢".encode(), b"9" * 40):  # a latin-1 byte is read as "²"
        response = client.get(f"/api/jobs/{job['id']}/events", headers={"Last-Event-ID": odd})
        assert response.status_code == 200 and "data:" in response.text, (odd, response.text)  # was 500 for "²"


def test_the_api_refuses_steps_and_epochs_together_like_the_cli(client):
    response = client.post("/api/jobs/linreg", json={"epochs": 3, "steps": 10})
    assert response.status_code == 422
    assert response.json()["errors"] == ["--steps and --epochs both set the length of the run; give one of them"]


@pytest.mark.parametrize("args", [[], ["lr-find"]])
def test_no_command_ends_with_an_error_line(cli, args):
    result = cli(*args)
    group = " ".join(["sgdlab"] + args)
    assert result.exit_code == 2
    assert result.stderr.strip().splitlines()[-1] == f"error: {group} needs a command; `{group} --help` lists them"


def test_a_huge_grid_is_one_line_and_quick(cli):
    ten = ",".join(str(i) for i in range(1, 11))
    result = cli("sweep", "linreg", "--lr", ten, "--batch-size", ten, "--momentum", ",".join(f"0.{i}" for i in range(10)),
                 "--seeds", "100000")  # 10^8 cells; the duplicate check was quadratic in the seeds (hung)
    assert result.exit_code == 2
    assert result.stderr.strip().splitlines() == [
        "error: the grid has 100,000,000 cells, more than the limit 1,000,000 (every cell is a recorded run)"]


def test_sweep_resume_refuses_another_problem(cli):
    doc = cli.json("sweep", "linreg", "--lr", "0.01", "--steps", "2", "--no-plots")
    result = cli("sweep", "mnist", "--resume", doc["sweep_id"])
    assert result.exit_code == 2
    assert f"error: sweep {doc['sweep_id']} is a linreg sweep, not mnist" in result.stderr


def test_a_25_second_run_prints_its_estimate_without_a_terminal(monkeypatch, capsys):
    from sgdlab.cli import progress

    clock = iter([0.0, 4.0])  # 4 s for 4 of 25 steps: 25 s in all, 21 s left (was silent: < 30 s)
    monkeypatch.setattr(progress.time, "monotonic", lambda: next(clock))
    bar = progress.Progress()
    bar.tty = False
    bar("mnist", 0, 25)
    bar("mnist", 4, 25)
    assert capsys.readouterr().err == "mnist: step 4 of 25; about 21 s left (Ctrl-C stops it)\n"
