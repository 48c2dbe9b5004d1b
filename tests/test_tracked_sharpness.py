"""The sharpness a training run tracks (`sgdlab mnist --sharpness-every K`, `sgdlab train FILE.py
--sharpness-every K`): under Adam/AdamW/RMSprop the preconditioned sharpness lambda_1(P^-1 H)
against its edge (38/lr for Adam), otherwise lambda_1(H) against the rule's bound over lr.

Oracles: the tracker of `sgdlab sharpness --optimizer adam` (``PreconditionedSharpness``) on the
state the run checkpointed, bit for bit; the dense P^-1 H of that state (numpy's eigvals); the
uninterrupted run for a resumed one, bit for bit."""

from __future__ import annotations

import json
import textwrap

import numpy as np
import pytest
import torch

from sgdlab.api import resume
from sgdlab.core import checkpoint as ckpt
from sgdlab.core.store import Store
from sgdlab.core.threads import one_thread
from sgdlab.mnist.config import MnistConfig
from sgdlab.mnist.run import run
from sgdlab.optim.spec import OptimizerSpec
from sgdlab.theory import curvature

SMALL = dict(limit_train=100, limit_test=50, hidden=[2], batch_size=25, sharpness_subset=100,
             plots=False, device="cpu")


def adam_config(**more) -> MnistConfig:
    return MnistConfig(optimizer=OptimizerSpec("adam"), lr=1e-3, **(SMALL | more))


def state_at(config: MnistConfig, store: Store, run_id: str):
    """The network, optimizer and sharpness objective as the run's last checkpoint left them."""
    from sgdlab import optim
    from sgdlab.mnist import datasets
    from sgdlab.mnist.curvature import objective, subset
    from sgdlab.mnist.model import build_model
    from sgdlab.mnist.run import tensors

    payload, _ = ckpt.latest(ckpt.folder_for(store.path, run_id))
    data = datasets.load(config.dataset, config.data_dir)
    x, y, _, _ = tensors(config, data, torch.device("cpu"))
    net = build_model(x.shape[1], config.hidden, 10, torch.Generator().manual_seed(1), config.activation)
    params = list(net.parameters())
    opt = optim.create(config.optimizer.name, params, lr=config.lr, **config.optimizer.hyperparameters())
    ckpt.restore(payload, params, opt, torch.Generator())
    xs, ys = subset(x, y, config.sharpness_subset)
    return net, opt, params, objective(net, xs, ys, config.loss), payload


def test_mnist_with_adam_records_what_the_tracker_gives_on_the_same_state(tmp_path):
    store = Store(tmp_path / "runs.db")
    config = adam_config(max_steps=2, sharpness_every=2, checkpoint_every=2, keep_checkpoint=True)
    doc = run(config, store=store)
    assert doc["sharpness_kind"] == "preconditioned" and doc["sharpness_threshold_label"] == "38/lr"
    assert doc["sharpness_threshold"] == pytest.approx(38 / 1e-3, rel=1e-14)  # 3.8/0.1/1e-3: a few roundings
    (point,) = doc["sharpness"]  # lambda_1(P^-1 H) exists from the first update on: step 0 is not on it
    assert point["step"] == 2
    net, opt, params, target, payload = state_at(config, store, doc["run_id"])
    assert payload["loop"]["step"] == 2
    with one_thread():  # as the run measures: the same operations, the same bits
        want = curvature.PreconditionedSharpness()(target, curvature.adaptive_preconditioner(opt, params))
    assert point["value"] == want
    # the dense oracle: P^-1 H formed from the full Hessian (1,600 parameters), its top eigenvalue
    p_diag = curvature.adaptive_preconditioner(opt, params).double()
    shapes, sizes = [p.shape for p in params], [p.numel() for p in params]
    flat = torch.cat([p.detach().reshape(-1) for p in params]).double()

    def loss(v):
        return target.loss([t.view(s).float() for t, s in zip(torch.split(v, sizes), shapes)], slice(0, 100))

    h = torch.autograd.functional.hessian(loss, flat).double().numpy()
    dense = float(np.linalg.eigvals(h / p_diag.numpy()[:, None]).real.max())
    # Lanczos stops at LANCZOS_TOL = 1e-3 (ARPACK's relative accuracy of the Ritz value); the
    # float32 Hessian-vector products of both sides agree far closer than that
    assert point["value"] == pytest.approx(dense, rel=curvature.LANCZOS_TOL)
    # the record keeps which quantity was tracked, against which threshold, and the bound's rule
    metrics = store.get(doc["run_id"]).metrics
    for key in ("sharpness_kind", "sharpness_threshold", "sharpness_threshold_label",
                "sharpness_threshold_rule", "lr_bound_rule"):
        assert metrics[key] == doc[key], key
    assert metrics["lr_bound_rule"].startswith("none: adam")


