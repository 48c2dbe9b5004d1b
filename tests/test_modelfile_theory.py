"""The theory commands take a model file: `sgdlab sharpness FILE.py`, `sgdlab noise-scale
FILE.py` and `sgdlab lr-find FILE.py` give the documents they give for the MLP; the exact noise
scale equals one made from per-example autograd; BatchNorm and Dropout are named, never hidden."""

from __future__ import annotations

import textwrap

import pytest
import torch

from test_modelfile import NOISY, TANH


@pytest.fixture
def tanh(tmp_path):
    path = tmp_path / "net.py"
    path.write_text(textwrap.dedent(TANH))
    return path


def test_exact_noise_scale_equals_per_example_autograd(cli, tanh):
    doc = cli.json("noise-scale", tanh, "--two-batch", "10,40", "--draws", "5", "--seed", "2",
                   "--train-steps", "0")
    namespace: dict = {}
    exec(compile(TANH, "tanh", "exec"), namespace)
    torch.manual_seed(2)  # as sgdlab seeds it before model()
    net = namespace["model"]()
    x, y = namespace["data"]()["train"]
    params = list(net.parameters())
    grads = []
    for i in range(x.shape[0]):  # one example at a time, plain autograd
        value = namespace["loss"](net(x[i : i + 1]), y[i : i + 1])
        grads.append(torch.cat([g.reshape(-1) for g in torch.autograd.grad(value, params)]).double())
    g = torch.stack(grads)
    mean = g.mean(0)
    grad_norm_sq = float(mean.square().sum())
    trace_sigma = float(g.square().sum(1).mean()) - grad_norm_sq
    init = doc["init"]
    # float32 per-example gradients from vmap and from a loop differ by a few ulps (eps 1.2e-7,
    # sums of at most 12 terms per entry); both are summed in float64, so 1e-5 relative holds
    # with room, even after tr(Sigma) = E|g|^2 - |G|^2 cancels (here E|g|^2 < 10 tr(Sigma)).
    assert float(g.square().sum(1).mean()) < 10 * trace_sigma
    assert init["grad_norm_sq"] == pytest.approx(grad_norm_sq, rel=1e-5)
    assert init["trace_sigma"] == pytest.approx(trace_sigma, rel=1e-5)
    assert init["b_simple_exact"] == pytest.approx(trace_sigma / grad_norm_sq, rel=2e-5)
    assert doc["trained"]["step"] == 0 and doc["problem"] == "modelfile"


def test_the_documents_have_the_mlps_shape(cli, tanh):
    mlp_noise = {"status", "run_id", "data", "batch_size", "lr", "init", "trained", "train_losses",
                 "config", "figures"}
    noise = cli.json("noise-scale", tanh, "--two-batch", "10,40", "--draws", "3", "--batch-size", "40")
    assert mlp_noise <= set(noise) and noise["trained"]["step"] == 6  # one epoch: 240 / 40
    eos = cli.json("sharpness", tanh, "--lr", "0.5,4", "--steps", "12", "--every", "4", "--no-plots")
    assert {"status", "study_id", "steps", "every", "data", "config", "runs", "figures"} <= set(eos)
    assert [r["lr"] for r in eos["runs"]] == [0.5, 4]
    for r in eos["runs"]:
        assert {"bound", "hit_step", "verdict", "sharpness", "losses", "sharpness_init"} <= set(r)
        assert [p["step"] for p in r["sharpness"]] == [0, 4, 8, 12] and len(r["losses"]) == 12
    found = cli.json("lr-find", tanh, "--num", "30", "--no-plots")
    assert found["problem"] == "modelfile" and len(found["lrs"]) <= 30 and found["bound"] > 0
    assert {"suggestion", "suggestion_rule", "suggestions", "stop_lr", "blowup_lr"} <= set(found)
    # the bound is the one `sgdlab train` reports: the same seed, the same rows, the same Lanczos
    trained = cli.json("train", tanh, "--steps", "1", "--no-plots")
    assert found["bound"] == trained["lr_bound"]


def test_batchnorm_and_dropout_are_named_and_mlp_flags_refused(cli, tmp_path, tanh):
    noisy = tmp_path / "noisy.py"
    noisy.write_text(textwrap.dedent(NOISY))
    doc = cli.json("noise-scale", noisy, "--two-batch", "10,40", "--draws", "2", "--train-steps", "1")
    (note,) = doc["notes"]
    assert "BatchNorm1d '1'" in note and "Dropout '3'" in note and "eval mode" in note
    result = cli("sharpness", tanh, "--hidden", "10")
    assert result.exit_code == 2
    assert result.stderr.strip().splitlines() == [
        "error: --hidden is the built-in MLP's; a model file brings its own data and model"]


def test_the_two_batch_default_fits_a_small_training_set(cli, tanh):
    # 240 rows: the default 100,1000 cannot be drawn, so a tenth of the set and the set itself;
    # given explicitly, 1000 is still refused
    doc = cli.json("noise-scale", tanh, "--draws", "2", "--train-steps", "0")
    assert (doc["init"]["two_batch"]["small"], doc["init"]["two_batch"]["big"]) == (24, 240)
    refused = cli("noise-scale", tanh, "--two-batch", "100,1000", "--train-steps", "0")
    assert refused.exit_code == 2
    assert "error: --two-batch: 1000 is larger than the training set (240 rows)" in refused.stderr


ROWS = textwrap.dedent('''
    import torch

    def data():
        x = torch.randn(ROWS, 3, generator=torch.Generator().manual_seed(0))
        return {"train": (x, x.sum(1, keepdim=True))}

    def model():
        return torch.nn.Linear(3, 1)

    def loss(output, target):
        return ((output - target) ** 2).mean()
''')


@pytest.mark.parametrize("rows", [2, 9, 20])
def test_the_training_batch_default_fits_a_small_model_file(cli, tmp_path, rows):
    """Found by the fourth hostile round: every model file under 100 rows was refused for a
    --batch-size 100 it never gave ('give at most 20 (or full)', and noise-scale takes no
    'full'). Not given, the batch is 100 or all the rows; the default epoch is then one update."""
    path = tmp_path / "rows.py"
    path.write_text(f"ROWS = {rows}\n" + ROWS)
    doc = cli.json("noise-scale", path, "--draws", "2")
    assert doc["batch_size"] == rows and doc["trained"]["step"] == 1
    assert doc["init"]["two_batch"]["big"] == rows  # the two-batch default scales down too
    refused = cli("noise-scale", path, "--batch-size", "100")  # given: still checked
    assert refused.exit_code == 2 and f"--batch-size 100 is larger than the training set ({rows} rows)" in refused.stderr


def test_one_row_is_refused_for_what_it_is(cli, tmp_path):
    path = tmp_path / "rows.py"
    path.write_text("ROWS = 1\n" + ROWS)
    result = cli("noise-scale", path)
    assert result.exit_code == 2
    assert result.stderr.strip().splitlines() == [
        "error: the noise scale needs at least 2 training rows (tr(Sigma) is a variance over rows, "
        "and the two-batch estimate compares a smaller batch with a bigger one); the training set has 1"]
