"""The ``sgdlab`` command line: one thin module per subcommand, all on one Typer app.

Each subcommand parses flags into a config, calls the library, and prints either human text or
(with ``--json``) one JSON document on stdout. Torch is imported only inside commands, so
``sgdlab --help`` stays quick.
"""

from .app import app, main
from . import linreg as _linreg  # noqa: F401  (registers `sgdlab linreg`)
from . import runs as _runs  # noqa: F401  (registers `sgdlab runs`)
from . import demo as _demo  # noqa: F401  (registers `sgdlab demo`)
from . import sweep as _sweep  # noqa: F401  (registers `sgdlab sweep`)
from . import report as _report  # noqa: F401  (registers `sgdlab report`)
from . import surface as _surface  # noqa: F401  (registers `sgdlab surface`)
from . import optimizers as _optimizers  # noqa: F401  (registers `sgdlab optimizers`)
from . import mnist as _mnist  # noqa: F401  (registers `sgdlab mnist`)
from . import resume as _resume  # noqa: F401  (registers `sgdlab resume`)
from . import serve as _serve  # noqa: F401  (registers `sgdlab serve`)
from . import sharpness as _sharpness  # noqa: F401  (registers `sgdlab sharpness`)
from . import noise_scale as _noise_scale  # noqa: F401  (registers `sgdlab noise-scale`)
from . import lr_find as _lr_find  # noqa: F401  (registers `sgdlab lr-find linreg|mnist`)
from . import scaling as _scaling  # noqa: F401  (registers `sgdlab scaling`)

__all__ = ["app", "main"]
