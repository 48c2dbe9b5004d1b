"""The MLP's theory beside practice: its options (tanh, squared loss, standardised pixels, full
batch), the sharpness and 2/lambda_max of `sgdlab mnist`, and the edge-of-stability study."""

from __future__ import annotations

import json
import math
import statistics
from pathlib import Path

import pytest
import torch
from torch.func import functional_call

from sgdlab.core.store import Store
from sgdlab.mnist import datasets
from sgdlab.mnist import model as mlp
from sgdlab.mnist import run as mnist_run
from sgdlab.mnist.config import MnistConfig
from sgdlab.mnist.sharpness import analyse


def exact_sharpness(config: MnistConfig, images: int) -> float:
    """The oracle: eigvalsh of the full Hessian (torch.autograd.functional.hessian), float64."""
    data = datasets.load(config.dataset)
    x, y, _, _ = mnist_run.tensors(config, data, torch.device("cpu"))
    x, y = x[:images].double(), y[:images]
    net = mlp.build_model(784, config.hidden, 10, torch.Generator().manual_seed(config.seed), config.activation).double()
    names = [k for k, _ in net.named_parameters()]
    shapes = [p.shape for p in net.parameters()]
    sizes = [p.numel() for p in net.parameters()]
    criterion = mlp.loss_function(config.loss)

    def loss_of(flat):
        params = {k: t.view(s) for k, t, s in zip(names, torch.split(flat, sizes), shapes)}
        return criterion(functional_call(net, params, (x,)), y)

    flat = torch.cat([p.detach().reshape(-1) for p in net.parameters()])
    return float(torch.linalg.eigvalsh(torch.autograd.functional.hessian(loss_of, flat, vectorize=True))[-1])


@pytest.mark.numeric
@pytest.mark.parametrize("activation,loss,normalize", [("relu", "cross-entropy", "tutorial"),
                                                       ("tanh", "mse", "standardize")])
def test_mnist_prints_the_sharpness_and_its_bound(cli, activation, loss, normalize):
    doc = cli.json("mnist", "--hidden", "3", "--activation", activation, "--loss", loss, "--normalize", normalize,
                   "--limit-train", "150", "--sharpness-subset", "120", "--limit-test", "50", "--no-plots")
    config = MnistConfig(hidden=[3], activation=activation, loss=loss, normalize=normalize, limit_train=150)
    exact = exact_sharpness(config, 120)  # 2,395 parameters: the full Hessian is 2,395 x 2,395
    assert doc["sharpness_images"] == 120
    assert doc["sharpness_init"] == pytest.approx(exact, rel=2e-3)  # Lanczos tolerance 1e-3, float32
    assert doc["lr_bound"] == pytest.approx(2 / doc["sharpness_init"], rel=1e-12)  # one float64 division: 1 eps
    assert Store().get(doc["run_id"]).metrics["lr_bound"] == doc["lr_bound"]


def test_human_output_and_the_sharpness_curve(cli, tmp_path):
    result = cli("mnist", "--limit-train", "200", "--limit-test", "50", "--hidden", "16", "--batch-size", "50",
                 "--epochs", "2", "--sharpness-every", "3", "--out", "figs")
    assert result.exit_code == 0, result.stderr
    out = result.stdout
    assert "sharpness at initialisation (top Hessian eigenvalue, first 200 training images): " in out
    assert "largest stable learning rate (full batch, 2 / lambda_max): " in out and "lr 0.01 is below it" in out
    assert "sharpness after 3 updates: " in out and "(2/lr = 200)" in out
    assert (tmp_path / "figs" / "sharpness.png").stat().st_size > 1000
    doc = cli.json("mnist", "--limit-train", "200", "--limit-test", "50", "--hidden", "16", "--batch-size", "50",
                   "--epochs", "2", "--sharpness-every", "3", "--no-plots")
    steps = [p["step"] for p in doc["sharpness"]]
    assert steps == [0, 3, 6]  # 8 updates: measured before updates 4 and 7; 8 is not a multiple of 3
    assert doc["sharpness"][0]["value"] == doc["sharpness_init"]
    assert doc["sharpness_cost"]["estimates"] == 3 and doc["sharpness_cost"]["hessian_vector_products"] > 3
    record = Store().get(doc["run_id"])
    assert record.curves["sharpness_step"] == steps and record.curves["sharpness"] == [p["value"] for p in doc["sharpness"]]
    # the theory's seconds are not training time: epochs' seconds exclude them
    assert sum(e["seconds"] for e in doc["epochs"]) < doc["sharpness_cost"]["seconds"] + doc["seconds"] + 1


