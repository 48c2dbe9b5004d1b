"""Output paths checked before any work starts, without creating anything.

A folder that is a file, a file that is a folder, a path under a file, a folder we may not write
or a read-only filesystem: each is one line naming the path and the flag it came from, raised
before training, so a run is never lost to a path that was wrong from the start. Nothing is
created by the checks: the folders appear only when something is written into them.
"""

from __future__ import annotations

import errno
import os
import stat
import tempfile
from pathlib import Path

from .errors import ConfigError, Problems


def check_folder(problems: Problems, path: str | os.PathLike, what: str) -> None:
    """``path`` must be a folder we can create (or already have) and write into."""
    target = _target(problems, path, what)
    if target is None:
        return
    if target.exists() and not target.is_dir():
        problems.add(f"{what}: {target} is a file, not a folder; give a folder")
        return
    _check_creatable(problems, target, what)


def check_file(problems: Problems, path: str | os.PathLike, what: str) -> None:
    """``path`` must be a file we can create or replace (its folder may not exist yet)."""
    target = _target(problems, path, what)
    if target is None:
        return
    if target.is_dir():
        problems.add(f"{what}: {target} is a folder; give a file name (e.g. {target / _example(what)})")
        return
    kind = special_kind(target)
    if kind:  # written atomically, the node itself would be replaced by a regular file (/dev/null!)
        problems.add(f"{what}: {target} is {kind}, not a regular file; give a file name")
        return
    if target.exists() and not os.access(target, os.W_OK):
        problems.add(f"{what}: {target} exists and is not writable")
        return
    _check_creatable(problems, target.parent, what, shown=target)


def special_kind(path: Path) -> str | None:
    """'a device node', 'a socket' or 'a fifo' when ``path`` (followed through symlinks) is one."""
    try:
        mode = path.stat().st_mode
    except OSError:
        return None
    for test, kind in ((stat.S_ISCHR, "a device node"), (stat.S_ISBLK, "a device node"),
                       (stat.S_ISSOCK, "a socket"), (stat.S_ISFIFO, "a fifo")):
        if test(mode):
            return kind
    return None


def store_path_problem(path: Path) -> str | None:
    """Why ``path`` can never be a run store (a folder, a device, a socket, a fifo, a path under
    a file), or None; nothing is created."""
    path = path.expanduser()
    if path.is_dir():
        return f"{path} is a folder; give a file name (e.g. {path / 'runs.db'})"
    kind = special_kind(path)
    if kind:
        return f"{path} is {kind}, not a run store file"
    parent = path.parent
    while not parent.exists() and parent.parent != parent:
        parent = parent.parent
    if parent.exists() and not parent.is_dir():
        return f"{path} cannot be created: {parent} is a file, not a folder"
    return None


def check_not_empty(problems: Problems, paths: dict[str, object]) -> None:
    """Paths that were given (not None) but are empty: ``--out ""`` would otherwise mean "here"."""
    for flag, value in paths.items():
        if isinstance(value, str) and not value.strip():
            problems.add(f"{flag}: the path is empty")


def require_folder(path: str | os.PathLike, what: str) -> None:
    problems = Problems()
    check_folder(problems, path, what)
    problems.raise_if_any(ConfigError)


def require_file(path: str | os.PathLike, what: str) -> None:
    problems = Problems()
    check_file(problems, path, what)
    problems.raise_if_any(ConfigError)


def check_outputs(store, folder: str | os.PathLike, *, record: bool, plots: bool,
                  out: str | os.PathLike | None) -> None:
    """Before any work of a study: the store writable (when recording) and the figures folder
    creatable (when drawing); nothing is created."""
    if record:
        store.check_writable()
    if plots:
        require_folder(folder, "--out" if out else "the figures folder (next to the run store)")


def _target(problems: Problems, path: str | os.PathLike, what: str) -> Path | None:
    if not str(path).strip():
        problems.add(f"{what}: the path is empty")
        return None
    return Path(str(path)).expanduser()


def _example(what: str) -> str:
    return "runs.db" if "store" in what else "report.html"


def _check_creatable(problems: Problems, folder: Path, what: str, shown: Path | None = None) -> None:
    """The first existing folder on the way to ``folder`` must be a folder we can write into."""
    shown = shown or folder
    existing = folder
    while not existing.exists():
        if existing.parent == existing:
            break
        existing = existing.parent
    if existing.exists() and not existing.is_dir():
        problems.add(f"{what}: {shown} cannot be created: {existing} is a file, not a folder")
        return
    reason = _unwritable(existing)
    if reason:
        problems.add(f"{what}: {shown} cannot be written: {existing} {reason}")


def _unwritable(folder: Path) -> str | None:
    """Why nothing can be written into ``folder`` (None when something can).

    Permission bits and a read-only mount are read first; then a probe (a temporary folder,
    removed at once) catches what they do not show (root on a read-only or virtual filesystem).
    """
    try:
        if os.statvfs(folder).f_flag & os.ST_RDONLY:
            return "is on a read-only filesystem"
    except OSError:
        pass
    if not os.access(folder, os.W_OK | os.X_OK):
        return "is not writable (permission denied)"
    try:
        os.rmdir(tempfile.mkdtemp(prefix=".sgdlab-probe-", dir=folder))
    except OSError as exc:
        if exc.errno == errno.EROFS:
            return "is on a read-only filesystem"
        return f"is not writable ({exc.strerror or exc})"
    return None
