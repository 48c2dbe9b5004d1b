"""`sgdlab sharpness` is right for every optimizer, on the MLP and on a model file: heavy-ball and
Nesterov momentum against their own thresholds 2(1+beta)/lr and 2(1+beta)/((1+2beta) lr) (SGD's
weight decay lowers them by the decay), Adam's preconditioned sharpness against 38/lr on a model
file as on the MLP; Adagrad, which has no edge, refused. A model file's sharpness and noise-scale
studies are recorded from the start, as the MLP's are (issue 19): stopped, they keep what they had.
"""

from __future__ import annotations

import textwrap

import pytest
import torch

from sgdlab.core.store import Store
from test_modelfile import TANH


@pytest.fixture
def tanh(tmp_path):
    path = tmp_path / "net.py"
    path.write_text(textwrap.dedent(TANH))
    return path


def full_batch_losses(make_optimizer, steps: int, seed: int = 0) -> list[float]:
    """The oracle: TANH trained full batch by a torch.optim rule, seeded as sgdlab seeds it."""
    namespace: dict = {}
    exec(compile(TANH, "tanh", "exec"), namespace)
    torch.manual_seed(seed)  # sgdlab seeds torch with --seed before calling model()
    net = namespace["model"]()
    x, y = namespace["data"]()["train"]
    optimizer = make_optimizer(net.parameters())
    losses = []
    for _ in range(steps):
        optimizer.zero_grad()
        value = namespace["loss"](net(x), y)
        losses.append(float(value.detach()))
        value.backward()
        optimizer.step()
    return losses


@pytest.mark.parametrize("nesterov", [False, True])
def test_a_model_files_momentum_study_trains_with_momentum_against_its_own_threshold(cli, tanh, nesterov):
    lr, beta = 0.5, 0.9
    flags = ["--nesterov"] if nesterov else []
    doc = cli.json("sharpness", tanh, "--lr", str(lr), "--momentum", str(beta), *flags, "--steps", "8",
                   "--every", "4", "--no-plots")
    (run,) = doc["runs"]
    factor = 2 * (1 + beta) / (1 + 2 * beta) if nesterov else 2 * (1 + beta)
    # the threshold is factor / lr computed once in float64: a few ulps at most
    assert run["kind"] == "hessian" and run["bound"] == pytest.approx(factor / lr, rel=1e-14)
    assert run["threshold_label"] == f"{factor:g}/lr"
    assert run["threshold_rule"].startswith("nesterov: " if nesterov else "heavy-ball: ")
    assert [p["step"] for p in run["sharpness"]] == [0, 4, 8]
    oracle = full_batch_losses(lambda p: torch.optim.SGD(p, lr=lr, momentum=beta, nesterov=nesterov), 8)
    # sgdlab's SGD and torch's do the same float32 operations per step (optim is proven equal to
    # torch.optim); 8 steps of a 87-parameter net keep any reordering far below 1e-5 relative
    assert run["losses"] == pytest.approx(oracle, rel=1e-5)
    plain = full_batch_losses(lambda p: torch.optim.SGD(p, lr=lr), 8)
    assert abs(run["losses"][-1] - plain[-1]) > 1e-3  # momentum really changed the path


def test_the_mlps_momentum_study_and_weight_decay(cli):
    base = ["sharpness", "--limit-train", "100", "--hidden", "8", "--lr", "0.2", "--steps", "4", "--every", "2",
            "--no-plots"]
    (run,) = cli.json(*base, "--momentum", "0.5")["runs"]
    assert run["kind"] == "hessian" and run["bound"] == pytest.approx(3 / 0.2, rel=1e-14)
    assert run["threshold_label"] == "3/lr" and run["threshold_rule"] == "heavy-ball: 3/lr"
    (decayed,) = cli.json(*base, "--weight-decay", "0.5")["runs"]
    # SGD adds the decay to the gradient: lr (lambda + decay) < 2, so lambda < 2/lr - decay
    assert decayed["bound"] == pytest.approx(2 / 0.2 - 0.5, rel=1e-14)
    assert decayed["threshold_label"] == "2/lr - 0.5"
    (plain,) = cli.json(*base)["runs"]  # plain gradient descent: the document as it always was
    assert plain["bound"] == 2 / 0.2 and plain["threshold_rule"] == "2/lr" and plain["threshold_label"] == "2/lr"
    text = cli(*base, "--momentum", "0.5").stdout
    assert "full-batch gradient descent, momentum 0.5" in text and "3/lr = 15;" in text
    assert "median sharpness / (3/lr) after it" in text