def test_sgd_tracks_the_hessian_against_its_own_bound(tmp_path):
    store = Store(tmp_path / "runs.db")
    heavy = MnistConfig(optimizer=OptimizerSpec("sgd", momentum=0.9), lr=0.05, max_steps=2,
                        sharpness_every=2, **SMALL)
    doc = run(heavy, store=store)
    assert doc["sharpness_kind"] == "hessian" and [p["step"] for p in doc["sharpness"]] == [0, 2]
    assert doc["sharpness_threshold_label"] == "3.8/lr"  # 2 (1 + 0.9) / lr
    assert doc["sharpness_threshold"] == pytest.approx(3.8 / 0.05, rel=1e-14)
    assert doc["lr_bound"] == pytest.approx(3.8 / doc["sharpness_init"], rel=1e-14)
    assert doc["lr_bound_rule"].startswith("heavy-ball")
    assert store.get(doc["run_id"]).metrics["lr_bound_rule"] == doc["lr_bound_rule"]


def test_a_resumed_adam_run_tracks_the_same_bits(tmp_path):
    config = adam_config(epochs=2, sharpness_every=2, checkpoint_every=2)
    reference = run(config, store=Store(tmp_path / "ref.db"))
    store = Store(tmp_path / "runs.db")

    def progress(done, total):
        if done == 6:  # after 5 updates: the last checkpoint is at step 4
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        run(config, store=store, on_progress=progress)
    (stopped,) = store.list_runs()
    resumed = resume(stopped.id, store=store)
    assert [p["step"] for p in reference["sharpness"]] == [2, 4, 6, 8]
    assert resumed["sharpness"] == reference["sharpness"]  # warm starts kept: the same bits
    assert resumed["step_losses"] == reference["step_losses"]
    assert resumed["sharpness_kind"] == "preconditioned"


def test_cli_mnist_prints_and_records_the_preconditioned_sharpness(cli, tmp_path):
    args = ["mnist", "--optimizer", "rmsprop", "--lr", "0.001", "--sharpness-every", "2", "--max-steps", "2",
            "--limit-train", "100", "--hidden", "2", "--batch-size", "50", "--sharpness-subset", "100",
            "--device", "cpu"]
    doc = cli.json(*args, "--no-plots")
    assert doc["sharpness_kind"] == "preconditioned" and doc["sharpness_threshold_label"] == "2/lr"
    text = cli(*args, "--out", tmp_path / "figs")
    assert text.exit_code == 0, text.stderr
    assert "preconditioned sharpness lambda_1(P^-1 H) after 2 updates" in text.stdout
    assert "(2/lr = 2000)" in text.stdout
    assert (tmp_path / "figs" / "sharpness.png").stat().st_size > 0
    shown = cli.json("runs", "show", doc["run_id"])
    assert shown["metrics"]["sharpness_kind"] == "preconditioned"
    assert shown["metrics"]["lr_bound_rule"].startswith("none: rmsprop")


MODEL = textwrap.dedent('''
    import torch

    def data():
        g = torch.Generator().manual_seed(0)
        x = torch.randn(40, 3, generator=g)
        y = x @ torch.tensor([[1.0], [-2.0], [0.5]])
        return {"train": (x[:30], y[:30]), "test": (x[30:], y[30:])}

    def model():
        return torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.Tanh(), torch.nn.Linear(4, 1))

    def loss(output, target):
        return ((output - target) ** 2).mean()
''')


def test_train_file_with_adam_tracks_the_preconditioned_sharpness(cli, tmp_path):
    path = tmp_path / "net.py"
    path.write_text(MODEL)
    doc = cli.json("train", path, "--optimizer", "adam", "--lr", "0.01", "--steps", "4",
                   "--sharpness-every", "2", "--batch-size", "full", "--no-plots", "--device", "cpu")
    assert doc["sharpness_kind"] == "preconditioned" and doc["sharpness_threshold_label"] == "38/lr"
    assert [p["step"] for p in doc["sharpness"]] == [2, 4] and doc["lr_bound"] is None
    record = cli.json("runs", "show", doc["run_id"])["metrics"]
    assert record["sharpness_kind"] == "preconditioned" and record["lr_bound_rule"].startswith("none: adam")
    assert json.dumps(record["sharpness_threshold"]) == json.dumps(doc["sharpness_threshold"])


