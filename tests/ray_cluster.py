"""A real Ray cluster on this machine, on loopback addresses only, for the Ray executor's tests.

Each node is a ``ray start`` in its own process session with its own --node-ip-address in
127.0.0.0/8 (Ray rewrites 127.0.0.1 and localhost to the machine's routable address; other
loopback addresses stay loopback), its own ports, capped memory, no usage report, the
dashboard (when any) on 127.0.0.1 and authentication set explicitly. ``stop`` ends exactly the
processes these ``ray start`` calls left behind (their sessions, and every descendant such as
the worker processes, which start sessions of their own), never ``ray stop``, which ends every
Ray process on the machine.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

RAY = str(Path(sys.executable).with_name("ray"))
ENV = {"RAY_USAGE_STATS_ENABLED": "0", "RAY_AUTH_MODE": "disabled"}
# Ray Client's server forks a process per client while its gRPC threads run; gRPC's fork
# handlers then break that child now and then ("epoll_wait error: Bad file descriptor", the
# client gets "Initialization failure from server"). The child only execs: no handlers needed.
NODE_ENV = ENV | {"GRPC_ENABLE_FORK_SUPPORT": "0"}
NODE_MEMORY = str(1 << 30)  # each node otherwise claims most of the machine's memory
OBJECT_STORE = str(100 << 20)


def free_port(host: str) -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        return s.getsockname()[1]


class LoopbackCluster:
    """``ray start`` a head on ``ips[0]`` and a worker node on each other address."""

    def __init__(self, ips: list[str], cpus: int = 1):
        self.ips, self.cpus = ips, cpus
        self.port = free_port(ips[0])
        self.address = f"{ips[0]}:{self.port}"
        self.client_port = free_port(ips[0])
        self.client_address = f"ray://{ips[0]}:{self.client_port}"  # Ray Client's server
        # short: Ray's socket paths under it must fit in 107 bytes
        self.temp = tempfile.mkdtemp(prefix="sgdray-", dir="/tmp")
        self.sessions: list[int] = []

    def start(self) -> "LoopbackCluster":
        head = ["--head", f"--port={self.port}", "--include-dashboard=false",
                "--dashboard-host=127.0.0.1", f"--dashboard-port={free_port('127.0.0.1')}",
                f"--ray-client-server-port={self.client_port}",
                # a fixed port: left to Ray, Ray Client's server is told port 0 for this agent
                f"--runtime-env-agent-port={free_port(self.ips[0])}"]
        try:
            for i, ip in enumerate(self.ips):
                where = head if i == 0 else [f"--address={self.address}"]
                self._ray_start(where + [f"--node-ip-address={ip}"])
            self._wait_for_nodes()
        except BaseException:
            self.stop()
            raise
        return self

    def _ray_start(self, args: list[str]) -> None:
        proc = subprocess.Popen(
            [RAY, "start", *args, f"--num-cpus={self.cpus}", f"--memory={NODE_MEMORY}",
             f"--object-store-memory={OBJECT_STORE}", "--disable-usage-stats",
             f"--temp-dir={self.temp}"],
            env=dict(os.environ, **NODE_ENV), stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
            text=True, start_new_session=True,  # its own session: what stop() ends
        )
        self.sessions.append(proc.pid)
        out, _ = proc.communicate(timeout=180)
        if proc.returncode != 0:
            raise RuntimeError(f"ray start {' '.join(args)} failed:\n{out[-3000:]}")

    def _wait_for_nodes(self, timeout: float = 60.0) -> None:
        """Until the head lists every node alive (checked by a separate short-lived driver)."""
        code = ("import ray, sys; ray.init(address=sys.argv[1], logging_level='ERROR'); "
                "print(sum(n['Alive'] for n in ray.nodes()))")
        deadline = time.monotonic() + timeout
        while True:
            out = subprocess.run([sys.executable, "-c", code, self.address], capture_output=True,
                                 text=True, env=dict(os.environ, **ENV), timeout=120).stdout
            if out.strip() == str(len(self.ips)):
                return
            if time.monotonic() > deadline:
                raise RuntimeError(f"the cluster at {self.address} has {out.strip()!r} nodes alive")
            time.sleep(1.0)

    def pids(self) -> set[int]:
        """Every process of this cluster: its sessions' members and all their descendants."""
        parents: dict[int, int] = {}
        members: set[int] = set()
        for entry in os.listdir("/proc"):
            if not entry.isdigit():
                continue
            try:
                stat = Path(f"/proc/{entry}/stat").read_text()
            except OSError:
                continue
            fields = stat[stat.rindex(")") + 2:].split()  # after "pid (name) "
            if fields[0] == "Z":  # a zombie has ended already
                continue
            pid, ppid, session = int(entry), int(fields[1]), int(fields[3])
            parents[pid] = ppid
            if session in self.sessions:
                members.add(pid)
        grown = True
        while grown:
            extra = {p for p, parent in parents.items() if parent in members and p not in members}
            members |= extra
            grown = bool(extra)
        return members

    def running_task(self, title: str) -> int | None:
        """The pid of this cluster's worker process now executing task ``title`` (Ray names a
        busy worker's process ``ray::<task>``), or None."""
        for pid in sorted(self.pids()):
            try:
                if Path(f"/proc/{pid}/cmdline").read_bytes().startswith(f"ray::{title}".encode()):
                    return pid
            except OSError:
                continue
        return None

    def stop(self, grace: float = 5.0, signals=(signal.SIGTERM, signal.SIGKILL)) -> None:
        """End every process of this cluster: SIGTERM, then SIGKILL after ``grace`` seconds."""
        for sig in signals:
            pids = self.pids()
            for pid in pids:
                try:
                    os.kill(pid, sig)
                except ProcessLookupError:
                    pass
            deadline = time.monotonic() + grace
            while self.pids() and time.monotonic() < deadline:
                time.sleep(0.2)
        subprocess.run(["rm", "-rf", self.temp], check=False)

    def kill(self) -> None:
        """The cluster goes away at once, as when its machines are lost.

        Every process is frozen (SIGSTOP) before any is killed: killed one by one on a busy
        machine, the GCS could outlive its raylet by seconds and tell the driver the node died,
        and Ray ends a driver whose node died at once, before sgdlab can say anything. A lost
        machine takes all its processes together; this does too."""
        frozen: set[int] = set()
        while fresh := self.pids() - frozen:  # again: one may have forked before it froze
            for pid in fresh:
                try:
                    os.kill(pid, signal.SIGSTOP)
                except ProcessLookupError:
                    pass
            frozen |= fresh
        self.stop(grace=5.0, signals=(signal.SIGKILL,))
