"""A third-party problem, installed the way pip installs one (a package and a ``*.dist-info``
with ``entry_points.txt`` in the group ``sgdlab.problems``), is a problem like the built-ins:
``sgdlab.train``, `sgdlab sweep`, `sgdlab lr-find`, `sgdlab resume` and its own `sgdlab NAME`.

The plugin is written against the shared skeleton only (``core.scaffold``, ``core.loop``,
``sweep.protocol.RunAdapter``, ``core.lr_range``): the mean of some numbers found by gradient
descent, J(theta) = mean((theta - x_i)^2), whose Hessian is 2, so 2/lambda_max = 1 exactly.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import pytest

from conftest import ROOT

LIGHT = '''
"""A toy problem for sgdlab: its registry entry and config (no torch at import)."""
from dataclasses import asdict, dataclass, field
from typing import ClassVar

from sgdlab.optim.spec import OptimizerSpec
from sgdlab.problems import Entry


@dataclass
class ToyConfig:
    """The mean of 0, 1, ..., points-1 by gradient descent on J = mean((theta - x)^2)."""

    problem: ClassVar[str] = "toy"
    points: int = 32  # how many numbers
    lr: float = 0.1  # learning rate
    steps: int = 20  # updates (ignored when epochs is set)
    epochs: int | None = None  # passes over the numbers
    batch_size: int | None = None  # numbers per update; None: all
    seed: int = 0  # drives the shuffling
    optimizer: OptimizerSpec = field(default_factory=OptimizerSpec)
    out: str | None = None  # folder for figures (it draws none)
    plots: bool = False  # draw figures (none)
    checkpoint_every: int | None = None  # checkpoint every N updates
    keep_checkpoint: bool = False  # keep the checkpoints

    def validate(self):
        from sgdlab.core.errors import ConfigError

        if self.points < 2:
            raise ConfigError(f"--points must be >= 2, got {self.points}")

    def to_dict(self):
        return asdict(self)


ENTRY = Entry("toy", "sgdlab_toy:ToyConfig", "sgdlab_toy.problem:run", "sgdlab_toy.problem:ADAPTER",
              resumable=True, lr_find="sgdlab_toy.problem:lr_find_setup",
              lr_find_options=("points", "batch_size", "seed"), summary="the mean, by gradient descent")
'''

HEAVY = '''
import math

import torch

from sgdlab import optim
from sgdlab.core.loop import settle
from sgdlab.core.lr_range import Setup, stepper
from sgdlab.core.scaffold import Scaffold, record_of
from sgdlab.sweep.protocol import RunAdapter

from . import ToyConfig


class Mean:
    def __init__(self, x):
        self.x, self.n_train = x, len(x)
        self.theta = torch.zeros(1, dtype=torch.float64, requires_grad=True)

    def parameters(self):
        return [self.theta]

    def loss(self, index=None):
        x = self.x if index is None else self.x[index]
        return ((self.theta - x) ** 2).mean()


def load(config):
    return torch.arange(config.points, dtype=torch.float64)


def check(config):
    config.validate()


def run(config, *, store=None, record=True, sweep_id=None, sweep_cell=None, run_id=None, resume=False,
        table=None, on_loss=None):
    config.validate()
    x = table if table is not None else load(config)
    scaffold = Scaffold(config, store=store, record=record, sweep_id=sweep_id, sweep_cell=sweep_cell,
                        run_id=run_id, resume=resume)
    model, generator = Mean(x), torch.Generator().manual_seed(config.seed)
    opt = optim.create(config.optimizer.name, model.parameters(), lr=config.lr, **config.optimizer.hyperparameters())
    batch = config.batch_size or len(x)
    steps = config.steps if config.epochs is None else config.epochs * math.ceil(len(x) / batch)

    def before(step, loss):
        if on_loss is not None:
            on_loss(step, float(loss))

    loop = scaffold.train(model, opt, generator, batch_size=batch, steps=steps, before_update=before,
                          every=config.checkpoint_every, per_epoch=config.epochs is not None)
    final = float(model.loss().detach())
    doc = {"status": settle(loop, final, loop.step_losses[0] if loop.step_losses else None),
           "problem": config.problem, "run_id": None, "losses": loop.step_losses, "batch_losses": None,
           "final": {"loss": final, "theta": float(model.theta.detach())}, "data": {"rows": len(x)},
           "seconds": loop.seconds, "config": config.to_dict(), "figures": []}
    return scaffold.finish(doc, loop, to_record)


def to_record(doc, sweep_id=None, sweep_cell=None):
    return record_of(doc, sweep_id, sweep_cell, ("final", "data", "seconds"))


def lr_find_setup(config):
    x = load(config)
    model, generator = Mean(x), torch.Generator().manual_seed(config.seed)
    sgd = optim.create("sgd", model.parameters(), lr=config.lr)
    batch = config.batch_size or len(x)
    return Setup(step=stepper(model, sgd, batch, generator), bound=1.0, config=config.to_dict(),
                 data={"rows": len(x)}, batch_size=batch)


class Adapter(RunAdapter):
    name, module, config_class = "toy", "sgdlab_toy.problem", ToyConfig


ADAPTER = Adapter()
'''


@pytest.fixture
def toy(tmp_path):
    """``sgdlab-toy`` installed into a path of its own; returns a function running Python there."""
    site = tmp_path / "site"
    (site / "sgdlab_toy").mkdir(parents=True)
    (site / "sgdlab_toy" / "__init__.py").write_text(textwrap.dedent(LIGHT))
    (site / "sgdlab_toy" / "problem.py").write_text(textwrap.dedent(HEAVY))
    info = site / "sgdlab_toy-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: sgdlab-toy\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text("[sgdlab.problems]\ntoy = sgdlab_toy:ENTRY\n")
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(site), str(ROOT / "src")]),
               SGDLAB_STORE=str(tmp_path / "runs.db"))

    def python(*args: str, code: int = 0) -> subprocess.CompletedProcess:
        done = subprocess.run([sys.executable, *args], env=env, cwd=tmp_path, capture_output=True,
                              text=True, timeout=300)
        assert done.returncode == code, done.stderr
        return done

    return python


TRAIN_AND_KILL = """
import json, sys
import sgdlab
from sgdlab.core.store import Store
from sgdlab_toy import ToyConfig
from sgdlab_toy.problem import run

