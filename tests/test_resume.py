"""Checkpoints and exact resume: a run stopped anywhere continues to the same bits.

The oracle is the same run left alone: losses, final weights (from the kept final checkpoint)
and metrics must be equal, not close. Interruptions are Ctrl-C at chosen steps in-process, and
SIGKILL at random moments of real `sgdlab mnist` processes (as accelerate's
test_can_resume_training checks exact equality after a restart).
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from conftest import ROOT
from sgdlab import LinRegConfig, train
from sgdlab.api import resume
from sgdlab.core import checkpoint as ckpt
from sgdlab.core.errors import ConfigError, DataError
from sgdlab.core.store import Store


def final_params(store: Store, run_id: str) -> list[torch.Tensor]:
    payload, _ = ckpt.latest(ckpt.folder_for(store.path, run_id))
    return payload["params"]


def interrupt_at(config, store, step: int):
    """Run ``config`` and press Ctrl-C just before update ``step``; return the run id."""
    def progress(done, total):
        if done == step:
            raise KeyboardInterrupt

    problem = "linreg" if isinstance(config, LinRegConfig) else "mnist"
    if problem == "linreg":
        from sgdlab.linreg.run import run
    else:
        from sgdlab.mnist.run import run
    with pytest.raises(KeyboardInterrupt):
        run(config, store=store, on_progress=progress)
    (record,) = [r for r in store.list_runs() if r.status == "interrupted"]  # marked by Ctrl-C
    return record


LINREG = dict(epochs=4, batch_size=4, checkpoint_every=3, keep_checkpoint=True, plots=False,
              dtype="float64")


@pytest.mark.numeric
@pytest.mark.parametrize("optimizer", ["sgd", "adam"])
def test_linreg_resumed_anywhere_equals_uninterrupted(tmp_path, optimizer):
    from sgdlab import OptimizerSpec

    reference_store = Store(tmp_path / "ref.db")
    config = LinRegConfig(**LINREG, optimizer=OptimizerSpec(optimizer), lr=0.01)
    reference = train(config, store=reference_store)
    for stop in (2, 5, 7, 12):  # before the first checkpoint, mid-epoch, at an epoch's end
        store = Store(tmp_path / f"s{stop}.db")
        record = interrupt_at(LinRegConfig(**LINREG, optimizer=OptimizerSpec(optimizer), lr=0.01),
                              store, stop)
        assert store.get(record.id).state == "interrupted"
        resumed = resume(record.id, store=store)
        assert resumed["run_id"] == record.id and resumed["status"] == "completed"
        assert resumed["losses"] == reference["losses"]
        assert resumed["batch_losses"] == reference["batch_losses"]
        assert resumed["final"] == reference["final"]
        for a, b in zip(final_params(store, record.id), final_params(reference_store, reference["run_id"])):
            assert torch.equal(a, b)
        assert [r.status for r in store.list_runs()] == ["completed"]


def test_a_completed_run_drops_its_checkpoints(tmp_path):
    store = Store(tmp_path / "s.db")
    doc = train(LinRegConfig(epochs=3, batch_size=5, checkpoint_every=1, plots=False), store=store)
    assert not ckpt.folder_for(store.path, doc["run_id"]).exists()
    assert not (tmp_path / "checkpoints").exists()


def test_a_corrupt_checkpoint_falls_back_to_the_previous_one(tmp_path, capsys):
    store = Store(tmp_path / "s.db")
    config = LinRegConfig(**LINREG)
    reference = train(LinRegConfig(**LINREG), store=Store(tmp_path / "ref.db"))
    record = interrupt_at(config, store, 11)
    files = sorted(ckpt.folder_for(store.path, record.id).glob("step-*.pt"))
    assert len(files) == 2  # the last two are kept
    files[-1].write_bytes(files[-1].read_bytes()[:-100])  # truncated
    resumed = resume(record.id, store=store)
    err = capsys.readouterr().err
    assert f"warning: checkpoint {files[-1]} is truncated" in err and str(files[0]) in err
    assert resumed["losses"] == reference["losses"]


def test_only_damaged_checkpoints_are_refused_naming_each_file(tmp_path, cli):
    store_path = tmp_path / "s.db"
    record = interrupt_at(LinRegConfig(**LINREG), Store(store_path), 11)
    listing = cli("runs", "--store", store_path).stdout  # a run with checkpoints: `resume` offered
    assert "interrupted runs: `sgdlab resume RUN_ID` continues one" in listing
    files = sorted(ckpt.folder_for(store_path, record.id).glob("step-*.pt"))
    files[0].write_bytes(b"garbage")
    data = bytearray(files[1].read_bytes())
    data[200] ^= 0xFF  # one flipped byte
    files[1].write_bytes(bytes(data))
    result = cli("resume", record.id, "--store", store_path)
    assert result.exit_code == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert lines == [f"error: checkpoint {files[1]} is corrupt (its SHA-256 does not match its content)",
                     f"error: checkpoint {files[0]} is truncated or not an sgdlab checkpoint "
                     "(7 bytes, no end marker)"]


def test_resume_refuses_what_cannot_be_resumed(tmp_path, cli):
    store = Store(tmp_path / "s.db")
    done = train(LinRegConfig(plots=False), store=store)
    lines = cli("resume", done["run_id"], "--store", store.path).stderr.strip().splitlines()
    assert lines == [f"error: run {done['run_id']} is completed: there is nothing to resume"]
    assert cli("resume", "nope", "--store", store.path).exit_code == 2
    with pytest.raises(ConfigError, match="no run store"):
        resume("x", store=tmp_path / "missing.db")
    with pytest.raises(DataError):
        ckpt.read(tmp_path / "missing.pt")


def _wait_for_running(store_path: Path, deadline: float) -> str | None:
    while time.monotonic() < deadline:
        for record in Store(store_path).list_runs():
            if record.status == "running":
                return record.id
        time.sleep(0.05)
    return None


MNIST_ARGS = ["--epochs", "2", "--batch-size", "1", "--limit-train", "1000", "--limit-test", "100",
              "--checkpoint-every", "40", "--keep-checkpoint", "--no-plots", "--device", "cpu"]


def _wait_for_checkpoint(folder: Path, step: int, process, deadline: float) -> bool:
    """Poll until a checkpoint of ``step`` or later exists (False if the process ended first)."""
    while time.monotonic() < deadline and process.poll() is None:
        steps = [int(p.stem.split("-")[1]) for p in folder.glob("step-*.pt")] if folder.is_dir() else []
        if steps and max(steps) >= step:
            return True
        time.sleep(0.002)
    return False


def _sgdlab(args, store_path):
    env = dict(os.environ, PYTHONPATH=str(ROOT / "src"), SGDLAB_STORE=str(store_path))
    return subprocess.Popen([sys.executable, "-m", "sgdlab", *args], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


@pytest.mark.slow  # real processes killed and resumed, ~20 s; the in-process resume tests stay in make test
def test_sigkill_at_random_moments_then_resume_gives_the_same_bits(tmp_path, cli):
    """A real `sgdlab mnist` process is SIGKILLed twice at a random moment of its training,
    resumed each time, and ends bit-identical to the same run left alone.

    The moment is a random training step (seen through the checkpoint files, one every 40 steps)
    plus a random few milliseconds, and always at least 600 of the 2,000 steps before the end:
    on a fast machine a random wall-clock delay alone can land after the run has finished."""
    rng = random.Random(int(os.environ.get("SGDLAB_KILL_SEED", time.time_ns())))
    reference = cli.json("mnist", *MNIST_ARGS, "--store", tmp_path / "ref.db")
    store_path = tmp_path / "killed.db"
    process = _sgdlab(["mnist", *MNIST_ARGS, "--json"], store_path)
    run_id = _wait_for_running(store_path, time.monotonic() + 120)
    assert run_id is not None, process.communicate(timeout=60)
    folder = ckpt.folder_for(store_path, run_id)
    first = rng.randrange(40, 800, 40)
    for kill, target in enumerate((first, rng.randrange(first + 120, 1400, 40))):
        if kill == 1:  # the resumed process: wait until it has recorded itself as running
            deadline = time.monotonic() + 120
            while time.monotonic() < deadline and Store(store_path).get(run_id).state != "running":
                time.sleep(0.01)
        reached = _wait_for_checkpoint(folder, target, process, time.monotonic() + 120)
        assert reached, f"no checkpoint at step {target}: " + str(process.communicate(timeout=60))
        time.sleep(rng.uniform(0.0, 0.005))
        assert process.poll() is None, "the run finished before it could be killed"
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=60)
        assert Store(store_path).get(run_id).state == "interrupted"
        process = _sgdlab(["resume", run_id, "--json"], store_path)
    out, err = process.communicate(timeout=300)
    assert process.returncode == 0, err
    resumed = json.loads(out)
    assert resumed["run_id"] == run_id
    assert resumed["step_losses"] == reference["step_losses"]
    strip = lambda epochs: [{k: e[k] for k in ("epoch", "train_loss", "test_loss", "test_accuracy")}
                            for e in epochs]
    assert strip(resumed["epochs"]) == strip(reference["epochs"])
    for a, b in zip(final_params(Store(store_path), run_id),
                    final_params(Store(tmp_path / "ref.db"), reference["run_id"])):
        assert torch.equal(a, b)
    shown = cli.json("runs", "--store", store_path)["runs"]
    assert [(r["id"], r["status"]) for r in shown] == [(run_id, "completed")]
