"""The fifth hostile round: the faults it found, each as a test that fails on the code before it."""

from __future__ import annotations

import pytest


def _refused(result, *pieces: str) -> list[str]:
    """One `error: ...` line per problem, exit 2, nothing on stdout, no traceback."""
    lines = result.stderr.strip().splitlines()
    assert result.exit_code == 2, (result.exit_code, result.stdout, result.stderr)
    assert lines and all(line.startswith("error: ") for line in lines), result.stderr
    assert result.stdout == "" and "Traceback" not in result.stderr
    for piece in pieces:
        assert any(piece in line for line in lines), (piece, lines)
    return lines


# 1. --noise-every past the run's last update measured step 0 alone, silently
@pytest.mark.parametrize("args,updates,where", [
    (["--max-steps", "4", "--noise-every", "5"], 2, ""),  # 200 images at batch 100: 2 updates
    (["--batch-size", "10,full", "--noise-every", "3"], 1, " at batch size full"),  # the study
])
def test_noise_every_past_the_last_update_is_refused_before_anything_is_written(cli, tmp_path, args,
                                                                                updates, where):
    store = tmp_path / "runs.db"
    result = cli("mnist", "--limit-train", "200", "--store", store, *args)
    every = args[-1]
    _refused(result, f"--noise-every {every} is more than the {updates} update"
             f"{'' if updates == 1 else 's'} of the run{where}: the gradient noise scale would be "
             f"measured at initialisation only; give --noise-every <= {updates}")
    assert not store.exists() and not (tmp_path / "runs").exists()


def test_noise_and_sharpness_every_are_both_named_in_one_refusal(cli):
    result = cli("mnist", "--limit-train", "200", "--max-steps", "2", "--noise-every", "3",
                 "--sharpness-every", "4", "--no-plots")
    lines = _refused(result, "--sharpness-every 4 is more than", "--noise-every 3 is more than")
    assert len(lines) == 2


# 2. the API read the JSON boolean true as 1 where a number is expected ({"epochs": true}: 1 epoch)
def _kinds(annotation) -> set:
    """The scalar types named anywhere in a field's type (``tuple[float, float] | None``: float)."""
    import typing

    if annotation in (bool, int, float):
        return {annotation}
    return set().union(*(_kinds(arg) for arg in typing.get_args(annotation)))


def _numeric_fields(model) -> list[str]:
    return [name for name, field in model.model_fields.items()
            if (kinds := _kinds(field.annotation)) & {int, float} and bool not in kinds]


def _job_forms():
    from sgdlab import problems

    return [(entry.name, entry.hook("page").options) for entry in problems.with_hook("page")]


@pytest.fixture
def client():
    import os

    from fastapi.testclient import TestClient

    from sgdlab.serve.app import create_app

    with TestClient(create_app(os.environ["SGDLAB_STORE"]), base_url="http://127.0.0.1") as c:
        yield c


def test_every_numeric_field_of_every_job_form_refuses_a_boolean(client):
    forms = _job_forms()
    assert {"linreg", "mnist"} <= {name for name, _ in forms}
    for name, model in forms:
        fields = _numeric_fields(model)
        assert {"lr", "epochs", "seed"} <= set(fields), (name, fields)  # the walk sees the numbers
        for field in fields:
            for value in (True, False):
                answer = client.post(f"/api/jobs/{name}", json={field: value})
                kind = "a number" if float in _kinds(model.model_fields[field].annotation) else "an integer"
                assert answer.status_code == 422, (name, field, answer.text)
                assert answer.json() == {"status": "error", "errors": [
                    f"{field}: expected {kind}, got the boolean {'true' if value else 'false'}"]}
    assert client.get("/api/jobs").json()["jobs"] == []  # nothing was queued


@pytest.mark.parametrize("path,body,error", [
    ("/api/descent", {"surface": "bowl", "lr": True}, "lr: expected a number, got the boolean true"),
    ("/api/descent", {"surface": "bowl", "start": [True, 1]}, "start: expected a number, got a boolean in [true, 1]"),
    ("/api/contour", {"surface": "bowl", "n": False}, "n: expected an integer, got the boolean false"),
    ("/api/descent", {"surface": "bowl", "optimizers": [{"name": "sgd", "momentum": True}]},
     "optimizers.0.momentum: expected a number, got the boolean true"),
])
def test_the_playground_refuses_booleans_as_numbers_too(client, path, body, error):
    answer = client.post(path, json=body)
    assert answer.status_code == 422 and answer.json()["errors"] == [error]


def test_booleans_stay_booleans_and_numbers_numbers():
    from sgdlab.serve.playground import DescentIn

    for name, model in _job_forms():
        flags = [f for f, field in model.model_fields.items() if field.annotation is bool]
        assert flags, name  # nesterov at least
        options = model.model_validate({f: True for f in flags} | {"lr": 1, "epochs": 2.0})
        assert all(getattr(options, f) is True for f in flags) and options.lr == 1.0 and options.epochs == 2
    assert DescentIn.model_validate({"surface": "bowl", "start": [1, 2.5]}).start == (1.0, 2.5)


