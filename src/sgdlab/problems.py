"""THE registry of problems: name -> where its config class, its ``run`` and its sweep adapter live.

``sgdlab.train``, the sweep runner, the report and the command line look problems up here, by
name or by a config's ``problem`` attribute; nothing else in sgdlab dispatches on a problem.
Adding a problem means writing its package (config, run, sweep adapter) and one line below.

Entries are dotted paths, imported on first use, so that ``sgdlab --help`` and ``import sgdlab``
do not pay for torch.
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib import import_module
from typing import Any, Callable


@dataclass(frozen=True)
class Entry:
    """One problem: ``module:attribute`` paths of its config class, run function, sweep adapter."""

    name: str
    config: str  # the config dataclass (fields documented, ``validate()``, ``problem`` = name)
    run: str  # run(config, *, store, record, sweep_id, sweep_cell, ...) -> result document
    sweep: str  # the sweep adapter (``sgdlab.sweep.protocol``); its ``compute_group`` is the
    #             vectorized form where the problem has one
    lr_find: str | None = None  # setup(config) -> core.lr_range.Setup, for `sgdlab lr-find`

    def config_class(self) -> type:
        return _load(self.config)

    def run_function(self) -> Callable[..., dict[str, Any]]:
        return _load(self.run)

    def sweep_adapter(self) -> Any:
        return _load(self.sweep)

    def lr_find_setup(self) -> Callable[[Any], Any] | None:
        return _load(self.lr_find) if self.lr_find else None


REGISTRY: dict[str, Entry] = {
    "linreg": Entry("linreg", "sgdlab.linreg.config:LinRegConfig", "sgdlab.linreg.run:run", "sgdlab.linreg.sweep:ADAPTER",
                    lr_find="sgdlab.linreg.lrfind:setup"),
    "mnist": Entry("mnist", "sgdlab.mnist.config:MnistConfig", "sgdlab.mnist.run:run", "sgdlab.mnist.sweep:ADAPTER",
                   lr_find="sgdlab.mnist.lrfind:setup"),
    "surface": Entry("surface", "sgdlab.surface.config:SurfaceConfig", "sgdlab.surface.run:run", "sgdlab.surface.sweep:ADAPTER"),
    "modelfile": Entry("modelfile", "sgdlab.modelfile.config:ModelFileConfig", "sgdlab.modelfile.run:run",
                       "sgdlab.modelfile.sweep:ADAPTER", lr_find="sgdlab.modelfile.lrfind:setup"),
}


def names() -> list[str]:
    return list(REGISTRY)


def get(name: str) -> Entry:
    """The entry of problem ``name``; an unknown name is a ConfigError listing the known ones."""
    from .core.errors import ConfigError

    if name not in REGISTRY:
        raise ConfigError(f"unknown problem {name!r}; choose one of: {', '.join(REGISTRY)}")
    return REGISTRY[name]


def for_config(config: Any) -> Entry:
    """The entry whose config class ``config`` is an instance of (by its ``problem`` name)."""
    name = getattr(type(config), "problem", None)
    entry = REGISTRY.get(name) if isinstance(name, str) else None
    if entry is None or not isinstance(config, entry.config_class()):
        raise TypeError(f"train() does not know configs of type {type(config).__name__}; "
                        f"it runs the configs of: {', '.join(REGISTRY)}")
    return entry


def _load(path: str) -> Any:
    module, _, attribute = path.partition(":")
    return getattr(import_module(module), attribute)