def test_every_lr_bound_is_recorded_with_its_rule(cli, tmp_path):
    """`sgdlab runs show ID` and the page's run view (/api/runs/ID) keep lr_bound_rule beside
    lr_bound for every problem that has one."""
    from fastapi.testclient import TestClient

    from sgdlab.serve.app import create_app

    store = tmp_path / "runs.db"
    docs = [cli.json("linreg", "--epochs", "2", "--no-plots", "--store", store),
            cli.json("logreg", "--epochs", "2", "--no-plots", "--store", store),
            cli.json("mnist", "--optimizer", "sgd", "--momentum", "0.5", "--max-steps", "2", "--limit-train", "100",
                     "--hidden", "2", "--sharpness-subset", "100", "--no-plots", "--store", store)]
    rules = ["gd: 2/lambda_max (plain gradient descent)"] * 2 + [
        "heavy-ball: 2(1+beta)/lambda_max with beta = 0.5 (PyTorch's momentum)"]
    with TestClient(create_app(store), base_url="http://127.0.0.1") as client:
        for doc, rule in zip(docs, rules):
            assert doc["lr_bound_rule"] == rule
            shown = cli.json("runs", "show", doc["run_id"], "--store", store)["metrics"]
            assert (shown["lr_bound"], shown["lr_bound_rule"]) == (doc["lr_bound"], rule)
            page = client.get(f"/api/runs/{doc['run_id']}").json()["metrics"]
            assert (page["lr_bound"], page["lr_bound_rule"]) == (doc["lr_bound"], rule)


UNUSED = textwrap.dedent('''
    import torch

    def data():
        g = torch.Generator().manual_seed(0)
        x = torch.randn(30, 3, generator=g)
        return {"train": (x, x @ torch.tensor([[1.0], [-2.0], [0.5]]))}

    class Net(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.used = torch.nn.Linear(3, 1)
            if UNUSED:
                self.spare = torch.nn.Linear(3, 1)  # never called: its grad stays None

        def forward(self, x):
            return self.used(x)

    def model():
        return Net()

    def loss(output, target):
        return ((output - target) ** 2).mean()
''')


@pytest.mark.parametrize("optimizer", ["adam", "rmsprop"])
def test_a_parameter_the_loss_never_reaches_does_not_break_the_preconditioned_sharpness(cli, tmp_path, optimizer):
    """Found by the fourth hostile round: an unused layer (grad None, so no optimizer state) gave
    'internal error (AttributeError ...)' and left the run interrupted. Its P is eps (the zeros
    the second moment would hold had its gradient been 0) and its Hessian block is 0, so the
    curve equals the same network without that layer."""
    curves = []
    for unused in (True, False):
        path = tmp_path / f"net{unused}.py"
        path.write_text(f"UNUSED = {unused}\n" + UNUSED)
        doc = cli.json("train", path, "--optimizer", optimizer, "--lr", "0.01", "--steps", "3",
                       "--sharpness-every", "1", "--batch-size", "10", "--no-plots", "--device", "cpu",
                       "--store", tmp_path / "runs.db")
        assert doc["status"] == "completed" and [p["step"] for p in doc["sharpness"]] == [1, 2, 3]
        curves.append([p["value"] for p in doc["sharpness"]])
    # both are dense eigenvalue problems (<= 64 parameters): numpy's eigh of the same block, with
    # or without 4 zero rows and columns, agrees to its backward error, a few eps of the norm
    assert curves[0] == pytest.approx(curves[1], rel=1e-12)


def test_a_batch_size_study_draws_the_tracked_sharpness_too(cli, tmp_path):
    """Found by the fourth hostile round: `mnist --batch-size 50,100 --sharpness-every 2` measured
    and recorded each size's curve but drew only the loss figures; one run draws sharpness.png."""
    doc = cli.json("mnist", "--batch-size", "25,50", "--sharpness-every", "2", "--max-steps", "4",
                   "--limit-train", "100", "--hidden", "2", "--sharpness-subset", "100", "--device", "cpu",
                   "--out", tmp_path / "figs", "--store", tmp_path / "runs.db")
    assert [len(r["sharpness"]) for r in doc["runs"]] == [3, 2]  # steps 0,2,4 at 25 (4 updates); 0,2 at 50
    assert str(tmp_path / "figs" / "sharpness.png") in doc["figures"]
    assert (tmp_path / "figs" / "sharpness.png").stat().st_size > 1000
