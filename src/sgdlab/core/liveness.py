"""Is the process that started a run still alive? (What `sgdlab runs` shows for `running` rows.)

A run is recorded when it starts, with its host name, process id and the process's start time.
On the same host a dead pid means the run was interrupted (killed, crashed, the machine
rebooted); a pid that is alive but started at another time belongs to a new process that reused
the number, so the run is interrupted too. From another host nothing can be checked: "unknown".
"""

from __future__ import annotations

import os
import socket


def host() -> str:
    return socket.gethostname()


def start_ticks(pid: int) -> int | None:
    """The process's start time in clock ticks since boot (Linux /proc; None elsewhere)."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as handle:
            stat = handle.read().decode("ascii", "replace")
    except OSError:
        return None
    # the command name (field 2) may hold spaces and parentheses: split after its last ')'
    fields = stat[stat.rfind(")") + 2 :].split()
    try:
        return int(fields[19])  # field 22 of stat(5)
    except (IndexError, ValueError):
        return None


def alive(pid: int | None, ticks: int | None = None) -> bool:
    """True while process ``pid`` exists (and, when known, started at ``ticks``)."""
    if not pid or pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass  # someone else's process: it exists
    except OSError:
        return False
    if ticks is not None:
        now = start_ticks(pid)
        if now is not None and now != ticks:
            return False  # the pid was reused by a younger process
    return True


def effective_status(status: str, pid: int | None, run_host: str | None, ticks: int | None) -> str:
    """``running`` as recorded, or what it really is now: ``interrupted`` or ``unknown``."""
    if status != "running":
        return status
    if run_host and run_host != host():
        return "unknown"
    return "running" if alive(pid, ticks) else "interrupted"
