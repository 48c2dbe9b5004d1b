"""Ends a private local Ray's processes when the sweep that started it dies, even by SIGKILL.

Why it is needed: Ray starts the GCS, the raylet, the API server and its monitors itself, each
with PR_SET_PDEATHSIG, so they die with the driver. The raylet then starts two agents
(``ray::DashboardAgent``, ``ray::RuntimeEnvAgent``) without it; they notice the raylet's death
but then wait on the dead GCS before exiting, reparented to init, ~180 MB together: 61 s here
(their logs), past 70 s under load. Ray 2.60 has no option that leaves the agents out (README:
"Sweeps on a Ray cluster").

How: the driver starts the cluster in a fresh private folder (``ray.init(_temp_dir=...)``) and
with a random token in the environment that ``ray.init`` hands to its processes, and starts this
script as a process of its own (its own session: a Ctrl-C at the terminal does not end it
first), holding the write end of a pipe to its stdin. When the driver ends, however it ends,
the kernel closes that pipe; this script reads EOF and SIGKILLs every process of that cluster:
each one that holds a file in the private folder (every Ray process keeps its logs open
there: the GCS, the raylet, the agents, the workers) or carries the token (the agents rename
themselves, which overwrites what /proc shows of their environment: hence the files), then
removes the folder. Only that cluster's processes: ``ray stop`` would end every Ray on the
machine, other users' and other tests' clusters too. Rather than PR_SET_PDEATHSIG: a child
sets that on itself when it starts, and the agents are the raylet's children, started by Ray's
C++ code; rather than a process group: Ray's processes share the driver's group, which may
hold the test runner or the user's shell.

Standard library only, run by path (``python -I ray_reaper.py TOKEN FOLDER DRIVER_PID``): it needs no sgdlab on
the path. Linux only (it reads /proc); elsewhere the driver does not start it.
"""

from __future__ import annotations

import os
import shutil
import signal
import sys
import time

ENV = "SGDLAB_RAY_CLUSTER"
ROUNDS = 20  # a process may start while the cluster dies: look again until a round finds none
PAUSE_S = 0.1


def cluster_pids(token: str, folder: str, spare: set[int]) -> list[int]:
    """The processes (this one and ``spare`` aside) that carry ``ENV=token`` or hold a file
    under ``folder``."""
    entry, inside = f"{ENV}={token}".encode(), folder.rstrip("/") + "/"
    found = []
    for name in os.listdir("/proc"):
        if not name.isdigit() or int(name) in spare or int(name) == os.getpid():
            continue
        try:
            with open(f"/proc/{name}/environ", "rb") as handle:
                mine = entry in handle.read().split(b"\0")
            if not mine:
                fds = f"/proc/{name}/fd"
                mine = any(os.readlink(f"{fds}/{fd}").startswith(inside) for fd in os.listdir(fds))
        except OSError:  # ended meanwhile, or not ours to read
            continue
        if mine:
            found.append(int(name))
    return found


def reap(token: str, folder: str, driver: int) -> int:
    """SIGKILL the cluster's processes until none is left (at most ``ROUNDS`` looks), then
    remove its folder; returns how many processes it ended. The driver, after a clean
    ``ray.shutdown``, may still hold its own Ray log open: it is spared."""
    killed: set[int] = set()
    for _ in range(ROUNDS):
        pids = cluster_pids(token, folder, {driver})
        if not pids:
            break
        for pid in pids:
            try:
                os.kill(pid, signal.SIGKILL)
                killed.add(pid)
            except OSError:
                pass
        time.sleep(PAUSE_S)
    shutil.rmtree(folder, ignore_errors=True)
    return len(killed)


def main(argv: list[str]) -> int:
    if len(argv) != 4 or not argv[1] or not os.path.isabs(argv[2]) or not argv[3].isdigit():
        print("usage: ray_reaper.py TOKEN FOLDER DRIVER_PID (with the driver's pipe on stdin)", file=sys.stderr)
        return 2
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # only the pipe's end says the driver is gone
    while sys.stdin.buffer.read(65536):  # EOF: the driver closed the pipe, or died
        pass
    reap(argv[1], argv[2], int(argv[3]))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
