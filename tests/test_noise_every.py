"""`sgdlab mnist --noise-every K`: the exact gradient noise scale along a run, against the vmap
oracle at the run's own weights; kept across a checkpoint and `sgdlab resume`."""

from __future__ import annotations

import pytest
import torch

from sgdlab.core.store import Store
from sgdlab.mnist import datasets
from sgdlab.mnist import model as mlp
from sgdlab.mnist import run as mnist_run
from sgdlab.mnist.config import MnistConfig
from sgdlab.theory import noise

ARGS = ("--limit-train", "150", "--limit-test", "30", "--hidden", "12", "--batch-size", "50", "--epochs", "2",
        "--no-bound", "--noise-every", "2")


def test_noise_curve_at_init_equals_the_vmap_oracle(cli, tmp_path):
    result = cli("mnist", *ARGS, "--out", "figs")
    assert result.exit_code == 0, result.stderr
    assert "gradient noise scale B_simple after 0 updates: " in result.stdout and "(batch size 50)" in result.stdout
    assert (tmp_path / "figs" / "noise_scale.png").stat().st_size > 1000
    doc = cli.json("mnist", *ARGS, "--no-plots")
    steps = [p["step"] for p in doc["noise_scale"]]
    assert steps == [0, 2, 4, 6]  # 6 updates: before updates 3 and 5, and after the last
    assert doc["noise_scale_cost"]["estimates"] == 4 and doc["noise_scale_cost"]["images"] == 150
    # the oracle: every per-example gradient (vmap, float64) of the run's initial network
    config = MnistConfig(limit_train=150, hidden=[12])
    x, y, _, _ = mnist_run.tensors(config, datasets.load("mnist-5k"), torch.device("cpu"))
    net = mlp.build_model(784, [12], 10, torch.Generator().manual_seed(0)).double()
    chunks = [(x[i : i + 50].double(), y[i : i + 50]) for i in range(0, 150, 50)]
    exact = noise.exact_model(net, mlp.loss_function("cross-entropy", "none"), chunks, method="vmap")
    first = doc["noise_scale"][0]
    # both float64 (the norms path casts a float64 copy): ~1e5 operations x 2.2e-16, far below 1e-9
    assert first["b_simple"] == pytest.approx(exact.b_simple, rel=1e-9)
    assert first["trace_sigma"] == pytest.approx(exact.trace_sigma, rel=1e-9)
    assert first["b_simple"] == pytest.approx(first["trace_sigma"] / first["grad_norm_sq"], rel=1e-15)
    record = Store().get(doc["run_id"])
    assert record.curves["noise_step"] == steps
    assert record.curves["b_simple"] == [p["b_simple"] for p in doc["noise_scale"]]
    # measuring is not training: the losses equal a run without it, bit for bit
    without = cli.json("mnist", *ARGS[:-2], "--no-plots")
    assert without["step_losses"] == doc["step_losses"] and "noise_scale" not in without


def test_noise_every_is_checked(cli):
    result = cli("mnist", "--limit-train", "100", "--noise-every", "0")
    assert result.exit_code == 2 and "--noise-every" in result.stderr


def test_a_resumed_run_keeps_its_noise_curve(tmp_path):
    """Ctrl-C mid-run, resume: the same curve as a run left alone, bit for bit (the measure is
    deterministic on the CPU and the weights are)."""
    from sgdlab.api import resume
    from sgdlab.mnist.run import run

    config = dict(limit_train=200, limit_test=20, hidden=[8], batch_size=50, epochs=3, bound=False,
                  noise_every=3, checkpoint_every=1, plots=False)
    reference = run(MnistConfig(**config), store=Store(tmp_path / "ref.db"))
    store = Store(tmp_path / "s.db")

    def stop_at_8(done, total):
        if done == 8:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        run(MnistConfig(**config), store=store, on_progress=stop_at_8)
    (record,) = store.list_runs()
    resumed = resume(record.id, store=store)
    assert resumed["status"] == "completed" and resumed["step_losses"] == reference["step_losses"]
    assert [p["step"] for p in resumed["noise_scale"]] == [0, 3, 6, 9, 12]
    assert resumed["noise_scale"] == reference["noise_scale"]
