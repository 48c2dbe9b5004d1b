"""The sixth hostile round: the faults it found, each as a test that fails on the code before it."""

from __future__ import annotations

import pytest

LINEAR = ("import torch\ndef data():\n    g = torch.Generator().manual_seed(0)\n"
          "    x = torch.randn(40, 3, generator=g)\n"
          "    return {'train': (x, x @ torch.tensor([[1.0], [2.0], [-1.0]]))}\n"
          "def model():\n    return torch.nn.Linear(3, 1)\n"
          "def loss(o, t):\n    return ((o - t) ** 2).mean()\n")


def _refused(result, *pieces: str) -> list[str]:
    """One `error: ...` line per problem, exit 2, nothing on stdout, no traceback."""
    lines = result.stderr.strip().splitlines()
    assert result.exit_code == 2, (result.exit_code, result.stdout, result.stderr)
    assert lines and all(line.startswith("error: ") for line in lines), result.stderr
    assert result.stdout == "" and "Traceback" not in result.stderr
    for piece in pieces:
        assert any(piece in line for line in lines), (piece, lines)
    return lines


@pytest.fixture
def linear(tmp_path):
    path = tmp_path / "lin.py"
    path.write_text(LINEAR)
    return path


# 1. --batch-size "" raised StopIteration (an internal error) in `train FILE.py` and `mnist`; and
#    `train FILE.py --batch-size auto`, the model file's own default, was refused as not a number
def test_an_empty_batch_size_is_refused_in_one_line(cli, linear, tmp_path):
    store = tmp_path / "runs.db"
    for args in (["train", linear], ["mnist", "--limit-train", "100"]):
        _refused(cli(*args, "--batch-size", "", "--store", store), "--batch-size: empty value in ''")
        _refused(cli(*args, "--batch-size", " , 4", "--store", store), "--batch-size: empty value in ' , 4'")
    lines = _refused(cli("train", linear, "--batch-size", "x,,full", "--store", store),
                     "--batch-size: 'x' is not a whole number", "--batch-size: empty value in 'x,,full'")
    assert len(lines) == 2
    assert not store.exists()


def test_train_on_a_model_file_takes_auto_its_own_default(cli, linear):
    default = cli.json("train", linear, "--no-plots", "--no-bound")
    for word in ("auto", "AUTO", " Auto "):
        given = cli.json("train", linear, "--no-plots", "--no-bound", "--batch-size", word)
        assert given["batch_size"] == 32 and given["config"]["batch_size"] == 32  # min(32, 40 rows)
        assert given["step_losses"] == default["step_losses"]  # the same run, bit for bit
    # the MLP has no auto: its default is a number
    _refused(cli("mnist", "--limit-train", "100", "--batch-size", "auto"), "--batch-size: 'auto' is not a whole number")


# 2. sharpness --weight-decay D with lr D >= 2: the edge 2/lr - D is <= 0; at equality the study
#    divided by zero (an internal error after the runs), beyond it gave a negative edge and ratios
#    ("stayed at -0.314 x 2/lr - 20"); heavy-ball --momentum >= 1 was studied against 2(1+beta)/lr
#    though no lr is stable then
@pytest.mark.parametrize("args,lines", [
    (["--weight-decay", "10", "--lr", "0.2"],
     ["--weight-decay 10 at lr 0.2: the edge 2/lr - 10 = 0 is not above 0: a decay of 2/lr = 10 or more "
      "makes the run unstable at any sharpness; give --weight-decay < 10 or a smaller --lr"]),
    (["--weight-decay", "10", "--lr", "0.1,0.3", "--momentum", "0.5"],
     ["--weight-decay 10 at lr 0.3: the edge 3/lr - 10 = 0 is not above 0"]),  # 3/0.3 = 10 (in floats too)
    (["--momentum", "1"], ["--momentum 1: heavy-ball momentum >= 1 is stable at no learning rate"]),
    (["--momentum", "1.5", "--optimizer", "rmsprop"], ["--momentum 1.5: heavy-ball momentum >= 1 is stable"]),
])
@pytest.mark.parametrize("where", ["model file", "mlp"])
def test_a_study_with_no_positive_edge_is_refused_before_anything_is_stored(cli, linear, tmp_path, args,
                                                                             lines, where):
    store = tmp_path / "runs.db"
    target = [linear] if where == "model file" else ["--limit-train", "100"]
    found = _refused(cli("sharpness", *target, "--steps", "4", "--every", "2", "--store", store, *args), *lines)
    assert len(found) == len(lines)
    assert not store.exists() and not (tmp_path / "runs").exists()


