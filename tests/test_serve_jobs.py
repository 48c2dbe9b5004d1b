"""Training from the page: the loop's cooperative stop, the runs' on_loss hook, the job queue,
and the live event stream. Runs land in the store like the CLI's (the CLI is the oracle)."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pytest
import torch
from fastapi.testclient import TestClient

from sgdlab.core import loop
from sgdlab.core.loop import StopTraining
from sgdlab.core.store import Store
from sgdlab.linreg.config import LinRegConfig
from sgdlab.linreg.run import run as linreg_run
from sgdlab.mnist.config import MnistConfig
from sgdlab.mnist.run import run as mnist_run
from sgdlab.serve.app import create_app

WAIT_S = 120.0  # the machine is shared: generous, but every wait is bounded


@pytest.fixture
def client():
    with TestClient(create_app(os.environ["SGDLAB_STORE"]), base_url="http://127.0.0.1") as c:
        yield c


def wait_for(client, job_id: int, done, timeout: float = WAIT_S) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job = client.get(f"/api/jobs/{job_id}").json()
        if done(job):
            return job
        time.sleep(0.05)
    raise AssertionError(f"job {job_id} did not get there in {timeout} s: {job}")


def finished(job: dict) -> bool:
    return job["finished"] is not None


# -- the hooks ---------------------------------------------------------------------------------
class Quadratic:
    n_train = 4

    def __init__(self):
        self.w = torch.tensor([3.0], requires_grad=True)

    def parameters(self):
        return [self.w]

    def loss(self, index):
        return (self.w ** 2).sum()


def test_stop_training_ends_the_loop_before_that_update():
    problem = Quadratic()
    optimizer = torch.optim.SGD(problem.parameters(), lr=0.1)

    def before_update(step, loss):
        if step == 3:
            raise StopTraining()

    result = loop.run(problem, optimizer, batch_size=4, steps=10, generator=torch.Generator(),
                      before_update=before_update)
    assert result.status == "stopped" and result.steps_done == 3
    assert result.step_losses == pytest.approx([9.0, 9.0 * 0.64, 9.0 * 0.64**2, 9.0 * 0.64**3])  # float32, 4 steps: ~10 eps32 << 1e-6
    assert float(problem.w.detach()) == pytest.approx(3.0 * 0.8**3)  # the fourth update never happened


def test_on_loss_sees_every_loss_and_changes_nothing():
    seen = []
    hooked = linreg_run(LinRegConfig(plots=False), record=False, on_loss=lambda s, v: seen.append((s, v)))
    plain = linreg_run(LinRegConfig(plots=False), record=False)
    assert [v for _, v in seen] == plain["losses"] == hooked["losses"]
    assert [s for s, _ in seen] == list(range(32))
    batches = []
    doc = mnist_run(MnistConfig(limit_train=300, limit_test=100, plots=False), record=False,
                    on_loss=lambda s, v: batches.append((s, v)))
    assert batches == list(zip(range(1, 4), doc["step_losses"]))


def test_a_stopped_run_is_recorded_with_what_it_did():
    store = Store()

    def stop_at_five(step, loss):
        if step == 5:
            raise StopTraining()

    doc = linreg_run(LinRegConfig(plots=False), store=store, on_loss=stop_at_five)
    full = linreg_run(LinRegConfig(plots=False), record=False)
    assert doc["status"] == "stopped" and doc["steps"] == 5
    assert doc["losses"] == full["losses"][:6]
    record = store.get(doc["run_id"])
    assert record.status == "stopped" and record.curves["loss"] == doc["losses"]


# -- jobs through the API ----------------------------------------------------------------------
def test_a_linreg_job_lands_in_the_store_like_a_cli_run(cli, client):
    started = client.post("/api/jobs/linreg", json={"plots": False})
    assert started.status_code == 202, started.text
    job = wait_for(client, started.json()["id"], finished)
    assert job["status"] == "completed" and job["errors"] == []
    expected = cli.json("linreg", "--no-plots")
    assert [p[1] for p in job["points"]] == expected["losses"]
    record = Store().get(job["run_id"])
    assert record.command == "linreg" and record.curves["loss"] == expected["losses"]
    assert record.config == expected["config"] | {"out": None}


@pytest.mark.parametrize("options, cli_flags", [
    ({"lr": -1}, ["--lr", "-1"]),
    ({"batch_size": 100}, ["--batch-size", "100"]),
    ({"optimizer": "adam", "momentum": 0.9}, ["--optimizer", "adam", "--momentum", "0.9"]),
    ({"betas": "0.9"}, ["--optimizer", "adam", "--betas", "0.9"]),
    ({"dtype": "float16", "steps": 0}, ["--dtype", "float16", "--steps", "0"]),
])
def test_bad_linreg_options_are_422_with_the_cli_message(cli, client, options, cli_flags):
    if "betas" in options:
        options = options | {"optimizer": "adam"}
    result = cli("linreg", *cli_flags, "--no-plots")
    assert result.exit_code == 2
    expected = [line.removeprefix("error: ") for line in result.stderr.splitlines()]
    got = client.post("/api/jobs/linreg", json=options)
    assert got.status_code == 422 and got.json()["errors"] == expected
    assert client.get("/api/jobs").json()["jobs"] == []  # nothing was queued


def test_bad_mnist_options_are_refused_before_queueing(client):
    cases = {
        (("hidden", "a"),): "--hidden: 'a' is not a whole number",
        (("dataset", "mnist"),): "the server trains on mnist-5k only",
        (("batch_size", 5000),): "batch size 5000 is larger than the training set (4000 images)",
        (("epochs", 1000),): "--epochs must be <= 100 here",
        (("data_dir", "/etc"),): "data_dir: Extra inputs are not permitted",
    }
    for pairs, fragment in cases.items():
        got = client.post("/api/jobs/mnist", json=dict(pairs))
        assert got.status_code == 422 and fragment in " ".join(got.json()["errors"]), got.json()


def test_one_run_at_a_time_the_next_waits_and_stop_records_it(client):
    first = client.post("/api/jobs/linreg", json={"steps": 1_000_000, "plots": False}).json()
    wait_for(client, first["id"], lambda j: j["status"] == "running" and j["points_total"] >= 10)
    second = client.post("/api/jobs/linreg", json={"steps": 50, "lr": 0.02, "plots": False}).json()
    third = client.post("/api/jobs/linreg", json={"steps": 10, "plots": False}).json()
    assert (second["status"], second["queue_position"]) == ("queued", 1)
    assert third["queue_position"] == 2
    cancelled = client.post(f"/api/jobs/{third['id']}/stop", json={}).json()
    assert cancelled["status"] == "cancelled"
    client.post(f"/api/jobs/{first['id']}/stop", json={})
    stopped = wait_for(client, first["id"], finished)
    assert stopped["status"] == "stopped" and stopped["run_id"]
    record = Store().get(stopped["run_id"])
    assert record.status == "stopped" and len(record.curves["loss"]) == stopped["points_total"]
    done = wait_for(client, second["id"], finished)
    assert done["status"] == "completed" and done["points_total"] == 50
    assert Store().get(done["run_id"]).status == "completed"
    assert client.get(f"/api/jobs/{third['id']}").json()["run_id"] is None  # never ran


def test_a_full_queue_is_429(client):
    client.app.state.jobs.max_queue = 0
    got = client.post("/api/jobs/linreg", json={})
    assert got.status_code == 429 and "runs are waiting already" in got.json()["errors"][0]
    assert client.get("/api/jobs/99").status_code == 404


def test_the_event_stream_carries_every_point_then_ends(client):
    job = client.post("/api/jobs/mnist", json={"batch_size": 10, "limit_train": 400, "limit_test": 100,
                                               "plots": False}).json()
    events = []
    with client.stream("GET", f"/api/jobs/{job['id']}/events") as stream:
        kind = None
        for line in stream.iter_lines():
            if line.startswith("event: "):
                kind = line[7:]
            elif line.startswith("data: "):
                events.append((kind, json.loads(line[6:])))
                if kind == "end":
                    break
    assert events[-1][0] == "end" and events[-1][1]["status"] == "completed"
    points = [p for _, doc in events for p in doc["points"]]
    assert [p[0] for p in points] == list(range(1, 41))
    record = Store().get(events[-1][1]["run_id"])
    assert [p[1] for p in points] == record.curves["step_loss"]
    resumed = client.get(f"/api/jobs/{job['id']}/events", headers={"Last-Event-ID": "30"})
    tail = [json.loads(line[6:]) for line in resumed.text.splitlines() if line.startswith("data: ")]
    assert [p[0] for p in tail[0]["points"]] == list(range(31, 41))  # a reconnect gets only the rest


def test_a_running_mnist_job_shows_each_epochs_test_accuracy_before_it_ends(client):
    """The page's live curve gets test accuracy per epoch while the run goes on (on_epoch), in
    the job's state and in its event stream; they equal what the run records."""
    job = client.post("/api/jobs/mnist", json={"batch_size": 10, "limit_train": 1000, "limit_test": 100,
                                               "hidden": "16", "epochs": 100, "plots": False}).json()
    running = wait_for(client, job["id"], lambda j: len(j["epochs"]) >= 2 or finished(j))
    assert running["status"] == "running", running["status"]  # 100 epochs of 100 updates: far from done
    first = running["epochs"][0]
    assert first["epoch"] == 1 and first["step"] == 100 and 0 <= first["test_accuracy"] <= 1
    seen = None
    with client.stream("GET", f"/api/jobs/{job['id']}/events", params={"since": 10**9}) as stream:
        for line in stream.iter_lines():
            if line.startswith("data: "):
                doc = json.loads(line[6:])
                if len(doc["epochs"]) >= 3 and doc["status"] == "running":
                    seen = doc
                    break
    assert seen is not None and [e["epoch"] for e in seen["epochs"][:3]] == [1, 2, 3]
    client.post(f"/api/jobs/{job['id']}/stop", json={})
    stopped = wait_for(client, job["id"], finished)
    assert stopped["status"] == "stopped"
    recorded = Store().get(stopped["run_id"]).metrics["epochs"]
    assert len(stopped["epochs"]) == len(recorded) >= 3
    for live, kept in zip(stopped["epochs"], recorded):  # the same numbers, not recomputed
        assert live["test_accuracy"] == kept["test_accuracy"] and live["test_loss"] == kept["test_loss"]
    # linreg's page hook has no per-epoch metrics: its jobs carry an empty list
    line = client.post("/api/jobs/linreg", json={"steps": 5, "plots": False}).json()
    assert wait_for(client, line["id"], finished)["epochs"] == []
