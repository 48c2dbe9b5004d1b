"""sgdlab: learn, see and measure gradient descent.

The public API, re-exported lazily so that ``import sgdlab`` (and ``sgdlab --help``) does not pay
for importing torch::

    from sgdlab import LinRegConfig, train
    result = train(LinRegConfig(lr=0.02, steps=100))
    print(result["final"]["loss"], result["optimum"]["loss"])
"""

from __future__ import annotations

from importlib import import_module
from importlib.util import find_spec
from typing import Any

__version__ = "0.1.0"

# name -> module that defines it
_EXPORTS = {
    "LinRegConfig": "linreg.config",
    "OptimizerSpec": "optim.spec",
    "MnistConfig": "mnist.config",
    "ModelFileConfig": "modelfile.config",
    "SgdlabError": "core.errors",
    "ConfigError": "core.errors",
    "DataError": "core.errors",
    "StoreError": "core.errors",
    "Store": "core.store",
    "train": "api",
    "SurfaceConfig": "surface.config",
}

__all__ = sorted(_EXPORTS) + ["__version__"]


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(import_module(f".{_EXPORTS[name]}", __name__), name)
    # A subpackage or module (`sgdlab.optim.batched.create`, `sgdlab.api.resume`) is imported on
    # first use, as it would be by `import sgdlab.optim`: the README's snippets use only `import sgdlab`.
    if name.isidentifier() and not name.startswith("_") and find_spec(f"{__name__}.{name}") is not None:
        return import_module(f".{name}", __name__)
    raise AttributeError(f"module 'sgdlab' has no attribute {name!r}")
