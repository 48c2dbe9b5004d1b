"""A model file is a problem: `sgdlab train FILE.py`, its theory against oracles, its runs in
the store, checkpoints and exact resume (Ctrl-C in-process, SIGKILL of a real process).

The model files here are held out: none of them is an example the code was written against.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import textwrap
import time

import pytest
import torch

from conftest import ROOT
from sgdlab import ModelFileConfig, train
from sgdlab.api import resume
from sgdlab.core import checkpoint as ckpt
from sgdlab.core.errors import ConfigError
from sgdlab.core.store import Store

# a tanh MLP, 4-12-3 (99 parameters: above theory's DENSE_MAX, so Lanczos answers), 240 rows
TANH = """
import torch
from torch import nn

def data():
    g = torch.Generator().manual_seed(7)
    x = torch.randn(300, 4, generator=g)
    y = (x[:, 0] > 0).long() + (x[:, 1] > 0.5).long()
    return {"train": (x[:240], y[:240]), "test": (x[240:], y[240:])}

def model():
    return nn.Sequential(nn.Linear(4, 12), nn.Tanh(), nn.Linear(12, 3))

def loss(output, target):
    return nn.functional.cross_entropy(output, target)

def accuracy(output, target):
    return (output.argmax(1) == target).float().mean()
"""

# Dropout and BatchNorm: they train normally; resume must bring back the mask stream and statistics
NOISY = """
import torch
from torch import nn

def data():
    g = torch.Generator().manual_seed(3)
    x = torch.randn(1000, 6, generator=g)
    return {"train": (x, x[:, :2].sum(1, keepdim=True) ** 2)}

def model():
    return nn.Sequential(nn.Linear(6, 16), nn.BatchNorm1d(16), nn.ReLU(), nn.Dropout(0.2),
                         nn.Linear(16, 1))

def loss(output, target):
    return ((output - target) ** 2).mean()
