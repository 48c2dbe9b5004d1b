"""The ``sgdlab`` command line: one thin module per subcommand, all on one Typer app.

Each subcommand parses flags into a config, calls the library, and prints either human text or
(with ``--json``) one JSON document on stdout. Torch is imported only inside commands, so
``sgdlab --help`` stays quick.
"""

from .app import app, main
from . import linreg as _linreg  # noqa: F401  (registers `sgdlab linreg`)
from . import runs as _runs  # noqa: F401  (registers `sgdlab runs`)
from . import demo as _demo  # noqa: F401  (registers `sgdlab demo`)
from . import mnist as _mnist  # noqa: F401  (registers `sgdlab mnist`)

__all__ = ["app", "main"]
