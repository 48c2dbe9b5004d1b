"""One exception family for everything a user can get wrong.

The command line turns any ``SgdlabError`` into ``error: ...`` lines on stderr and its
``exit_code`` (2: bad input; 1: a cluster that went away); nothing else in sgdlab prints errors
or calls ``sys.exit``.
"""

from __future__ import annotations


class SgdlabError(Exception):
    """Base class: a problem the user can fix. ``problems`` holds one line per problem."""

    exit_code = 2  # the command line's exit code for it

    def __init__(self, *problems: str):
        self.problems = [p for p in problems if p] or ["unknown error"]
        super().__init__("; ".join(self.problems))


class ConfigError(SgdlabError):
    """Hyperparameters or flags that make no sense (collected, reported together)."""


class DataError(SgdlabError):
    """A data file that is missing, malformed or inconsistent."""


class StoreError(SgdlabError):
    """The run store cannot be opened, written or queried."""


class ClusterError(SgdlabError):
    """The compute cluster (Ray) went away or could not run the work: not the input's fault."""

    exit_code = 1


class Problems:
    """Collects validation problems so a config reports all of them at once, then raises once."""

    def __init__(self) -> None:
        self.items: list[str] = []

    def check(self, ok: bool, message: str) -> None:
        if not ok:
            self.items.append(message)

    def add(self, message: str) -> None:
        self.items.append(message)

    def raise_if_any(self, cls: type[SgdlabError] = ConfigError) -> None:
        if self.items:
            raise cls(*self.items)
