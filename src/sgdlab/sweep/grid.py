"""The grid: which axes a sweep can vary, how a command line list becomes values, the cells."""

from __future__ import annotations

import itertools
import json
from collections import Counter
from dataclasses import asdict, dataclass, field
from typing import Any

from ..core.errors import ConfigError, Problems

MAX_CELLS_WITHOUT_YES = 10_000
MAX_CELLS = 1_000_000  # even with --yes: every cell is a recorded run
MAX_WORKERS = 256
EXECUTORS = ("auto", "serial", "process", "vectorized", "ray")

# Axis name -> kind of value. The order is the order of the grid (the last varies fastest).
AXES: dict[str, str] = {
    "optimizer": "str",
    "batch_size": "int",
    "lr": "float",
    "momentum": "float",
    "betas": "pair",
    "eps": "float",
    "weight_decay": "float",
    "seed": "int",
}


# Axes that are optimizer hyperparameters (each rule takes only some of them).
HYPERPARAMETER_AXES = ("momentum", "betas", "eps", "weight_decay")


@dataclass
class SweepSpec:
    """A sweep: the problem, its fixed options, the axes to vary, how to execute."""

    problem: str
    axes: dict[str, list[Any]]  # axis name -> values (each axis has at least one value)
    base: dict[str, Any] = field(default_factory=dict)  # the problem's fixed options
    executor: str = "auto"
    workers: int | None = None  # processes for the process executor (default: CPU count)
    address: str | None = None  # ray: the cluster to join (None: $RAY_ADDRESS, else a local Ray)
    target: float | None = None  # a loss to reach: "steps to target" in the summary
    # A grid run by a study (``noise-scale --batch-sizes``): the study's command and run id. The
    # study's result needs every cell and its own measurements, so such a grid is redone by its
    # study, never finished alone by `sweep --resume`.
    study: str | None = None
    study_run: str | None = None

    def validate(self, yes: bool = False) -> None:
        from ..core.config import type_problems

        wrong_kinds = type_problems(self)
        if wrong_kinds:
            raise ConfigError(*wrong_kinds)
        problems = Problems()
        from .. import problems as registry

        problems.check(self.problem in registry.names(),
                       f"unknown problem {self.problem!r}; choose one of: {', '.join(registry.names())}")
        problems.check(self.executor in EXECUTORS,
                       f"unknown executor {self.executor!r}; choose one of: {', '.join(EXECUTORS)}")
        if self.workers is not None:
            problems.check(1 <= self.workers <= MAX_WORKERS, f"--workers must be 1 .. {MAX_WORKERS} "
                           f"(each is a process with its own copy of torch), got {self.workers}")
        problems.check(self.address is None or self.executor == "ray",
                       f"--address {self.address} joins a Ray cluster: add --executor ray")
        for name, values in self.axes.items():
            problems.check(name in AXES, f"unknown sweep axis {name!r}")
            problems.check(len(values) > 0, f"--{name.replace('_', '-')}: no values")
            counts = Counter(json.dumps(v) for v in values)  # linear: --seeds may give 10^6 values
            dupes = sorted(v for v, k in counts.items() if k > 1)
            problems.check(not dupes, f"--{name.replace('_', '-')}: duplicate value(s) {', '.join(dupes)}")
        n = self.size()
        problems.check(  # one line per grid: past the hard limit, --yes would not help
            yes or n <= MAX_CELLS_WITHOUT_YES or n > MAX_CELLS,
            f"the grid has {n:,} cells (more than {MAX_CELLS_WITHOUT_YES:,}); pass --yes to run it anyway",
        )
        problems.check(n <= MAX_CELLS, f"the grid has {n:,} cells, more than the limit "
                                       f"{MAX_CELLS:,} (every cell is a recorded run)")
        problems.raise_if_any(ConfigError)

    def size(self) -> int:
        """Cells before dropping hyperparameters an optimizer does not take (an upper bound)."""
        n = 1
        for values in self.axes.values():
            n *= len(values)
        return n

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "SweepSpec":
        """A spec as stored; a damaged one (no axes, unknown keys) is a ConfigError, not a crash."""
        unknown = sorted(set(data) - set(cls.__dataclass_fields__))
        if not isinstance(data.get("axes"), dict) or "problem" not in data or unknown:
            raise ConfigError(f"the stored sweep spec is not a grid (no axes, or unknown keys {unknown})")
        return cls(**data)


