"""The vectorized executor gives the serial executor's results.

The two run the same arithmetic with the dot products summed in another order (baddbmm against
addmm/mm), so they differ by rounding only, and where the tolerances come from is that order:
- Linear regression in float64: final loss and every per-step loss (full-data and batch) within
  1e-10 relative. A step's dot products have <= 15 terms (<= 15 eps each); the iteration is
  linear, so even a diverging run's relative error grows only with the step count, not with the
  divergence: 25 steps * 15 * eps = 8e-14, and 1e-10 leaves room for the loss's own cancellation.
- The MNIST MLP in float32: every per-step batch loss within 1e-5 relative. A dot product of
  n = 784 terms is within sqrt(n) * eps32 = 3.3e-6 with high probability (Higham and Mary's
  probabilistic bound; the worst case n * eps32 = 9e-5 needs every rounding to point one way),
  and the training steps damp rather than compound it; 1e-5 is three such. Seen: 1.1e-6 (sgd),
  2.6e-7 (adam) here, on every ATEN_CPU_CAPABILITY (`make test-numeric`).
- The test accuracy after every epoch equal (a count of argmaxes: a rounding flips one only at
  a near-tie), and divergence at the same step with the same fields.
"""
from __future__ import annotations

import math

import pytest

from sgdlab.core.store import Store
from sgdlab.sweep import cell_key

# numbers compared to a tolerance or bit for bit: `make test-numeric` runs these on every kernel path
pytestmark = pytest.mark.numeric

LINREG = ["--lr", "0.005,0.02,0.05", "--batch-size", "5,15", "--seeds", "2", "--steps", "25",
          "--dtype", "float64", "--no-plots"]


def close(a, b, rel: float) -> bool:
    if not (math.isfinite(a) and math.isfinite(b)):
        return (math.isnan(a) and math.isnan(b)) or a == b
    return abs(a - b) <= rel * max(abs(a), abs(b), 1e-300)


def records_by_cell(doc) -> dict[str, object]:
    """The sweep's run records by their cell (lr, batch size, optimizer, seed, ...)."""
    store = Store()
    records = [store.get(c["run_id"]) for c in doc["cells"]]
    return {cell_key(r.metrics["sweep_cell"]): r for r in records}


def both(cli, *args):
    serial = cli.json("sweep", *args, "--executor", "serial")
    vectorized = cli.json("sweep", *args, "--executor", "vectorized")
    assert serial["executor"] == "serial" and vectorized["executor"] == "vectorized"
    a, b = records_by_cell(serial), records_by_cell(vectorized)
    assert a.keys() == b.keys() and len(a) == serial["cells_total"]
    return a, b


@pytest.mark.parametrize("optimizers", [
    ["--optimizer", "sgd,adam"],
    ["--optimizer", "sgd", "--momentum", "0.5,0.9"],
    ["--optimizer", "adam", "--betas", "0.9,0.999;0.5,0.9"],
])
def test_linreg_vectorized_equals_serial_in_float64(cli, optimizers):
    a, b = both(cli, "linreg", *LINREG, *optimizers)
    statuses = set()
    for key in a:
        s, v = a[key], b[key]
        assert s.status == v.status, key
        statuses.add(s.status)
        assert s.metrics.get("divergence", {}).get("step") == v.metrics.get("divergence", {}).get("step")
        assert s.metrics["steps"] == v.metrics["steps"]
        assert close(s.metrics["final"]["loss"], v.metrics["final"]["loss"], 1e-10), key
        assert s.curves.keys() == v.curves.keys()
        for curve in s.curves:  # the full-data loss at every step, and each batch's (if batched)
            assert len(s.curves[curve]) == len(v.curves[curve]), (key, curve)
            for x, y in zip(s.curves[curve], v.curves[curve]):
                assert close(float(x), float(y), 1e-10), (key, curve, x, y)
        assert v.metrics["sweep_cell"] == s.metrics["sweep_cell"]
    if "sgd" in optimizers[1]:
        assert statuses == {"completed", "diverged"}  # lr 0.05 at batch 15 is past 2 / lambda_max


MLP = ["--batch-size", "50", "--seeds", "2", "--limit-train", "600", "--epochs", "2", "--no-plots"]


