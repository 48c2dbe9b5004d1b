"""The registry: names and model-file paths resolve, its metadata drives shared code, and a
failed lookup records nothing."""

from __future__ import annotations

import dataclasses

import pytest

from sgdlab import ConfigError, problems
from sgdlab.core.store import Store


def test_resolve_a_name_and_refuse_an_unknown_one_listing_the_known():
    assert problems.resolve("linreg") is problems.get("linreg")
    with pytest.raises(ConfigError) as info:
        problems.resolve("nope")
    message = info.value.problems[0]
    assert message.startswith("unknown problem 'nope'; choose one of: ")
    assert all(name in message for name in problems.names())


def test_a_py_path_resolves_to_the_modelfile_entry_where_one_is_registered(tmp_path, monkeypatch):
    path = tmp_path / "mynet.py"
    path.write_text("")
    if problems.find(problems.MODEL_FILE) is None:  # without the modelfile problem: unknown
        with pytest.raises(ConfigError, match="unknown problem"):
            problems.resolve(str(path))
    fake = problems.Entry(problems.MODEL_FILE, "x:y", "x:y", "x:y")
    monkeypatch.setitem(problems.REGISTRY, problems.MODEL_FILE, fake)
    assert problems.resolve(str(path)) is fake
    with pytest.raises(ConfigError, match="missing.py: no such file"):
        problems.resolve(str(tmp_path / "missing.py"))
    with pytest.raises(ConfigError, match="or the path of a model file"):
        problems.resolve(str(tmp_path / "data.csv"))


def test_every_entry_names_loadable_hooks():
    for entry in problems.entries().values():
        for hook in ("printer", "command", "lr_find", "sharpness", "noise_scale", "page"):
            if getattr(entry, hook):
                assert entry.hook(hook) is not None, (entry.name, hook)
        assert entry.executor in ("serial", "vectorized", "process", "ray")
        fields = {f.name for f in dataclasses.fields(entry.config_class())}
        assert set(entry.lr_find_options) <= fields, entry.name


def test_a_sweep_whose_executor_is_unknown_records_nothing(tmp_path, monkeypatch):
    from sgdlab.sweep import SweepSpec, run_sweep

    broken = dataclasses.replace(problems.get("linreg"), executor="quantum")
    monkeypatch.setitem(problems.REGISTRY, "linreg", broken)
    store = Store(tmp_path / "runs.db")
    spec = SweepSpec(problem="linreg", axes={"lr": [0.01], "seed": [1]}, base={"plots": False})
    with pytest.raises(ConfigError, match="executor 'quantum'"):
        run_sweep(spec, store=store)
    assert not store.exists() or store.list_runs() == []
    if store.exists():
        import sqlite3

        with sqlite3.connect(store.path) as conn:
            assert conn.execute("SELECT COUNT(*) FROM sweeps").fetchone()[0] == 0


def test_resume_refuses_a_problem_whose_runs_do_not_checkpoint(tmp_path):
    from sgdlab.api import resume
    from sgdlab.core.store import RunRecord

    store = Store(tmp_path / "runs.db")
    store.save(RunRecord(id="r1", command="surface", status="interrupted", config={}, metrics={}))
    with pytest.raises(ConfigError, match=r"run r1 \(surface\) has no checkpoints: only linreg and mnist"):
        resume("r1", store=store)


@pytest.mark.parametrize("problem, executor, message", [
    ("nonesuch", "auto", "unknown problem 'nonesuch'"),  # not in the registry: refused by the spec
    ("linreg", "quantum", "unknown executor 'quantum'"),  # an --executor sgdlab does not have
])
def test_a_sweep_given_its_id_records_nothing_when_its_problem_or_executor_is_unknown(tmp_path, problem, executor,
                                                                                      message):
    from sgdlab.sweep import SweepSpec, run_sweep

    store = Store(tmp_path / "runs.db")
    spec = SweepSpec(problem=problem, axes={"lr": [0.01], "seed": [1]}, base={"plots": False}, executor=executor)
    with pytest.raises(ConfigError, match=message):
        run_sweep(spec, store=store, sweep_id="s-of-a-study")
    assert not store.exists() and not (tmp_path / "runs.db").exists()


def test_a_sweep_is_recorded_under_the_id_its_caller_gives(tmp_path):
    from sgdlab.sweep import SweepSpec, run_sweep

    store = Store(tmp_path / "runs.db")
    doc = run_sweep(SweepSpec(problem="surface", axes={"lr": [0.01, 0.02]}, base={"surface": "bowl", "steps": 3}), store=store,
                    sweep_id="s-of-a-study")
    assert doc["sweep_id"] == "s-of-a-study" and store.sweep("s-of-a-study")["problem"] == "surface"
    assert len(store.list_runs(sweep_id="s-of-a-study")) == 2
    with pytest.raises(ConfigError, match="a resumed sweep keeps its id s-of-a-study; got another, s-x"):
        run_sweep(resume="s-of-a-study", store=store, sweep_id="s-x")
