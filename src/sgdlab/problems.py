"""THE registry of problems: name -> ``Entry``, everything shared code needs to know about one.

``sgdlab.train``, the sweep runner, ``resume``, the report, the page and the command line look
problems up here, by name (``get``), by what the user typed (``resolve``: a name, or a model
file's path) or by a config (``for_config``); nothing else in sgdlab names a problem. Adding a
problem means writing its package and one line below, or, from another distribution, an entry
point in the group ``sgdlab.problems`` whose object is an ``Entry``::

    [sgdlab.problems]
    myproblem = mypackage.problem:ENTRY

Entries hold ``module:attribute`` paths, imported on first use, so that ``sgdlab --help`` and
``import sgdlab`` do not pay for torch.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from importlib import import_module
from pathlib import Path
from typing import Any, Callable

GROUP = "sgdlab.problems"  # the entry-point group third-party problems register under
MODEL_FILE = "modelfile"  # the entry a path ending in .py resolves to, where one is registered


@dataclass(frozen=True)
class Entry:
    """One problem. Paths are ``module:attribute``; hooks are None where a problem has none."""

    name: str
    config: str  # the config dataclass (fields documented, ``validate()``, ``problem`` = name)
    run: str  # run(config, *, store, record, sweep_id, sweep_cell, run_id, resume, ...) -> document
    sweep: str  # the sweep adapter (``sgdlab.sweep.protocol``); its ``compute_group`` is the
    #             vectorized form where the problem has one
    executor: str = "serial"  # what `sgdlab sweep --executor auto` picks (measured: sweep/runner.py)
    resumable: bool = False  # its runs write checkpoints: `sgdlab resume RUN_ID` continues them
    printer: str | None = None  # printer(document): a result document as human text
    command: str | None = None  # register(app): adds the problem's own command to the Typer app
    lr_find: str | None = None  # setup(config) -> core.lr_range.Setup, for `sgdlab lr-find`
    lr_find_options: tuple[str, ...] = ()  # the config fields `sgdlab lr-find NAME` takes as flags
    path_field: str | None = None  # the config field a model file's path fills (`lr-find mynet.py`)
    sharpness: str | None = None  # run_study(config, lrs, ...) for `sgdlab sharpness`
    noise_scale: str | None = None  # run(config, ...) for `sgdlab noise-scale`
    page: str | None = None  # the page's form: a ``serve.forms.PageHook`` (options model, build)
    summary: str = ""  # one line for lists (`sgdlab sweep --help`, the page)

    def config_class(self) -> type:
        return _load(self.config)

    def run_function(self) -> Callable[..., dict[str, Any]]:
        return _load(self.run)

    def sweep_adapter(self) -> Any:
        return _load(self.sweep)

    def lr_find_setup(self) -> Callable[[Any], Any] | None:
        return _load(self.lr_find) if self.lr_find else None

    def hook(self, name: str) -> Any:
        """The object hook ``name`` (``printer``, ``lr_find``, ``page``, ...) points at; None
        where this problem has none."""
        path = getattr(self, name)
        return _load(path) if path else None


# The built-in problems. `executor`: benchmarks/sweep.py, see sweep/runner.py for the numbers.
REGISTRY: dict[str, Entry] = {
    "linreg": Entry(
        "linreg", "sgdlab.linreg.config:LinRegConfig", "sgdlab.linreg.run:run", "sgdlab.linreg.sweep:ADAPTER",
        executor="vectorized", resumable=True, printer="sgdlab.cli.linreg:print_linreg",
        command="sgdlab.cli.linreg:register", lr_find="sgdlab.linreg.lrfind:setup",
        lr_find_options=("csv", "x", "y", "standardize", "batch_size", "seed", "dtype"),
        page="sgdlab.linreg.page:PAGE", summary="linear regression (the tutorial's 15 points, or a CSV)"),
    "mnist": Entry(
        "mnist", "sgdlab.mnist.config:MnistConfig", "sgdlab.mnist.run:run", "sgdlab.mnist.sweep:ADAPTER",
        executor="vectorized", resumable=True, printer="sgdlab.cli.mnist:print_mnist",
        command="sgdlab.cli.mnist:register", lr_find="sgdlab.mnist.lrfind:setup",
        lr_find_options=("dataset", "data_dir", "hidden", "activation", "loss", "normalize", "batch_size",
                         "seed", "device", "limit_train", "sharpness_subset"),
        sharpness="sgdlab.mnist.sharpness:run_study", noise_scale="sgdlab.mnist.noise_scale:run",
        page="sgdlab.mnist.page:PAGE", summary="an MLP on MNIST-family images (mnist-5k by default)"),
    "surface": Entry(
        "surface", "sgdlab.surface.config:SurfaceConfig", "sgdlab.surface.run:run", "sgdlab.surface.sweep:ADAPTER",
        printer="sgdlab.cli.surface:print_surface", command="sgdlab.cli.surface:register",
        summary="gradient descent on a 2-D function f(x, y)"),
    "logreg": Entry(
        "logreg", "sgdlab.logreg.config:LogRegConfig", "sgdlab.logreg.run:run", "sgdlab.logreg.sweep:ADAPTER",
        executor="vectorized", resumable=True,
        lr_find="sgdlab.logreg.sweep:lr_find_setup", lr_find_options=(
            "csv", "x", "y", "standardize", "points", "separation", "data_seed", "batch_size", "seed", "dtype"),
        summary="binary logistic regression (two Gaussian blobs, or a CSV with a 0/1 label)"),
    "modelfile": Entry(
        "modelfile", "sgdlab.modelfile.config:ModelFileConfig", "sgdlab.modelfile.run:run",
        "sgdlab.modelfile.sweep:ADAPTER", executor="vectorized", resumable=True,
        printer="sgdlab.cli.train:print_train", command="sgdlab.cli.train:register",
        lr_find="sgdlab.modelfile.lrfind:setup", path_field="file",
        lr_find_options=("batch_size", "seed", "device", "sharpness_subset"), sharpness="sgdlab.modelfile.theory:run_sharpness",
        noise_scale="sgdlab.modelfile.theory:run_noise",
        summary="your own PyTorch model: a .py file defining data(), model() and loss(output, target)"),
}

_plugins: dict[str, Entry] | None = None


def _discovered() -> dict[str, Entry]:
    """Third-party problems (entry points of group ``sgdlab.problems``), looked up once.

    A plugin that fails to load, is not an ``Entry``, or takes a built-in's name is left out with
    a warning on stderr: one broken package must not take every command down with it."""
    global _plugins
    if _plugins is None:
        from importlib.metadata import entry_points

        found: dict[str, Entry] = {}
        for point in entry_points(group=GROUP):
            try:
                entry = point.load()
            except Exception as exc:  # noqa: BLE001  (any error of someone else's import)
                _warn(f"problem plugin {point.name!r} ({point.value}) failed to load: {exc}")
                continue
            if not isinstance(entry, Entry) or entry.name != point.name:
                _warn(f"problem plugin {point.name!r} ({point.value}) is not an sgdlab.problems.Entry "
                      f"named {point.name!r}; left out")
            elif point.name in REGISTRY or point.name in found:
                _warn(f"problem plugin {point.name!r} ({point.value}) repeats a known name; left out")
            else:
                found[point.name] = entry
        _plugins = found
    return _plugins


def _warn(message: str) -> None:
    print(f"warning: {message}", file=sys.stderr)


def entries() -> dict[str, Entry]:
    """Every known problem: the built-ins, then the plugins."""
    return {**REGISTRY, **_discovered()}


def names() -> list[str]:
    return list(entries())


def find(name: str) -> Entry | None:
    """The entry of problem ``name``, or None."""
    return entries().get(name) if isinstance(name, str) else None


def get(name: str) -> Entry:
    """The entry of problem ``name``; an unknown name is a ConfigError listing the known ones."""
    from .core.errors import ConfigError

    entry = find(name)
    if entry is None:
        raise ConfigError(f"unknown problem {name!r}; choose one of: {', '.join(names())}")
    return entry


def resolve(name_or_path: str) -> Entry:
    """What the user typed where a problem goes: a registered name, or the path of a model file
    (``mynet.py``), which is the ``modelfile`` problem's where one is registered."""
    from .core.errors import ConfigError

    entry = find(name_or_path)
    if entry is not None:
        return entry
    text = str(name_or_path)
    files = find(MODEL_FILE)
    if files is not None and text.endswith(".py"):
        if not Path(text).is_file():
            raise ConfigError(f"{text}: no such file (a model file is a path to a .py file)")
        return files
    also = "; or the path of a model file (.py)" if files is not None else ""
    raise ConfigError(f"unknown problem {text!r}; choose one of: {', '.join(names())}{also}")


def with_hook(hook: str) -> list[Entry]:
    """The entries that have hook ``hook`` (``lr_find``, ``sharpness``, ``page``, ...)."""
    return [e for e in entries().values() if getattr(e, hook)]


def for_config(config: Any) -> Entry:
    """The entry whose config class ``config`` is an instance of (by its ``problem`` name)."""
    name = getattr(type(config), "problem", None)
    entry = find(name) if isinstance(name, str) else None
    if entry is None or not isinstance(config, entry.config_class()):
        raise TypeError(f"train() does not know configs of type {type(config).__name__}; "
                        f"it runs the configs of: {', '.join(names())}")
    return entry


def _load(path: str) -> Any:
    module, _, attribute = path.partition(":")
    return getattr(import_module(module), attribute)
