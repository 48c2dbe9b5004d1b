"""The Ray executor, against a real two-node Ray cluster on loopback addresses (and a local Ray).

Results equal local computation bit for bit: a vectorized group run as a Ray task equals the
vectorized executor, a single cell equals the serial executor. The driver alone writes the
store, cells recorded once even when a worker is killed mid-task; a cluster that goes away ends
the sweep with exit code 1 and the resume command; Ctrl-C cancels what is still running.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter

import pytest

from conftest import ROOT
from ray_cluster import ENV, LoopbackCluster
from sgdlab.core.store import Store
from sgdlab.sweep import SweepSpec, cell_key, run_sweep

pytest.importorskip("ray")  # in the test extra: `make test` runs all of this for real


@pytest.fixture(scope="session")
def cluster():
    """Two nodes of one CPU each, 127.0.0.2 (head) and 127.0.0.3, for the whole session."""
    cluster = LoopbackCluster(["127.0.0.2", "127.0.0.3"]).start()
    yield cluster
    cluster.stop()


@pytest.fixture(autouse=True)
def _ray_env(monkeypatch):
    for key, value in ENV.items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("RAY_ADDRESS", raising=False)


def records(store: Store, doc) -> dict:
    """The sweep's run records by cell."""
    found = [store.get(r.id) for r in store.list_runs(sweep_id=doc["sweep_id"])]
    return {cell_key(r.metrics["sweep_cell"]): r for r in found}


def assert_same_numbers(a: dict, b: dict) -> None:
    """Bit for bit: every curve (step times aside), every status and metric that is a number."""
    assert a.keys() == b.keys() and a
    for key in a:
        x, y = a[key], b[key]
        assert x.status == y.status and x.key_metric == y.key_metric, key
        assert x.curves.keys() == y.curves.keys()
        for name in x.curves:
            if name != "step_time":  # wall-clock time, the one thing that may differ
                assert x.curves[name] == y.curves[name], (key, name)


def sweep_env(store_path) -> dict:
    return dict(os.environ, PYTHONPATH=str(ROOT / "src"), SGDLAB_STORE=str(store_path), **ENV)


SURFACE = ["surface", "--surface", "bowl", "--no-plots"]
STEPS_KILLED = 100_000
# Tests that act once the first cell is stored must not race the other cells: on a fast machine
# eight 2,500-step cells (25 ms each) all finished before Ctrl-C landed, and CI failed. So the
# first cell diverges (lr 0.5 on the bowl's curvature 10: stopped after 10 steps) and the rest
# are long (9 us a step here); how fast a machine is changes nothing then.
QUICK_THEN_LONG = "0.5," + ",".join(f"0.00{i}" for i in range(1, 8))


