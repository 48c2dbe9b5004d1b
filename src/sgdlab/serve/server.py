"""Run the app with uvicorn: in the foreground (`sgdlab serve`) or in a background thread (tests,
benchmarks). The socket is bound here, before uvicorn starts, so port 0 gives a free port whose
number is known and printed."""

from __future__ import annotations

import ipaddress
import socket
import threading
import time
from dataclasses import dataclass
from typing import Any

LOOPBACK_NAMES = {"localhost", "ip6-localhost"}
START_TIMEOUT_S = 30.0


def is_loopback(host: str) -> bool:
    """True for 127.0.0.0/8, ::1 and localhost: addresses no other machine can reach."""
    if host.lower() in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def host_warning(host: str) -> str | None:
    """The warning printed when the server listens where other machines can reach it."""
    if is_loopback(host):
        return None
    return (f"warning: listening on {host}: sgdlab serve has NO authentication; anyone who can "
            "reach this address can read your run store and start training runs. "
            "Use the default --host 127.0.0.1 unless you trust that network.")


def bind(host: str, port: int) -> socket.socket:
    """A listening TCP socket on (host, port); port 0 picks a free one."""
    from ..core.errors import ConfigError

    family = socket.AF_INET6 if ":" in host.strip("[]") else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host.strip("[]"), port))
    except OSError as exc:
        sock.close()
        raise ConfigError(f"cannot listen on {host}:{port}: {exc.strerror or exc}; "
                          "choose another --port (0 picks a free one) or --host") from None
    sock.listen(2048)
    sock.set_inheritable(True)
    return sock


def url_of(sock: socket.socket) -> str:
    host, port = sock.getsockname()[:2]
    shown = f"[{host}]" if ":" in host else host
    return f"http://{shown}:{port}/"


def _server(app: Any) -> Any:
    import uvicorn

    # access logs off: one line per playground request while dragging would drown the console
    config = uvicorn.Config(app, log_level="warning", access_log=False, lifespan="on",
                            timeout_graceful_shutdown=5)
    return uvicorn.Server(config)


def run_forever(app: Any, sock: socket.socket) -> None:
    """Serve ``app`` on ``sock`` until Ctrl-C (uvicorn handles the signal and shuts down)."""
    _server(app).run(sockets=[sock])


@dataclass
class Background:
    """A server running in a daemon thread; ``stop()`` shuts it down and waits for it."""

    url: str
    server: Any
    thread: threading.Thread

    def stop(self, timeout: float = 30.0) -> None:
        self.server.should_exit = True
        self.thread.join(timeout)


def start_background(app: Any, host: str = "127.0.0.1", port: int = 0) -> Background:
    """Start ``app`` on a free loopback port in a thread; returns once it accepts connections."""
    sock = bind(host, port)
    url = url_of(sock)
    server = _server(app)  # uvicorn installs no signal handlers outside the main thread
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True,
                              name="sgdlab-serve")
    thread.start()
    deadline = time.monotonic() + START_TIMEOUT_S
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            server.should_exit = True
            raise RuntimeError(f"the test server at {url} did not start")
        time.sleep(0.02)
    return Background(url=url, server=server, thread=thread)