def test_a_small_decay_keeps_its_edge_and_says_it_in_parentheses(cli, linear):
    doc = cli.json("sharpness", linear, "--steps", "4", "--every", "2", "--no-plots", "--lr", "0.5",
                   "--weight-decay", "0.1", "--momentum", "0.9")
    (run,) = doc["runs"]
    assert run["threshold_label"] == "3.8/lr - 0.1" and run["bound"] == 3.8 / 0.5 - 0.1  # as computed
    from sgdlab.theory.edge import analyse

    above = analyse(0.5, [{"step": s, "value": 12.0} for s in (0, 2, 4, 6)], [1.0] * 8, "completed", 7.5,
                    "3.8/lr - 0.1")
    assert "stayed at 1.600 x (3.8/lr - 0.1) (median)" in above["verdict"]  # 12 / 7.5, not "x 3.8/lr - 0.1"


# 3. the bound's words left out SGD's weight decay: linreg --weight-decay 50 printed
#    "gd: 2/lambda_max" beside 0.0147 = 2/(86.4 + 50), not 2/86.4 = 0.0231, in English and Chinese
@pytest.mark.parametrize("lang,words", [
    ("en_US.UTF-8", "largest stable learning rate (gd: 2/(lambda_max + weight_decay) with weight_decay = 50 "
                    "(gradient descent; the decay adds to the curvature)): "),
    ("zh_CN.UTF-8", "gd：2/(lambda_max + weight_decay)，weight_decay = 50（梯度下降；衰减加到曲率上）"),
])
def test_the_bound_names_the_weight_decay_it_includes(cli, monkeypatch, lang, words):
    monkeypatch.setenv("LANG", lang)
    doc = cli.json("linreg", "--weight-decay", "50", "--lr", "0.01", "--steps", "3", "--no-plots")
    assert doc["lr_bound"] == 2 / (doc["lambda_max"] + 50)  # the same operations as optim.bounds
    assert doc["lr_bound_rule"].startswith("gd: 2/(lambda_max + weight_decay) with weight_decay = 50")
    text = cli("linreg", "--weight-decay", "50", "--lr", "0.01", "--steps", "3", "--no-plots").stdout
    assert words in text, text
    plain = cli.json("linreg", "--lr", "0.01", "--steps", "3", "--no-plots")  # no decay: as before
    assert plain["lr_bound_rule"] == "gd: 2/lambda_max (plain gradient descent)"


def test_a_model_files_bound_line_names_the_decay_too(cli, linear):
    text = cli("train", linear, "--weight-decay", "1", "--no-plots").stdout
    assert "largest stable learning rate (full batch, gd: 2/(lambda_max + weight_decay) with weight_decay = 1" in text
    assert "largest stable learning rate (full batch, 2 / lambda_max): " in cli("train", linear, "--no-plots").stdout


# 4. heavy-ball momentum >= 1 was given the bound 2(1+beta)/lambda_max, and a run that diverged
#    below it was told "0.173x the largest stable learning rate ... use a smaller --lr"
def _radius(lr, lam, beta):
    """The spectral radius of heavy-ball's iteration on one eigen-direction (the oracle)."""
    import numpy as np

    return max(abs(np.roots([1.0, -(1 + beta - lr * lam), beta])))


