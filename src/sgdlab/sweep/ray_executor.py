"""The Ray executor: a sweep's units of work as Ray tasks, on a local Ray or on a cluster.

Why Ray: people who outgrow one machine already run it (``ray up``, KubeRay, Ray Tune); it
schedules, retries and moves data, so sgdlab writes none of that. This module is imported only
for ``--executor ray``; Ray itself is an optional extra (``pip install 'sgdlab[ray]'``).

What is shipped: the sweep's shared data once, through the object store (``ray.put``: each node
fetches it once, however many of its tasks read it); then per task the configs and cells of one
unit: a vectorized group (sliced so that every CPU of the cluster gets work) where the problem
has a stacked form, else one cell. A task returns run records: curves, metrics, status, plain
data. The driver (this process) stores them as they arrive; workers never see the run store.
Workers import sgdlab and torch: install the driver's versions on the cluster (README).

Faults:
* a worker process dies mid-task: Ray runs the task again (``MAX_RETRIES``); its cells reach
  the driver once, from the run that finished, and are stored once.
* the cluster goes away: while waiting, the driver checks that the cluster's address still
  answers; after ``LOST_AFTER_S`` seconds without an answer it stops with a ``ClusterError``
  (exit 1; the runner says how many cells were kept and how to resume). Ray's own limit, after
  which it ends the driver process without a word (60 s by default), is shortened to
  ``RAY_GIVE_UP_S``: long enough for this check to speak first.
* Ctrl-C: the outstanding tasks are cancelled; finished cells are already stored.
"""

from __future__ import annotations

import contextlib
import logging
import math
import os
import socket
import sys
import time
from typing import Any
from urllib.parse import urlparse

from ..core.errors import ClusterError, ConfigError, SgdlabError
from . import ray_reaper
from .executors import Plan, Records, compute

INSTALL = "the ray executor needs Ray, an optional extra: pip install 'sgdlab[ray]'"
MAX_RETRIES = 3  # runs of a task after its worker process or node died (Ray's own default)
WAIT_S = 0.5  # how long one ray.wait blocks before the driver checks the cluster is still there
LOST_AFTER_S = 3.0  # the cluster's address silent this long: the cluster is gone
RAY_GIVE_UP_S = 20  # Ray's reconnect limit for the driver (its default: 60 s)
CELLS_PER_TASK: int | None = None  # None: the rule in ``units``; benchmarks/sweep.py sets others


def require_ray() -> None:
    """Raise the one-line install hint (a ConfigError: exit 2) when Ray is not installed.

    Found, not imported: Ray reads its settings from the environment when it is imported, and
    ``connect`` sets those of a private Ray first (imported here, they came too late, and the
    private Ray advertised the machine's routable address instead of loopback)."""
    import importlib.util

    try:
        found = importlib.util.find_spec("ray") is not None
    except (ImportError, ValueError):
        found = False
    if not found:
        raise ConfigError(INSTALL)


CONNECT_TIMEOUT_S = 5.0  # a cluster's head answers a TCP connect in milliseconds; 5 s under load


def check_address(address: str | None) -> None:
    """Before anything is written: ``--address`` (or $RAY_ADDRESS) must be HOST:PORT or
    ray://HOST:PORT with a port 1-65535, and something must answer a TCP connect there within
    ``CONNECT_TIMEOUT_S``. Ray itself waits a minute and prints its own warnings (issue 19)."""
    flag = "--address" if address else "$RAY_ADDRESS"
    address = address or os.environ.get("RAY_ADDRESS") or None
    if address is None or address in ("auto", "local"):
        return
    url = urlparse(address if "://" in address else f"tcp://{address}")
    try:
        host, port = url.hostname, url.port
    except ValueError:  # a port that is not a number, or out of range
        host, port = url.hostname, None
    if url.scheme not in ("tcp", "ray") or not host or port is None or not 1 <= port <= 65535:
        raise ConfigError(f"{flag} {address!r} is not HOST:PORT or ray://HOST:PORT (port 1-65535), "
                          "e.g. 10.0.0.5:6379 or ray://10.0.0.5:10001")
    try:
        with socket.create_connection((host, port), timeout=CONNECT_TIMEOUT_S):
            pass
    except socket.gaierror:
        raise ConfigError(f"{flag} {address}: the host {host!r} is not known") from None
    except OSError as exc:
        why = "timed out" if isinstance(exc, TimeoutError) else (exc.strerror or str(exc)).lower()
        raise ConfigError(f"{flag} {address}: no Ray cluster answers there ({why}); start one with "
                          f"`ray start --head` or fix the address") from None