@pytest.mark.parametrize("optimizers", [
    ["--optimizer", "sgd", "--lr", "0.02,0.2,1e4"],
    ["--optimizer", "adam", "--lr", "0.001,0.003"],
    # the curvature studies' options: tanh, the squared loss, standardised pixels, a step cap
    ["--optimizer", "sgd", "--lr", "0.05,0.2", "--activation", "tanh", "--loss", "mse",
     "--normalize", "standardize", "--max-steps", "17"],
])
def test_mlp_vectorized_equals_serial_in_float32(cli, optimizers):
    a, b = both(cli, "mnist", *MLP, *optimizers)
    if "--max-steps" in optimizers:  # 2 epochs of 12 batches, cut at 17 updates mid-epoch
        assert {r.metrics["steps"] for r in b.values()} == {17}
        assert all(r.config["activation"] == "tanh" and r.config["loss"] == "mse" for r in b.values())
    for key in a:
        s, v = a[key], b[key]
        assert v.command == "mnist" and v.sweep_id is not None
        assert s.status == v.status, key
        assert s.metrics.keys() == v.metrics.keys() and s.curves.keys() == v.curves.keys()
        assert v.metrics["sweep_cell"] == s.metrics["sweep_cell"]
        assert v.metrics["steps"] == s.metrics["steps"]
        losses_s, losses_v = s.curves["step_loss"], v.curves["step_loss"]
        assert len(losses_s) == len(losses_v) == len(v.curves["step_time"])
        for x, y in zip(losses_s, losses_v):
            assert close(float(x), float(y), 1e-5), (key, x, y)
        epochs_s, epochs_v = s.metrics["epochs"], v.metrics["epochs"]
        assert [e["test_accuracy"] for e in epochs_s] == [e["test_accuracy"] for e in epochs_v]
        for es, ev in zip(epochs_s, epochs_v):
            assert es.keys() == ev.keys() and es["epoch"] == ev["epoch"]
            assert close(es["test_loss"], ev["test_loss"], 1e-5)
            assert close(es["train_loss"], ev["train_loss"], 1e-5)
        assert v.key_metric == s.key_metric
        if s.status == "diverged":
            ds, dv = s.metrics["divergence"], v.metrics["divergence"]
            assert ds.keys() == dv.keys() and ds["step"] == dv["step"] and ds["reason"] == dv["reason"]
    statuses = {r.status for r in b.values()}
    if "1e4" in optimizers[-1]:
        assert statuses == {"completed", "diverged"}  # lr 1e4 diverges; its group goes on
        assert all(len(r.metrics["epochs"]) == 2 for r in b.values() if r.status == "completed")


def test_mlp_vectorized_groups_by_batch_size_and_writes_one_run_per_cell(cli):
    doc = cli.json("sweep", "mnist", "--lr", "0.05,0.1", "--batch-size", "40,100", "--limit-train", "400",
                   "--executor", "vectorized", "--no-plots")
    assert doc["executor"] == "vectorized" and doc["cells_total"] == 4
    store = Store()
    runs = store.list_runs(sweep_id=doc["sweep_id"])
    assert len(runs) == 4 and {r.command for r in runs} == {"mnist"}
    for cell in doc["cells"]:
        record = store.get(cell["run_id"])
        assert record.config["batch_size"] == cell["batch_size"] and record.config["lr"] == cell["lr"]
        assert len(record.curves["step_loss"]) == 400 // cell["batch_size"]
        assert 0 <= cell["accuracy"] <= 1 and cell["status"] == "completed"


def test_mlp_full_batch_vectorized_equals_serial(cli):
    """The batch covers the whole training set: the data in order, one update per epoch."""
    a, b = both(cli, "mnist", "--batch-size", "300", "--limit-train", "300", "--epochs", "6", "--lr", "0.05,0.2",
                "--activation", "tanh", "--loss", "mse", "--normalize", "standardize", "--no-plots")
    for key in a:
        assert len(b[key].curves["step_loss"]) == 6
        for x, y in zip(a[key].curves["step_loss"], b[key].curves["step_loss"]):
            assert close(float(x), float(y), 1e-5), (key, x, y)


def test_mlp_cells_asking_for_the_sharpness_run_one_by_one_and_sweeps_never_pay_it(cli):
    from sgdlab.mnist.sweep import ADAPTER

    assert ADAPTER.config({"lr": 0.1}).bound is False  # a sweep cell skips the Lanczos ...
    assert ADAPTER.config({"lr": 0.1, "bound": True}).bound is True  # ... unless asked
    from sgdlab.sweep import SweepSpec, run_sweep

    spec = SweepSpec("mnist", {"lr": [0.05, 0.1]}, base={"limit_train": 200, "sharpness_every": 1,
                                                          "max_steps": 2, "hidden": [8]},
                     executor="vectorized")
    doc = run_sweep(spec, store=Store())
    for cell in doc["cells"]:
        record = Store().get(cell["run_id"])
        assert record.curves["sharpness_step"] == [0.0, 1.0, 2.0]
        assert record.metrics["lr_bound"] == pytest.approx(2 / record.curves["sharpness"][0])


def test_mlp_torch_optimizers_have_no_batched_form_and_run_one_by_one(cli):
    doc = cli.json("sweep", "mnist", "--optimizer", "torch-sgd", "--lr", "0.05,0.1", "--limit-train", "200",
                   "--executor", "vectorized", "--no-plots")
    serial = cli.json("sweep", "mnist", "--optimizer", "torch-sgd", "--lr", "0.05,0.1", "--limit-train", "200",
                      "--executor", "serial", "--no-plots")
    assert [c["status"] for c in doc["cells"]] == ["completed", "completed"]
    # run serially inside the vectorized executor: the very same numbers
    assert [c["final_loss"] for c in doc["cells"]] == [c["final_loss"] for c in serial["cells"]]
