"""Checkpoints: everything a run needs to continue exactly where it stopped.

A checkpoint holds the parameters, the optimizer's state, the generator's state, the training
loop's position (step, epoch, this epoch's permutation and the place in it, the curves so far)
and whatever the problem adds (``extra``: its per-epoch metrics, say). Restored into a run built
from the same config, the run goes on bit for bit as if it had never stopped (on the CPU).

Files: ``<store folder>/checkpoints/<run id>/step-<step>.pt``, the last ``KEEP`` of them. Each is
``torch.save`` bytes followed by a trailer (``MAGIC`` + SHA-256 of those bytes), written
atomically (temporary file, fsync, rename, fsync of the folder), and read back with
``weights_only=True``. The trailer makes any truncation or damage a clear refusal naming the file
instead of a crash in the unpickler; the previous good checkpoint is used then.

Why by hand: torch.save/torch.load are the format; what no library gives is the problem-agnostic
list of states to gather, the integrity trailer and the fall back to the previous file.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import os
import shutil
import sys
import time
from pathlib import Path
from typing import Any, Callable, Iterator

from .errors import ConfigError, DataError
from .files import write_bytes

FORMAT = 1
KEEP = 2  # the last two checkpoints: if the newest is damaged, the one before it still works
MAGIC = b"SGDLABCK"
MIN_EPOCH_INTERVAL_S = 1.0  # end-of-epoch checkpoints at most this often (tiny epochs)
FOLDER = "checkpoints"


def folder_for(store_path: str | os.PathLike, run_id: str) -> Path:
    return Path(store_path).parent / FOLDER / run_id


class Checkpointer:
    """Writes a run's checkpoints; the training loop asks ``due`` and calls ``save``."""

    def __init__(self, folder: Path, *, params, optimizer, generator, extra: Callable[[], dict],
                 every: int | None = None, per_epoch: bool = True, meta: dict | None = None):
        self.folder = Path(folder)
        self.params, self.optimizer, self.generator = params, optimizer, generator
        self.extra, self.every, self.per_epoch = extra, every, per_epoch
        self.meta = meta or {}
        self.last_save = time.monotonic()
        self.saved: list[Path] = sorted(self.folder.glob("step-*.pt")) if self.folder.is_dir() else []
        self.seconds = 0.0  # time spent writing checkpoints (measured by benchmarks/checkpoint.py)

    def due(self, step: int, epoch_end: bool) -> bool:
        if self.every is not None and step % self.every == 0:
            return True
        return (epoch_end and self.per_epoch
                and time.monotonic() - self.last_save >= MIN_EPOCH_INTERVAL_S)

    def save(self, loop_state: dict[str, Any]) -> Path:
        import torch

        began = time.perf_counter()
        payload = {
            "format": FORMAT, **self.meta,
            "params": [p.detach().to("cpu", copy=True) for p in self.params],
            "optimizer": self.optimizer.state_dict(),
            "generator": self.generator.get_state(),
            "loop": loop_state,
            "extra": self.extra(),
        }
        buffer = io.BytesIO()
        torch.save(payload, buffer)
        data = buffer.getvalue()
        path = self.folder / f"step-{loop_state['step']:012d}.pt"
        write_bytes(path, data + MAGIC + hashlib.sha256(data).digest())
        _fsync_folder(self.folder)
        self.saved = [p for p in self.saved if p != path] + [path]
        for old in self.saved[:-KEEP]:
            old.unlink(missing_ok=True)
        self.saved = self.saved[-KEEP:]
        self.last_save = time.monotonic()
        self.seconds += time.perf_counter() - began
        return path

    def discard(self) -> None:
        """The run completed: its checkpoints are no longer needed."""
        shutil.rmtree(self.folder, ignore_errors=True)
        try:
            self.folder.parent.rmdir()  # the checkpoints folder, when it is now empty
        except OSError:
            pass