def test_a_model_files_adam_study_tracks_the_preconditioned_sharpness(cli, tanh, tmp_path):
    doc = cli.json("sharpness", tanh, "--optimizer", "adam", "--lr", "0.01", "--steps", "6", "--every", "3",
                   "--out", tmp_path / "eos")
    (run,) = doc["runs"]
    assert run["kind"] == "preconditioned" and run["threshold_label"] == "38/lr"
    assert run["bound"] == pytest.approx(38 / 0.01, rel=1e-14)  # (2 + 1.8) / 0.1 / 0.01: a few roundings
    assert [p["step"] for p in run["sharpness"]] == [3, 6]  # lambda_1(P^-1 H) exists from the first update
    oracle = full_batch_losses(lambda p: torch.optim.Adam(p, lr=0.01), 6)
    assert run["losses"] == pytest.approx(oracle, rel=1e-5)  # as above: the same float32 steps
    names = sorted(p.split("/")[-1] for p in doc["figures"])
    assert names == ["eos_loss.png", "eos_preconditioned_sharpness.png"]
    assert all((tmp_path / "eos" / n).stat().st_size > 1000 for n in names)
    (record,) = Store().list_runs()
    assert Store().get(record.id).metrics["kind"] == "preconditioned"


@pytest.mark.parametrize("with_file", [False, True])
def test_adagrad_has_no_edge_and_is_refused_before_anything_is_written(cli, tanh, with_file):
    args = ["sharpness", *([tanh] if with_file else ["--limit-train", "60", "--hidden", "4"]),
            "--optimizer", "adagrad", "--steps", "4", "--every", "2", "--no-plots"]
    result = cli(*args)
    assert result.exit_code == 2
    assert result.stderr.splitlines() == [
        "error: --optimizer adagrad: its step shrinks for ever, it has no edge of stability; use sgd "
        "(with or without --momentum), adam, adamw or rmsprop"]
    assert Store().list_runs() == []


def test_a_model_files_sharpness_study_keeps_its_finished_lrs_when_stopped(tanh):
    from sgdlab.modelfile import theory
    from sgdlab.modelfile.config import ModelFileConfig

    def stop_in_the_second(lr, step, steps):
        if lr == 0.5 and step == 2:
            raise KeyboardInterrupt

    config = ModelFileConfig.from_source(str(tanh), plots=False)
    with pytest.raises(KeyboardInterrupt):
        theory.run_sharpness(config, [0.1, 0.5], steps=4, every=2, on_progress=stop_in_the_second)
    records = Store().list_runs()
    assert [(r.config["lr"], r.state) for r in records] == [(0.1, "completed"), (0.5, "interrupted")]
    assert len({r.sweep_id for r in records}) == 1 and Store().sweep(records[0].sweep_id) is not None
    assert Store().get(records[1].id).curves["loss"]  # the losses it had, at least the first


def test_a_model_files_noise_scale_keeps_its_measurement_at_init_when_stopped(cli, tanh, monkeypatch):
    from sgdlab.core import loop

    def stopped(*args, **kwargs):
        (record,) = Store().list_runs()
        assert record.state == "running"  # recorded before the training
        raise KeyboardInterrupt

    monkeypatch.setattr(loop, "run", stopped)
    result = cli("noise-scale", tanh, "--two-batch", "10,40", "--draws", "3", "--train-steps", "2")
    assert result.exit_code == 130, result.stderr
    (record,) = Store().list_runs()
    record = Store().get(record.id)
    assert record.state == "interrupted" and record.command == "noise-scale"
    assert record.metrics["init"]["b_simple_exact"] > 0 and "trained" not in record.metrics


def test_on_a_quadratic_heavy_ball_is_stable_exactly_below_its_own_threshold(cli):
    """examples/quadratic.py: the Hessian is constant (lambda_max 0.898), so the edge is a sharp
    line. Gradient descent's 2/lambda_max is 2.23; heavy-ball momentum 0.9 is stable up to
    3.8/lambda_max = 4.23: lr 2.5 (past GD's bound) converges, lr 4.5 (past its own) diverges."""
    from conftest import ROOT

    doc = cli.json("sharpness", ROOT / "examples" / "quadratic.py", "--momentum", "0.9", "--lr", "2.5,4.5",
                   "--steps", "200", "--every", "100", "--no-plots", code=3)
    stable, unstable = doc["runs"]
    lam = stable["sharpness_init"]
    assert 2 / lam < 2.5 < 3.8 / lam < 4.5  # the setting is what the docstring says
    assert stable["status"] == "completed" and stable["verdict"].startswith("stable below the edge")
    assert stable["losses"][-1] < 1e-2 * stable["losses"][0]
    assert unstable["status"] == "diverged" and unstable["hit_step"] == 0
