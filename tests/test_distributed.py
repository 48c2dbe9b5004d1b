"""Data parallelism on real gloo process groups (127.0.0.1, free ports): equal to one process.

Tolerances (per-step losses compared relatively, |a - b| / |a|):
- bit for bit (==): the chunked reference (``--emulate``) against 2 real processes. Both compute
  the same shard GEMMs on the same rows and, with two ranks, the collective's sum a + b is
  exact-order-free; both use one BLAS thread (the workers run with OMP_NUM_THREADS=1, the test
  sets torch's threads to 1) because another thread count may block the GEMMs differently.
- 1e-12 (float64) and 1e-5 (float32) against the single process at the same global batch: the
  two differ only in the order of the additions over the batch (B rows in one GEMM against B/N
  rows per rank, then N terms in the collective) and in the loss's mean over B. Each such sum of
  at most B + N = 68 terms is off by at most (B + N) * eps relative to the sum of the absolute
  values; over S = 8 steps at lr 0.01 (a contracting step, |1 - lr*lambda| < 1) the errors add
  at most linearly: S * (B + N) * eps = 8 * 68 * 1.1e-16 = 6.0e-14 < 1e-12 in float64, and
  8 * 68 * 6.0e-8 = 3.3e-5 in float32 - above 1e-5 in the worst case, so the float32 case runs
  S = 2 steps (2 * 68 * 6.0e-8 = 8.2e-6 < 1e-5).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from sgdlab.core.store import Store
from sgdlab.mnist.config import MnistConfig
from sgdlab.mnist.run import run

ROOT = Path(__file__).resolve().parents[1]
BASE = dict(limit_train=256, limit_test=64, batch_size=64, epochs=2, plots=False, bound=False)
TIMEOUT_S = 180  # every subprocess: far above a loaded 2-core machine's ~40 s for 4 ranks


@pytest.fixture
def one_thread():
    """The reference computes its GEMMs with one BLAS thread, as each worker does."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def losses(folder, **options) -> list[float]:
    config = MnistConfig(**(BASE | options))
    return run(config, store=Store(folder / "runs.db"))["step_losses"]


def relative(a: list[float], b: list[float]) -> float:
    assert len(a) == len(b)
    return max(abs(x - y) / abs(x) for x, y in zip(a, b))


def sgdlab(*args: str, timeout: float = TIMEOUT_S, **kw) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=str(ROOT / "src"))
    return subprocess.run([sys.executable, "-m", "sgdlab", *args], capture_output=True, text=True,
                          timeout=timeout, env=env, **kw)


# --- fast: no processes, or two ----------------------------------------------------------------

def test_batch_that_nproc_does_not_divide_is_refused_in_one_line(cli):
    result = cli("mnist", "--nproc", "3", "--batch-size", "100", "--dry-run")
    assert result.exit_code == 2
    assert result.stderr.strip().splitlines() == [
        "error: --batch-size 100 is the global batch and 3 processes cannot split it evenly; "
        "give a multiple of 3"]


@pytest.mark.parametrize("flags, message", [
    (["--nproc", "0"], "--nproc must be >= 1, got 0"),
    (["--nproc", "2", "--allreduce", "ring"],
     "--allreduce must be one of ddp, manual, local-sgd, got 'ring'"),
    (["--nproc", "2", "--allreduce", "manual", "--local-steps", "4"],
     "--local-steps averages parameters, not gradients: it does not combine with --allreduce manual"),
    (["--nproc", "2", "--dtype", "float16"], "--dtype must be one of float32, float64, got 'float16'"),
])
def test_bad_parallel_flags_are_refused_before_any_process_starts(cli, flags, message):
    result = cli("mnist", "--dry-run", "--batch-size", "100", *flags)
    assert result.exit_code == 2
    assert result.stderr.strip().splitlines() == [f"error: {message}"]


def test_chunked_reference_equals_one_process_in_float64(tmp_path, one_thread):
    single = losses(tmp_path, dtype="float64")
    for n in (2, 4, 8):
        emulated = losses(tmp_path, dtype="float64", nproc=n, emulate=True)
        assert relative(single, emulated) < 1e-12  # bound: module docstring (S=8, B+N <= 72)


