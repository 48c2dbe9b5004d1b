"""The loop without a host sync per step (``sync_every`` K > 1, ``core/blocks.py``): for several
K, the same result as the per-step guard, bit for bit on the CPU: losses, the diverged step, its
reason, the last finite loss, a stop's step, and the parameters the run ends with (a diverged
block is rolled back and replayed). Also a ``train_step`` (the CUDA-graph or compiled step's
slot) and, on a GPU only, the captured graph against the eager step."""

from __future__ import annotations

import pytest
import torch

from sgdlab import optim
from sgdlab.core import loop
from sgdlab.core.store import Store
from sgdlab.mnist import datasets
from sgdlab.mnist import run as mnist_run
from sgdlab.mnist.config import MnistConfig
from sgdlab.mnist.model import Classifier, build_model

KS = (2, 3, 7, 50)


def train(k, steps, batch_size, lr, loss="cross-entropy", activation="relu", optimizer="sgd", stop_at=None,
          train_step=None, **hyper):
    config = MnistConfig(limit_train=600, hidden=[16], loss=loss, activation=activation)
    x, y, _, _ = mnist_run.tensors(config, datasets.load("mnist-5k"), torch.device("cpu"))
    generator = torch.Generator().manual_seed(0)
    net = build_model(784, [16], 10, generator, activation)
    problem = Classifier(net, x, y, loss)
    opt = optim.create(optimizer, problem.parameters(), lr=lr, **hyper)
    seen = []

    def before_update(step, value):
        seen.append((step, float(value)))
        if stop_at is not None and step == stop_at:
            raise loop.StopTraining

    result = loop.run(problem, opt, batch_size=batch_size, steps=steps, generator=generator,
                      before_update=before_update, sync_every=k,
                      train_step=train_step(problem, opt) if train_step else None)
    fields = (result.status, result.step_losses, result.steps_done, result.diverged_step,
              result.last_finite_loss, result.divergence_reason)
    return fields, [p.detach().clone() for p in problem.parameters()], seen, opt.state_dict()


CASES = {
    "completed": dict(steps=25, batch_size=50, lr=0.05),
    "diverged (loss grew)": dict(steps=30, batch_size=200, lr=2.0, loss="mse", activation="tanh"),
    "diverged (not finite)": dict(steps=30, batch_size=50, lr=1e6, loss="mse"),
    "diverged with momentum": dict(steps=30, batch_size=200, lr=1.0, loss="mse", activation="tanh", momentum=0.9),
    "adam, completed": dict(steps=13, batch_size=50, lr=1e-3, optimizer="adam"),
    "stopped at step 5": dict(steps=20, batch_size=50, lr=0.05, stop_at=5),
}


@pytest.mark.parametrize("case", CASES)
def test_blocks_equal_the_per_step_guard(case):
    reference, params, seen, state = train(1, **CASES[case])
    if "diverged" in case:
        assert reference[0] == "diverged" and reference[3] is not None  # the case does diverge
    for k in KS:
        fields, got, got_seen, got_state = train(k, **CASES[case])
        assert fields == reference, (case, k)
        assert all(torch.equal(a, b) for a, b in zip(got, params)), (case, k)  # rolled back exactly
        assert got_seen == seen  # every loss handed to before_update, in order, once
        assert str(got_state) == str(state)


def test_a_train_step_goes_through_the_blocks():
    """The slot the CUDA graph and torch.compile fill: any callable doing forward, backward and
    update; with K = 1 too, its run equals the plain loop's."""
    calls = []

    def counting(problem, opt):
        plain = loop.default_step(problem, opt)

        def step(index):
            calls.append(index.shape[0])
            return plain(index)
        return step

    case = CASES["diverged (loss grew)"]
    reference, params, _, _ = train(1, **case)
    for k in (1, 3):
        calls.clear()
        fields, got, _, _ = train(k, train_step=counting, **case)
        assert fields == reference and all(torch.equal(a, b) for a, b in zip(got, params))
        assert len(calls) >= reference[2]  # the replay's updates go through it as well


def test_sgdlab_mnist_sync_every_gives_the_same_document(cli):
    args = ("mnist", "--limit-train", "400", "--hidden", "8", "--batch-size", "100", "--loss", "mse",
            "--activation", "tanh", "--lr", "2", "--epochs", "5", "--no-bound", "--no-plots")
    base = cli("mnist", *args[1:], "--json")
    fast = cli("mnist", *args[1:], "--sync-every", "7", "--json")
    assert base.exit_code == fast.exit_code != 0  # diverged
    import json

    a, b = json.loads(base.stdout), json.loads(fast.stdout)
    assert a["status"] == b["status"] == "diverged"
    assert a["divergence"] == b["divergence"] and a["step_losses"] == b["step_losses"]
    assert b["config"]["sync_every"] == 7


def test_resume_with_blocks_equals_the_run_left_alone(tmp_path):
    from sgdlab.api import resume

    config = dict(limit_train=300, limit_test=20, hidden=[8], batch_size=50, epochs=3, bound=False,
                  checkpoint_every=4, keep_checkpoint=True, plots=False)
    reference = mnist_run.run(MnistConfig(**config), store=Store(tmp_path / "ref.db"))
    store = Store(tmp_path / "s.db")

    def stop_at_11(done, total):
        if done == 11:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        mnist_run.run(MnistConfig(**config, sync_every=5), store=store, on_progress=stop_at_11)
    (record,) = store.list_runs()
    resumed = resume(record.id, store=store)
    assert resumed["status"] == "completed" and resumed["step_losses"] == reference["step_losses"]


@pytest.mark.skipif(not torch.cuda.is_available(), reason="the CUDA graph needs a GPU")
def test_cuda_graph_step_equals_the_eager_step():
    base = dict(limit_train=1000, limit_test=100, hidden=[32], batch_size=96, epochs=2, bound=False,
                plots=False, device="cuda")  # 1000 / 96: a partial last batch, run eagerly
    eager = mnist_run.run(MnistConfig(**base, cuda_graph=False, sync_every=1), record=False)
    graph = mnist_run.run(MnistConfig(**base), record=False)
    # the same kernels in the same order: equal up to float32 rounding of reordered reductions
    assert graph["step_losses"] == pytest.approx(eager["step_losses"], rel=1e-5)


@pytest.mark.slow  # torch.compile builds its kernels first: a minute or more on 2 cores
def test_compile_runs_the_same_training(cli):
    args = ("mnist", "--limit-train", "200", "--limit-test", "20", "--hidden", "8", "--batch-size", "50",
            "--no-bound", "--no-plots")
    eager = cli.json(*args)
    compiled = cli.json(*args, "--compile")
    assert compiled["config"]["compile"] is True and compiled["steps"] == eager["steps"] == 4
    # inductor fuses and reorders float32 arithmetic: each loss is a few hundred float32 operations
    # deep (eps 1.2e-7), four steps apart from the eager run at most: 1e-4 relative bounds it
    assert compiled["step_losses"] == pytest.approx(eager["step_losses"], rel=1e-4)