@pytest.mark.parametrize("beta", [1.0, 1.5])
def test_heavy_ball_momentum_of_one_or_more_has_no_stable_lr(beta):
    from sgdlab.optim import bounds

    # no lr stable on any curvature: the roots multiply to beta (radius >= 1 - 1e-12: the roots of
    # a quadratic in float64, a few eps from the unit circle at beta = 1)
    assert min(_radius(lr, lam, beta) for lr in (1e-6, 1e-3, 0.01, 0.1, 1.0) for lam in (0.5, 10.0)) >= 1 - 1e-12
    got = bounds.lr_bound("sgd", {"momentum": beta}, 10.0)
    assert got["lr_bound"] is None and got["lr_bound_key"] == "bound.momentum_unstable"
    assert got["lr_bound_rule"] == (f"none: heavy-ball momentum beta = {beta:g} >= 1 is stable at no learning "
                                    "rate (the two roots of its iteration multiply to beta); give --momentum < 1")
    assert bounds.lr_bound("sgd", {"momentum": 0.99}, 10.0)["lr_bound"] == 2 * 1.99 / 10.0  # below 1: as before
    # RMSprop's momentum is heavy-ball on its scaled step: the same product of roots
    assert bounds.lr_bound("rmsprop", {"momentum": beta}, 10.0)["lr_bound_key"] == "bound.momentum_unstable"
    assert bounds.lr_bound("rmsprop", {"momentum": 0.9}, 10.0)["lr_bound_key"] == "bound.none.rmsprop"


def test_a_run_with_momentum_above_one_is_not_told_to_lower_lr(cli):
    result = cli("linreg", "--momentum", "1.5", "--lr", "0.01", "--steps", "60", "--no-plots", "--json")
    doc = __import__("json").loads(result.stdout)
    assert doc["status"] == "diverged" and doc["lr_bound"] is None
    message = doc["divergence"]["message"]
    assert message.endswith("this update rule has no fixed stable learning rate (none: heavy-ball momentum "
                            "beta = 1.5 >= 1 is stable at no learning rate (the two roots of its iteration "
                            "multiply to beta); give --momentum < 1)"), message
    assert "smaller --lr" not in message and doc["divergence"]["lr_over_bound"] is None


# 5. a sharpness study stopped mid-run (Ctrl-C) kept the run's loss curve but not the sharpness it
#    had measured: the row said `interrupted` without what the study measures
def _stopped_at(step: int):
    def on_progress(lr, done, total):
        if done == step:
            raise KeyboardInterrupt
    return on_progress


@pytest.mark.parametrize("optimizer", ["sgd", "adam"])
@pytest.mark.parametrize("where", ["model file", "mlp"])
def test_an_interrupted_study_keeps_the_sharpness_it_measured(linear, tmp_path, where, optimizer):
    from sgdlab.core.store import Store
    from sgdlab.optim.spec import OptimizerSpec

    store = Store(tmp_path / "runs.db")
    spec = OptimizerSpec(name=optimizer)
    if where == "model file":
        from sgdlab.modelfile.config import ModelFileConfig
        from sgdlab.modelfile.theory import run_sharpness as study

        config = ModelFileConfig(file=str(linear), plots=False, optimizer=spec)
    else:
        from sgdlab.mnist.config import MnistConfig
        from sgdlab.mnist.sharpness import run_study as study

        config = MnistConfig(limit_train=100, plots=False, optimizer=spec)
    with pytest.raises(KeyboardInterrupt):  # stopped before update 6 (its progress callback)
        study(config, [0.01], steps=10, every=2, store=store, on_progress=_stopped_at(6))
    (row,) = store.list_runs()
    row = store.get(row.id)
    assert row.status == "interrupted" and row.command == "sharpness"
    # lambda_1(H) from step 0; Adam's lambda_1(P^-1 H) from the first update on
    measured = [0, 2, 4] if optimizer == "sgd" else [2, 4]
    assert row.curves["sharpness_step"] == measured and len(row.curves["sharpness"]) == len(measured)
    assert all(value > 0 for value in row.curves["sharpness"])
    assert len(row.curves["loss"]) >= 5  # the losses of the updates it made


# 6. sgdlab.train(obj, batch_size="full") was refused with "must be a whole number >= 1, full or
#    auto, got 'full'": the words the refusal names, from Python
def test_the_python_api_takes_the_batch_size_words_the_refusal_names(linear):
    import sgdlab
    from sgdlab.core.errors import ConfigError
    from sgdlab.modelfile.config import ModelFileConfig

    full = sgdlab.train(str(linear), batch_size=None, plots=False, bound=False, record=False)
    for word in ("full", " FULL "):
        got = sgdlab.train(str(linear), batch_size=word, plots=False, bound=False, record=False)
        assert got["batch_size"] == 40 and got["config"]["batch_size"] is None and got["steps"] == 1
        assert got["step_losses"] == full["step_losses"]  # the same run, bit for bit
    assert ModelFileConfig(file="x.py", batch_size="Auto").batch_size == "auto"
    with pytest.raises(ConfigError, match="--batch-size must be a whole number >= 1, full or auto, got 'half'"):
        ModelFileConfig(file="x.py", batch_size="half").validate()