def test_two_processes_ddp_equal_the_chunked_reference_bit_for_bit(tmp_path, one_thread):
    two = run(MnistConfig(**BASE, dtype="float64", nproc=2), store=Store(tmp_path / "runs.db"))
    assert two["nproc"] == 2 and two["world"] == 2 and two["allreduce"] == "ddp"
    assert two["communications"] == two["steps"] == 8  # one gradient bucket per step
    assert 0 < two["comm_fraction"] < 1
    assert two["step_losses"] == losses(tmp_path, dtype="float64", nproc=2, emulate=True)
    assert relative(losses(tmp_path, dtype="float64"), two["step_losses"]) < 1e-12
    stored = Store(tmp_path / "runs.db").get(two["run_id"], curves=False)  # rank 0 recorded it
    assert stored.config["nproc"] == 2 and stored.metrics["allreduce"] == "ddp"


# --- slow: 4 processes, float32, manual, local SGD ----------------------------------------------

@pytest.mark.slow
@pytest.mark.parametrize("allreduce", ["ddp", "manual"])
def test_four_processes_equal_one_process_float64(tmp_path, one_thread, allreduce):
    single = losses(tmp_path, dtype="float64")
    four = losses(tmp_path, dtype="float64", nproc=4, allreduce=allreduce)
    assert relative(single, four) < 1e-12  # bound: module docstring
    emulated = losses(tmp_path, dtype="float64", nproc=4, allreduce=allreduce, emulate=True)
    # gloo's ring sums each chunk of the buffer from a different rank: a few ulps, not bits
    assert relative(emulated, four) < 8 * 2.2e-16


@pytest.mark.slow
@pytest.mark.parametrize("nproc", [2, 4])
def test_processes_equal_one_process_float32(tmp_path, one_thread, nproc):
    options = dict(dtype="float32", epochs=1, max_steps=2)  # S = 2: the float32 bound above
    single = losses(tmp_path, **options)
    for allreduce in ("ddp", "manual"):
        assert relative(single, losses(tmp_path, nproc=nproc, allreduce=allreduce, **options)) < 1e-5
    if nproc == 2:
        assert losses(tmp_path, nproc=2, **options) == losses(tmp_path, nproc=2, emulate=True, **options)


# --- faults: a killed rank, resume, Ctrl-C --------------------------------------------------------

LONG = ["--limit-train", "1000", "--limit-test", "64", "--batch-size", "50", "--epochs", "30",
        "--checkpoint-every", "10", "--no-plots", "--no-bound"]  # 600 steps, a checkpoint every 10


def start(store: Path, *extra: str, session: bool = False) -> subprocess.Popen:
    env = dict(os.environ, PYTHONPATH=str(ROOT / "src"))
    return subprocess.Popen([sys.executable, "-m", "sgdlab", "mnist", "--nproc", "2", *LONG,
                             "--store", str(store), "--json", *extra], env=env, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            start_new_session=session)  # its own process group, for killpg


def workers_after_checkpoint(launcher: subprocess.Popen, store: Path) -> dict[int, "psutil.Process"]:
    """{rank: worker process} of our launcher, once its run has written a checkpoint."""
    import time

    import psutil

    deadline = time.monotonic() + TIMEOUT_S
    while not list((store.parent / "checkpoints").glob("*/step-*.pt")):
        assert launcher.poll() is None and time.monotonic() < deadline, "no checkpoint was written"
        time.sleep(0.1)
    ranks = {}
    for child in psutil.Process(launcher.pid).children():  # only the processes we started
        ranks[int(child.environ()["RANK"])] = child
    assert sorted(ranks) == [0, 1]
    return ranks


@pytest.mark.slow
def test_killed_rank_ends_the_run_with_one_line_and_resume_is_bit_identical(tmp_path, one_thread):
    import time

    store = tmp_path / "runs.db"
    launcher = start(store)
    workers = workers_after_checkpoint(launcher, store)
    killed_at = time.monotonic()
    workers[1].kill()
    _, stderr = launcher.communicate(timeout=TIMEOUT_S)
    assert time.monotonic() - killed_at < 30  # the bound; gloo sees the reset at once
    assert launcher.returncode == 1
    run_id = Store(store).list_runs()[0].id
    assert stderr.strip().splitlines()[-1] == (
        f"error: rank 1 of 2 ended (killed by SIGKILL); the run is interrupted: continue with "
        f"`sgdlab resume {run_id}`")
    assert not any(p.is_running() and p.status() != "zombie" for p in workers.values())
    assert Store(store).get(run_id, curves=False).status == "interrupted"

    resumed = sgdlab("resume", run_id, "--store", str(store), "--json")
    assert resumed.returncode == 0, resumed.stderr
    document = json.loads(resumed.stdout)
    assert document["status"] == "completed" and document["nproc"] == 2
    # the uninterrupted run: two ranks equal the chunked reference bit for bit (tested above)
    options = dict(limit_train=1000, limit_test=64, batch_size=50, epochs=30, nproc=2, emulate=True)
    reference = run(MnistConfig(**options, plots=False, bound=False), store=Store(tmp_path / "ref.db"))
    assert document["step_losses"] == reference["step_losses"]
    assert document["test_accuracy"] == reference["test_accuracy"]


