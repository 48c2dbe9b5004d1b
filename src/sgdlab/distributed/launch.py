"""``--nproc N`` outside ``torchrun``: start N local workers, watch them, return rank 0's result.

Each worker is ``python -m sgdlab.distributed.worker SPEC`` with the environment ``torchrun``
would give it (``RANK``, ``WORLD_SIZE``, ``LOCAL_RANK``, ``LOCAL_WORLD_SIZE``, ``MASTER_ADDR``
127.0.0.1, a free ``MASTER_PORT``, ``OMP_NUM_THREADS=1`` as torchrun sets for several processes),
so a worker runs exactly the code it runs under ``torchrun``. Their stdout goes to our stderr:
``--json`` keeps one document on stdout. Rank 0 writes its result document to a file we read.

Faults: the first worker that ends badly ends the run. A rank killed by a signal is named (the
others then fail on their broken connections, which we do not blame); the rest get SIGTERM,
then SIGKILL after ``GRACE_S``; the run is marked ``interrupted`` and one line says which rank
and how to continue (``sgdlab resume RUN_ID``). Ctrl-C is passed to every worker (rank 0 then
records the run as interrupted), and the same bounded shutdown follows.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

GRACE_S = 5.0  # how long a worker may take to stop after SIGTERM / SIGINT before SIGKILL
POLL_S = 0.05
SOURCE = str(Path(__file__).resolve().parents[2])  # the folder holding this sgdlab package
SETTLE_S = 0.5  # after the first bad exit: time for a killed rank's signal status to show


def launch(problem: str, config, *, store=None, record: bool = True, run_id: str | None = None,
           resume: bool = False, sweep_id: str | None = None) -> dict:
    """Run ``config`` (of problem ``problem``) on ``config.nproc`` local processes."""
    from ..core.errors import ClusterError, ConfigError, SgdlabError
    from ..core.files import write_text
    from ..core.store import Store, new_run_id

    store = store or Store()
    run_id = run_id or new_run_id()
    nproc = config.nproc
    with tempfile.TemporaryDirectory(prefix="sgdlab-ddp-") as tmp:
        spec = Path(tmp) / "spec.json"
        write_text(spec, json.dumps({
            "problem": problem, "config": config.to_dict(), "store": str(store.path),
            "run_id": run_id, "resume": resume, "record": record, "sweep_id": sweep_id,
            "result": str(Path(tmp) / "result.json"), "errors": tmp,
        }))
        procs = start_workers(["sgdlab.distributed.worker", str(spec)], nproc)
        try:
            bad = watch(procs)
        except KeyboardInterrupt:  # from a terminal every worker got it too: let them finish
            settle(procs, GRACE_S / 2)  # recording the run as interrupted before a second one
            stop(procs, signal.SIGINT)
            _mark_interrupted(store, run_id, record)
            raise
        if bad is not None:
            rank, code = bad
            stop(procs, signal.SIGTERM)
            saved = Path(tmp) / f"error-{rank}.json"
            if saved.is_file():  # the worker's own error (bad input): report it as it was
                lines = json.loads(saved.read_text())
                raise (ConfigError if lines["kind"] == "config" else SgdlabError)(*lines["problems"])
            resumable = _mark_interrupted(store, run_id, record)
            how = f"killed by {signal.Signals(-code).name}" if code < 0 else f"exit code {code}"
            crash = Path(tmp) / f"crash-{rank}.json"
            if code > 0 and crash.is_file():
                report = json.loads(crash.read_text())
                how = f"{how}: {report['problem']}"
                if os.environ.get("SGDLAB_DEBUG"):
                    print(report["traceback"], file=sys.stderr)
            then = (f"; the run is interrupted: continue with `sgdlab resume {run_id}`"
                    if resumable else "")
            raise ClusterError(f"rank {rank} of {nproc} ended ({how}){then}")
        result = Path(tmp) / "result.json"
        if not result.is_file():
            raise ClusterError(f"the {nproc} workers ended without rank 0's result")
        return json.loads(result.read_text())


def start_workers(module_args: list[str], nproc: int) -> list[subprocess.Popen]:
    """``python -m MODULE ARGS`` on ``nproc`` local ranks, with torchrun's environment."""
    from .env import free_port

    port = free_port()
    procs = []
    for rank in range(nproc):
        environ = dict(os.environ, RANK=str(rank), WORLD_SIZE=str(nproc), LOCAL_RANK=str(rank),
                       LOCAL_WORLD_SIZE=str(nproc), MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
        environ.setdefault("OMP_NUM_THREADS", "1")
        environ["PYTHONPATH"] = os.pathsep.join(  # the workers import this very sgdlab
            [SOURCE, *filter(None, [os.environ.get("PYTHONPATH")])])
        procs.append(subprocess.Popen([sys.executable, "-m", *module_args], env=environ,
                                      stdin=subprocess.DEVNULL, stdout=sys.stderr.fileno()))
    return procs


def watch(procs) -> tuple[int, int] | None:
    """Wait for every worker; None when all ended well, else (rank, exit code) of the culprit:
    the first to end badly, preferring one killed by a signal when several are seen together."""
    while True:
        codes = [p.poll() for p in procs]
        if all(c == 0 for c in codes):
            return None
        bad = [(r, c) for r, c in enumerate(codes) if c not in (None, 0)]
        if bad:
            time.sleep(SETTLE_S)  # a killed rank's peers fail right after it: let it show too
            codes = [p.poll() for p in procs]
            killed = [(r, c) for r, c in enumerate(codes) if c is not None and c < 0]
            own = [(r, c) for r, c in enumerate(codes) if c is not None and c > 0 and c != 1]
            return (killed or own or bad)[0]
        time.sleep(POLL_S)


def settle(procs, seconds: float) -> None:
    """Wait up to ``seconds`` for every worker to end by itself."""
    deadline = time.monotonic() + seconds
    while any(p.poll() is None for p in procs) and time.monotonic() < deadline:
        time.sleep(POLL_S)


def stop(procs, how: signal.Signals) -> None:
    """Signal every worker still running, wait up to ``GRACE_S``, then SIGKILL the rest."""
    for p in procs:
        if p.poll() is None:
            p.send_signal(how)
    deadline = time.monotonic() + GRACE_S
    for p in procs:
        try:
            p.wait(timeout=max(0.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()


def _mark_interrupted(store, run_id: str, record: bool) -> bool:
    """The run's row, left ``running`` by a dead rank 0, becomes ``interrupted``; True when the
    run is in the store (so ``sgdlab resume`` can continue it)."""
    from ..core.errors import SgdlabError

    if not record or not store.exists():
        return False
    try:
        status = store.get(run_id, curves=False).status
    except SgdlabError:
        return False
    if status == "running":
        store.mark(run_id, "interrupted")
    return status in ("running", "interrupted")