# 7. Last-Event-ID past every point of the job (a browser reconnecting to a restarted server,
#    whose job 1 is another run) skipped that many points of the new run: it showed none of them
@pytest.fixture
def client():
    import os

    from fastapi.testclient import TestClient

    from sgdlab.serve.app import create_app

    with TestClient(create_app(os.environ["SGDLAB_STORE"]), base_url="http://127.0.0.1") as c:
        yield c


def test_a_last_event_id_past_the_jobs_points_starts_from_the_first(client):
    import json
    import time

    job = client.post("/api/jobs/linreg", json={"steps": 5, "plots": False}).json()
    deadline = time.monotonic() + 120  # a 5-step run; polled, with a deadline
    while client.get(f"/api/jobs/{job['id']}").json()["finished"] is None and time.monotonic() < deadline:
        time.sleep(0.05)

    def first_points(last_event_id):
        answer = client.get(f"/api/jobs/{job['id']}/events", headers={"Last-Event-ID": last_event_id})
        assert answer.status_code == 200, answer.text
        docs = [json.loads(line[6:]) for line in answer.text.splitlines() if line.startswith("data: ")]
        return [step for step, _ in docs[0]["points"]]

    assert first_points("6") == first_points("999") == [0, 1, 2, 3, 4]  # 5 points: 6 was never sent
    assert first_points("5") == [] and first_points("4") == [4]  # ids it sent: the points after them


# 8. a study that diverged with its sharpness measured below the edge (AdamW's decay at lr x decay
#    >= 2, or a blow-up between measurements) was said to have "the sharpness far above 38/lr";
#    one that diverged before the first measurement too
def test_a_divergence_below_the_edge_says_what_was_measured():
    from sgdlab.theory.edge import analyse

    below = analyse(0.1, [{"step": 0, "value": 3.0}, {"step": 5, "value": 3.5}], [1.0] * 6 + [float("inf")],
                    "diverged")
    assert below["verdict"] == ("diverged: the loss blew up while the sharpness measured stayed below 2/lr = 20 "
                                "(last 3.5, at step 5): the blow-up came between measurements or from outside "
                                "the curvature measured")
    unseen = analyse(0.001, [], [1.0, float("inf")], "diverged", 38000.0, "38/lr")
    assert unseen["verdict"] == ("diverged: the loss blew up before the sharpness was first measured, so the "
                                 "study cannot say how it compared with 38/lr; give a smaller --every")
    above = analyse(1e30, [{"step": 0, "value": 3.0}], [1.0, float("inf")], "diverged")
    assert above["verdict"].startswith("diverged: the loss blew up (lr far above 2 / sharpness")  # as before


# 9. sharpness --lr 0.1,0.1 ran the same run twice and drew one curve for both (the figure's
#    series are keyed by lr); mnist --batch-size and sweeps refuse duplicates
def test_a_learning_rate_given_twice_is_refused(cli, linear, tmp_path):
    store = tmp_path / "runs.db"
    _refused(cli("sharpness", linear, "--lr", "0.1,0.2,0.1,0.2", "--store", store),
             "--lr gives 0.1, 0.2 twice: the runs would be identical (and drawn as one curve)")
    assert not store.exists()


