"""`sgdlab sweep FILE.py`: the stacked (torch.func) executor equals the serial one, cell by
cell; what it cannot treat exactly (BatchNorm, Dropout) it names and runs serially."""

from __future__ import annotations

import textwrap

import pytest

from test_modelfile import NOISY, TANH

# A small CNN as well: the stacked form is not only for Linear layers
CNN = """
import torch
from torch import nn

def data():
    g = torch.Generator().manual_seed(1)
    x = torch.randn(96, 1, 6, 6, generator=g)
    y = (x[:, 0, :3].mean((1, 2)) > 0).long()
    return {"train": (x[:64], y[:64]), "test": (x[64:], y[64:])}

def model():
    return nn.Sequential(nn.Conv2d(1, 4, 3), nn.ReLU(), nn.Flatten(), nn.Linear(64, 2))

def loss(output, target):
    return nn.functional.cross_entropy(output, target)

def accuracy(output, target):
    return (output.argmax(1) == target).float().mean()
"""


def _sweep(cli, path, executor, *extra):
    return cli.json("sweep", path, "--lr", "0.05,0.2", "--batch-size", "16,64", "--seeds", "2",
                    "--epochs", "2", "--optimizer", "sgd,adam", "--executor", executor,
                    "--no-plots", *extra)


def _cells(cli, document):
    from sgdlab.core.store import Store

    runs = {}
    for row in document["cells"]:
        record = Store().get(row["run_id"])
        runs[(row["optimizer"], row["batch_size"], row["lr"], row["seed"])] = {
            "curves": record.curves, "metrics": record.metrics}
    return runs


@pytest.mark.parametrize("text", [TANH, CNN], ids=["tanh-mlp", "cnn"])
def test_the_stacked_sweep_equals_the_serial_one(tmp_path, cli, text):
    path = tmp_path / "net.py"
    path.write_text(textwrap.dedent(text))
    stacked = _sweep(cli, path, "vectorized")
    serial = _sweep(cli, path, "serial")
    assert stacked["executor"] == "vectorized" and stacked["cells_finished"] == 16
    a, b = _cells(cli, stacked), _cells(cli, serial)
    assert a.keys() == b.keys() and len(a) == 16
    for key in a:
        la, lb = a[key]["curves"]["step_loss"], b[key]["curves"]["step_loss"]
        assert len(la) == len(lb) > 0
        # float32: vmap batches each layer's matmul, so sums run in another order and each
        # step's loss may differ by a few ulps (eps 1.2e-7); over these 2-16 small updates
        # (lr at most 0.2, far below 2 / lambda_max) that difference grows by at most a
        # factor |1 - lr lambda| ~ 1 per step, staying well inside 1e-5 relative.
        assert la == pytest.approx(lb, rel=1e-5, abs=1e-7), key
        ma, mb = a[key]["metrics"], b[key]["metrics"]
        assert ma["final_loss"] == pytest.approx(mb["final_loss"], rel=1e-5)
        for ea, eb in zip(ma["epochs"], mb["epochs"]):
            assert ea["test_loss"] == pytest.approx(eb["test_loss"], rel=1e-5)
            assert ea["test_accuracy"] == pytest.approx(eb["test_accuracy"], abs=1e-6)


def test_auto_picks_the_stacked_sweep_and_falls_back_naming_the_layer(tmp_path, cli, capsys):
    good = tmp_path / "good.py"
    good.write_text(textwrap.dedent(TANH))
    assert cli.json("sweep", good, "--lr", "0.1", "--steps", "3", "--no-plots")["executor"] == "vectorized"
    noisy = tmp_path / "noisy.py"
    noisy.write_text(textwrap.dedent(NOISY))
    result = cli("sweep", noisy, "--lr", "0.01,0.02", "--batch-size", "100", "--steps", "4",
                 "--no-plots", "--json")
    assert result.exit_code == 0, result.stderr
    notes = [line for line in result.stderr.splitlines() if line.startswith("note:")]
    assert len(notes) == 1 and "BatchNorm1d '1'" in notes[0] and "Dropout '3'" in notes[0]
    assert "run one by one" in notes[0]