@pytest.mark.numeric
def test_no_bound_and_full_batch(cli):
    doc = cli.json("mnist", "--limit-train", "120", "--limit-test", "30", "--batch-size", "full", "--epochs", "3",
                   "--no-bound", "--no-plots")
    assert doc["lr_bound"] is None and doc["sharpness_init"] is None and "sharpness" not in doc
    assert doc["batch_size"] == 120 and doc["steps"] == 3 and doc["config"]["batch_size"] is None
    # full batch: each step's loss is the loss on all 120 images, in order (the tutorial's full-batch GD)
    config = MnistConfig(limit_train=120, batch_size=None, epochs=3, bound=False, plots=False)
    data = datasets.load("mnist-5k")
    x, y, _, _ = mnist_run.tensors(config, data, torch.device("cpu"))
    net = mlp.build_model(784, [200], 10, torch.Generator().manual_seed(0))
    losses = []
    for _ in range(3):
        loss = torch.nn.functional.cross_entropy(net(x), y)
        losses.append(float(loss.detach()))
        net.zero_grad()
        loss.backward()
        with torch.no_grad():
            for p in net.parameters():
                p -= 0.01 * p.grad
    # float32, the same modules and kernels on the same tensors: bit-identical on one kernel path;
    # across paths a loss sums 120 x 10 terms (<= 1200 eps32 = 7e-5 worst, ~sqrt(1200) eps32 = 4e-6
    # typical) -- 1e-6 is below the worst case: both sides run in one process on one path, so the
    # comparison is within a path, where the two agree to the last bit up to the sum order
    assert doc["step_losses"] == pytest.approx(losses, rel=1e-6)


@pytest.mark.numeric
def test_standardize_uses_the_training_sets_statistics():
    data = datasets.load("mnist-5k")
    config = MnistConfig(normalize="standardize", limit_train=1000, limit_test=200)
    x, _, xt, _ = mnist_run.tensors(config, data, torch.device("cpu"))
    raw = data.x_train[:1000].reshape(1000, -1).double() / 255
    varying = raw.std(0) > 0
    assert x.mean(0).abs().max() < 1e-5  # centred, every pixel (float32 mean of 1000 values ~1: 1000 eps32 = 6e-5 worst; values are standardised so the mean sums to ~0 with |x| <= 30)
    torch.testing.assert_close(x.double().std(0, unbiased=False)[varying], torch.ones(int(varying.sum()), dtype=torch.float64),
                               rtol=1e-4, atol=1e-4)  # float32 data: <= 1000 eps32 = 6e-5 from the sums of 1000
    assert torch.equal(x[:, ~varying], torch.zeros_like(x[:, ~varying]))  # constant pixels: centred only
    expected = (data.x_test[:200].reshape(200, -1).double() / 255 - raw.mean(0)) / torch.where(varying, raw.std(0, unbiased=False), 1.0)
    torch.testing.assert_close(xt.double(), expected, rtol=1e-4, atol=1e-4)  # float32 mean/std of 1000: 6e-5


@pytest.mark.parametrize("args, message", [
    (["--activation", "sigmoid"], "--activation must be one of relu, tanh, got 'sigmoid'"),
    (["--loss", "hinge"], "--loss must be one of cross-entropy, mse, got 'hinge'"),
    (["--normalize", "minmax"], "--normalize must be one of tutorial, standardize, got 'minmax'"),
    (["--batch-size", "ful"], "--batch-size: 'ful' is not a whole number"),
    (["--sharpness-every", "0"], "--sharpness-every must be >= 1, got 0"),
    (["--sharpness-subset", "some"], "--sharpness-subset must be a number of images or all, got 'some'"),
    (["--max-steps", "0"], "--max-steps must be >= 1, got 0"),
])
def test_bad_mlp_options_exit_2(cli, args, message):
    result = cli("mnist", *args)
    assert result.exit_code == 2 and f"error: {message}" in result.stderr and result.stdout == ""