@pytest.mark.slow
@pytest.mark.parametrize("to", ["launcher", "terminal"])
def test_ctrl_c_stops_every_rank_and_leaves_the_run_interrupted(tmp_path, to):
    import signal

    store = tmp_path / "runs.db"
    # 6,000 steps (the later --epochs wins): LONG's 600 could end before the signal on a quiet machine
    launcher = start(store, "--epochs", "300", session=True)
    workers = workers_after_checkpoint(launcher, store)
    if to == "launcher":  # to the launcher alone: it passes it on to every rank
        launcher.send_signal(signal.SIGINT)
    else:  # as a terminal's Ctrl-C does: to the whole process group, launcher and ranks at once
        os.killpg(launcher.pid, signal.SIGINT)
    launcher.communicate(timeout=TIMEOUT_S)
    assert launcher.returncode == 130
    assert not any(p.is_running() and p.status() != "zombie" for p in workers.values())
    run_id = Store(store).list_runs()[0].id
    assert Store(store).get(run_id, curves=False).status == "interrupted"


# --- torchrun: two "nodes" on 127.0.0.1, and --max-restarts ------------------------------------

SMALL = ["--limit-train", "256", "--limit-test", "64", "--batch-size", "64", "--epochs", "2",
         "--no-plots", "--no-bound", "--dtype", "float64", "--json"]


def torchrun(*args: str, **kw) -> subprocess.Popen:
    env = dict(os.environ, PYTHONPATH=str(ROOT / "src"))
    return subprocess.Popen([sys.executable, "-m", "torch.distributed.run", *args], env=env,
                            text=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE, **kw)


@pytest.mark.slow
def test_two_torchrun_nodes_with_a_c10d_rendezvous_equal_the_reference(tmp_path, one_thread):
    from sgdlab.distributed.env import free_port

    endpoint = f"127.0.0.1:{free_port()}"
    store = tmp_path / "runs.db"
    nodes = [torchrun("--nnodes", "2", "--nproc-per-node", "1", "--rdzv-backend", "c10d",
                      "--rdzv-endpoint", endpoint, "--rdzv-id", "two-nodes", "--local-addr",
                      "127.0.0.1", "-m", "sgdlab", "mnist", *SMALL, "--store", str(store))
             for _ in range(2)]
    outputs = []
    for node in nodes:
        out, err = node.communicate(timeout=TIMEOUT_S)
        assert node.returncode == 0, err
        outputs.append(out)
    documents = [json.loads(o) for o in outputs if o.strip()]
    assert len(documents) == 1  # rank 0 alone reports (on whichever node it landed)
    document = documents[0]
    assert document["nproc"] == document["world"] == 2 and document["config"]["nproc"] == 2
    assert [r.id for r in Store(store).list_runs()] == [document["run_id"]]
    reference = losses(tmp_path / "reference", dtype="float64", nproc=2, emulate=True)
    assert document["step_losses"] == reference  # two ranks: bit for bit (module docstring)


@pytest.mark.slow
def test_torchrun_max_restarts_resumes_the_run_after_a_killed_worker(tmp_path, one_thread):
    store = tmp_path / "runs.db"
    launcher = torchrun("--standalone", "--nproc-per-node", "2", "--max-restarts", "1", "-m",
                        "sgdlab", "mnist", *LONG, "--store", str(store), "--json")
    workers = workers_after_checkpoint(launcher, store)
    workers[1].kill()
    out, err = launcher.communicate(timeout=TIMEOUT_S)
    assert launcher.returncode == 0, err
    document = json.loads(out)
    assert "resuming run" in err  # the restarted attempt continued the run, not a new one
    assert [r.id for r in Store(store).list_runs()] == [document["run_id"]]
    options = dict(limit_train=1000, limit_test=64, batch_size=50, epochs=30, nproc=2, emulate=True)
    reference = run(MnistConfig(**options, plots=False, bound=False), store=Store(tmp_path / "ref.db"))
    assert document["step_losses"] == reference["step_losses"]