# 10. linreg on features whose squares overflow float64 (1e200): numpy's raw "overflow encountered
#     in matmul" warning, lambda_max NaN, and the bound "none: no positive curvature at the start"
def test_an_overflowing_hessian_is_infinite_curvature_not_none(cli, tmp_path):
    import json
    import math

    from sgdlab.optim import bounds

    csv = tmp_path / "huge.csv"
    csv.write_text("a,y\n1e200,2\n2e200,3\n3e200,4\n")
    result = cli("linreg", "--csv", csv, "--dtype", "float64", "--steps", "3", "--no-plots", "--json")
    doc = json.loads(result.stdout)
    assert doc["lambda_max"] == "Infinity" and doc["lr_bound"] is None  # (1e200)^2 overflows: inf, said
    assert doc["lr_bound_rule"] == ("none: lambda_max is infinite (the Hessian overflows float64: values too "
                                    "large to square), so no lr is stable for gd")
    assert "RuntimeWarning" not in result.stderr and "overflow encountered" not in result.stderr
    assert bounds.lr_bound("sgd", {}, math.inf)["lr_bound_key"] == "bound.infinite_curvature"
    assert bounds.lr_bound("sgd", {}, 0.0)["lr_bound_key"] == "bound.no_curvature"  # flat: as before
    assert bounds.lr_bound("sgd", {}, math.nan)["lr_bound_key"] == "bound.no_curvature"


# 11. Nesterov momentum > 1 was given the bound 2(1+beta)/((1+2beta) lambda_max), though along a
#     flat direction (lr lambda < 1 - 1/beta) its roots multiply to more than 1 at every lr
def _nesterov_radius(lr, lam, beta):
    import numpy as np

    a = lr * lam
    return max(abs(np.roots([1.0, -(1 + beta) * (1 - a), beta * (1 - a)])))


def test_nesterov_momentum_above_one_has_no_bound_and_no_study(cli, linear, tmp_path):
    from sgdlab.optim import bounds

    # the oracle: at beta 1.5 a flat direction is unstable at every lr (the larger root is near beta
    # while lr lambda is small: 1.453 at lr lambda 0.01), while beta 1 stays stable below its bound
    # 4/3 (complex roots of modulus sqrt(1 - lr lambda) < 1, real ones inside up to 4/3)
    assert min(_nesterov_radius(lr, 1e-3, 1.5) for lr in (1e-3, 0.1, 1.0, 10.0)) > 1.4
    assert max(_nesterov_radius(lr, 1.0, 1.0) for lr in (0.01, 0.5, 1.3)) < 1
    got = bounds.lr_bound("sgd", {"momentum": 1.5, "nesterov": True}, 10.0)
    assert got["lr_bound"] is None and got["lr_bound_key"] == "bound.nesterov_unstable"
    assert got["lr_bound_rule"].endswith("; give --momentum <= 1")
    assert bounds.lr_bound("sgd", {"momentum": 1.0, "nesterov": True}, 10.0)["lr_bound"] == 2 * 2 / (3 * 10.0)
    store = tmp_path / "runs.db"
    _refused(cli("sharpness", linear, "--momentum", "1.5", "--nesterov", "--store", store),
             "--momentum 1.5 --nesterov: Nesterov momentum > 1 is unstable at every learning rate")
    assert not store.exists()


# 12. a noise-scale study stopped during its training (MLP or model file) kept B_simple at
#     initialisation but not one point of the training it had done: the curve was written after
#     the loop
@pytest.mark.filterwarnings("error::UserWarning")  # torch's "Converting a tensor with requires_grad"
@pytest.mark.parametrize("where", ["model file", "mlp"])
def test_an_interrupted_noise_scale_keeps_its_training_curve(linear, tmp_path, monkeypatch, where):
    from sgdlab.core.store import Store

    store = Store(tmp_path / "runs.db")
    if where == "model file":
        from sgdlab.modelfile.config import ModelFileConfig
        from sgdlab.modelfile.problem import FileProblem
        from sgdlab.modelfile.theory import run_noise

        calls, loss = [], FileProblem.loss

        def stopping(self, index=None):  # Ctrl-C during the 5th update's forward pass
            calls.append(index)
            if len(calls) == 5:
                raise KeyboardInterrupt
            return loss(self, index)

        monkeypatch.setattr(FileProblem, "loss", stopping)
        study = lambda: run_noise(ModelFileConfig(file=str(linear), batch_size=4), train_steps=20, store=store)
    else:
        from sgdlab.mnist.config import MnistConfig
        from sgdlab.mnist.noise_scale import run

        def on_progress(part, done, total, unit):  # Ctrl-C after the 4th batch loss
            if part == "training" and done == 4:
                raise KeyboardInterrupt
        study = lambda: run(MnistConfig(limit_train=100, batch_size=10), train_steps=20, store=store,
                            on_progress=on_progress)
    with pytest.raises(KeyboardInterrupt):
        study()
    (row,) = store.list_runs()
    row = store.get(row.id)
    assert row.status == "interrupted" and "init" in row.metrics
    assert len(row.curves["train_loss"]) == 4  # the four batch losses it had


