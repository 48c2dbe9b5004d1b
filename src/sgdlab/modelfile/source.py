"""Reading a model file: the path checked, its text hashed, its code run as a module.

The file is imported with ``importlib`` from the exact bytes that were hashed (read once, then
compiled), so the SHA-256 recorded with a run is the text that ran; ``sgdlab resume`` compares it
with the file's text then. Only the command line and the Python API load files: the web page
never imports a file a request names.

From Python, an object or a module with ``model``, ``data`` and ``loss`` attributes is taken as
it is (``Source.path`` and ``sha256`` are then None: such runs cannot be resumed).
"""

from __future__ import annotations

import hashlib
import importlib.util
import sys
import traceback
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..core.errors import ConfigError, DataError

REQUIRED = ("data", "model", "loss")  # what a model file must define
OPTIONAL = ("accuracy",)


@dataclass
class Source:
    """A loaded model file (or object): its functions, where it came from, its text's hash."""

    data: Any
    model: Any
    loss: Any
    accuracy: Any
    path: str | None  # the file (None: an object given from Python)
    sha256: str | None
    name: str  # shown in messages and the run's document

    def describe(self) -> dict[str, Any]:
        return {"file": self.path, "sha256": self.sha256, "name": self.name,
                "accuracy": self.accuracy is not None}


def sha256_of(path: str | Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def load(file: Any) -> Source:
    """A path (str or Path) to a ``.py`` file, or an object/module with the three functions."""
    if isinstance(file, (str, Path)):
        return load_path(file)
    if file is None:
        raise ConfigError("no model file: give the path of a .py file that defines data(), "
                          "model() and loss(output, target)")
    name = getattr(file, "__name__", type(file).__name__)
    return _source(file, name, None, None)


def load_path(path: str | Path) -> Source:
    shown = str(path)
    p = Path(path)
    if not shown.strip():
        raise ConfigError("the model file's path is empty; give a .py file")
    if p.suffix != ".py":
        raise ConfigError(f"{shown}: a model file is a Python file ending in .py")
    if not p.is_file():
        what = "is a folder" if p.is_dir() else "does not exist"
        raise ConfigError(f"{shown}: the model file {what}")
    try:
        text = p.read_bytes()
    except OSError as exc:
        raise ConfigError(f"{shown}: cannot be read ({exc.strerror or exc})") from None
    digest = hashlib.sha256(text).hexdigest()
    try:
        code = compile(text, str(p), "exec")
    except SyntaxError as exc:
        raise DataError(f"{shown}, line {exc.lineno}: syntax error: {exc.msg}") from None
    except ValueError as exc:  # null bytes
        raise DataError(f"{shown}: not Python source ({exc})") from None
    # a fresh module per load, under a name of its own: two files called model.py never meet
    module_name = f"sgdlab_modelfile_{digest[:12]}_{p.stem}"
    spec = importlib.util.spec_from_file_location(module_name, p)
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module  # dataclasses and pickling in the file look it up
    folder = str(p.resolve().parent)
    sys.path.insert(0, folder)  # the file may import modules that sit beside it
    try:
        exec(code, module.__dict__)
    except BaseException as exc:
        sys.modules.pop(module_name, None)
        if isinstance(exc, KeyboardInterrupt):
            raise
        raise DataError(f"{shown}{_line_in(exc, p)}: importing it raised "
                        f"{type(exc).__name__}: {first_line(exc)}") from None
    finally:
        if sys.path and sys.path[0] == folder:
            sys.path.pop(0)
    return _source(module, p.stem, str(p), digest)


def _source(obj: Any, name: str, path: str | None, digest: str | None) -> Source:
    where = path or name
    missing = [f for f in REQUIRED if not callable(getattr(obj, f, None))]
    if missing:
        raise ConfigError(*(f"{where}: defines no {f}() (a model file defines data(), model() "
                            f"and loss(output, target))" for f in missing))
    accuracy = getattr(obj, "accuracy", None)
    if accuracy is not None and not callable(accuracy):
        raise ConfigError(f"{where}: accuracy is not a function accuracy(output, target)")
    return Source(obj.data, obj.model, obj.loss, accuracy, path, digest, name)


def first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else "(no message)"


def _line_in(exc: BaseException, path: Path) -> str:
    """', line N' of the deepest frame in the user's file, if the traceback passes through it."""
    line = None
    for frame, lineno in traceback.walk_tb(exc.__traceback__):
        if Path(frame.f_code.co_filename) == path:
            line = lineno
    return "" if line is None else f", line {line}"


def call(source: Source, what: str, *args: Any) -> Any:
    """Call one of the file's functions; an exception in it is one DataError line naming it."""
    try:
        return getattr(source, what)(*args)
    except KeyboardInterrupt:
        raise
    except Exception as exc:
        where = _line_in(exc, Path(source.path)) if source.path else ""
        raise DataError(f"{source.path or source.name}{where}: {what}() raised "
                        f"{type(exc).__name__}: {first_line(exc)}") from None