"""


def write(tmp_path, text: str, name: str = "net.py"):
    path = tmp_path / name
    path.write_text(textwrap.dedent(text))
    return path


def test_lr_bound_equals_a_dense_hessian_oracle(tmp_path, cli):
    """2 / lambda_max at initialisation, from Lanczos on Hessian-vector products, against the
    top eigenvalue of the dense float64 Hessian (torch.autograd.functional.hessian)."""
    path = write(tmp_path, TANH)
    doc = cli.json("train", path, "--steps", "1", "--seed", "3", "--no-plots")
    assert doc["problem"] == "modelfile" and doc["sharpness_rows"] == 240
    namespace: dict = {}
    exec(compile(TANH, "tanh", "exec"), namespace)
    torch.manual_seed(3)  # as sgdlab seeds it before model()
    net = namespace["model"]().double()
    x, y = namespace["data"]()["train"]
    names = [n for n, _ in net.named_parameters()]
    shapes = [p.shape for p in net.parameters()]
    flat = torch.cat([p.detach().reshape(-1) for p in net.parameters()])

    def loss_of(vector):
        params, at = {}, 0
        for name, shape in zip(names, shapes):
            size = shape.numel()
            params[name] = vector[at : at + size].view(shape)
            at += size
        return namespace["loss"](torch.func.functional_call(net, params, (x.double(),)), y)

    hessian = torch.autograd.functional.hessian(loss_of, flat)
    top = float(torch.linalg.eigvalsh(hessian)[-1])
    # ARPACK stops when the Ritz residual is below LANCZOS_TOL (1e-3) times the eigenvalue, and
    # for a symmetric matrix the eigenvalue error is at most that residual: 1e-3 relative; the
    # float32 products add ~1e-6 relative (eps 1.2e-7 times sums of ~240 terms).
    assert doc["sharpness_init"] == pytest.approx(top, rel=1e-3)
    assert doc["lr_bound"] == pytest.approx(2 / top, rel=1e-3)


def test_train_document_and_the_run_in_the_store(tmp_path, cli):
    path = write(tmp_path, TANH)
    doc = cli.json("train", path, "--lr", "0.3", "--batch-size", "32", "--epochs", "2", "--no-plots")
    assert doc["status"] == "completed" and len(doc["step_losses"]) == 2 * 8  # ceil(240 / 32) = 8
    assert [e["epoch"] for e in doc["epochs"]] == [1, 2]
    assert all({"train_loss", "test_loss", "test_accuracy"} <= set(e) for e in doc["epochs"])
    assert doc["model"]["sha256"] and doc["config"]["file"] == str(path.resolve())
    # final_loss: the whole training set's mean loss after the last update, as the file computes it
    shown = cli.json("runs")["runs"]
    assert [(r["id"], r["command"], r["status"]) for r in shown] == [(doc["run_id"], "modelfile", "completed")]
    human = cli("train", path, "--steps", "3", "--batch-size", "full", "--no-plots")
    assert human.exit_code == 0 and "largest stable learning rate" in human.stdout


def test_python_takes_an_object_with_model_data_loss(tmp_path):
    namespace: dict = {}
    exec(compile(TANH, "tanh", "exec"), namespace)

    class Mine:
        data, model, loss = (staticmethod(namespace[k]) for k in ("data", "model", "loss"))

    store = Store(tmp_path / "s.db")
    by_object = train(Mine(), lr=0.2, steps=5, plots=False, store=store)
    by_path = train(str(write(tmp_path, TANH)), lr=0.2, steps=5, plots=False, store=store)
    assert by_object["step_losses"] == by_path["step_losses"]  # the same seed, the same bits
    assert by_object["model"]["file"] is None and by_object["test_accuracy"] is None  # no accuracy()
    by_config = train(ModelFileConfig(source=Mine(), lr=0.2, steps=5, plots=False), store=store)
    assert by_config["step_losses"] == by_path["step_losses"]


def _interrupt_at(config, store, step):
    from sgdlab.modelfile.run import run

    def progress(done, total):
        if done == step:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        run(config, store=store, on_progress=progress)
    (record,) = [r for r in store.list_runs() if r.status == "interrupted"]
    return record


def _final(store, run_id):
    payload, _ = ckpt.latest(ckpt.folder_for(store.path, run_id))
    return payload["params"] + payload["extra"]["buffers"]



def test_numpy_arrays_from_data_train_like_the_same_tensors(tmp_path):
    # data from NumPy or pandas: the arrays become tensors of the same dtype, so the run is the
    # tensor file's, bit for bit (the same values, the same kernels)
    as_numpy = TANH.replace('return {"train": (x[:240], y[:240]), "test": (x[240:], y[240:])}',
                            'x, y = x.numpy(), y.numpy()\n'
                            '    return {"train": (x[:240], y[:240]), "test": (x[240:], y[240:])}')
    assert as_numpy != TANH
    store = Store(tmp_path / "s.db")
    by_numpy = train(str(write(tmp_path, as_numpy, "np.py")), lr=0.2, steps=5, plots=False, store=store)
    by_tensor = train(str(write(tmp_path, TANH)), lr=0.2, steps=5, plots=False, store=store)
    assert by_numpy["step_losses"] == by_tensor["step_losses"]
    assert by_numpy["test_accuracy"] == by_tensor["test_accuracy"]


def test_read_only_and_strided_numpy_arrays_train_the_same_bits_without_a_warning(tmp_path):
    """Found by the fourth hostile round: a read-only array printed PyTorch's raw 'The given
    NumPy array is not writable' warning; reversed twice, or made read-only, the arrays hold the
    same values, so the run is the tensor file's bit for bit."""
    import warnings

    odd = TANH.replace('return {"train": (x[:240], y[:240]), "test": (x[240:], y[240:])}',
                       'x, y = x.numpy()[::-1][::-1], y.numpy()\n'
                       '    y.flags.writeable = False\n'
                       '    return {"train": (x[:240], y[:240]), "test": (x[240:], y[240:])}')
    assert odd != TANH
    store = Store(tmp_path / "s.db")
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # any warning fails the run
        by_numpy = train(str(write(tmp_path, odd, "np.py")), lr=0.2, steps=5, plots=False, store=store)
    by_tensor = train(str(write(tmp_path, TANH)), lr=0.2, steps=5, plots=False, store=store)
    assert by_numpy["step_losses"] == by_tensor["step_losses"]

def test_ctrl_c_anywhere_then_resume_is_bit_identical_with_dropout_and_batchnorm(tmp_path):
    path = write(tmp_path, NOISY)
    options = dict(file=str(path), lr=0.05, batch_size=50, epochs=2, checkpoint_every=7,
                   keep_checkpoint=True, plots=False, sharpness_every=15, sharpness_subset=100)
    reference_store = Store(tmp_path / "ref.db")
    reference = train(ModelFileConfig(**options), store=reference_store)
    assert reference["notes"] and "BatchNorm1d '1'" in reference["notes"][0] and "Dropout '3'" in reference["notes"][0]
    for stop in (3, 20, 36):  # before the first checkpoint, at an epoch's end, mid-epoch
        store = Store(tmp_path / f"s{stop}.db")
        record = _interrupt_at(ModelFileConfig(**options), store, stop)
        resumed = resume(record.id, store=store)
        assert resumed["status"] == "completed" and resumed["run_id"] == record.id
        assert resumed["step_losses"] == reference["step_losses"]
        assert resumed["sharpness"] == reference["sharpness"]
        assert resumed["final_loss"] == reference["final_loss"]
        for a, b in zip(_final(store, record.id), _final(reference_store, reference["run_id"])):
            assert torch.equal(a, b)