# 13. the API refused a boolean where a number is expected, but read a number or a string as a
#     boolean where a flag is expected: {"nesterov": 1}, {"plots": "yes"} were true
def test_every_flag_of_every_request_refuses_anything_but_a_boolean(client):
    from sgdlab import problems

    forms = [(entry.name, entry.hook("page").options) for entry in problems.with_hook("page")]
    for name, model in forms:
        flags = [f for f, field in model.model_fields.items() if field.annotation in (bool, bool | None)]
        assert "nesterov" in flags, (name, flags)
        for flag in flags:
            for value, shown in ((1, "1"), (0, "0"), ("yes", '"yes"'), ("true", '"true"')):
                answer = client.post(f"/api/jobs/{name}", json={flag: value})
                assert answer.status_code == 422, (name, flag, value, answer.text)
                assert answer.json()["errors"] == [f"{flag}: expected true or false, got {shown}"]
            assert client.post(f"/api/jobs/{name}", json={flag: None}).status_code != 500
    answer = client.post("/api/descent", json={"surface": "bowl", "optimizers": [
        {"name": "sgd", "momentum": 0.9, "nesterov": 1}]})
    assert answer.status_code == 422
    assert answer.json()["errors"] == ["optimizers.0.nesterov: expected true or false, got 1"]
    assert client.get("/api/jobs").json()["jobs"] == []  # nothing was queued
    ok = client.post("/api/descent", json={"surface": "bowl", "optimizers": [
        {"name": "sgd", "momentum": 0.9, "nesterov": True}]})
    assert ok.status_code == 200  # a boolean stays a boolean


# 14. a huge whole number (JSON takes any: {"epochs": 10**400}) was echoed whole in the error line,
#     401 digits with commas
def test_a_huge_count_is_shown_short_in_its_refusal(client, cli):
    answer = client.post("/api/jobs/linreg", json={"epochs": 10**400})
    assert answer.status_code == 422
    (line,) = answer.json()["errors"]
    assert line.startswith("--epochs 1.000e+400 is more than the limit 10,000,000") and len(line) < 200, line
    answer = client.post("/api/jobs/linreg", json={"epochs": -(10**400)})
    assert answer.status_code == 422 and answer.json()["errors"] == ["--epochs must be >= 1, got -1.000e+400"]
    _refused(cli("linreg", "--steps", "10000001"), "--steps 10,000,001 is more than the limit 10,000,000")


# 15. `sweep FILE.py --batch-size auto,16` (or full) was refused with "'auto' is not a valid int",
#     though `train FILE.py` takes both words; the refusal of a word elsewhere spoke Python
def test_a_model_files_sweep_takes_the_batch_size_words_of_its_train(cli, linear, tmp_path):
    store = tmp_path / "runs.db"
    doc = cli.json("sweep", linear, "--batch-size", "auto, 16,FULL", "--steps", "5", "--executor", "serial",
                   "--no-plots", "--store", store)
    assert doc["status"] == "completed" and doc["axes"]["batch_size"] == ["auto", 16, "full"]
    cells = {c["batch_size"]: c for c in doc["cells"]}
    assert sorted(cells) == [16, 32, 40]  # each cell names the size it used: min(32, 40 rows), all 40
    for word, size in (("auto", 32), ("full", 40), ("16", 16)):
        alone = cli.json("train", linear, "--batch-size", word, "--steps", "5", "--no-plots", "--no-bound",
                         "--store", store)
        assert alone["batch_size"] == size
        assert cells[size]["final_loss"] == alone["final_loss"]  # the same run, bit for bit (serial)
    resumed = cli.json("sweep", "--resume", doc["sweep_id"], "--no-plots", "--store", store)
    assert resumed["cells_run_now"] == 0 and resumed["cells_finished"] == 3  # its cells found again
    # two words for one size would run one run twice, counted as two seeds: refused, naming both
    _refused(cli("sweep", linear, "--batch-size", "auto,32,40,full", "--steps", "5", "--store", store),
             "--batch-size auto and 32 give the same run here (batch size 32): give one",
             "--batch-size 40 and full give the same run here (batch size 40): give one")
    _refused(cli("sweep", linear, "--batch-size", "16,half", "--store", store),
             "--batch-size: 'half' is not a whole number; give whole numbers, auto or full, comma separated")
    # a problem whose batch sizes take no words refuses them, saying what it takes
    _refused(cli("sweep", "linreg", "--batch-size", "auto,5", "--store", store),
             "--batch-size: 'auto' is not a whole number; give whole numbers, comma separated")
    _refused(cli("sweep", "linreg", "--lr", "0.1,fast", "--store", store),
             "--lr: 'fast' is not a number; give numbers, comma separated")
    assert len(cli.json("runs", "--store", store)["runs"]) == 6  # the 3 cells and the 3 trains


