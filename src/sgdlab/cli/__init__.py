"""The ``sgdlab`` command line: one thin module per subcommand, all on one Typer app.

Each subcommand parses flags into a config, calls the library, and prints either human text or
(with ``--json``) one JSON document on stdout. The problems' own commands (`sgdlab NAME`) come
from the registry (``sgdlab.problems``): each entry's ``command`` hook adds its command. Torch
is imported only inside commands, so ``sgdlab --help`` stays quick.
"""

import sys

from .app import app, main


def _register_problem_commands() -> None:
    """Each problem's own command (`sgdlab NAME`), from its registry entry's ``command`` hook."""
    from .. import problems

    for entry in problems.entries().values():
        try:
            register = entry.hook("command")
        except Exception as exc:  # noqa: BLE001  (a plugin's broken import: the rest still work)
            print(f"warning: problem {entry.name!r}: its command failed to load: {exc}", file=sys.stderr)
            continue
        if register is not None:
            register(app)
        else:  # no command of its own: one built from its config's fields
            from .generic import register as generic

            generic(app, entry)


_register_problem_commands()

from . import runs as _runs  # noqa: F401  (registers `sgdlab runs`)
from . import demo as _demo  # noqa: F401  (registers `sgdlab demo`)
from . import sweep as _sweep  # noqa: F401  (registers `sgdlab sweep`)
from . import report as _report  # noqa: F401  (registers `sgdlab report`)
from . import optimizers as _optimizers  # noqa: F401  (registers `sgdlab optimizers`)
from . import resume as _resume  # noqa: F401  (registers `sgdlab resume`)
from . import serve as _serve  # noqa: F401  (registers `sgdlab serve`)
from . import sharpness as _sharpness  # noqa: F401  (registers `sgdlab sharpness`)
from . import noise_scale as _noise_scale  # noqa: F401  (registers `sgdlab noise-scale`)
from . import lr_find as _lr_find  # noqa: F401  (registers `sgdlab lr-find PROBLEM`)
from . import scaling as _scaling  # noqa: F401  (registers `sgdlab scaling`)


__all__ = ["app", "main"]