# 3. --allreduce local-sgd --local-steps 1 printed torch's raw advice (a UserWarning per rank)
def test_local_sgd_averaging_every_update_warns_nothing(tmp_path):
    import types
    import warnings

    import torch
    import torch.distributed as dist

    from sgdlab.distributed.data_parallel import DataParallel

    dist.init_process_group("gloo", init_method=f"file://{tmp_path / 'rendezvous'}", world_size=1, rank=0)
    try:
        place = types.SimpleNamespace(world=1, rank=0, device=torch.device("cpu"), backend="gloo")
        net = torch.nn.Linear(3, 1)
        x = torch.linspace(0, 1, 12).reshape(4, 3)
        problem = DataParallel(net, torch.nn.functional.mse_loss, x, x.sum(1, keepdim=True), place,
                               allreduce="local-sgd", local_steps=1)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            optimizer = problem.wrap_optimizer(torch.optim.SGD(net.parameters(), lr=0.1))
            problem.loss_and_grad(None)
            optimizer.step()
        # UserWarning: what Python prints by default (torch's own DeprecationWarnings on importing
        # torch.distributed.optim are hidden outside __main__, and not ours to silence)
        assert [str(w.message) for w in caught if issubclass(w.category, UserWarning)] == []
        assert problem.communications == 1  # it still averages after the update, as asked
    finally:
        dist.destroy_process_group()


def test_the_summary_says_an_average_every_update():
    from sgdlab.distributed.report import describe

    run = {"nproc": 2, "world": 2, "backend": "gloo", "allreduce": "local-sgd", "communications": 8,
           "comm_seconds_per_step": 0.001, "comm_fraction": 0.5}
    assert "local SGD, an average every update)" in describe(run | {"local_steps": 1})
    assert "local SGD, an average every 4 updates)" in describe(run | {"local_steps": 4})


# 4. Last-Event-ID " 3 " was read as no id: the stream restarted from the first point
def test_last_event_id_ignores_the_optional_whitespace_around_it(client):
    import json
    import time

    job = client.post("/api/jobs/linreg", json={"steps": 5, "plots": False}).json()
    deadline = time.monotonic() + 120  # a 5-step run; polled, with a deadline
    while client.get(f"/api/jobs/{job['id']}").json()["finished"] is None and time.monotonic() < deadline:
        time.sleep(0.05)

    def first_points(last_event_id):
        answer = client.get(f"/api/jobs/{job['id']}/events", headers={"Last-Event-ID": last_event_id})
        assert answer.status_code == 200, (last_event_id, answer.text)
        docs = [json.loads(line[6:]) for line in answer.text.splitlines() if line.startswith("data: ")]
        return [step for step, _ in docs[0]["points"]]

    everything = first_points("0")
    assert everything == [0, 1, 2, 3, 4]
    for value in ("3", " 3 ", "\t3", "3\t ", "  3"):
        assert first_points(value) == [3, 4], repr(value)  # the points after the 3 already sent
    for odd in ("3 4", "  ", "\u00b2".encode("latin-1"), "+3", "-1"):  # not an id: from the start
        assert first_points(odd) == everything, repr(odd)


# 5. a model file with fewer rows than the default batch size 32 was refused for a flag never given
ROWS_20 = ("import torch\ndef data():\n    x = torch.linspace(0, 1, 60).reshape(20, 3)\n"
           "    return {'train': (x, x.sum(1, keepdim=True))}\n"
           "def model():\n    return torch.nn.Linear(3, 1)\n"
           "def loss(o, t):\n    return ((o - t) ** 2).mean()\n")


@pytest.fixture
def rows_20(tmp_path):
    path = tmp_path / "rows.py"
    path.write_text(ROWS_20)
    return path


def test_train_defaults_to_all_the_rows_when_there_are_fewer_than_32(cli, rows_20):
    default = cli.json("train", rows_20, "--no-plots")
    full = cli.json("train", rows_20, "--no-plots", "--batch-size", "full")
    # min(32, 20) = 20 rows: the full batch, one update per epoch, recorded as the size it used
    assert default["batch_size"] == 20 and default["config"]["batch_size"] == 20 and default["steps"] == 1
    assert default["step_losses"] == full["step_losses"]  # the same update, bit for bit
    from sgdlab.core.store import Store

    assert Store().get(default["run_id"]).config["batch_size"] == 20


def test_a_given_batch_size_larger_than_the_data_is_still_refused(cli, rows_20, tmp_path):
    store = tmp_path / "given.db"
    for args in (["train", rows_20, "--batch-size", "32"], ["sweep", rows_20, "--batch-size", "32,10", "--yes"]):
        _refused(cli(*args, "--store", store), "--batch-size 32 is larger than the training set (20 rows); "
                 "give at most 20 (or full)")
    assert not store.exists()