def test_resume_refuses_a_changed_file_in_one_line(tmp_path, cli):
    path = write(tmp_path, TANH)
    store = Store(tmp_path / "s.db")
    record = _interrupt_at(ModelFileConfig(file=str(path), epochs=3, plots=False), store, 9)
    path.write_text(path.read_text() + "\n# edited\n")
    result = cli("resume", record.id, "--store", store.path)
    assert result.exit_code == 2
    (line,) = result.stderr.strip().splitlines()
    assert line.startswith(f"error: run {record.id}: {path.resolve()} changed since the run started (sha256 ")
    with pytest.raises(ConfigError, match="changed since the run started"):
        resume(record.id, store=store)


def _sgdlab(args, store_path):
    env = dict(os.environ, PYTHONPATH=str(ROOT / "src"), SGDLAB_STORE=str(store_path))
    return subprocess.Popen([sys.executable, "-m", "sgdlab", *map(str, args)], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _wait_for(condition, process, seconds: float = 120) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline and process.poll() is None:
        if condition():
            return True
        time.sleep(0.002)
    return False


@pytest.mark.slow  # three runs of 1,000 steps in real processes: ~40 s on a quiet 2-core machine
def test_sigkill_at_a_random_moment_then_resume_gives_the_same_bits(tmp_path, cli):
    """A real `sgdlab train` process is SIGKILLed at a random training step (seen through its
    checkpoints, one every 20 steps) plus a few milliseconds, resumed, and ends equal to the
    same run left alone: losses, test losses, final weights and BatchNorm statistics."""
    rng = random.Random(int(os.environ.get("SGDLAB_KILL_SEED", time.time_ns())))
    path = write(tmp_path, NOISY)
    args = ["train", path, "--lr", "0.02", "--batch-size", "2", "--epochs", "2",
            "--checkpoint-every", "20", "--keep-checkpoint", "--no-plots", "--device", "cpu"]
    reference = cli.json(*args, "--store", tmp_path / "ref.db")
    store_path = tmp_path / "killed.db"
    process = _sgdlab([*args, "--json"], store_path)

    def running():
        return [r.id for r in Store(store_path).list_runs() if r.status == "running"] if store_path.exists() else []

    assert _wait_for(running, process), process.communicate(timeout=60)
    (run_id,) = running()
    folder = ckpt.folder_for(store_path, run_id)
    target = rng.randrange(20, 600, 20)  # of 1,000 steps: always well before the end

    def reached():
        steps = [int(p.stem.split("-")[1]) for p in folder.glob("step-*.pt")] if folder.is_dir() else []
        return bool(steps) and max(steps) >= target

    assert _wait_for(reached, process), process.communicate(timeout=60)
    time.sleep(rng.uniform(0.0, 0.005))
    assert process.poll() is None, "the run finished before it could be killed"
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=60)
    assert Store(store_path).get(run_id).state == "interrupted"
    process = _sgdlab(["resume", run_id, "--json"], store_path)
    out, err = process.communicate(timeout=300)
    assert process.returncode == 0, err
    resumed = json.loads(out)
    assert resumed["run_id"] == run_id and resumed["step_losses"] == reference["step_losses"]
    assert [e["train_loss"] for e in resumed["epochs"]] == [e["train_loss"] for e in reference["epochs"]]
    for a, b in zip(_final(Store(store_path), run_id), _final(Store(tmp_path / "ref.db"), reference["run_id"])):
        assert torch.equal(a, b)


def test_runs_report_and_the_page_show_a_model_files_run_without_importing_it(tmp_path, cli, monkeypatch):
    from fastapi.testclient import TestClient

    from sgdlab.serve.app import create_app

    path = write(tmp_path, TANH)
    doc = cli.json("train", path, "--steps", "4")  # with its figure
    report = tmp_path / "r.html"
    assert cli("report", doc["run_id"], "--out", report).exit_code == 0
    assert doc["run_id"] in report.read_text() and "modelfile" in report.read_text()
    path.unlink()  # the page reads the store only: the file is not needed, never imported
    monkeypatch.setattr("sgdlab.modelfile.source.load_path", lambda *a: pytest.fail("imported a file"))
    with TestClient(create_app(os.environ["SGDLAB_STORE"]), base_url="http://127.0.0.1") as client:
        run = client.get(f"/api/runs/{doc['run_id']}").json()
        assert run["command"] == "modelfile" and run["metrics"]["lr_bound"] == doc["lr_bound"]
        assert client.get(f"/api/runs/{doc['run_id']}/curves").status_code == 200
        assert client.get(f"/api/runs/{doc['run_id']}/figures/0").headers["content-type"] == "image/png"