# --- local SGD ------------------------------------------------------------------------------------

@pytest.mark.slow
def test_local_sgd_with_one_local_step_is_synchronous_data_parallelism(tmp_path):
    synchronous = losses(tmp_path, dtype="float64", nproc=2)
    # H = 1, plain SGD: mean_r(w - lr g_r) against w - lr mean_r(g_r): per step they differ by
    # the rounding of one subtraction and one two-term average per weight, bounded like the
    # sums in the module docstring: far under 1e-12 over 8 steps
    local = run(MnistConfig(**BASE, dtype="float64", nproc=2, local_steps=1, allreduce="local-sgd",
                            optimizer=_plain_sgd()), store=Store(tmp_path / "local.db"))
    assert local["allreduce"] == "local-sgd" and local["communications"] == local["steps"]
    assert relative(synchronous, local["step_losses"]) < 1e-12
    four = run(MnistConfig(**BASE, dtype="float64", nproc=2, local_steps=4),
               store=Store(tmp_path / "local.db"))
    assert four["allreduce"] == "local-sgd" and four["local_steps"] == 4
    # PeriodicModelAverager averages after updates 1, 5 (its counter 0, 4) of the 8
    assert four["communications"] == len(range(0, four["steps"], 4)) == 2
    assert four["loss_allreduces"] == 8
    assert four["step_losses"][0] == synchronous[0]  # the same weights before the first update
    assert four["step_losses"][1:] != synchronous[1:]  # local steps: not the same trajectory


def _plain_sgd():
    from sgdlab.optim.spec import OptimizerSpec

    return OptimizerSpec()  # the tutorial's hand-written SGD, no momentum


# --- the scaling study ----------------------------------------------------------------------------

@pytest.mark.parametrize("flags, message", [
    (["--workers", "0,2"], "--workers must be distinct whole numbers >= 1, got 0,2"),
    (["--rule", "cubic"], "--rule must be one of linear, sqrt, none, got 'cubic'"),
    (["--target", "0"], "--target must be a finite number > 0, got 0.0"),
])
def test_scaling_refuses_bad_flags_in_one_line(cli, flags, message):
    result = cli("scaling", *flags)
    assert result.exit_code == 2
    assert result.stderr.strip().splitlines() == [f"error: {message}"]


def test_lr_rule_with_warmup():
    from sgdlab.distributed.scaling import RULES, lr_at

    assert [lr_at(s, 0.1, RULES["linear"](4), 3) for s in (0, 1, 2, 3, 10)] == pytest.approx(
        [0.1, 0.2, 0.3, 0.4, 0.4], rel=1e-15)  # a linear ramp: 1 + 3 s / 3 is exact at these s
    assert lr_at(0, 0.1, RULES["sqrt"](4), 0) == 0.2 and RULES["none"](8) == 1.0


@pytest.mark.slow
def test_scaling_study_counts_steps_and_is_recorded(cli, tmp_path):
    store = tmp_path / "runs.db"
    doc = cli.json("scaling", "--workers", "1,2", "--limit-train", "256", "--batch-size", "16",
                   "--lr", "0.05", "--target", "2.2", "--max-steps", "60", "--eval-every", "2",
                   "--no-comm", "--store", str(store), "--json")
    rows = doc["rows"]
    assert [r["nproc"] for r in rows] == [1, 2] and [r["global_batch"] for r in rows] == [16, 32]
    assert [r["lr"] for r in rows] == [0.05, 0.1]
    for r in rows:
        assert r["status"] == "reached" and r["steps_to_target"] % 2 == 0  # measured every 2 steps
        assert r["examples_to_target"] == r["steps_to_target"] * r["global_batch"]
        assert r["curve"][-1][1] <= 2.2 < min(loss for _, loss in r["curve"][:-1] or [[0, 9]])
    assert doc["theory"]["lr_bound"] > 0 and doc["theory"]["b_simple"] > 0
    record = Store(store).get(doc["study_id"], curves=False)
    assert record.command == "scaling" and Path(record.figures[0]).is_file()