config = dict(epochs=3, batch_size=8, checkpoint_every=3, keep_checkpoint=True, lr=0.2)
whole = sgdlab.train(ToyConfig(**config))

def kill(step, loss):
    if step == 7:
        raise KeyboardInterrupt

try:
    run(ToyConfig(**config), on_loss=kill)
except KeyboardInterrupt:
    pass
killed = [r.id for r in Store().list_runs() if r.status == "interrupted"]
print(json.dumps({"whole": whole, "killed": killed}))
"""


def test_an_installed_plugin_is_a_problem_like_the_built_ins(toy):
    # sgdlab.train, and a run killed mid-epoch
    out = json.loads(toy("-c", TRAIN_AND_KILL).stdout)
    whole = out["whole"]
    assert whole["problem"] == "toy" and whole["status"] == "completed" and len(whole["losses"]) == 12
    # near the mean of 0..31: batches of 8 pull theta towards their own means (15.5 +- ~3)
    assert abs(whole["final"]["theta"] - 15.5) < 3
    # sgdlab resume: the killed run finishes with the uninterrupted run's losses, bit for bit
    (killed,) = out["killed"]
    resumed = json.loads(toy("-m", "sgdlab", "resume", killed, "--json").stdout)
    assert resumed["run_id"] == killed and resumed["losses"] == whole["losses"]
    assert resumed["final"] == whole["final"]
    # sgdlab sweep (serial: the plugin has no stacked form) and the generic `sgdlab toy`
    sweep = json.loads(toy("-m", "sgdlab", "sweep", "toy", "--lr", "0.1,0.2", "--seeds", "2",
                           "--steps", "5", "--no-plots", "--json").stdout)
    assert sweep["status"] == "completed" and sweep["cells_finished"] == 4 and sweep["executor"] == "serial"
    refused = toy("-m", "sgdlab", "sweep", "toy", "--lr", "0.1", "--hidden", "3", code=2)
    assert "--hidden applies to `sgdlab sweep mnist` only, not toy" in refused.stderr
    alone = json.loads(toy("-m", "sgdlab", "toy", "--steps", "5", "--json").stdout)  # flags from ToyConfig
    assert alone["problem"] == "toy" and len(alone["losses"]) == 5 and alone["config"]["steps"] == 5
    # sgdlab lr-find toy: its flags from the config, the plugin's bound beside the test
    found = json.loads(toy("-m", "sgdlab", "lr-find", "toy", "--points", "16", "--num", "30",
                           "--no-plots", "--json").stdout)
    assert found["problem"] == "toy" and found["bound"] == 1.0 and found["data"] == {"rows": 16}
    assert found["blowup_lr"] > 1.0  # full-batch GD on J blows up only above 2/lambda_max = 1
