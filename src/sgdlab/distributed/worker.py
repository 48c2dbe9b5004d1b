"""One worker of ``--nproc N`` (started by ``launch.py`` with torchrun's environment variables).

``python -m sgdlab.distributed.worker SPEC``: rebuilds the run's config from SPEC (JSON), runs the
problem's ``run`` (which joins the process group), and on rank 0 writes the result document where
the launcher reads it. A bad input is written as JSON beside it (``error-RANK.json``) so the
launcher reports it in the worker's own words, and a crash (``crash-RANK.json``, with its
traceback) is shown only when that rank is the one to blame; SIGTERM is taken as Ctrl-C, so rank 0 records the
run as interrupted before it goes.
"""

from __future__ import annotations

import json
import os
import signal
import sys
from pathlib import Path


def _interrupt(signum, frame):
    raise KeyboardInterrupt


def main(spec_path: str) -> int:
    from .. import problems
    from ..core.errors import ConfigError, SgdlabError
    from ..core.files import write_text
    from ..core.records import jsonable
    from ..core.store import Store

    signal.signal(signal.SIGTERM, _interrupt)
    spec = json.loads(Path(spec_path).read_text())
    rank = int(os.environ["RANK"])
    try:
        entry = problems.get(spec["problem"])
        config = config_from_dict(entry.config_class(), spec["config"])
        document = entry.run_function()(config, store=Store(spec["store"]), run_id=spec["run_id"],
                                        resume=spec["resume"], record=spec["record"],
                                        sweep_id=spec["sweep_id"])
        _finish_together()
    except SgdlabError as exc:
        kind = "config" if isinstance(exc, ConfigError) else "other"
        write_text(Path(spec["errors"]) / f"error-{rank}.json",
                   json.dumps({"kind": kind, "problems": exc.problems}))
        return 2
    except KeyboardInterrupt:
        return 130
    except Exception as exc:  # a broken group (a peer died) or a bug: the launcher decides
        import traceback  # whether to show it (a peer that was killed is the news, not this)

        first = (str(exc).strip().splitlines() or [""])[0][:300]
        write_text(Path(spec["errors"]) / f"crash-{rank}.json", json.dumps({
            "problem": f"{type(exc).__name__}: {first}", "traceback": traceback.format_exc()}))
        return 1
    finally:
        _leave()
    if rank == 0:
        write_text(spec["result"], json.dumps(jsonable(document)))
    return 0


def config_from_dict(cls, options: dict):
    """A problem's config from its ``to_dict()`` (the optimizer spec is a nested dataclass)."""
    from ..optim.spec import OptimizerSpec

    options = dict(options)
    if "optimizer" in options:
        options["optimizer"] = OptimizerSpec.from_dict(options.get("optimizer") or {})
    return cls(**options)


def _finish_together() -> None:
    from .env import finish_together

    finish_together()


def _leave() -> None:
    from .env import leave

    leave()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
