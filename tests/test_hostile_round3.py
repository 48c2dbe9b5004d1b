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
    doc = cli.json("linreg", "--steps", "3")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    cli.json("report", doc["run_id"], "--out", "r.html")
    page = (elsewhere / "r.html").read_text()
    assert "is missing" not in page and page.count("data:image/png;base64,") == 1 + 4


# -- report --out: never a device node, socket or fifo -----------------------------------------

@pytest.mark.parametrize("kind", ["device", "fifo", "socket"])
def test_report_out_refuses_special_files(cli, tmp_path, kind):
    doc = cli.json("linreg", "--steps", "2", "--no-plots")
    if kind == "device":
        target = Path("/dev/null")
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