def compute_unit(problem: str, configs: list, cells: list[dict], sweep_id: str, data: Any,
                 stacked: bool) -> list:
    """The Ray task (it runs on a worker): compute one unit, return its run records."""
    import torch

    from .. import __version__, problems

    adapter = problems.get(problem).sweep_adapter()
    records = compute(adapter, configs, cells, sweep_id, data, stacked)
    for record in records:  # the versions that computed the numbers: the worker's
        record.sgdlab_version, record.torch_version = __version__, torch.__version__
    return records


def units(plan: Plan, slots: int, most: int | None = None) -> list[tuple[list[int], bool]]:
    """(cell indices, stacked?) per task.

    Where the problem has a stacked form: its vectorized groups, cut into near-equal slices of
    at most ``most`` cells, by default ceil(cells / slots), ``slots`` being the tasks the cluster
    runs at once (its CPUs, or its GPUs for GPU cells). Each task then stays as large (as
    vectorized) as possible while a grid of one group still keeps every slot busy
    (benchmarks/sweep.py --cells-per-task measures the alternatives). Else one cell per task."""
    if not plan.adapter.vectorizable:
        return [([i], False) for i in range(len(plan.cells))]
    most = most or max(1, math.ceil(len(plan.cells) / max(1, slots)))
    out = []
    for members in plan.groups():
        size = math.ceil(len(members) / math.ceil(len(members) / most))
        out += [(members[k:k + size], True) for k in range(0, len(members), size)]
    return out


def connect(address: str | None, workers: int | None):
    """Join ``address`` (or $RAY_ADDRESS), else start a local Ray for this sweep alone.

    Returns (ray, the host:port to watch, whether this call started the connection)."""
    os.environ.setdefault("RAY_gcs_rpc_server_reconnect_timeout_s", str(RAY_GIVE_UP_S))
    os.environ.setdefault("RAY_CLIENT_RECONNECT_GRACE_PERIOD", str(RAY_GIVE_UP_S))
    address = address or os.environ.get("RAY_ADDRESS") or None
    if address is None:
        # a private Ray: on 127.0.0.1 (Ray otherwise takes the machine's routable address, and
        # its GCS and raylet listen on every interface), no usage report; read when ray is
        # imported, so nothing imports ray before this (``require_ray`` only looks for it)
        os.environ.setdefault("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")
        os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    import ray

    if address is None:
        # a private Ray starts with token authentication (Ray's default), and says so on stderr
        # at every start: news to nobody for a cluster that lives as long as this sweep
        logging.getLogger("ray._private.authentication.authentication_token_setup").setLevel(logging.ERROR)
    if ray.is_initialized():  # the caller's own Ray session (a notebook, a Ray job): use it
        return ray, _gcs_address(ray, address), False
    options: dict[str, Any] = {"log_to_driver": False, "logging_level": "WARNING"}
    if address is None:
        # Ray 2.60 still starts a minimal API server (usage stats only, no web page) and, from the
        # raylet, its DashboardAgent and RuntimeEnvAgent: no option leaves those out (README)
        options.update(include_dashboard=False, num_cpus=workers)
    else:
        options["address"] = address
    try:
        if address is None:  # a folder and a token of its own, by which its reaper finds it
            options["_temp_dir"] = _start_reaper()
        ray.init(**{k: v for k, v in options.items() if v is not None})
    except (ConnectionError, TimeoutError, RuntimeError, ValueError) as exc:
        _stop_reaper()
        raise ClusterError(f"cannot join the Ray cluster at {address}: {_first_line(exc)}") from None
    except BaseException:
        _stop_reaper()
        raise
    finally:
        os.environ.pop(ray_reaper.ENV, None)  # only the cluster's processes inherit it
    return ray, _gcs_address(ray, address), True


_REAPER: Any = None  # the reaper of the local Ray this process started (``ray_reaper``)