def expand(spec: SweepSpec) -> list[dict[str, Any]]:
    """Every combination of the axes, as cells {axis: value}, in a fixed order.

    A hyperparameter axis applies only to the optimizers that take it: ``--optimizer sgd,adam
    --momentum 0,0.9`` gives sgd two cells and adam one (without momentum), not two identical
    adam runs. An axis that no optimizer in the grid takes is an error.
    """
    from ..optim import spec as rules

    names = [a for a in AXES if a in spec.axes]
    cells: list[dict[str, Any]] = []
    seen: set[str] = set()
    used: set[str] = set()
    for combo in itertools.product(*(spec.axes[a] for a in names)):
        cell = dict(zip(names, combo))
        optimizer = cell.get("optimizer", spec.base.get("optimizer", "sgd"))
        base = optimizer[len(rules.TORCH_PREFIX):] if optimizer.startswith(rules.TORCH_PREFIX) else optimizer
        taken = rules.DEFAULTS.get(base)
        if taken is not None:
            for key in HYPERPARAMETER_AXES:
                if key in cell and key not in taken:
                    del cell[key]
        used.update(k for k in cell if k in HYPERPARAMETER_AXES)
        key = cell_key(cell)
        if key not in seen:
            seen.add(key)
            cells.append(cell)
    unused = [a for a in names if a in HYPERPARAMETER_AXES and a not in used]
    if unused:
        optimizers = ", ".join(spec.axes.get("optimizer", [spec.base.get("optimizer", "sgd")]))
        raise ConfigError(*(f"--{a.replace('_', '-')}: none of the optimizers ({optimizers}) takes "
                            f"{a}; `sgdlab optimizers` lists what each takes" for a in unused))
    return cells


def cell_key(cell: dict[str, Any]) -> str:
    """A stable text key of a cell, to find it again on --resume."""
    return json.dumps(cell, sort_keys=True)


def parse_axis(name: str, text: str | None, words: tuple[str, ...] = ()) -> list[Any] | None:
    """Parse one comma list from the command line (``--lr 0.01,0.1``); None when not given.

    ``betas`` takes pairs separated by ``;`` (``--betas "0.9,0.999;0.5,0.9"``). ``words``: the
    words the problem takes on this axis besides numbers (a model file's batch size: auto,
    full), kept in lower case for the problem's config to read; a refusal names what is allowed.
    """
    if text is None:
        return None
    flag = "--" + name.replace("_", "-")
    kind = AXES[name]
    separator = ";" if kind == "pair" else ","
    items = [t.strip() for t in str(text).split(separator)]
    problems = Problems()
    values: list[Any] = []
    for item in items:
        if item == "":
            problems.add(f"{flag}: empty value in {text!r}")
            continue
        if item.lower() in words:
            values.append(item.lower())
            continue
        try:
            if kind == "str":
                values.append(item)
            elif kind == "int":
                values.append(int(item))
            elif kind == "float":
                values.append(float(item))
            else:
                pair = [float(v) for v in item.split(",")]
                if len(pair) != 2:
                    raise ValueError
                values.append(pair)
        except ValueError:
            choices = [_NAMES[kind][1], *words]
            allowed = ", ".join(choices[:-1]) + " or " + choices[-1] if words else choices[0]
            problems.add(f"{flag}: {item!r} is not {_NAMES[kind][0]}; give {allowed}, "
                         f"{'separated by ;' if kind == 'pair' else 'comma separated'}")
    problems.raise_if_any(ConfigError)
    return values


_NAMES = {"int": ("a whole number", "whole numbers"), "float": ("a number", "numbers"),
          "pair": ("a pair B1,B2", "pairs B1,B2")}
