"""Files a store row names, opened only when the store owns them.

A run store can come from someone else. Its rows name figure files; read blindly, a row naming
``/etc/passwd`` or ``/proc/self/environ`` would put that file into a report meant to be shared.
So a recorded path is opened only if, with every symlink and ``..`` resolved, it is a regular
image file inside the store's own folder. `report` and the web page both ask here.
"""

from __future__ import annotations

import os
from pathlib import Path

FIGURE_SUFFIXES = {".png", ".svg"}


def owned_figure(store_path: str | os.PathLike, recorded: object) -> Path | None:
    """The figure ``recorded`` (a path from a store row) if the store at ``store_path`` owns it,
    else None. A relative path is read against the store's folder first (where figures are
    written), then against the working folder (rows recorded before paths were stored whole)."""
    root = Path(store_path).expanduser().resolve().parent
    text = str(recorded)
    if not text.strip() or "\x00" in text:
        return None
    path = Path(text).expanduser()
    candidates = [path] if path.is_absolute() else [root / path, Path.cwd() / path]
    for candidate in candidates:
        try:
            resolved = candidate.resolve(strict=True)
        except (OSError, RuntimeError):
            continue
        if (resolved.is_relative_to(root) and resolved.is_file()
                and resolved.suffix.lower() in FIGURE_SUFFIXES):
            return resolved
    return None
