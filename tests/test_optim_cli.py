"""The optimizers from the command line: `sgdlab optimizers`, `--optimizer` on `linreg`, bad input."""

from __future__ import annotations

import json

import pytest
import torch

from conftest import run_module

RULES = ["sgd", "adagrad", "rmsprop", "adam", "adamw"]
LR = {"sgd": "0.02"}  # plain gradient descent diverges above 0.023 on the tutorial's points


def test_optimizers_json_lists_each_rule_with_torch_defaults(cli):
    doc = cli.json("optimizers")
    rows = {r["name"]: r for r in doc["optimizers"]}
    assert list(rows) == RULES
    assert doc["names"] == sorted(RULES) + [f"torch-{n}" for n in sorted(RULES)]
    for name, row in rows.items():
        theirs = getattr(torch.optim, row["torch_class"].split(".")[-1])([torch.zeros(1, requires_grad=True)])
        for key, value in row["defaults"].items():
            expected = list(theirs.defaults[key]) if key == "betas" else theirs.defaults[key]
            assert value == expected, (name, key)
        assert row["formula"].count("\n") >= 2 and "w = " in row["formula"]


def test_optimizers_human_output(cli):
    result = cli("optimizers")
    assert result.exit_code == 0
    assert "adam - Adam: momentum on the gradient" in result.stdout
    assert "w = w - lr / (1 - beta1^t) * m / (sqrt(v) / sqrt(1 - beta2^t) + eps)" in result.stdout
    assert "defaults: lr=0.01, alpha=0.99, eps=1e-08" in result.stdout


@pytest.mark.parametrize("name", RULES)
def test_linreg_with_each_optimizer_equals_torch_optim(cli, name):
    args = ["linreg", "--optimizer", name, "--lr", LR.get(name, "0.1"), "--steps", "60", "--no-plots"]
    ours, theirs = cli.json(*args), cli.json(*args[:2], f"torch-{name}", *args[3:])
    assert ours["losses"] == theirs["losses"]  # float32, bit for bit
    assert ours["final"] == theirs["final"]
    assert ours["final"]["loss"] < ours["init"]["loss"] / 5
    assert ours["config"]["optimizer"]["name"] == name


@pytest.mark.parametrize("flags", [
    ["--optimizer", "sgd", "--momentum", "0.9", "--nesterov", "--weight-decay", "0.01"],
    ["--optimizer", "rmsprop", "--momentum", "0.5", "--eps", "1e-6"],
    ["--optimizer", "adam", "--betas", "0.8,0.99", "--eps", "1e-6", "--weight-decay", "0.01"],
    ["--optimizer", "adamw", "--betas", "0.5,0.9", "--weight-decay", "0.1"],
    ["--optimizer", "adagrad", "--eps", "1e-6", "--weight-decay", "0.01"],
], ids=lambda f: "-".join(a.strip("-") for a in f))
def test_linreg_hyperparameter_flags_reach_the_rule(cli, flags):
    name = flags[1]
    lr = "0.005" if name == "sgd" else "0.05"
    common = ["linreg", "--lr", lr, "--steps", "40", "--no-plots", *flags[2:]]
    ours, theirs = cli.json(*common, "--optimizer", name), cli.json(*common, "--optimizer", f"torch-{name}")
    assert ours["losses"] == theirs["losses"]
    plain = cli.json("linreg", "--lr", lr, "--steps", "40", "--no-plots", "--optimizer", name)
    assert plain["losses"] != ours["losses"]  # the flags changed something


def test_linreg_adam_run_is_recorded(cli):
    doc = cli.json("linreg", "--optimizer", "adam", "--lr", "0.1", "--steps", "200", "--no-plots")
    assert doc["status"] == "completed" and doc["gap_to_optimum"] < 1e-3
    shown = cli.json("runs", "show", doc["run_id"])
    assert shown["config"]["optimizer"]["name"] == "adam" and shown["config"]["lr"] == 0.1


BAD = [
    (["--optimizer", "adam", "--momentum", "0.9"],
     ["error: optimizer adam does not take momentum; it takes lr, betas, eps, weight_decay, amsgrad "
      "(see `sgdlab optimizers`)"]),
    (["--optimizer", "nadam"],
     ["error: unknown optimizer 'nadam'; choose one of: adagrad, adam, adamw, rmsprop, sgd, "
      "torch-adagrad, torch-adam, torch-adamw, torch-rmsprop, torch-sgd"]),
    (["--momentum", "-0.5"], ["error: --momentum must be >= 0, got -0.5"]),
    (["--nesterov"], ["error: --nesterov needs --momentum > 0"]),
    (["--optimizer", "adam", "--betas", "0.9,1.0"], ["error: --betas must be two numbers in [0, 1), got 0.9,1.0"]),
    (["--optimizer", "adam", "--betas", "0.9"], ["error: --betas must be two numbers in [0, 1), got 0.9"]),
    (["--optimizer", "adam", "--eps", "0"], ["error: --eps must be a finite number > 0, got 0.0"]),
    (["--weight-decay", "-1"], ["error: --weight-decay must be >= 0, got -1.0"]),
    (["--lr", "-0.1", "--optimizer", "torch-sgd"], ["error: --lr must be a finite number > 0, got -0.1"]),
    (["--optimizer", "sgd", "--eps", "1e-8", "--momentum", "-1"],
     ["error: optimizer sgd does not take eps; it takes lr, momentum, dampening, weight_decay, nesterov "
      "(see `sgdlab optimizers`)", "error: --momentum must be >= 0, got -1.0"]),
]


@pytest.mark.parametrize("flags,lines", BAD, ids=[" ".join(f) for f, _ in BAD])
def test_linreg_bad_optimizer_input_exits_2(cli, flags, lines):
    result = cli("linreg", "--no-plots", *flags)
    assert result.exit_code == 2
    assert result.stdout == ""
    assert result.stderr.strip().splitlines() == lines


def test_bad_optimizer_in_a_real_process():
    proc = run_module("linreg", "--optimizer", "rmsprop", "--nesterov", "--momentum", "0.9", "--json")
    assert proc.returncode == 2
    assert json.loads(proc.stdout) == {"status": "error", "errors": [proc.stderr.strip()[7:]]}
    assert proc.stderr.strip() == ("error: optimizer rmsprop does not take nesterov; it takes lr, alpha, eps, "
                                   "weight_decay, momentum, centered (see `sgdlab optimizers`)")