def read(path: Path) -> dict[str, Any]:
    """One checkpoint, checked (trailer, digest, format) and loaded with weights_only=True."""
    import torch

    try:
        raw = Path(path).read_bytes()
    except OSError as exc:
        raise DataError(f"checkpoint {path} cannot be read: {exc.strerror or exc}") from None
    tail = len(MAGIC) + 32
    if len(raw) < tail or raw[-tail:-32] != MAGIC:
        raise DataError(f"checkpoint {path} is truncated or not an sgdlab checkpoint "
                        f"({len(raw):,} bytes, no end marker)")
    data, digest = raw[:-tail], raw[-32:]
    if hashlib.sha256(data).digest() != digest:
        raise DataError(f"checkpoint {path} is corrupt (its SHA-256 does not match its content)")
    try:
        payload = torch.load(io.BytesIO(data), map_location="cpu", weights_only=True)
    except Exception as exc:  # any unpickling failure: the file is not what we wrote
        raise DataError(f"checkpoint {path} cannot be loaded ({type(exc).__name__})") from None
    if not isinstance(payload, dict) or payload.get("format") != FORMAT:
        raise DataError(f"checkpoint {path} has an unknown format; it was written by another "
                        "version of sgdlab")
    # a valid trailer proves only that the bytes are whole: a forged file may lack any part
    kinds = {"params": list, "optimizer": dict, "generator": torch.Tensor, "loop": dict, "extra": dict}
    bad = [key for key, kind in kinds.items() if not isinstance(payload.get(key), kind)]
    loop = payload.get("loop") if isinstance(payload.get("loop"), dict) else {}
    bad += [f"loop.{key}" for key in ("step", "position") if not isinstance(loop.get(key), int)]
    if bad:
        raise DataError(f"checkpoint {path} lacks or has a malformed {', '.join(bad)}; "
                        "it was not written by sgdlab")
    return payload


@contextlib.contextmanager
def resume_lock(folder: Path, run_id: str) -> Iterator[None]:
    """Held while a run is resumed: a second `sgdlab resume` of it refuses in one line instead
    of training the same steps again. An advisory lock on the run's checkpoint folder, released
    by the kernel when the process ends, however it ends."""
    import fcntl

    folder.mkdir(parents=True, exist_ok=True)
    fd = os.open(folder, os.O_RDONLY)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise ConfigError(f"run {run_id} is being resumed by another process; "
                              "wait for it (`sgdlab runs` shows it)") from None
        yield
    finally:
        os.close(fd)


def latest(folder: Path) -> tuple[dict[str, Any] | None, Path | None]:
    """The newest good checkpoint in ``folder`` (None when there is none at all).

    A damaged newest file is reported on stderr, in one line naming it, and the previous one is
    used; when every file is damaged, the error names each of them.
    """
    files = sorted(Path(folder).glob("step-*.pt"), reverse=True) if Path(folder).is_dir() else []
    problems = []
    for path in files:
        try:
            payload = read(path)
        except DataError as exc:
            problems.extend(exc.problems)
            continue
        for problem in problems:
            print(f"warning: {problem}; using the previous checkpoint {path}", file=sys.stderr)
        return payload, path
    if problems:
        raise DataError(*problems)
    return None, None


def restore(payload: dict[str, Any], params, optimizer, generator) -> None:
    """Put the saved parameters, optimizer state and generator state back into a fresh run."""
    import torch

    saved = payload["params"]
    if len(saved) != len(params) or any(s.shape != p.shape for s, p in zip(saved, params)):
        raise DataError("the checkpoint's parameters do not match the run's model "
                        "(was the run's config changed?)")
    with torch.no_grad():
        for p, s in zip(params, saved):
            p.copy_(s.to(p.device))
    optimizer.load_state_dict(payload["optimizer"])
    generator.set_state(payload["generator"])


def _fsync_folder(folder: Path) -> None:
    """Make the rename itself durable (POSIX); a no-op where folders cannot be opened."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