# 16. the optimizers lesson drew each rule's f against step with a plain ax.plot: a rule with one
#     finite point (it blew up after its start) was a line of one point, nothing on the figure
def test_the_optimizers_lesson_draws_a_one_point_f_curve_as_a_marker(monkeypatch, tmp_path):
    import matplotlib.pyplot as plt

    from sgdlab.core import plots
    from sgdlab.lessons.optimizers import draw_surfaces

    kept = []
    monkeypatch.setattr(plots, "save", lambda fig, path: kept.append(fig) or str(path))
    inf = float("inf")
    runs = {"quadratic": [
        {"label": "blew up", "lr": 1.0, "path": [(-4.0, 1.5), (inf, inf)], "f": [36.1, inf], "verdict": "diverged"},
        {"label": "fine", "lr": 0.07, "path": [(-4.0, 1.5), (-3.0, 1.0)], "f": [36.1, 17.0], "verdict": "converged"},
    ]}
    draw_surfaces(runs, tmp_path / "s.png")
    (fig,) = kept
    (bottom,) = [ax for ax in fig.axes if ax.get_ylabel() == "f(x, y) (log scale)"]
    lines = {line.get_label(): line for line in bottom.get_lines()}
    assert lines["blew up"].get_marker() == "o" and list(lines["blew up"].get_xydata()[0]) == [0, 36.1]
    assert lines["fine"].get_marker() in ("None", "", None) and len(lines["fine"].get_xdata()) == 2
    plt.close(fig)


# 17. a run whose Hessian overflowed (lambda_max inf: no lr is stable) was told "use a smaller
#     --lr", which no lr satisfies; rescaling the features is what helps, in both languages
def test_an_overflowed_hessian_advises_rescaling_not_a_smaller_lr(cli, tmp_path):
    import json

    from sgdlab import i18n

    csv = tmp_path / "huge.csv"
    csv.write_text("a,y\n1e200,2\n2e200,3\n3e200,4\n")
    result = cli("linreg", "--csv", csv, "--dtype", "float64", "--steps", "3", "--no-plots", "--json")
    assert result.exit_code == 3, result.stderr  # diverged
    divergence = json.loads(result.stdout)["divergence"]
    assert divergence["lr_bound"] is None and divergence["rescale"] == "--standardize"
    assert divergence["message"].endswith(
        "so no lr is stable for gd): no --lr is small enough; rescale the features (--standardize)")
    assert "smaller --lr" not in divergence["message"] and "smaller --lr" not in result.stderr
    assert i18n.divergence_text(divergence, "en") == divergence["message"]
    zh = i18n.divergence_text(divergence, "zh")
    assert zh.endswith("：再小的 --lr 也不够小；请缩放特征（--standardize）") and "更小的 --lr" not in zh
    # a record of before (no "rescale") keeps its advice; an ordinary divergence is unchanged
    old = {k: v for k, v in divergence.items() if k != "rescale"}
    assert i18n.divergence_text(old, "zh").endswith("：请使用更小的 --lr")
    plain = json.loads(cli("linreg", "--lr", "1", "--steps", "30", "--no-plots", "--json").stdout)["divergence"]
    assert "rescale" not in plain and "use a smaller --lr (or --standardize the features" in plain["message"]