def _start_reaper() -> str | None:
    """Start ``ray_reaper`` for the local Ray about to start (Linux: it reads /proc); the
    cluster's private folder, or None (Ray's default) where there is no reaper."""
    global _REAPER
    if not os.path.isdir("/proc/self") or _REAPER is not None:
        return None
    import secrets
    import subprocess
    import tempfile

    token = secrets.token_hex(16)
    # short and in /tmp: Ray's socket paths under it must fit in 107 bytes
    folder = tempfile.mkdtemp(prefix="sgdlab-ray-", dir="/tmp" if os.path.isdir("/tmp") else None)
    _REAPER = subprocess.Popen(  # stdin: the pipe whose end tells it that this process ended
        [sys.executable, "-I", ray_reaper.__file__, token, folder, str(os.getpid())], stdin=subprocess.PIPE,
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    os.environ[ray_reaper.ENV] = token
    return folder


def _stop_reaper(timeout: float = 10.0) -> None:
    """After ``ray.shutdown``: the reaper ends whatever of the cluster is left, then exits."""
    global _REAPER
    reaper, _REAPER = _REAPER, None
    if reaper is None:
        return
    reaper.stdin.close()
    with contextlib.suppress(Exception):
        reaper.wait(timeout=timeout)


def _gcs_address(ray, address: str | None) -> str | None:
    if address is not None and address.startswith("ray://"):  # Ray Client: watch its server
        url = urlparse(address)
        return f"{url.hostname}:{url.port or 10001}"
    try:
        return ray.get_runtime_context().gcs_address
    except Exception:  # noqa: BLE001 - a Ray without it: nothing to watch, Ray's own limit holds
        return None


class Watchdog:
    """Tells a cluster that is gone from one that is busy: its address stops answering."""

    def __init__(self, address: str | None):
        self.address = address
        self.silent_since: float | None = None
        self.last_check = 0.0

    def check(self) -> None:
        now = time.monotonic()
        if self.address is None or now - self.last_check < 1.0:
            return
        self.last_check = now
        host, _, port = self.address.rpartition(":")
        try:
            socket.create_connection((host, int(port)), timeout=1.0).close()
            self.silent_since = None
        except OSError as exc:
            self.silent_since = self.silent_since or now
            if now - self.silent_since >= LOST_AFTER_S:
                raise ClusterError(f"the Ray cluster at {self.address} went away (no answer for "
                                   f"{LOST_AFTER_S:g} s: {exc.strerror or exc})") from None


def run(plan: Plan) -> Records:
    """Submit every unit, then yield each unit's records as it finishes."""
    if not plan.cells:
        return
    # Ray prints its cluster's messages (a worker died, ...) on stdout, where --json promises one
    # document and nothing else: while Ray is connected they go to stderr, with other messages
    with contextlib.redirect_stdout(sys.stderr):
        yield from _run(plan)


def _run(plan: Plan) -> Records:
    ray, watched, owned = connect(plan.address, plan.workers)
    pending: set = set()  # the references of the tasks not yet finished
    lost = False
    try:
        resources = ray.cluster_resources()
        gpus = _gpus(plan, resources)
        task = ray.remote(compute_unit).options(
            num_cpus=1, num_gpus=gpus, max_retries=MAX_RETRIES,
            retry_exceptions=False,  # an exception is a result (or a bug), not a lost worker
        )
        data = ray.put(plan.data)  # once: every task gets a reference, each node one copy
        slots = int(resources.get("GPU" if gpus else "CPU", 1))
        for members, stacked in units(plan, slots, CELLS_PER_TASK):
            pending.add(task.remote(plan.problem, [plan.configs[i] for i in members],
                                    [plan.cells[i] for i in members], plan.sweep_id, data, stacked))
        watchdog = Watchdog(watched)
        while pending:
            done, _ = ray.wait(list(pending), num_returns=1, timeout=WAIT_S)
            for ref in done:
                pending.discard(ref)
                yield _records(ray, ref)
            if not done:
                watchdog.check()
    except ClusterError:
        lost = True
        raise
    except ConnectionError as exc:  # Ray Client: the server went away
        lost = True
        raise ClusterError(f"the Ray cluster went away: {_first_line(exc)}") from None
    finally:
        if pending and not lost:  # Ctrl-C or an error: leave no task running for nobody
            for ref in pending:
                ray.cancel(ref, force=True)
        if owned:
            ray.shutdown()
            _stop_reaper()


def _records(ray, ref) -> list:
    """A finished task's records; its failure as an sgdlab error where it is one."""
    try:
        return ray.get(ref)
    except ray.exceptions.RayTaskError as exc:
        cause = getattr(exc, "cause", None)
        if isinstance(cause, SgdlabError):
            raise cause from None
        if isinstance(cause, ImportError):
            raise ClusterError(f"a Ray worker cannot import what a cell needs ({cause}); install "
                               f"sgdlab and torch on the cluster, the driver's versions") from None
        raise
    except ray.exceptions.RayError as exc:  # a worker or node died more often than retried
        raise ClusterError(f"a Ray task failed {MAX_RETRIES + 1} times: {_first_line(exc)}") from None


def _gpus(plan: Plan, resources: dict) -> int:
    """One GPU per task where the cells ask for CUDA (or for ``auto`` on a cluster with GPUs)."""
    device = str(getattr(plan.configs[0], "device", None) or "cpu")
    return int(device.startswith("cuda") or (device == "auto" and resources.get("GPU", 0) >= 1))


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