def start_sweep(store: Store, address: str, *args: str) -> subprocess.Popen:
    """``sgdlab sweep ARGS --json --executor ray --address ADDRESS`` in a process of its own."""
    return subprocess.Popen(
        [sys.executable, "-m", "sgdlab", "sweep", *args, "--json", "--executor", "ray", "--address", address],
        env=sweep_env(store.path), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def wait_for_a_cell(proc: subprocess.Popen, store: Store, timeout: float = 120) -> None:
    """Until the sweep has stored its first cell (or ended)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.2)
        if store.path.exists() and store.list_runs():
            return


def test_without_ray_the_executor_is_a_one_line_error(cli, monkeypatch):
    monkeypatch.setitem(sys.modules, "ray", None)  # `import ray` now raises ImportError
    result = cli("sweep", "linreg", "--lr", "0.01", "--executor", "ray")
    assert result.exit_code == 2
    assert result.stderr.splitlines() == [
        "error: the ray executor needs Ray, an optional extra: pip install 'sgdlab[ray]'"]
    assert cli.json("runs")["runs"] == []


def test_address_needs_the_ray_executor(cli):
    result = cli("sweep", "linreg", "--lr", "0.01", "--address", "127.0.0.2:6379")
    assert result.exit_code == 2
    assert "--address 127.0.0.2:6379 joins a Ray cluster: add --executor ray" in result.stderr


def test_units_are_vectorized_groups_sliced_to_the_cpus_or_single_cells():
    from sgdlab import problems
    from sgdlab.sweep.executors import Plan
    from sgdlab.sweep.grid import expand
    from sgdlab.sweep.ray_executor import units

    def plan(problem, axes):
        adapter = problems.get(problem).sweep_adapter()
        cells = expand(SweepSpec(problem, axes))
        return Plan(problem, adapter, [adapter.config(c) for c in cells], cells, "s")

    one_group = plan("mnist", {"lr": [0.01, 0.03, 0.1], "seed": [0, 1]})
    assert units(one_group, slots=2) == [([0, 1, 2], True), ([3, 4, 5], True)]
    assert units(one_group, slots=1) == [([0, 1, 2, 3, 4, 5], True)]
    assert units(one_group, slots=4) == [([0, 1], True), ([2, 3], True), ([4, 5], True)]
    assert units(one_group, slots=2, most=4) == [([0, 1, 2], True), ([3, 4, 5], True)]  # near-equal
    four_groups = plan("linreg", {"optimizer": ["sgd", "adam"], "batch_size": [5, 15], "lr": [0.01, 0.02]})
    assert units(four_groups, slots=2) == [([0, 1], True), ([2, 3], True), ([4, 5], True), ([6, 7], True)]
    no_stacked_form = plan("surface", {"lr": [0.01, 0.02, 0.03]})
    assert units(no_stacked_form, slots=1) == [([0], False), ([1], False), ([2], False)]


MNIST = ["mnist", "--lr", "0.02,0.1,1e4", "--seeds", "2", "--batch-size", "50", "--limit-train", "400",
         "--no-plots"]
LINREG = ["linreg", "--optimizer", "sgd,adam", "--lr", "0.005,0.05", "--batch-size", "5,15", "--steps", "25",
          "--dtype", "float64", "--no-plots"]


@pytest.mark.parametrize("args", [MNIST, LINREG], ids=["mnist", "linreg"])
def test_two_node_cluster_equals_the_vectorized_executor_bit_for_bit(cli, cluster, monkeypatch, args):
    """Vectorized groups (sliced to the cluster's two CPUs) as Ray tasks. Single cells equal
    serial: the fault test below."""
    import ray

    puts = []
    real_put = ray.put
    monkeypatch.setattr(ray, "put", lambda value, **kw: puts.append(1) or real_put(value, **kw))
    on_ray = cli.json("sweep", *args, "--executor", "ray", "--address", cluster.address)
    here = cli.json("sweep", *args, "--executor", "vectorized")
    assert on_ray["executor"] == "ray" and on_ray["status"] == "completed"
    assert puts == [1]  # the data went into the object store once, for every task and node
    store = Store()
    assert_same_numbers(records(store, here), records(store, on_ray))
    if args[0] == "mnist":  # lr 1e4 diverges on Ray as it does here
        assert {c["status"] for c in on_ray["cells"]} == {"completed", "diverged"}


@pytest.mark.slow  # Ray's faults: a cluster of its own or killed workers, tens of seconds
def test_through_ray_client(cli, cluster, tmp_path):
    """ray://HOST:PORT, as from a laptop outside the cluster (a fresh process, as a user runs it)."""
    done = subprocess.run([sys.executable, "-m", "sgdlab", "sweep", *LINREG, "--json", "--executor", "ray",
                           "--address", cluster.client_address],
                          env=sweep_env(tmp_path / "client.db"), capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    on_ray = json.loads(done.stdout)
    here = cli.json("sweep", *LINREG, "--executor", "vectorized")
    assert_same_numbers(records(Store(), here), records(Store(tmp_path / "client.db"), on_ray))


@pytest.mark.slow  # Ray's faults: a cluster of its own or killed workers, tens of seconds
def test_a_worker_killed_mid_task_is_retried_and_each_cell_recorded_once(cluster, tmp_path):
    lrs = "0.001,0.002,0.003,0.004,0.005"
    store = Store(tmp_path / "runs.db")
    # ~0.9 s a cell here (about 9 us a step): long enough that the 0.1 s poll below catches a
    # task running even on a machine several times faster (2,000 steps, 20 ms, was not)
    proc = start_sweep(store, cluster.address, *SURFACE, "--lr", lrs, "--steps", str(STEPS_KILLED))
    killed, deadline = None, time.monotonic() + 120
    while killed is None and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.1)
        killed = cluster.running_task("compute_unit")
    assert killed is not None, "no worker ever ran a task"
    os.kill(killed, signal.SIGKILL)  # Ray names it so only while it runs the task
    out, err = proc.communicate(timeout=300)
    assert proc.returncode == 0, err
    doc = json.loads(out)
    assert doc["status"] == "completed" and doc["cells_finished"] == 5
    stored = store.list_runs(sweep_id=doc["sweep_id"])
    assert sorted(Counter(cell_key(r.metrics["sweep_cell"]) for r in stored).values()) == [1] * 5
    serial = run_sweep(SweepSpec("surface", {"lr": [float(v) for v in lrs.split(",")], "seed": [0]},
                                 base={"steps": STEPS_KILLED, "surface": "bowl"}, executor="serial"),
                       store=Store(tmp_path / "serial.db"))
    assert_same_numbers(records(Store(tmp_path / "serial.db"), serial), records(store, doc))


@pytest.mark.slow  # Ray's faults: a cluster of its own or killed workers, tens of seconds
def test_ctrl_c_cancels_the_tasks_and_keeps_finished_cells(cluster, tmp_path):
    store = Store(tmp_path / "runs.db")
    proc = start_sweep(store, cluster.address, *SURFACE, "--lr", QUICK_THEN_LONG, "--steps", "1000000")
    wait_for_a_cell(proc, store)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err
    doc = json.loads(out)
    assert doc["status"] == "interrupted" and 1 <= doc["cells_finished"] < 8
    assert len(store.list_runs(sweep_id=doc["sweep_id"])) == doc["cells_finished"]
    assert f"--resume {doc['sweep_id']}" in err
    deadline = time.monotonic() + 30  # the cancelled tasks stop; none goes on for nobody
    while cluster.running_task("compute_unit") and time.monotonic() < deadline:
        time.sleep(0.2)
    assert cluster.running_task("compute_unit") is None


@pytest.mark.slow  # Ray's faults: a cluster of its own or killed workers, tens of seconds
def test_a_cluster_that_goes_away_ends_the_sweep_with_exit_1_and_resume(cli, tmp_path):
    lone = LoopbackCluster(["127.0.0.4"]).start()  # its own: the session's cluster stays up
    store = Store(tmp_path / "runs.db")
    try:
        # the first cell diverges at once; the others take ~2.7 s each (300,000 steps), so the
        # cluster is gone long before the last of them is done, on any machine
        proc = start_sweep(store, lone.address, *SURFACE, "--lr", "0.5,0.001,0.002,0.003,0.004",
                           "--steps", "300000")
        wait_for_a_cell(proc, store)
    finally:
        lone.kill()
    gone = time.monotonic()
    out, err = proc.communicate(timeout=120)
    waited = time.monotonic() - gone
    assert proc.returncode == 1 and out, err
    doc = json.loads(out)
    finished = len(store.list_runs(sweep_id=doc["sweep_id"]))
    assert doc["status"] == "cluster_lost" and doc["cells_finished"] == finished >= 1
    lines = [line for line in err.splitlines() if line.startswith("error: ")]
    assert lines == [f"error: the Ray cluster at {lone.address} went away (no answer for 3 s: "
                     f"Connection refused); {finished} of 5 cells finished and kept in {store.path}; "
                     f"resume with: sgdlab sweep surface --resume {doc['sweep_id']} (add --address "
                     f"HOST:PORT for another cluster, or --executor serial to finish here)"]
    assert waited < 45, f"took {waited:.0f} s to give up"  # not Ray's 60 s
    again = cli.json("sweep", "--resume", doc["sweep_id"], "--executor", "serial", "--no-plots",
                     "--store", store.path)
    assert again["status"] == "completed" and again["cells_run_now"] == 5 - finished


@pytest.mark.slow  # Ray's faults: a cluster of its own or killed workers, tens of seconds
def test_local_ray_without_an_address(tmp_path):
    args = ["linreg", "--lr", "0.005,0.01", "--batch-size", "5", "--seeds", "2", "--steps", "20",
            "--dtype", "float64", "--no-plots", "--json"]
    env = sweep_env(tmp_path / "runs.db")
    env.pop("RAY_ADDRESS", None)
    done = subprocess.run([sys.executable, "-m", "sgdlab", "sweep", *args, "--executor", "ray", "--workers", "1"],
                          env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    doc = json.loads(done.stdout)
    assert doc["executor"] == "ray" and doc["cells_finished"] == 4
    local = run_sweep(SweepSpec("linreg", {"lr": [0.005, 0.01], "batch_size": [5], "seed": [2019, 2020]},
                                base={"steps": 20, "dtype": "float64"}, executor="vectorized"),
                      store=Store(tmp_path / "local.db"))
    assert_same_numbers(records(Store(tmp_path / "local.db"), local), records(Store(tmp_path / "runs.db"), doc))


def _tree(root: int) -> dict[int, tuple[int | None, bytes]]:
    """``root`` and its descendants now: pid -> (start ticks, command line); zombies left out."""
    from pathlib import Path

    from sgdlab.core.liveness import start_ticks

    parents, lines = {}, {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
            lines[int(entry)] = Path(f"/proc/{entry}/cmdline").read_bytes()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2:].split()
        if fields[0] != "Z":
            parents[int(entry)] = int(fields[1])
    members, grown = {root} & parents.keys(), True
    while grown:
        extra = {p for p, parent in parents.items() if parent in members and p not in members}
        members |= extra
        grown = bool(extra)
    return {p: (start_ticks(p), lines.get(p, b"")) for p in members}


def _still_there(snapshot: dict[int, tuple[int | None, bytes]]) -> dict[int, bytes]:
    """The processes of ``snapshot`` alive now: same pid and start time, not a zombie."""
    from sgdlab.core.liveness import start_ticks

    left = {}
    for pid, (ticks, line) in snapshot.items():
        try:
            state = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if state != "Z" and start_ticks(pid) == ticks:
            left[pid] = line
    return left


@pytest.mark.slow  # a local Ray of its own, started and killed: about 15 s, more under load
def test_a_killed_driver_leaves_no_process_of_its_local_ray(tmp_path):
    """SIGKILL of a sweep that started a local Ray: every process of that Ray ends within 30 s.
    Before, the raylet's DashboardAgent and RuntimeEnvAgent stayed (about a minute here, past
    70 s under load); now ``ray_reaper`` ends them as soon as the driver is gone."""
    env = sweep_env(tmp_path / "runs.db")
    env.pop("RAY_ADDRESS", None)
    proc = subprocess.Popen([sys.executable, "-m", "sgdlab", "sweep", *SURFACE, "--lr", "0.001,0.002,0.003",
                             "--steps", "1000000", "--executor", "ray", "--workers", "1", "--json"],
                            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    snapshot: dict = {}
    try:
        wanted = (b"ray::compute_unit", b"ray::DashboardAgent", b"ray::RuntimeEnvAgent")
        deadline = time.monotonic() + 120  # Ray starts in ~5 s on a quiet 2-core machine
        while proc.poll() is None and time.monotonic() < deadline:
            snapshot = _tree(proc.pid)
            if all(any(line.startswith(w) for _, line in snapshot.values()) for w in wanted):
                break
            time.sleep(0.2)
        names = sorted({line.split(b"\0")[0][-40:] for _, line in snapshot.values()})
        assert proc.poll() is None and all(any(n.startswith(w) for n in names) for w in wanted), names
        # a private Ray on loopback: its GCS listens on 127.0.0.1 only (it listened on every interface)
        (gcs,) = [line for _, line in snapshot.values() if line.split(b"\0")[0].endswith(b"gcs_server")]
        assert b"--node-ip-address=127.0.0.1" in gcs.split(b"\0"), gcs
        proc.kill()  # SIGKILL: no atexit, no ray.shutdown
        proc.wait(timeout=30)
        deadline = time.monotonic() + 30  # the reaper needs well under a second
        while _still_there(snapshot) and time.monotonic() < deadline:
            time.sleep(0.2)
        left = _still_there(snapshot)
        assert not left, sorted(line.split(b"\0")[0] for line in left.values())
    finally:  # a failed test leaves nothing running either
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=30)
        for pid in _still_there(snapshot):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