# -- the edge of stability ------------------------------------------------------------------------

def test_verdicts_in_words():
    rising = [{"step": s, "value": v} for s, v in [(0, 6.0), (10, 7.0), (20, 8.0)]]
    assert analyse(0.2, rising, [1.0] * 21, "completed")["verdict"].startswith("progressive sharpening")
    flat = [{"step": s, "value": 6.0} for s in (0, 10, 20)]
    assert analyse(0.2, flat, [1.0] * 21, "completed")["verdict"].startswith("stable below the edge")
    edge = [{"step": s, "value": v} for s, v in [(0, 6.0), (10, 9.0), (20, 10.2), (30, 9.9), (40, 10.4), (50, 10.1)]]
    losses = [1.0 - 0.01 * i + (0.02 if i % 7 == 0 else 0) for i in range(51)]
    result = analyse(0.2, edge, losses, "completed")
    assert result["hit_step"] == 20 and result["bound"] == 10.0
    assert result["ratio_median"] == pytest.approx(statistics.median([1.02, 0.99, 1.04, 1.01]))  # a product each: ~1 eps
    assert result["verdict"].startswith("at the edge of stability") and "non-monotonically" in result["verdict"]
    assert result["loss_rises_after_hit"] == sum(b > a for a, b in zip(losses[20:], losses[21:]))
    early = [{"step": 0, "value": 6.0}, {"step": 10, "value": 10.5}]
    assert analyse(0.2, early, [1.0] * 11, "completed")["verdict"].startswith("reached the edge")
    assert analyse(0.2, edge, losses, "diverged")["verdict"].startswith("diverged")
    above = [{"step": s, "value": v} for s, v in [(0, 6.0), (10, 5.2), (20, 5.4), (30, 5.1)]]
    verdict = analyse(0.4, above, losses, "completed")["verdict"]
    assert verdict.startswith("at the edge of stability") and "started above 2/lr = 5 (sharpness 6)" in verdict
    assert analyse(0.4, [{"step": s, "value": 7.0} for s in (0, 10, 20)], losses, "completed")["verdict"].startswith("above the edge")


@pytest.mark.numeric
def test_sharpness_study_json_store_and_report(cli, tmp_path):
    doc = cli.json("sharpness", "--lr", "0.2,1.2", "--steps", "12", "--every", "4", "--limit-train", "150",
                   "--hidden", "16,16", "--out", "eos")
    assert set(doc) >= {"runs", "figures", "study_id"} and len(doc["runs"]) == 2
    for run, lr in zip(doc["runs"], (0.2, 1.2)):
        assert set(run) >= {"lr", "bound", "sharpness", "losses", "hit_step", "ratio_median", "verdict", "status"}
        assert run["lr"] == lr and run["bound"] == pytest.approx(2 / lr)  # one division
        assert [p["step"] for p in run["sharpness"]] == [0, 4, 8, 12] and len(run["losses"]) == 12
        values = [p["value"] for p in run["sharpness"]]
        hit = next((p["step"] for p in run["sharpness"] if p["value"] >= run["bound"]), None)
        assert run["hit_step"] == hit
        if hit is not None:
            after = [v * lr / 2 for p, v in zip(run["sharpness"], values) if p["step"] >= hit]
            assert run["ratio_median"] == pytest.approx(statistics.median(after))  # same numbers, one product each: 1e-6 >> eps
    # the full-batch loss of the standardised tanh MLP with the squared loss, by plain autograd
    config = MnistConfig(hidden=[16, 16], activation="tanh", loss="mse", normalize="standardize", limit_train=150)
    x, y, _, _ = mnist_run.tensors(config, datasets.load("mnist-5k"), torch.device("cpu"))
    net = mlp.build_model(784, [16, 16], 10, torch.Generator().manual_seed(0), "tanh")
    onehot = torch.nn.functional.one_hot(y, 10).float()
    for step in range(4):
        loss = 0.5 * ((net(x) - onehot) ** 2).sum(1).mean()
        # float32 full-batch loss, 150 x 10 terms summed in another order: <= 1500 eps32 = 9e-5 worst,
        # sqrt(1500) eps32 = 2.3e-6 for independent roundings; 1e-5 sits between, over 4 steps
        assert doc["runs"][0]["losses"][step] == pytest.approx(float(loss.detach()), rel=1e-5)
        net.zero_grad()
        loss.backward()
        with torch.no_grad():
            for p in net.parameters():
                p -= 0.2 * p.grad
    assert [Path(p).name for p in doc["figures"]] == ["eos_loss.png", "eos_sharpness.png"]
    assert all((tmp_path / "eos" / name).stat().st_size > 1000 for name in ("eos_loss.png", "eos_sharpness.png"))
    records = Store().list_runs(sweep_id=doc["study_id"])
    assert [r.command for r in records] == ["sharpness", "sharpness"]
    assert records[0].metrics["verdict"] == doc["runs"][0]["verdict"]
    page = cli.json("report", "--sweep", doc["study_id"], "--out", "eos.html")
    text = (tmp_path / "eos.html").read_text()
    assert page["report"].endswith("eos.html") and doc["runs"][1]["verdict"][:30] in text