def test_the_default_applies_to_sweeps_and_the_python_api(cli, rows_20):
    from sgdlab.modelfile.config import ModelFileConfig
    from sgdlab.modelfile.run import run

    sweep = cli.json("sweep", rows_20, "--lr", "0.1,0.2", "--yes", "--no-plots")
    assert [c["batch_size"] for c in sweep["cells"]] == [20, 20] and sweep["status"] == "completed"
    from sgdlab.core.store import Store

    assert [Store().get(c["run_id"]).config["batch_size"] for c in sweep["cells"]] == [20, 20]
    result = run(ModelFileConfig(file=str(rows_20), plots=False, bound=False), record=False)
    assert result["batch_size"] == 20 and result["config"]["batch_size"] == 20
    # more rows than 32: the default stays 32 (64 rows: 2 updates an epoch)
    big = rows_20.with_name("rows64.py")
    big.write_text(ROWS_20.replace("60).reshape(20, 3)", "192).reshape(64, 3)"))
    result = run(ModelFileConfig(file=str(big), plots=False, bound=False), record=False)
    assert result["batch_size"] == 32 and result["steps"] == 2


def test_a_batch_size_string_other_than_auto_is_refused():
    from sgdlab.core.errors import ConfigError
    from sgdlab.modelfile.config import ModelFileConfig

    with pytest.raises(ConfigError, match="--batch-size must be a whole number >= 1, full or auto, got 'big'"):
        ModelFileConfig(file="x.py", batch_size="big").validate()



def test_lr_find_on_a_model_file_takes_the_default_and_the_words(cli, rows_20):
    # the generic flag machinery (cli/fields.parse) reads "full" as None and "auto" as the word;
    # after "auto" became the default, "full" reached the config as the string 'full'
    assert cli.json("lr-find", rows_20, "--no-plots")["batch_size"] == 20
    assert cli.json("lr-find", rows_20, "--no-plots", "--batch-size", "full")["batch_size"] == 20
    assert cli.json("lr-find", rows_20, "--no-plots", "--batch-size", "auto")["batch_size"] == 20
    assert cli.json("lr-find", rows_20, "--no-plots", "--batch-size", "10")["batch_size"] == 10
    _refused(cli("lr-find", rows_20, "--batch-size", "abc"),
             "--batch-size must be a whole number >= 1, full or auto, got 'abc'")


# 6. a recorded series of one point was drawn as a line of one point: nothing on the figure
def _drawn(monkeypatch, draw):
    """The figure ``draw`` saves, kept open to be inspected (no pixels)."""
    from sgdlab.core import plots
    from sgdlab.sweep import figures

    kept = []
    for module in (plots, figures):  # the sweep's figures import save by name
        monkeypatch.setattr(module, "save", lambda fig, path: kept.append(fig) or str(path))
    draw(plots)
    assert len(kept) == 1
    return kept[0]


def _close(fig) -> None:
    import matplotlib.pyplot as plt

    plt.close(fig)


def _lines(fig) -> dict:
    return {line.get_label(): line for ax in fig.axes for line in ax.get_lines()}


def test_a_one_point_series_is_drawn_as_a_marker(monkeypatch, tmp_path):
    nan = float("nan")
    fig = _drawn(monkeypatch, lambda plots: plots.curves(
        {"one step": ([0], [2.5]), "one finite": ([0, 1, 2], [nan, 1.5, nan]), "long": ([0, 1], [2.0, 1.0])},
        tmp_path / "loss.png", xlabel="step"))
    lines = _lines(fig)
    for label in ("one step", "one finite"):
        assert lines[label].get_marker() == "o" and len(lines[label].get_xdata()) == 1, label
    assert list(lines["one finite"].get_xydata()[0]) == [1, 1.5]
    assert lines["long"].get_marker() in ("None", "", None)  # two points: a line, as before
    assert len(lines["long"].get_xdata()) == 2
    _close(fig)


def test_the_range_test_and_a_sweeps_panels_show_one_point_too(monkeypatch, tmp_path):
    fig = _drawn(monkeypatch, lambda plots: plots.lr_range([0.1], [2.0], [2.0], {}, tmp_path / "lr.png"))
    assert all(line.get_marker() == "o" for line in _lines(fig).values())
    _close(fig)
    from sgdlab.sweep import figures

    row = {"curve": [3.0], "status": "completed", "lr": 0.1, "batch_size": 8, "optimizer": "sgd", "seed": 0}
    fig = _drawn(monkeypatch, lambda plots: figures._panels([row], tmp_path / "p.png", panel="batch_size",
                                                            line=("lr", "optimizer"), title="t"))
    (line,) = _lines(fig).values()
    assert line.get_marker() == "o" and list(line.get_xydata()[0]) == [0, 3.0]
    _close(fig)