def test_sharpness_study_human_output_and_bad_input(cli):
    result = cli("sharpness", "--lr", "0.3", "--steps", "4", "--every", "2", "--limit-train", "100",
                 "--hidden", "8", "--no-plots")
    assert result.exit_code == 0, result.stderr
    assert "lr 0.3: 2/lr = 6.667" in result.stdout and "verdict: " in result.stdout
    result = cli("sharpness", "--lr", "0,-1", "--steps", "0", "--every", "0")
    assert result.exit_code == 2 and result.stdout == ""
    assert result.stderr.splitlines() == ["error: --lr must be a finite number > 0, got 0.0", "error: --lr must be a finite number > 0, got -1.0",
                                          "error: --steps must be >= 1, got 0", "error: --every must be >= 1, got 0"]
    assert "about a minute" in cli("sharpness", "--help").stdout
    result = cli("sharpness", "--out", "figs", "--no-plots")
    assert result.exit_code == 2 and result.stderr == "error: --out is the folder for figures; --no-plots draws none\n"
    assert not Path("figs").exists()


@pytest.mark.numeric
def test_a_resumed_run_keeps_its_sharpness_curve(tmp_path):
    """Ctrl-C mid-run, `sgdlab resume`: the curve measured before the stop comes back from the
    checkpoint, and the run ends with the same curve as one left alone."""
    from sgdlab.api import resume
    from sgdlab.mnist.run import run

    config = dict(limit_train=200, limit_test=20, hidden=[8], batch_size=50, epochs=3,
                  sharpness_every=2, checkpoint_every=1, plots=False)
    reference = run(MnistConfig(**config), store=Store(tmp_path / "ref.db"))
    store = Store(tmp_path / "s.db")

    def stop_at_7(done, total):
        if done == 7:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        run(MnistConfig(**config), store=store, on_progress=stop_at_7)
    (record,) = store.list_runs()
    resumed = resume(record.id, store=store)
    assert resumed["status"] == "completed"
    assert [p["step"] for p in resumed["sharpness"]] == [0, 2, 4, 6, 8, 10, 12]
    # the warm start's vector is not checkpointed: after the resume Lanczos starts cold (tolerance 1e-3)
    values = [p["value"] for p in resumed["sharpness"]]
    assert values == pytest.approx([p["value"] for p in reference["sharpness"]], rel=3e-3)
    assert values[:3] == [p["value"] for p in reference["sharpness"]][:3]  # steps 0-4: from the checkpoint
    assert resumed["step_losses"] == reference["step_losses"]
